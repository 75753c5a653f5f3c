"""Start servers the README's way, drive them with wrk, and keep the numbers.

One run measures the bare /ping app and then every ainotes scenario, back to back, so that each
ratio compares two measurements taken under the same machine conditions. Read scenarios run
before write scenarios so that the reads see the generated data set as it was generated.
"""

import contextlib
import json
import os
import re
import signal
import statistics
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.generate import RESULTS_DIR, Manifest, Text

REPO = Path(__file__).resolve().parent.parent
LUA = Path(__file__).resolve().parent / "lua"
PING_PORT = 8701
APP_PORT = 8702
CONNECTIONS = 32
WARMUP_SECONDS = 2
DEEP_NOTES = 1_000
PAGE = 50
# Servers and wrk run at this niceness, so that other work sharing the machine (test suites,
# builds) takes less from the measurement. Without root, nice warns and runs them unchanged.
NICE = ["nice", "-n", "-10"]


@dataclass(frozen=True)
class Scenario:
    name: str
    path: str
    script: str | None = None
    # Fraction of bare /ping req/s that the issue asks for; None when there is no such target.
    target: float | None = None
    port: int = APP_PORT
    # The ainotes scenario whose route this one is the floor of (bench/ping_app.py).
    floor_of: str | None = None


@dataclass
class Sample:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    requests: int
    # Server CPU time per request: unlike req/s, it hardly moves when other work shares the CPU.
    cpu_ms: float = 0.0


@dataclass
class Result:
    scenario: str
    target: float | None
    floor_of: str | None = None
    samples: list[Sample] = field(default_factory=list)
    ratios: list[float] = field(default_factory=list)

    cpu_ratios: list[float] = field(default_factory=list)

    def median(self, attribute: str) -> float:
        return float(statistics.median(getattr(s, attribute) for s in self.samples))

    @property
    def ratio(self) -> float | None:
        return statistics.median(self.ratios) if self.ratios else None

    @property
    def cpu_ratio(self) -> float | None:
        return statistics.median(self.cpu_ratios) if self.cpu_ratios else None


@dataclass
class Report:
    backend: str
    notes: int
    duration: int
    runs: int
    results: list[Result]
    rss_mb: float
    peak_rss_mb: float
    deep_over_first: float
    # Share of the machine busy with other work just before each run (see wait_for_quiet).
    background: list[float] = field(default_factory=list)
    profiles: list[str] = field(default_factory=list)

    def save(self) -> Path:
        path = RESULTS_DIR / f"{self.backend}-results.json"
        path.write_text(json.dumps(asdict(self), indent=2))
        return path

    def table(self) -> str:
        lines = [
            f"### {self.backend}: {self.notes:,} notes, {self.runs} runs of {self.duration} s, "
            f"wrk -t1 -c{CONNECTIONS}, medians",
            "",
            "| scenario | req/s | p50 ms | p99 ms | vs /ping | target | met "
            "| CPU ms/req | vs /ping by CPU |",
            "| --- | ---: | ---: | ---: | ---: | ---: | :---: | ---: | ---: |",
        ]
        for result in self.results:
            ratio = result.ratio
            target = result.target
            met = "" if target is None or ratio is None else ("yes" if ratio >= target else "NO")
            errors = sum(s.errors for s in result.samples)
            stalled = sum(1 for s in result.samples if s.requests == 0)
            note = f" ({errors} errors)" if errors else ""
            note += f" ({stalled} runs with no response)" if stalled else ""
            lines.append(
                f"| {result.scenario}{note} "
                f"| {result.median('rps'):,.0f} | {result.median('p50_ms'):.2f} "
                f"| {result.median('p99_ms'):.2f} "
                f"| {'' if ratio is None else f'{ratio:.0%}'} "
                f"| {'' if target is None else f'≥ {target:.0%}'} | {met} "
                f"| {result.median('cpu_ms'):.2f} "
                f"| {'' if result.cpu_ratio is None else f'{result.cpu_ratio:.0%}'} |"
            )
        by_name = {r.scenario: r for r in self.results}
        floors = [
            f"- {r.floor_of} against its route's floor ({r.scenario}): "
            f"{floor_share(by_name[r.floor_of], r):.0%} of the floor's req/s"
            for r in self.results
            if r.floor_of in by_name
        ]
        deep_met = "yes" if self.deep_over_first <= 1.2 else "NO"
        rss_met = "yes" if self.rss_mb < 200 else "NO"
        lines += [
            "",
            *floors,
            f"- deep page / first page p50 latency: {self.deep_over_first:.2f} "
            f"(target ≤ 1.20): {deep_met}",
            f"- server RSS after the run: {self.rss_mb:.0f} MB (peak {self.peak_rss_mb:.0f} MB; "
            f"target < 200 MB): {rss_met}",
            "- other work on the machine before each run: "
            + ", ".join(f"{b:.0%}" for b in self.background),
        ]
        return "\n".join(lines)


