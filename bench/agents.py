"""Agents' benchmark: what the audit log and idempotency cost a note write, the proposal round
trip, and ``ainotes audit verify`` on a long chain.

1. **Writes**: create-note and patch-note through wrk (``-t1 -c32``), (a) on the server as
   shipped with an ``Idempotency-Key`` unique to every request, and (b) on ``bench.no_audit_app``
   (the same app and server, audit recording a no-op) without the header. Both servers run side
   by side on the same database; within a run (a) and (b) alternate which goes first. The
   ratio (a)/(b) of req/s is taken per run and its median reported (target ≥ 0.7).
2. **Round trips** (the shipped server, httpx, 8 concurrent workers, each on its own note): an
   agent submits an ``update_note`` proposal (with ``Idempotency-Key``), the owner approves it,
   a GET of the note shows the new body; against the same number of plain round trips (the owner
   PATCHes the body, a GET shows it).
3. **Verify**: ``uv run --frozen ainotes audit verify --workspace ID`` on chains of N events
   written directly in the database (``bench.generate_agents``): wall time, events/s, CPU time
   and the peak RSS of the process, with its RSS sampled during the run.
"""

import argparse
import asyncio
import contextlib
import json
import os
import re
import resource
import shutil
import sqlite3
import statistics
import subprocess
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from bench import driver
from bench.generate import RESULTS_DIR, Text
from bench.generate_agents import (
    AuditManifest,
    HttpManifest,
    ensure_audit,
    generate_http,
    load_http,
)

PORT = 8721
BASELINE_PORT = 8722
CONNECTIONS = 32
WARMUP_SECONDS = 2
WORKERS = 8
TARGET = 0.7
PARTS = ("writes", "round-trips", "verify")
SHIPPED = "(a) as shipped, Idempotency-Key"
BASELINE = "(b) no audit, no key"
PROPOSAL = "proposal: submit → approve → GET"
PLAIN = "plain: PATCH → GET"
RSS_POLL_SECONDS = 0.1


def _median(samples: list[dict[str, Any]], key: str) -> float:
    return float(statistics.median(s[key] for s in samples)) if samples else float("nan")


def _percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


@dataclass
class WriteResult:
    scenario: str
    shipped: list[dict[str, Any]] = field(default_factory=list)
    baseline: list[dict[str, Any]] = field(default_factory=list)
    # Per run: (a) req/s over (b) req/s, and (b) CPU ms/req over (a) CPU ms/req.
    ratios: list[float] = field(default_factory=list)
    cpu_ratios: list[float] = field(default_factory=list)


