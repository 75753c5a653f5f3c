"""Issue 3's benchmark: search, backlinks, the task list and note creation with links and tasks.

Each run measures, back to back: the raw engine query of every search (the repository's own
SQL, run directly with ``sqlite3`` or asyncpg, one at a time), then every HTTP scenario through
wrk. Search, backlinks and task scenarios run with one connection (``-c1``), so that p50/p99 are
the latency of one request and compare with the raw query; ``/ping`` also runs with 32
connections, and the two creates with 4, for the req/s ratio the issue sets (rich create / plain
create, same run).
"""

import asyncio
import contextlib
import json
import os
import random
import re
import sqlite3
import statistics
import subprocess
import time
import urllib.parse
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import asyncpg

from ainotes.search.query import parse, render_fts5
from ainotes.search.repository import (
    _BODY_OPTIONS,
    _POSTGRES_SETTINGS,
    _SQLITE_SEARCH,
    _TITLE_OPTIONS,
    ELLIPSIS,
    MARK_CLOSE,
    MARK_OPEN,
    SNIPPET_WORDS,
    _single_term,
    postgres_search,
    rowid_block,
)
from bench import driver
from bench.generate import RESULTS_DIR, Text
from bench.generate_domain import DomainManifest, postgres_db, sqlite_path

PING_PORT = 8711
APP_PORT = 8712
SEARCH_LIMIT = 20
# Writes are serialised (SQLite's write lock, one worker); more connections only add queueing,
# and at 32 a 5 s measurement completes no request while the queue drains.
CREATE_CONNECTIONS = 4
SEARCH_CLASSES = ["common word", "rare word", "two words", "phrase", "prefix"]
# Seconds of raw queries per class and run (at least one pass over the class's queries).
RAW_SECONDS = 3.0


@dataclass
class Scenario:
    name: str
    paths: list[str] | None = None
    payload: str | None = None
    connections: tuple[int, ...] = (1,)
    port: int = APP_PORT


@dataclass
class Measured:
    name: str
    connections: int
    samples: list[dict[str, float]] = field(default_factory=list)

    def median(self, key: str) -> float:
        return float(statistics.median(s[key] for s in self.samples))


