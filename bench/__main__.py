"""``python -m bench``: generate the data set, then measure; see BENCHMARKS.md."""

import argparse
import shutil
import subprocess
import sys
import time

from bench import driver, generate


def _ensure_wrk() -> None:
    if shutil.which("wrk") is None:
        print("wrk is missing; installing it with apt-get", flush=True)
        subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=True)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["domain"]:
        # Issue 3's benchmark (search, backlinks, tasks, rich creates): see bench/domain.py.
        from bench import domain

        _ensure_wrk()
        return domain.main(argv[1:])
    if argv[:1] == ["compare"]:
        # The current code against an earlier commit, served side by side: see bench/compare.py.
        from bench import compare

        _ensure_wrk()
        return compare.main(argv[1:])
    if argv[:1] == ["inprocess"]:
        # One request at a time through the ASGI app, CPU time or a profile: see
        # bench/inprocess.py.
        from bench import inprocess

        return inprocess.main(argv[1:])
    if argv[:1] == ["agents"]:
        # The audit log's and idempotency's cost, proposal round trips, audit verify: see
        # bench/agents.py.
        from bench import agents

        _ensure_wrk()
        return agents.main(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--notes", type=int, default=100_000, help="notes in total")
    parser.add_argument("--workspaces", type=int, default=10)
    parser.add_argument("--duration", type=int, default=10, help="seconds per measurement")
    parser.add_argument("--runs", type=int, default=3, help="runs; medians are reported")
    parser.add_argument(
        "--skip-generate", action="store_true", help="reuse the database of the last run"
    )
    parser.add_argument(
        "--profile",
        metavar="PY_SPY",
        help="path to a py-spy binary: after measuring, sample the server under each scenario",
    )
    args = parser.parse_args(argv)
    if args.notes < driver.DEEP_NOTES * 2 + driver.PAGE * 2:
        parser.error(f"--notes must be at least {driver.DEEP_NOTES * 2 + driver.PAGE * 2}")
    _ensure_wrk()
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    tables = []
    for backend in backends:
        if args.skip_generate:
            manifest = generate.load_manifest(backend)
        else:
            print(f"{backend}: generating {args.notes:,} notes", flush=True)
            manifest = generate.generate(backend, args.notes, args.workspaces)
            print(f"{backend}: generated in {manifest.seconds} s", flush=True)
        started = time.perf_counter()
        report = driver.measure(manifest, args.duration, args.runs, args.profile)
        report.save()
        print(f"{backend}: measured in {time.perf_counter() - started:.0f} s", flush=True)
        tables.append(report.table())
    print("\n\n".join(tables))
    return 0


if __name__ == "__main__":
    sys.exit(main())