@dataclass
class AgentsReport:
    backend: str
    notes: int
    duration: int
    runs: int
    connections: int
    workers: int
    round_trips_per_run: int
    writes: list[WriteResult] = field(default_factory=list)
    round_trips: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    round_trip_ratios: list[float] = field(default_factory=list)
    verify: list[dict[str, Any]] = field(default_factory=list)
    background: list[float] = field(default_factory=list)
    loadavg: list[str] = field(default_factory=list)

    def save(self) -> Path:
        measured = [
            part
            for part, done in zip(PARTS, (self.writes, self.round_trips, self.verify), strict=True)
            if done
        ]
        # A run of some parts only does not overwrite the results of a full run.
        suffix = "" if len(measured) == len(PARTS) else "-" + "-".join(measured)
        path = RESULTS_DIR / f"agents-{self.backend}{suffix}-results.json"
        path.write_text(json.dumps(asdict(self), indent=2))
        return path

    def table(self) -> str:
        lines = [f"### {self.backend}: agents, {self.runs} runs, medians"]
        if self.writes:
            lines += [
                "",
                f"Note writes, {self.notes:,} notes in the workspace, wrk -t1 "
                f"-c{self.connections}, {self.duration} s per measurement:",
                "",
                "| write | server, requests | req/s | p50 ms | p99 ms | CPU ms/write "
                "| audit events/write | keys/write | (a)/(b) | by CPU | target | met |",
                "| --- | --- |" + " ---: |" * 9 + " :---: |",
            ]
            for result in self.writes:
                ratio = statistics.median(result.ratios) if result.ratios else None
                by_cpu = statistics.median(result.cpu_ratios) if result.cpu_ratios else None
                for variant, samples in ((SHIPPED, result.shipped), (BASELINE, result.baseline)):
                    errors = sum(s["errors"] for s in samples)
                    first = variant == SHIPPED
                    met = "" if not first or ratio is None else ("yes" if ratio >= TARGET else "NO")
                    lines.append(
                        f"| {result.scenario if first else ''} | {variant}"
                        + (f" ({errors} errors)" if errors else "")
                        + f" | {_median(samples, 'rps'):,.1f} | {_median(samples, 'p50_ms'):.1f} "
                        f"| {_median(samples, 'p99_ms'):.1f} | {_median(samples, 'cpu_ms'):.2f} "
                        f"| {_median(samples, 'audit_per_request'):.2f} "
                        f"| {_median(samples, 'keys_per_request'):.2f} "
                        f"| {f'{ratio:.2f}' if first and ratio is not None else ''} "
                        f"| {f'{by_cpu:.2f}' if first and by_cpu is not None else ''} "
                        f"| {f'≥ {TARGET:.2f}' if first else ''} | {met} |"
                    )
            lines.append(
                "- per-run ratios (a)/(b): "
                + "; ".join(
                    f"{r.scenario} " + ", ".join(f"{x:.2f}" for x in r.ratios) for r in self.writes
                )
            )
        if self.round_trips:
            lines += [
                "",
                f"Round trips on the shipped server, {self.workers} concurrent workers "
                f"(each on its own note), {self.round_trips_per_run} of each kind per run:",
                "",
                "| round trip | per s | p50 ms | p99 ms | server CPU ms/trip | errors "
                "| proposal/plain |",
                "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
            ]
            ratio = statistics.median(self.round_trip_ratios) if self.round_trip_ratios else None
            for kind in (PROPOSAL, PLAIN):
                samples = self.round_trips.get(kind, [])
                lines.append(
                    f"| {kind} | {_median(samples, 'rate'):,.1f} "
                    f"| {_median(samples, 'p50_ms'):.1f} | {_median(samples, 'p99_ms'):.1f} "
                    f"| {_median(samples, 'cpu_ms'):.2f} "
                    f"| {sum(s['errors'] for s in samples)} "
                    f"| {f'{ratio:.2f}' if kind == PROPOSAL and ratio is not None else ''} |"
                )
        if self.verify:
            lines += [
                "",
                "`ainotes audit verify --workspace ID` (through `uv run --frozen`), one chain:",
                "",
                "| events | wall s | events/s | startup s | events/s after startup | CPU s "
                "| events per CPU s | peak RSS MB | RSS during the run, MB (25/50/75/100 %) | ok |",
                "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | :---: |",
            ]
            for events in sorted({v["events"] for v in self.verify}):
                samples = [v for v in self.verify if v["events"] == events]
                wall = _median(samples, "wall_s")
                startup = _median(samples, "startup_s")
                cpu = _median(samples, "cpu_s")
                timeline = min(samples, key=lambda v: abs(v["wall_s"] - wall))["rss_quartiles_mb"]
                lines.append(
                    f"| {events:,} | {wall:.1f} | {events / wall:,.0f} | {startup:.1f} "
                    f"| {events / max(wall - startup, 1e-9):,.0f} | {cpu:.1f} "
                    f"| {events / max(cpu, 1e-9):,.0f} | {_median(samples, 'peak_rss_mb'):.0f} "
                    f"| {', '.join(f'{m:.0f}' for m in timeline)} "
                    f"| {'yes' if all(v['ok'] for v in samples) else 'NO'} |"
                )
            sizes = sorted({v["events"] for v in self.verify})
            if len(sizes) > 1:
                small = _median([v for v in self.verify if v["events"] == sizes[0]], "peak_rss_mb")
                large = _median([v for v in self.verify if v["events"] == sizes[-1]], "peak_rss_mb")
                lines.append(
                    f"- peak RSS at {sizes[-1]:,} events / at {sizes[0]:,}: {large / small:.2f}"
                )
        lines.append(
            "- other work on the machine before each run: "
            + ", ".join(f"{b:.0%}" for b in self.background)
            + "; load average: "
            + "; ".join(self.loadavg)
        )
        return "\n".join(lines)


