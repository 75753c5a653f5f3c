"""``python -m bench inprocess``: one request at a time through the ASGI app, no HTTP server.

The served benchmark measures throughput under load, and moves with whatever else the machine
does. This calls the application directly on a generated set (``python -m bench`` first), one
request after another, and measures the CPU time of the thread that runs it
(``time.thread_time``), in blocks, reporting the median. It moves far less than throughput
does, though still by up to ~10 % between processes on a shared machine: to tell two versions
of a route apart, run them in alternation, a few times each. ``--app baseline`` calls the
served benchmark's baseline app instead (bench/ping_app.py): ``/ping``, and for ``get`` and
``list`` the floors of those routes.

``--scenario sqlite-read`` times what a GET of a note's SQL costs on its own: the same
primary-key read through the plain ``sqlite3`` module, ``BEGIN`` to ``ROLLBACK``, no framework.

With ``--profile`` it runs the requests under cProfile and prints the functions that took the
most time; on SQLite it also prints how much of a request is spent inside the sqlite3 library
(its execute, executemany, fetch and commit calls), which is what no Python change can remove.
"""

import argparse
import asyncio
import contextlib
import cProfile
import os
import pstats
import random
import sqlite3
import statistics
import time
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

from asgi_lifespan import LifespanManager

from bench import driver, generate

SCENARIOS = ("get", "list", "create", "patch", "health", "ping", "sqlite-read")

_Receive = Callable[[], Awaitable[dict[str, Any]]]
_Send = Callable[[dict[str, Any]], Awaitable[None]]
_App = Callable[[dict[str, Any], _Receive, _Send], Coroutine[Any, Any, None]]


class Requests:
    """The requests of a scenario, as the served benchmark's lua scripts make them."""

    def __init__(self, manifest: generate.Manifest, scenario: str) -> None:
        create, patch = driver.write_payloads()
        self.templates = {"create": create.read_text(), "patch": patch.read_text()}
        self.ids = note_ids(manifest)
        self.notes = f"/v1/workspaces/{manifest.big_workspace_id}/notes"
        self.scenario = scenario
        self.counter = random.randint(1, 10**9)

    def next(self) -> tuple[str, str, bytes]:
        self.counter += 1
        body = self.templates.get(self.scenario, "").replace("__N__", str(self.counter))
        match self.scenario:
            case "get":
                return "GET", f"{self.notes}/{random.choice(self.ids)}", b""
            case "list":
                return "GET", f"{self.notes}?limit={driver.PAGE}", b""
            case "create":
                return "POST", self.notes, body.encode()
            case "patch":
                return "PATCH", f"{self.notes}/{random.choice(self.ids)}", body.encode()
            case "health":
                return "GET", "/health", b""
            case _:
                return "GET", "/ping", b""


def note_ids(manifest: generate.Manifest) -> list[str]:
    return [line for line in Path(manifest.note_ids_file).read_text().split() if line]


async def call(app: _App, token: str, method: str, target: str, body: bytes) -> int:
    # The ASGI messages by hand rather than through an HTTP client's ASGI transport, whose own
    # work per request would be counted with the application's.
    path, _, query = target.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [
            (b"host", b"127.0.0.1"),
            (b"authorization", f"Bearer {token}".encode()),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", driver.APP_PORT),
        "state": {},
    }
    received = False
    status: list[int] = []

    async def receive() -> dict[str, Any]:
        nonlocal received
        if not received:
            received = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # no disconnect while the request runs
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])

    await app(scope, receive, send)
    return status[0]


async def run(app: _App, args: argparse.Namespace, manifest: generate.Manifest) -> None:
    requests = Requests(manifest, args.scenario)
    async with LifespanManager(app):  # type: ignore[arg-type]
        await measure(app, args, manifest, requests)


async def measure(
    app: _App, args: argparse.Namespace, manifest: generate.Manifest, requests: Requests
) -> None:
    for _ in range(50):  # warm caches, compile statements
        status = await call(app, manifest.token, *requests.next())
        if status >= 300:
            raise SystemExit(f"{args.scenario}: the warm-up got {status}")
    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(args.requests):
            await call(app, manifest.token, *requests.next())
        profiler.disable()
        report(profiler, args.requests)
    else:
        blocks = []
        for _ in range(args.blocks):
            before = time.thread_time()
            for _ in range(args.requests):
                await call(app, manifest.token, *requests.next())
            blocks.append((time.thread_time() - before) / args.requests * 1000)
        print(
            f"{manifest.backend} {args.app} {args.scenario}: {statistics.median(blocks):.3f} ms "
            f"of CPU a request (median of {args.blocks} blocks of {args.requests}: "
            + ", ".join(f"{b:.3f}" for b in blocks)
            + ")"
        )


def sqlite_read(args: argparse.Namespace, manifest: generate.Manifest) -> None:
    ids = note_ids(manifest)
    workspace_id = manifest.big_workspace_id
    database = manifest.database_url.split("///", 1)[1]
    read = "SELECT * FROM notes WHERE workspace_id = ? AND id = ? AND trashed_at IS NULL"
    with contextlib.closing(sqlite3.connect(database, isolation_level=None)) as connection:
        connection.execute("PRAGMA query_only=1")
        blocks = []
        for _ in range(args.blocks + 1):  # the first block warms the page cache, uncounted
            before = time.thread_time()
            for _ in range(args.requests):
                connection.execute("BEGIN")
                connection.execute(read, (workspace_id, random.choice(ids))).fetchall()
                connection.execute("ROLLBACK")
            blocks.append((time.thread_time() - before) / args.requests * 1000)
    print(
        f"sqlite3 primary-key read of a note: {statistics.median(blocks[1:]):.4f} ms a read "
        f"(median of {args.blocks} blocks of {args.requests})"
    )


def report(profiler: cProfile.Profile, requests: int) -> None:
    stats = pstats.Stats(profiler)
    in_sqlite = sum(
        own
        for (filename, _, name), (_, _, own, _, _) in stats.stats.items()  # type: ignore[attr-defined]
        if filename == "~" and "sqlite3." in name
    )
    total = stats.total_tt  # type: ignore[attr-defined]
    stats.sort_stats("tottime").print_stats(30)
    print(
        f"profiled: {total / requests * 1000:.3f} ms a request, of which inside the sqlite3 "
        f"library {in_sqlite / requests * 1000:.3f} ms ({in_sqlite / total:.0%})"
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench inprocess", description=__doc__)
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--scenario", choices=SCENARIOS, default="get")
    parser.add_argument("--app", choices=["ainotes", "baseline"], default="ainotes")
    parser.add_argument("--requests", type=int, default=1000, help="requests a block")
    parser.add_argument("--blocks", type=int, default=5)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args(argv)
    manifest = generate.load_manifest(args.backend)
    if args.app == "baseline" and args.scenario not in ("get", "list", "ping"):
        parser.error("the baseline app serves get, list (the route floors) and ping")
    if args.scenario == "sqlite-read":
        if args.backend != "sqlite":
            parser.error("--scenario sqlite-read reads the SQLite set")
        sqlite_read(args, manifest)
        return 0
    os.environ.update(driver.app_env(manifest))
    app: _App
    if args.app == "ainotes":
        from ainotes.app import create_served_app

        # As the server builds it: with what startup made moved out of the garbage
        # collector's way (gc.freeze), whose collections would otherwise cost each request
        # ~0.04 ms more here than they do served.
        app = create_served_app()  # type: ignore[assignment]
    else:
        from bench import ping_app

        app = ping_app.app  # type: ignore[assignment]
    asyncio.run(run(app, args, manifest))
    return 0