@dataclass
class DomainReport:
    backend: str
    notes: int
    duration: int
    runs: int
    measured: list[Measured]
    raw: dict[str, list[dict[str, float]]]
    queries: dict[str, list[tuple[str, int]]]
    background: list[float]
    loadavg: list[str]
    plans: dict[str, str]

    def save(self) -> Path:
        path = RESULTS_DIR / f"domain-{self.backend}-{self.notes}-results.json"
        path.write_text(json.dumps(asdict(self), indent=2))
        return path

    def get(self, name: str, connections: int) -> Measured:
        return next(m for m in self.measured if m.name == name and m.connections == connections)

    def table(self) -> str:
        lines = [
            f"### {self.backend}: {self.notes:,} notes, {self.runs} runs of {self.duration} s, "
            "medians",
            "",
            "| search (-c1) | matches | req/s | p50 ms | p99 ms | raw p50 ms | raw p99 ms "
            "| p50 ainotes/raw | CPU ms/req | p99 < 50 ms |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | :---: |",
        ]
        for kind in SEARCH_CLASSES:
            m = self.get(kind, 1)
            counts = [c for _, c in self.queries[kind]]
            raw50 = statistics.median(r["p50_ms"] for r in self.raw[kind])
            raw99 = statistics.median(r["p99_ms"] for r in self.raw[kind])
            lines.append(
                f"| {kind} | {min(counts):,} to {max(counts):,} | {m.median('rps'):,.1f} "
                f"| {m.median('p50_ms'):.1f} | {m.median('p99_ms'):.1f} | {raw50:.1f} "
                f"| {raw99:.1f} | {m.median('p50_ms') / raw50:.2f} | {m.median('cpu_ms'):.1f} "
                f"| {'yes' if m.median('p99_ms') < 50 else 'NO'} |"
            )
        lines += [
            "",
            "| scenario | conns | req/s | p50 ms | p99 ms | CPU ms/req |",
            "| --- | ---: | ---: | ---: | ---: | ---: |",
        ]
        for m in self.measured:
            if m.name in SEARCH_CLASSES:
                continue
            lines.append(
                f"| {m.name} | {m.connections} | {m.median('rps'):,.1f} | {m.median('p50_ms'):.1f} "
                f"| {m.median('p99_ms'):.1f} | {m.median('cpu_ms'):.2f} |"
            )
        ratios = [
            rich["rps"] / max(plain["rps"], 1e-9)
            for rich, plain in zip(
                self.get("create, 20 links + 20 tasks", CREATE_CONNECTIONS).samples,
                self.get("create, plain", CREATE_CONNECTIONS).samples,
                strict=True,
            )
        ]
        ratio = statistics.median(ratios)
        cpu_ratios = [
            plain["cpu_ms"] / max(rich["cpu_ms"], 1e-9)
            for rich, plain in zip(
                self.get("create, 20 links + 20 tasks", CREATE_CONNECTIONS).samples,
                self.get("create, plain", CREATE_CONNECTIONS).samples,
                strict=True,
            )
        ]
        cpu_ratio = statistics.median(cpu_ratios)
        lines += [
            "",
            f"- create with 20 links and 20 tasks / plain create, req/s at -c{CREATE_CONNECTIONS}, "
            "median of the "
            f"per-run ratios: {ratio:.2f} ({', '.join(f'{r:.2f}' for r in ratios)}; target ≥ 0.5): "
            + ("yes" if ratio >= 0.5 else "NO"),
            f"- the same by server CPU time (plain CPU ms/req over rich): {cpu_ratio:.2f} "
            f"({', '.join(f'{r:.2f}' for r in cpu_ratios)}): "
            + ("yes" if cpu_ratio >= 0.5 else "NO"),
            "- other work on the machine before each run: "
            + ", ".join(f"{b:.0%}" for b in self.background)
            + "; load average: "
            + "; ".join(self.loadavg),
        ]
        return "\n".join(lines)


def load_report(path: Path) -> DomainReport:
    """A saved report (``domain-BACKEND-NOTES-results.json``), to print its table again."""
    raw = json.loads(path.read_text())
    raw["measured"] = [Measured(**m) for m in raw["measured"]]
    return DomainReport(**raw)