def load_report(path: Path) -> AgentsReport:
    raw = json.loads(path.read_text())
    raw["writes"] = [WriteResult(**w) for w in raw["writes"]]
    return AgentsReport(**raw)


# --- helpers -------------------------------------------------------------------------------


def _note_check(run: int, report: AgentsReport, patience: float) -> None:
    report.background.append(driver.wait_for_quiet(patience=patience))
    report.loadavg.append(" ".join(Path("/proc/loadavg").read_text().split()[:3]))
    print(
        f"  {report.backend} run {run}: background {report.background[-1]:.0%}, "
        f"load {report.loadavg[-1]}",
        flush=True,
    )


def _server_env(database_url: str) -> dict[str, str]:
    return {
        "AINOTES_DATABASE_URL": database_url,
        "AINOTES_LOG_LEVEL": "warning",
        "AINOTES_WORKERS": "1",
        "AINOTES_BOOTSTRAP_ADMIN": "false",
    }


def _counts(manifest: HttpManifest) -> tuple[int, int, int]:
    """Audit events in the workspace's chain, stored idempotency keys (all principals), and
    note revisions in the workspace: every create and every patch writes one revision, so its
    growth is the number of writes the server did, including those wrk did not wait for."""
    queries = [
        "SELECT count(*) FROM audit_events WHERE chain_id = {}",
        "SELECT count(*) FROM idempotency_keys",
        "SELECT count(*) FROM note_revisions WHERE workspace_id = {}",
    ]
    if manifest.backend == "sqlite":
        path = manifest.database_url.split("///", 1)[1]
        with contextlib.closing(sqlite3.connect(path)) as connection:
            found = [
                connection.execute(
                    q.format("?"), (manifest.workspace_id,) if "{}" in q else ()
                ).fetchone()[0]
                for q in queries
            ]
        return int(found[0]), int(found[1]), int(found[2])

    async def count() -> list[int]:
        name = manifest.database_url.rsplit("/", 1)[1]
        connection = await asyncpg.connect(f"postgresql://postgres@127.0.0.1:5432/{name}")
        try:
            return [
                int(await connection.fetchval(q.format("$1"), manifest.workspace_id))
                if "{}" in q
                else int(await connection.fetchval(q))
                for q in queries
            ]
        finally:
            await connection.close()

    found = asyncio.run(count())
    return found[0], found[1], found[2]