def floor_share(result: Result, floor: Result) -> float:
    """The median, over runs, of a scenario's req/s over its floor's in the same run."""
    return statistics.median(
        a.rps / b.rps for a, b in zip(result.samples, floor.samples, strict=True) if b.rps
    )


_LATENCY = re.compile(r"^\s+(50|99)(?:\.0+)?%\s+([\d.]+)(us|ms|s)\s*$", re.MULTILINE)
_RPS = re.compile(r"^Requests/sec:\s+([\d.]+)", re.MULTILINE)
_REQUESTS = re.compile(r"^\s+(\d+) requests in", re.MULTILINE)
_NON_2XX = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)")
_SOCKET_ERRORS = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")
_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def parse_wrk(output: str) -> Sample:
    rps = _RPS.search(output)
    if rps is None:
        raise RuntimeError(f"wrk printed no Requests/sec:\n{output}")
    latency = {p: float(v) * _UNIT_MS[u] for p, v, u in _LATENCY.findall(output)}
    errors = sum(int(n) for n in _NON_2XX.findall(output))
    for match in _SOCKET_ERRORS.findall(output):
        errors += sum(int(n) for n in match)
    requests = _REQUESTS.search(output)
    return Sample(
        float(rps.group(1)),
        latency["50"],
        latency["99"],
        errors,
        int(requests.group(1)) if requests else 0,
    )


def wrk(
    scenario: Scenario, seconds: int, token: str, env: dict[str, str], latency: bool = True
) -> str:
    command = [*NICE, "wrk", "-t1", f"-c{CONNECTIONS}", f"-d{seconds}s", "--timeout", "10s"]
    if latency:
        command.append("--latency")
    if scenario.path != "/ping":
        # The floors parse the header too, as ainotes' routes do.
        command += ["-H", f"Authorization: Bearer {token}"]
    if scenario.script:
        command += ["-s", str(LUA / scenario.script)]
    command.append(f"http://127.0.0.1:{scenario.port}{scenario.path}")
    done = subprocess.run(
        command, env={**os.environ, **env}, capture_output=True, text=True, check=True
    )
    return done.stdout


def _cpu_times() -> tuple[int, int]:
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def background_busy(seconds: float = 1.0) -> float:
    """The share of all cores busy while nothing of ours runs: other work skews the numbers."""
    busy0, total0 = _cpu_times()
    time.sleep(seconds)
    busy1, total1 = _cpu_times()
    return (busy1 - busy0) / max(1, total1 - total0)


