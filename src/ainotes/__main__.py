from ainotes.cli import main

main()