def _wait_idle(pids: list[int], limit: float = 120.0) -> None:
    """Wait until the servers stop using CPU: requests that wrk left in flight when it stopped
    still run to the end on the server, and must not land in the next measurement (on SQLite
    the two servers even share one write lock)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        before = sum(driver.cpu_seconds(pid) for pid in pids)
        time.sleep(0.3)
        if sum(driver.cpu_seconds(pid) for pid in pids) - before < 0.01:
            return


def _body(tag: str) -> str:
    """A ~2 KB markdown body, as the foundation benchmark writes, with a slot ``__N__``."""
    import random

    source = Text(random.Random(7))
    return source.body(["Cell Membrane", "Gradient Descent"])[:1_900] + f"\n\n- revision {tag}"


def _payloads() -> tuple[Path, Path]:
    body = _body("__N__")
    create = RESULTS_DIR / "payload-agents-create.json"
    create.write_text(json.dumps({"title": "Bench note __N__", "body": body, "tags": ["bench"]}))
    patch = RESULTS_DIR / "payload-agents-patch.json"
    patch.write_text(json.dumps({"body": body}))
    return create, patch


# --- 1. writes -----------------------------------------------------------------------------


def _wrk(
    port: int, manifest: HttpManifest, env: dict[str, str], seconds: int, latency: bool
) -> str:
    command = [
        *driver.NICE,
        *("wrk", "-t1", f"-c{env['BENCH_CONNECTIONS']}", f"-d{seconds}s", "--timeout", "30s"),
    ]
    if latency:
        command.append("--latency")
    command += [
        *("-H", f"Authorization: Bearer {manifest.token}"),
        *("-s", str(driver.LUA / "agents_write.lua")),
        f"http://127.0.0.1:{port}/v1/workspaces/{manifest.workspace_id}/notes",
    ]
    done = subprocess.run(
        command, env={**os.environ, **env}, capture_output=True, text=True, check=True
    )
    return done.stdout


def _write_env(
    manifest: HttpManifest, method: str, payload: Path, idempotent: bool, connections: int
) -> dict[str, str]:
    return {
        "BENCH_METHOD": method,
        "BENCH_PAYLOAD": str(payload),
        "BENCH_WORKSPACE": manifest.workspace_id,
        "BENCH_IDS_FILE": manifest.note_ids_file,
        "BENCH_IDEMPOTENCY": "1" if idempotent else "0",
        # New for every wrk run, so that no Idempotency-Key is ever sent twice.
        "BENCH_KEY_PREFIX": uuid.uuid4().hex,
        "BENCH_CONNECTIONS": str(connections),
    }


def _precheck(manifest: HttpManifest) -> None:
    """One create on each server: the shipped one must record an event and store the key, the
    baseline neither, before minutes go into measuring them."""
    path = f"/v1/workspaces/{manifest.workspace_id}/notes"
    for port, key, events_expected in ((PORT, uuid.uuid4().hex, 1), (BASELINE_PORT, None, 0)):
        before = _counts(manifest)
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}{path}",
            data=json.dumps({"title": "precheck", "body": "x"}).encode(),
            method="POST",
            headers={
                "Authorization": f"Bearer {manifest.token}",
                "Content-Type": "application/json",
                **({"Idempotency-Key": key} if key else {}),
            },
        )
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            replayed = response.headers.get("Idempotent-Replayed")
        after = _counts(manifest)
        events, keys, writes = (a - b for a, b in zip(after, before, strict=True))
        if writes != 1 or events != events_expected or keys != events_expected:
            raise RuntimeError(
                f"server on port {port}: {events} audit events and {keys} idempotency keys "
                f"for {writes} creates; expected {events_expected} of each for one"
            )
        if (replayed == "false") != bool(key):
            raise RuntimeError(f"server on port {port}: Idempotent-Replayed is {replayed!r}")


def _measure_write(
    manifest: HttpManifest,
    port: int,
    pids: dict[int, int],
    env: dict[str, str],
    duration: int,
) -> dict[str, Any]:
    everyone = list(pids.values())
    _wrk(port, manifest, {**env, "BENCH_KEY_PREFIX": uuid.uuid4().hex}, WARMUP_SECONDS, False)
    _wait_idle(everyone)
    events_before, keys_before, writes_before = _counts(manifest)
    cpu_before = driver.cpu_seconds(pids[port])
    sample = driver.parse_wrk(_wrk(port, manifest, env, duration, True))
    _wait_idle(everyone)
    cpu = driver.cpu_seconds(pids[port]) - cpu_before
    events_after, keys_after, writes_after = _counts(manifest)
    writes = max(1, writes_after - writes_before)
    return {
        "rps": sample.rps,
        "p50_ms": sample.p50_ms,
        "p99_ms": sample.p99_ms,
        "errors": sample.errors,
        "requests": sample.requests,
        # Writes the server made, counting those still in flight when wrk stopped.
        "writes": writes_after - writes_before,
        "cpu_ms": cpu * 1000 / writes,
        "audit_per_request": (events_after - events_before) / writes,
        "keys_per_request": (keys_after - keys_before) / writes,
    }


def measure_writes(
    manifest: HttpManifest,
    pids: dict[int, int],
    duration: int,
    connections: int,
    run: int,
    results: dict[str, WriteResult],
) -> None:
    create, patch = _payloads()
    for scenario, method, payload in (
        ("create note", "POST", create),
        ("patch note", "PATCH", patch),
    ):
        result = results.setdefault(scenario, WriteResult(scenario))
        variants = [(True, PORT), (False, BASELINE_PORT)]
        if run % 2 == 0:
            variants.reverse()
        measured: dict[bool, dict[str, Any]] = {}
        for idempotent, port in variants:
            env = _write_env(manifest, method, payload, idempotent, connections)
            sample = _measure_write(manifest, port, pids, env, duration)
            measured[idempotent] = sample
            print(
                f"  {manifest.backend} run {run} {scenario:<12} "
                f"{SHIPPED if idempotent else BASELINE:<32} {sample['rps']:8.1f} req/s "
                f"p50 {sample['p50_ms']:7.1f} p99 {sample['p99_ms']:7.1f} ms "
                f"cpu {sample['cpu_ms']:6.2f} ms/req audit/req {sample['audit_per_request']:.2f}"
                + (f"  {sample['errors']} ERRORS" if sample["errors"] else ""),
                flush=True,
            )
        result.shipped.append(measured[True])
        result.baseline.append(measured[False])
        result.ratios.append(measured[True]["rps"] / max(measured[False]["rps"], 1e-9))
        result.cpu_ratios.append(measured[False]["cpu_ms"] / max(measured[True]["cpu_ms"], 1e-9))


# --- 2. round trips ------------------------------------------------------------------------


class RoundTripFailed(Exception):
    pass


@dataclass
class _Note:
    id: str
    version: int


@dataclass
class AgentSetup:
    workspace_id: str
    owner: dict[str, str]
    agent: dict[str, str]
    notes: list[_Note]


def _expect(response: httpx.Response, status: int) -> dict[str, Any]:
    if response.status_code != status:
        raise RoundTripFailed(
            f"{response.request.method} {response.request.url.path}: {response.status_code} "
            f"{response.text[:300]}"
        )
    body: dict[str, Any] = response.json()
    return body


async def setup_agent(base_url: str, owner_token: str, workers: int) -> AgentSetup:
    """Through the API: a workspace, its policy (a person approves every proposal, and may
    approve those of agents whose token they issued), an agent, its token, and one note per
    worker."""
    owner = {"Authorization": f"Bearer {owner_token}"}
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        ws = _expect(
            await client.post("/v1/workspaces", headers=owner, json={"name": "Agent round trips"}),
            201,
        )["id"]
        _expect(
            await client.put(
                f"/v1/workspaces/{ws}/proposal-policy",
                headers=owner,
                json={"auto_apply": [], "require_distinct_approver": False},
            ),
            200,
        )
        agent = _expect(
            await client.post(
                f"/v1/workspaces/{ws}/agents", headers=owner, json={"name": "study assistant"}
            ),
            201,
        )["id"]
        token = _expect(
            await client.post(
                f"/v1/workspaces/{ws}/agents/{agent}/tokens",
                headers=owner,
                json={"name": "bench", "scopes": ["notes:read", "proposals:write"]},
            ),
            201,
        )["token"]
        notes = []
        for i in range(workers):
            note = _expect(
                await client.post(
                    f"/v1/workspaces/{ws}/notes",
                    headers=owner,
                    json={"title": f"Round trip note {i}", "body": _body("0")},
                ),
                201,
            )
            notes.append(_Note(note["id"], note["version"]))
    return AgentSetup(ws, owner, {"Authorization": f"Bearer {token}"}, notes)


async def _proposal_trip(
    client: httpx.AsyncClient, setup: AgentSetup, note: _Note, body: str
) -> None:
    ws = f"/v1/workspaces/{setup.workspace_id}"
    proposal = _expect(
        await client.post(
            f"{ws}/proposals",
            headers={**setup.agent, "Idempotency-Key": uuid.uuid4().hex},
            json={
                "rationale": "Tighten the summary after the quiz.",
                "operations": [
                    {
                        "op": "update_note",
                        "note_id": note.id,
                        "base_version": note.version,
                        "body": body,
                    }
                ],
            },
        ),
        201,
    )
    approved = _expect(
        await client.post(f"{ws}/proposals/{proposal['id']}/approve", headers=setup.owner), 200
    )
    if approved["state"] != "applied":
        raise RoundTripFailed(f"approved proposal is {approved['state']}: {approved['failure']}")
    await _read_back(client, setup, note, body, setup.agent)


async def _plain_trip(client: httpx.AsyncClient, setup: AgentSetup, note: _Note, body: str) -> None:
    _expect(
        await client.patch(
            f"/v1/workspaces/{setup.workspace_id}/notes/{note.id}",
            headers=setup.owner,
            json={"body": body},
        ),
        200,
    )
    await _read_back(client, setup, note, body, setup.owner)


async def _read_back(
    client: httpx.AsyncClient, setup: AgentSetup, note: _Note, body: str, headers: dict[str, str]
) -> None:
    got = _expect(
        await client.get(f"/v1/workspaces/{setup.workspace_id}/notes/{note.id}", headers=headers),
        200,
    )
    note.version = got["version"]
    if got["body"] != body:
        raise RoundTripFailed(f"note {note.id} does not show the change")


async def _refresh(client: httpx.AsyncClient, setup: AgentSetup, note: _Note) -> None:
    """After a failed trip: the note's version now, so that the next proposal is not stale."""
    path = f"/v1/workspaces/{setup.workspace_id}/notes/{note.id}"
    note.version = _expect(await client.get(path, headers=setup.owner), 200)["version"]