def wait_for_quiet(limit: float = 0.15, patience: float = 20.0) -> float:
    """Wait up to ``patience`` seconds for the machine to go quiet; return the busy share."""
    deadline = time.monotonic() + patience
    busy = background_busy()
    while busy > limit and time.monotonic() < deadline:
        busy = background_busy()
    return busy


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            # The command name may hold spaces and parentheses; the ppid follows the last ')'.
            stat = (entry / "stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
    found: list[int] = []
    stack = [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


def server_pid(launcher: int) -> int:
    """The Python process that serves, below the ``uv run`` launcher."""
    for pid in [launcher, *_descendants(launcher)]:
        with contextlib.suppress(OSError):
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            if cmdline and b"python" in Path(cmdline[0].decode()).name.encode():
                return pid
    raise RuntimeError(f"no Python process below {launcher}")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # utime and stime are fields 14 and 15 of stat(5); the split starts at field 3.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> tuple[float, float]:
    status = Path(f"/proc/{pid}/status").read_text()
    values = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    return int(values["VmRSS"].split()[0]) / 1024, int(values["VmHWM"].split()[0]) / 1024


def _get(url: str, token: str | None = None) -> Any:
    request = urllib.request.Request(url)  # noqa: S310 (always http://127.0.0.1)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return json.load(response)


@contextlib.contextmanager
def serving(command: list[str], port: int, env: dict[str, str], log: Path) -> Iterator[int]:
    """Run ``command`` until the block ends; yields the pid of the serving Python process."""
    with log.open("w") as output:
        process = subprocess.Popen(
            [*NICE, *command],
            cwd=REPO,
            env={**os.environ, **env},
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{command} exited; see {log}")
            with contextlib.suppress(OSError, ValueError):
                _get(f"http://127.0.0.1:{port}/ready")
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{command} did not become ready; see {log}")
            time.sleep(0.2)
        yield server_pid(process.pid)
    finally:
        # The group holds only the launcher and the server it started (start_new_session).
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _deep_cursor(manifest: Manifest) -> str:
    base = f"http://127.0.0.1:{APP_PORT}/v1/workspaces/{manifest.big_workspace_id}/notes"
    cursor: str | None = None
    for _ in range(DEEP_NOTES // PAGE):
        query = f"?limit={PAGE}" + (f"&cursor={cursor}" if cursor else "")
        cursor = _get(base + query, manifest.token)["next_cursor"]
        if cursor is None:
            raise RuntimeError("the big workspace has fewer notes than the deep page needs")
    assert cursor is not None
    return cursor


def write_payloads() -> tuple[Path, Path]:
    """A ~2 KB markdown body with a ``__N__`` slot that the lua scripts fill with a counter."""
    import random

    source = Text(random.Random(7))
    body = source.body(["Cell Membrane", "Gradient Descent"])[:1_900]
    body += "\n\n- [ ] revise for run __N__\n\nSee [[Entropy]]."
    create = RESULTS_DIR / "payload-create.json"
    create.write_text(
        json.dumps({"title": "Bench note __N__", "body": body, "tags": ["bench", "biology"]})
    )
    patch = RESULTS_DIR / "payload-patch.json"
    patch.write_text(json.dumps({"body": body.replace("revise", "patched")}))
    return create, patch


def scenarios(manifest: Manifest, deep_cursor: str) -> list[Scenario]:
    notes = f"/v1/workspaces/{manifest.big_workspace_id}/notes"
    return [
        Scenario("bare /ping", "/ping", port=PING_PORT),
        Scenario(
            "floor: GET note's route",
            notes,
            script="get_note.lua",
            port=PING_PORT,
            floor_of="GET note",
        ),
        Scenario(
            "floor: list's route",
            f"{notes}?limit={PAGE}",
            port=PING_PORT,
            floor_of="list, first page",
        ),
        Scenario("GET /health", "/health", target=0.90),
        Scenario("GET note", notes, script="get_note.lua", target=0.50),
        Scenario("list, first page", f"{notes}?limit={PAGE}", target=0.35),
        Scenario("list, 1,000 deep", f"{notes}?limit={PAGE}&cursor={deep_cursor}"),
        Scenario("create note", notes, script="create_note.lua", target=0.25),
        Scenario("patch note", notes, script="patch_note.lua", target=0.25),
    ]


def wrk_env(manifest: Manifest, scenario: Scenario, payloads: tuple[Path, Path]) -> dict[str, str]:
    env = {"BENCH_IDS_FILE": manifest.note_ids_file, "BENCH_WORKSPACE": manifest.big_workspace_id}
    if scenario.script == "create_note.lua":
        env["BENCH_PAYLOAD"] = str(payloads[0])
    elif scenario.script == "patch_note.lua":
        env["BENCH_PAYLOAD"] = str(payloads[1])
    return env


def app_command(port: int = APP_PORT) -> list[str]:
    return ["uv", "run", "--frozen", "ainotes", "serve", "--port", str(port)]


def app_env(manifest: Manifest) -> dict[str, str]:
    return {
        "AINOTES_DATABASE_URL": manifest.database_url,
        "AINOTES_LOG_LEVEL": "warning",
        "AINOTES_WORKERS": "1",
        "AINOTES_BOOTSTRAP_ADMIN": "false",
    }


def measure(manifest: Manifest, duration: int, runs: int, profiler: str | None = None) -> Report:
    payloads = write_payloads()
    ping = ["uv", "run", "--frozen", "python", "-m", "bench.ping_app", "--port", str(PING_PORT)]
    backend = manifest.backend
    with (
        # The app's environment: the baseline runs on the event loop the app runs on.
        serving(ping, PING_PORT, app_env(manifest), RESULTS_DIR / "ping-server.log") as ping_pid,
        serving(
            app_command(), APP_PORT, app_env(manifest), RESULTS_DIR / f"{backend}-server.log"
        ) as app_pid,
    ):
        plan = scenarios(manifest, _deep_cursor(manifest))
        results = [Result(s.name, s.target, s.floor_of) for s in plan]
        background = []
        for run in range(1, runs + 1):
            background.append(wait_for_quiet())
            print(f"  {backend} run {run}/{runs}: background load {background[-1]:.0%}", flush=True)
            for scenario, result in zip(plan, results, strict=True):
                env = wrk_env(manifest, scenario, payloads)
                wrk(scenario, WARMUP_SECONDS, manifest.token, env, latency=False)
                pid = ping_pid if scenario.port == PING_PORT else app_pid
                cpu_before = cpu_seconds(pid)
                sample = parse_wrk(wrk(scenario, duration, manifest.token, env))
                sample.cpu_ms = (cpu_seconds(pid) - cpu_before) * 1000 / max(1, sample.requests)
                result.samples.append(sample)
                print(
                    f"  {backend} run {run}/{runs} {scenario.name:<24} {sample.rps:>8,.0f} req/s "
                    f"p50 {sample.p50_ms:6.2f} ms p99 {sample.p99_ms:7.2f} ms "
                    f"cpu {sample.cpu_ms:5.2f} ms/req"
                    + (f"  {sample.errors} ERRORS" if sample.errors else ""),
                    flush=True,
                )
            baseline = results[0].samples[-1]
            for result in results[1:]:
                result.ratios.append(result.samples[-1].rps / baseline.rps)
                result.cpu_ratios.append(baseline.cpu_ms / max(1e-9, result.samples[-1].cpu_ms))
        rss, peak = rss_mb(app_pid)
        profiles = []
        if profiler:
            served = [s for s in plan if s.port == APP_PORT]
            profiles = profile(profiler, app_pid, served, manifest, payloads, duration)
    by_name = {r.scenario: r for r in results}
    deep = by_name["list, 1,000 deep"].median("p50_ms")
    first = by_name["list, first page"].median("p50_ms")
    return Report(
        backend=backend,
        notes=manifest.notes,
        duration=duration,
        runs=runs,
        results=results,
        rss_mb=rss,
        peak_rss_mb=peak,
        deep_over_first=deep / first,
        background=background,
        profiles=profiles,
    )


def profile(
    py_spy: str,
    pid: int,
    plan: list[Scenario],
    manifest: Manifest,
    payloads: tuple[Path, Path],
    duration: int,
) -> list[str]:
    """Sample the server under each scenario's load; collapsed stacks, one file per scenario.

    This runs after the measured runs because the sampler itself costs the server throughput.
    """
    written = []
    for scenario in plan:
        slug = re.sub(r"[^a-z0-9]+", "-", scenario.name.lower()).strip("-")
        out = RESULTS_DIR / f"profile-{manifest.backend}-{slug}.txt"
        sampler = subprocess.Popen(
            [
                *(py_spy, "record", "--pid", str(pid), "--duration", str(duration)),
                *("--rate", "250", "--format", "raw", "--output", str(out), "--nonblocking"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wrk(
            scenario, duration, manifest.token, wrk_env(manifest, scenario, payloads), latency=False
        )
        sampler.wait()
        written.append(str(out))
    return written