def _wrk(scenario: Scenario, connections: int, seconds: int, token: str, latency: bool) -> str:
    command = [*driver.NICE, "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "30s"]
    if latency:
        command.append("--latency")
    env = dict(os.environ)
    url_path = "/ping"
    if scenario.port == APP_PORT:
        command += ["-H", f"Authorization: Bearer {token}"]
    if scenario.paths:
        paths_file = RESULTS_DIR / f"paths-{re.sub(r'[^a-z0-9]+', '-', scenario.name)}.txt"
        paths_file.write_text("\n".join(scenario.paths) + "\n")
        env["BENCH_PATHS"] = str(paths_file)
        command += ["-s", str(driver.LUA / "rotate_paths.lua")]
        url_path = scenario.paths[0]
    elif scenario.payload:
        env["BENCH_PAYLOAD"] = scenario.payload
        command += ["-s", str(driver.LUA / "create_note.lua")]
        url_path = f"/v1/workspaces/{env['BENCH_WORKSPACE']}/notes"
    command.append(f"http://127.0.0.1:{scenario.port}{url_path}")
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    return done.stdout


def payloads(manifest: DomainManifest) -> tuple[Path, Path]:
    """Two bodies of the same size: one with 20 wikilinks to existing notes and 20 tasks, one
    where the same characters are neither links nor tasks."""
    source = Text(random.Random(11))
    parts = [source.paragraph() for _ in range(4)]
    for i, title in enumerate(manifest.link_titles[:20]):
        parts.append(f"- [ ] review item {i} of run __N__ #exam\nSee [[{title}]] for the context.")
    rich = "\n\n".join(parts)
    plain = rich.replace("[[", "((").replace("]]", "))").replace("- [ ] ", "- ( ) ")
    files = []
    for name, body in (("rich", rich), ("plain", plain)):
        path = RESULTS_DIR / f"payload-domain-{name}.json"
        path.write_text(json.dumps({"title": f"Bench {name} __N__", "body": body, "tags": []}))
        files.append(path)
    return files[0], files[1]


def scenarios(manifest: DomainManifest, rich: Path, plain: Path) -> list[Scenario]:
    ws = f"/v1/workspaces/{manifest.workspace_id}"
    plan = [Scenario("bare /ping", connections=(1, 32), port=PING_PORT)]
    for kind in SEARCH_CLASSES:
        paths = [
            f"{ws}/search?q={urllib.parse.quote(q)}&limit={SEARCH_LIMIT}"
            for q, _ in manifest.queries[kind]
        ]
        plan.append(Scenario(kind, paths=paths))
    plan += [
        Scenario(
            "backlinks, 1,000, first page", [f"{ws}/notes/{manifest.backlink_target_id}/backlinks"]
        ),
        Scenario("tasks, 100k, first page", [f"{ws}/tasks"]),
        Scenario("tasks, open + tag exam", [f"{ws}/tasks?status=open&tag=exam"]),
        Scenario("create, plain", payload=str(plain), connections=(1, CREATE_CONNECTIONS)),
        Scenario(
            "create, 20 links + 20 tasks", payload=str(rich), connections=(1, CREATE_CONNECTIONS)
        ),
    ]
    return plan


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def _sqlite_params(manifest: DomainManifest, raw_query: str) -> dict[str, Any]:
    first, last = rowid_block(manifest.workspace_id)
    return {
        "match": render_fts5(parse(raw_query)),
        "block_first": first,
        "block_last": last,
        "workspace_id": manifest.workspace_id,
        "mark_open": MARK_OPEN,
        "mark_close": MARK_CLOSE,
        "ellipsis": ELLIPSIS,
        "snippet_words": SNIPPET_WORDS,
        "limit": SEARCH_LIMIT + 1,
        "offset": 0,
    }


def _postgres_sql(raw_query: str) -> tuple[str, list[str]]:
    sql, _ = postgres_search(parse(raw_query), "")
    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        if match.group(1) not in names:
            names.append(match.group(1))
        return f"${names.index(match.group(1)) + 1}"

    return re.sub(r"(?<![:\w]):(\w+)", number, sql), names


def _postgres_params(manifest: DomainManifest, raw_query: str) -> dict[str, Any]:
    _, query_params = postgres_search(parse(raw_query), "")
    return {
        **query_params,
        "workspace_id": manifest.workspace_id,
        "title_options": _TITLE_OPTIONS,
        "body_options": _BODY_OPTIONS,
        "limit": SEARCH_LIMIT + 1,
        "offset": 0,
    }


def raw_sqlite(manifest: DomainManifest) -> dict[str, dict[str, float]]:
    sql = _SQLITE_SEARCH.format(filters="")
    out = {}
    with contextlib.closing(sqlite3.connect(sqlite_path(manifest.notes))) as connection:
        for kind in SEARCH_CLASSES:
            times: list[float] = []
            deadline = time.monotonic() + RAW_SECONDS
            while not times or time.monotonic() < deadline:
                for q, _ in manifest.queries[kind]:
                    started = time.perf_counter()
                    connection.execute(sql, _sqlite_params(manifest, q)).fetchall()
                    times.append((time.perf_counter() - started) * 1000)
            out[kind] = {"p50_ms": statistics.median(times), "p99_ms": _percentile(times, 0.99)}
    return out


async def _raw_postgres(manifest: DomainManifest) -> dict[str, dict[str, float]]:
    connection = await asyncpg.connect(
        f"postgresql://postgres@127.0.0.1:5432/{postgres_db(manifest.notes)}"
    )
    out = {}
    settings = _POSTGRES_SETTINGS.replace(":seqscan", "$1")
    try:
        for kind in SEARCH_CLASSES:
            times: list[float] = []
            deadline = time.monotonic() + RAW_SECONDS
            # Prepared once per query, as asyncpg's statement cache does for the server.
            prepared = {}
            for q, _ in manifest.queries[kind]:
                sql, names = _postgres_sql(q)
                prepared[q] = (await connection.prepare(sql), names)
            while not times or time.monotonic() < deadline:
                for q, _ in manifest.queries[kind]:
                    statement, names = prepared[q]
                    params = _postgres_params(manifest, q)
                    seqscan = "on" if _single_term(parse(q)) else "off"
                    started = time.perf_counter()
                    # As the repository runs it: its planner settings, for this transaction.
                    async with connection.transaction():
                        await connection.execute(settings, seqscan)
                        await statement.fetch(*(params[n] for n in names))
                    times.append((time.perf_counter() - started) * 1000)
            out[kind] = {"p50_ms": statistics.median(times), "p99_ms": _percentile(times, 0.99)}
    finally:
        await connection.close()
    return out


def plans(manifest: DomainManifest) -> dict[str, str]:
    """EXPLAIN (QUERY PLAN / ANALYZE) of the first query of each search class."""
    out = {}
    if manifest.backend == "sqlite":
        sql = _SQLITE_SEARCH.format(filters="")
        with contextlib.closing(sqlite3.connect(sqlite_path(manifest.notes))) as connection:
            for kind in SEARCH_CLASSES:
                rows = connection.execute(
                    "EXPLAIN QUERY PLAN " + sql,
                    _sqlite_params(manifest, manifest.queries[kind][0][0]),
                ).fetchall()
                out[kind] = "\n".join(str(row[-1]) for row in rows)
        return out

    async def explain() -> None:
        connection = await asyncpg.connect(
            f"postgresql://postgres@127.0.0.1:5432/{postgres_db(manifest.notes)}"
        )
        try:
            for kind in SEARCH_CLASSES:
                sql, names = _postgres_sql(manifest.queries[kind][0][0])
                params = _postgres_params(manifest, manifest.queries[kind][0][0])
                rows = await connection.fetch(
                    "EXPLAIN (ANALYZE, BUFFERS) " + sql, *(params[n] for n in names)
                )
                out[kind] = "\n".join(r[0] for r in rows)
        finally:
            await connection.close()

    asyncio.run(explain())
    return out


def measure(manifest: DomainManifest, duration: int, runs: int) -> DomainReport:
    rich, plain = payloads(manifest)
    os.environ["BENCH_WORKSPACE"] = manifest.workspace_id
    plan = scenarios(manifest, rich, plain)
    measured = [Measured(s.name, c) for s in plan for c in s.connections]
    raw: dict[str, list[dict[str, float]]] = {kind: [] for kind in SEARCH_CLASSES}
    background, loadavg = [], []
    env = {
        "AINOTES_DATABASE_URL": manifest.database_url,
        "AINOTES_LOG_LEVEL": "warning",
        "AINOTES_WORKERS": "1",
        "AINOTES_BOOTSTRAP_ADMIN": "false",
    }
    ping = ["uv", "run", "--frozen", "python", "-m", "bench.ping_app", "--port", str(PING_PORT)]
    app = ["uv", "run", "--frozen", "ainotes", "serve", "--port", str(APP_PORT)]
    tag = f"{manifest.backend}-{manifest.notes}"
    with (
        driver.serving(ping, PING_PORT, env, RESULTS_DIR / "domain-ping.log") as ping_pid,
        driver.serving(app, APP_PORT, env, RESULTS_DIR / f"domain-{tag}-server.log") as app_pid,
    ):
        for run in range(1, runs + 1):
            background.append(driver.wait_for_quiet())
            loadavg.append(" ".join(Path("/proc/loadavg").read_text().split()[:3]))
            print(f"  {tag} run {run}: background {background[-1]:.0%}, load {loadavg[-1]}")
            if manifest.backend == "sqlite":
                result = raw_sqlite(manifest)
            else:
                result = asyncio.run(_raw_postgres(manifest))
            for kind, values in result.items():
                raw[kind].append(values)
                print(f"  {tag} raw {kind:<12} p50 {values['p50_ms']:7.1f} ms", flush=True)
            for scenario in plan:
                for connections in scenario.connections:
                    _wrk(scenario, connections, 1, manifest.token, latency=False)
                    pid = ping_pid if scenario.port == PING_PORT else app_pid
                    cpu_before = driver.cpu_seconds(pid)
                    sample = driver.parse_wrk(
                        _wrk(scenario, connections, duration, manifest.token, latency=True)
                    )
                    cpu_ms = (driver.cpu_seconds(pid) - cpu_before) * 1000 / max(1, sample.requests)
                    m = next(
                        x
                        for x in measured
                        if x.name == scenario.name and x.connections == connections
                    )
                    m.samples.append(
                        {
                            "rps": sample.rps,
                            "p50_ms": sample.p50_ms,
                            "p99_ms": sample.p99_ms,
                            "errors": sample.errors,
                            "cpu_ms": cpu_ms,
                        }
                    )
                    print(
                        f"  {tag} {scenario.name:<30} c{connections:<2} {sample.rps:8.1f} req/s "
                        f"p50 {sample.p50_ms:7.1f} p99 {sample.p99_ms:7.1f} ms"
                        + (f" {sample.errors} ERRORS" if sample.errors else ""),
                        flush=True,
                    )
    return DomainReport(
        backend=manifest.backend,
        notes=manifest.notes,
        duration=duration,
        runs=runs,
        measured=measured,
        raw=raw,
        queries=manifest.queries,
        background=background,
        loadavg=loadavg,
        plans=plans(manifest),
    )


def main(argv: list[str]) -> int:
    import argparse

    from bench import generate_domain

    parser = argparse.ArgumentParser(prog="python -m bench domain", description=__doc__)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--notes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--duration", type=int, default=5, help="seconds per measurement")
    parser.add_argument("--runs", type=int, default=3, help="runs; medians are reported")
    parser.add_argument("--skip-generate", action="store_true", help="reuse generated databases")
    parser.add_argument(
        "--amplify",
        action="store_true",
        help="make each size past the first from the first by copying notes in SQL (fast)",
    )
    parser.add_argument(
        "--tables", action="store_true", help="only print the tables of the saved results"
    )
    args = parser.parse_args(argv)
    if args.tables:
        for path in sorted(RESULTS_DIR.glob("domain-*-results.json")):
            print(load_report(path).table() + "\n")
        return 0
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    tables = []
    for notes in args.notes:
        for backend in backends:
            if args.skip_generate:
                manifest = generate_domain.load_domain_manifest(backend, notes)
            elif args.amplify and notes != args.notes[0]:
                print(f"{backend}: copying {args.notes[0]:,} notes up to {notes:,}", flush=True)
                factor = notes // args.notes[0]
                manifest = generate_domain.amplify(backend, args.notes[0], factor)
            else:
                print(f"{backend}: generating {notes:,} notes", flush=True)
                manifest = generate_domain.generate(backend, notes)
                print(f"{backend}: generated in {manifest.seconds} s", flush=True)
            report = measure(manifest, args.duration, args.runs)
            report.save()
            tables.append(report.table())
            print(tables[-1], flush=True)
    print("\n\n".join(tables))
    return 0