Trip = Callable[[httpx.AsyncClient, AgentSetup, _Note, str], Awaitable[None]]


async def _round_trips(
    base_url: str, setup: AgentSetup, trip: Trip, count: int, pid: int
) -> dict[str, Any]:
    latencies: list[float] = []
    errors: list[str] = []
    issued = 0
    limits = httpx.Limits(max_connections=len(setup.notes) * 2)
    async with httpx.AsyncClient(base_url=base_url, timeout=120, limits=limits) as client:

        async def worker(note: _Note) -> None:
            nonlocal issued
            while issued < count:
                issued += 1
                body = _body(uuid.uuid4().hex)
                started = time.perf_counter()
                try:
                    await trip(client, setup, note, body)
                except RoundTripFailed as error:
                    errors.append(str(error))
                    await _refresh(client, setup, note)
                    continue
                latencies.append((time.perf_counter() - started) * 1000)

        # One unmeasured trip per worker: connections open, statements cached.
        await asyncio.gather(
            *(trip(client, setup, n, _body(uuid.uuid4().hex)) for n in setup.notes)
        )
        cpu_before = driver.cpu_seconds(pid)
        started = time.perf_counter()
        await asyncio.gather(*(worker(n) for n in setup.notes))
        seconds = time.perf_counter() - started
        cpu = driver.cpu_seconds(pid) - cpu_before
    return {
        "count": len(latencies),
        "errors": len(errors),
        "first_errors": errors[:3],
        "seconds": seconds,
        "rate": len(latencies) / seconds,
        "p50_ms": _percentile(latencies, 0.5),
        "p99_ms": _percentile(latencies, 0.99),
        "cpu_ms": cpu * 1000 / max(1, len(latencies) + len(errors)),
    }


