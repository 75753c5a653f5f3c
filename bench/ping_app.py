"""The baseline: a bare FastAPI app with one route, served the way ``ainotes serve`` serves.

Every ainotes scenario is reported as a fraction of this app's throughput measured in the same
run, which cancels out most of the machine and the load generator.
"""

import argparse

import uvicorn
from fastapi import FastAPI

from ainotes.app import served_event_loop
from ainotes.core.config import Settings

app = FastAPI()


@app.get("/ping")
async def ping() -> dict[str, str]:
    return {"ping": "pong"}


@app.get("/ready")
async def ready() -> dict[str, str]:
    return {"status": "ready"}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8001)
    args = parser.parse_args()
    # The same uvicorn options as ``ainotes serve``, so that only the application differs: the
    # event loop too, chosen from the same AINOTES_* environment (ainotes.app.served_event_loop).
    uvicorn.run(
        app,
        loop=served_event_loop(Settings()),
        host="127.0.0.1",
        port=args.port,
        workers=1,
        log_level="warning",
        access_log=False,
        proxy_headers=False,
    )


if __name__ == "__main__":
    main()