def measure_round_trips(
    setup: AgentSetup, pid: int, count: int, run: int, report: AgentsReport
) -> None:
    base_url = f"http://127.0.0.1:{PORT}"
    kinds: list[tuple[str, Trip]] = [(PROPOSAL, _proposal_trip), (PLAIN, _plain_trip)]
    if run % 2 == 0:
        kinds.reverse()
    measured = {}
    for name, trip in kinds:
        sample = asyncio.run(_round_trips(base_url, setup, trip, count, pid))
        measured[name] = sample
        report.round_trips.setdefault(name, []).append(sample)
        print(
            f"  {report.backend} run {run} {name:<34} {sample['rate']:7.1f}/s "
            f"p50 {sample['p50_ms']:7.1f} p99 {sample['p99_ms']:7.1f} ms "
            f"cpu {sample['cpu_ms']:6.2f} ms/trip"
            + (
                f"  {sample['errors']} ERRORS: {sample['first_errors']}" if sample["errors"] else ""
            ),
            flush=True,
        )
    report.round_trip_ratios.append(measured[PROPOSAL]["rate"] / max(measured[PLAIN]["rate"], 1e-9))


def measure_http(
    manifest: HttpManifest,
    report: AgentsReport,
    parts: set[str],
    round_trips: int,
    patience: float,
) -> None:
    shipped = ["uv", "run", "--frozen", "ainotes", "serve", "--port", str(PORT)]
    baseline = [
        *("uv", "run", "--frozen", "python", "-m", "bench.no_audit_app"),
        *("--port", str(BASELINE_PORT)),
    ]
    env = _server_env(manifest.database_url)
    log = RESULTS_DIR / f"agents-{manifest.backend}"
    with (
        driver.serving(shipped, PORT, env, Path(f"{log}-shipped.log")) as shipped_pid,
        driver.serving(baseline, BASELINE_PORT, env, Path(f"{log}-baseline.log")) as baseline_pid,
    ):
        pids = {PORT: shipped_pid, BASELINE_PORT: baseline_pid}
        if "writes" in parts:
            _precheck(manifest)
        setup = None
        if "round-trips" in parts:
            setup = asyncio.run(setup_agent(f"http://127.0.0.1:{PORT}", manifest.token, WORKERS))
        results: dict[str, WriteResult] = {}
        for run in range(1, report.runs + 1):
            _note_check(run, report, patience)
            if "writes" in parts:
                measure_writes(manifest, pids, report.duration, report.connections, run, results)
            if setup is not None:
                _wait_idle(list(pids.values()))
                measure_round_trips(setup, shipped_pid, round_trips, run, report)
        report.writes = list(results.values())


# --- 3. verify -----------------------------------------------------------------------------


def _rss_mb(pid: int) -> tuple[float, float] | None:
    with contextlib.suppress(OSError, KeyError, ValueError):
        return driver.rss_mb(pid)
    return None


def _python_below(pid: int) -> int | None:
    with contextlib.suppress(RuntimeError):
        return driver.server_pid(pid)
    return None


_MAX_RSS = re.compile(r"Maximum resident set size \(kbytes\): (\d+)")


def _verify_once(manifest: AuditManifest, env: dict[str, str]) -> dict[str, Any]:
    command = ["uv", "run", "--frozen", "ainotes", "audit", "verify"]
    command += ["--workspace", manifest.workspace_id]
    timer = ["/usr/bin/time", "-v"] if Path("/usr/bin/time").exists() else []
    usage_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        process = subprocess.Popen(
            [*driver.NICE, *timer, *command],
            cwd=driver.REPO,
            env={**os.environ, **env},
            stdout=out,
            stderr=err,
        )
        timeline: list[tuple[float, float]] = []
        hwm = 0.0
        python = None
        while process.poll() is None:
            python = python or _python_below(process.pid)
            rss = _rss_mb(python) if python else None
            if rss is not None:
                timeline.append((round(time.perf_counter() - started, 2), rss[0]))
                hwm = max(hwm, rss[1])
            time.sleep(RSS_POLL_SECONDS)
        wall = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (usage.ru_utime - usage_before.ru_utime) + (usage.ru_stime - usage_before.ru_stime)
    peak = _MAX_RSS.search(stderr)
    ok = process.returncode == 0 and f"ok, {manifest.events} events" in stdout
    if not ok:
        print(f"  verify FAILED ({process.returncode}): {stdout.strip()} {stderr[-500:]}")
    quartiles = []
    for share in (0.25, 0.5, 0.75, 1.0):
        at = [mb for t, mb in timeline if t <= share * wall]
        quartiles.append(at[-1] if at else float("nan"))
    return {
        "events": manifest.events,
        "ok": ok,
        "wall_s": wall,
        "cpu_s": cpu,
        # /usr/bin/time's figure covers uv and the Python process it starts (the larger);
        # VmHWM is the Python process's own, as last read before it exited.
        "peak_rss_mb": int(peak.group(1)) / 1024 if peak else hwm,
        "python_hwm_mb": hwm,
        "rss_quartiles_mb": quartiles,
        "rss_timeline_mb": timeline[:: max(1, len(timeline) // 100)],
        "output": stdout.strip()[-300:],
    }


def _startup(env: dict[str, str]) -> float:
    """``ainotes audit verify --help``: the same imports, no database."""
    started = time.perf_counter()
    subprocess.run(
        [*driver.NICE, "uv", "run", "--frozen", "ainotes", "audit", "verify", "--help"],
        cwd=driver.REPO,
        env={**os.environ, **env},
        capture_output=True,
        check=True,
    )
    return time.perf_counter() - started


def measure_verify(manifest: AuditManifest, run: int, report: AgentsReport) -> None:
    env = {"AINOTES_DATABASE_URL": manifest.database_url, "AINOTES_LOG_LEVEL": "warning"}
    startup = _startup(env)
    sample = _verify_once(manifest, env)
    sample["startup_s"] = startup
    sample["run"] = run
    report.verify.append(sample)
    print(
        f"  {report.backend} run {run} verify {manifest.events:>9,} events: "
        f"{sample['wall_s']:6.1f} s wall ({startup:.1f} s startup), "
        f"{manifest.events / sample['wall_s']:,.0f} events/s, cpu {sample['cpu_s']:.1f} s, "
        f"peak RSS {sample['peak_rss_mb']:.0f} MB, ok: {sample['ok']}",
        flush=True,
    )


# --- the command ---------------------------------------------------------------------------

QUICK = {
    "notes": 1_000,
    "duration": 5,
    "runs": 1,
    "round_trips": 48,
    "events": [20_000, 100_000],
}
FULL = {
    "notes": 20_000,
    "duration": 10,
    "runs": 3,
    "round_trips": 400,
    "events": [100_000, 1_000_000],
}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench agents",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS))
    parser.add_argument("--quick", action="store_true", help=f"small parameters: {QUICK}")
    parser.add_argument("--notes", type=int, help=f"notes in the write workspace ({FULL['notes']})")
    parser.add_argument("--duration", type=int, help=f"seconds per wrk run ({FULL['duration']})")
    parser.add_argument("--runs", type=int, help=f"runs; medians are reported ({FULL['runs']})")
    parser.add_argument("--connections", type=int, default=CONNECTIONS, help="wrk -c")
    parser.add_argument(
        "--round-trips", type=int, help=f"round trips of each kind per run ({FULL['round_trips']})"
    )
    parser.add_argument(
        "--events", type=int, nargs="+", help=f"audit chain lengths to verify ({FULL['events']})"
    )
    parser.add_argument(
        "--skip-generate", action="store_true", help="reuse the HTTP database of the last run"
    )
    parser.add_argument(
        "--regenerate-audit", action="store_true", help="make the audit databases again"
    )
    parser.add_argument("--tables", action="store_true", help="print the saved results' tables")
    args = parser.parse_args(argv)
    if args.tables:
        for path in sorted(RESULTS_DIR.glob("agents-*-results.json")):
            print(load_report(path).table() + "\n")
        return 0
    defaults = QUICK if args.quick else FULL
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if shutil.which("wrk") is None and "writes" in args.parts:
        raise SystemExit("wrk is missing")
    parts = set(args.parts)
    # A quick run is a check that everything works, not a measurement: do not wait long for
    # the machine to go quiet.
    patience = 2.0 if args.quick else 20.0
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    tables = []
    for backend in backends:
        report = AgentsReport(
            backend=backend,
            notes=args.notes,
            duration=args.duration,
            runs=args.runs,
            connections=args.connections,
            workers=WORKERS,
            round_trips_per_run=args.round_trips,
        )
        if parts & {"writes", "round-trips"}:
            if args.skip_generate:
                manifest = load_http(backend)
                report.notes = manifest.notes
            else:
                print(f"{backend}: generating {args.notes:,} notes", flush=True)
                manifest = generate_http(backend, args.notes)
                print(f"{backend}: generated in {manifest.seconds} s", flush=True)
            measure_http(manifest, report, parts, args.round_trips, patience)
        if "verify" in parts:
            for events in args.events:
                audit_manifest = ensure_audit(backend, events, args.regenerate_audit)
                for run in range(1, args.runs + 1):
                    _note_check(run, report, patience)
                    measure_verify(audit_manifest, run, report)
        report.save()
        tables.append(report.table())
        print(tables[-1], flush=True)
    print("\n\n".join(tables))
    return 0
