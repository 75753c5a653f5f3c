"""``python -m bench compare --base REF``: the current code against an earlier commit, served
side by side on the same generated set, wrk alternating between them scenario by scenario.

Ratios between two versions measured minutes apart move with whatever else the machine does;
served at the same time and measured in alternation, both versions meet the same conditions.
The earlier commit is checked out in a git worktree under bench/results and served from the
project's virtualenv with its own ``src`` first on ``PYTHONPATH``: compare commits whose
dependencies (uv.lock) and migrations are the same, as a data set holds one schema.
"""

import argparse
import contextlib
import statistics
import subprocess
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from bench import driver, generate
from bench.generate import RESULTS_DIR

BASE_PORT = 8703
SCENARIOS = ["GET note", "list, first page", "create note", "patch note"]
WARMUP_SECONDS = 1


@contextlib.contextmanager
def _worktree(ref: str) -> Iterator[Path]:
    sha = subprocess.run(
        ["git", "rev-parse", "--verify", f"{ref}^{{commit}}"],
        cwd=driver.REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    path = RESULTS_DIR / f"base-{sha[:12]}"
    subprocess.run(
        ["git", "worktree", "add", "--detach", "--force", str(path), sha],
        cwd=driver.REPO,
        capture_output=True,
        check=True,
    )
    try:
        yield path
    finally:
        subprocess.run(
            ["git", "worktree", "remove", "--force", str(path)], cwd=driver.REPO, check=False
        )


def _measure(
    scenario: driver.Scenario, pid: int, seconds: int, token: str, env: dict[str, str]
) -> driver.Sample:
    driver.wrk(scenario, WARMUP_SECONDS, token, env, latency=False)
    before = driver.cpu_seconds(pid)
    sample = driver.parse_wrk(driver.wrk(scenario, seconds, token, env))
    if sample.errors:
        raise RuntimeError(f"{scenario.name} on port {scenario.port}: {sample.errors} errors")
    sample.cpu_ms = (driver.cpu_seconds(pid) - before) / max(sample.requests, 1) * 1000
    return sample


def compare(backend: str, ref: str, rounds: int, seconds: int) -> str:
    manifest = generate.load_manifest(backend)
    payloads = driver.write_payloads()
    env = driver.app_env(manifest)
    scenarios = {s.name: s for s in driver.scenarios(manifest, deep_cursor="")}
    samples: dict[tuple[str, str], list[driver.Sample]] = {
        (name, side): [] for name in SCENARIOS for side in ("base", "current")
    }
    with contextlib.ExitStack() as stack:
        base = stack.enter_context(_worktree(ref))
        pids = {
            "current": stack.enter_context(
                driver.serving(
                    driver.app_command(), driver.APP_PORT, env, RESULTS_DIR / "compare-current.log"
                )
            ),
            "base": stack.enter_context(
                driver.serving(
                    driver.app_command(BASE_PORT),
                    BASE_PORT,
                    {**env, "PYTHONPATH": str(base / "src")},
                    RESULTS_DIR / "compare-base.log",
                )
            ),
        }
        for round_ in range(rounds):
            for name in SCENARIOS:
                sides = ("base", "current") if round_ % 2 == 0 else ("current", "base")
                for side in sides:
                    scenario = scenarios[name]
                    if side == "base":
                        scenario = replace(scenario, port=BASE_PORT)
                    wrk_env = {
                        **driver.wrk_env(manifest, scenarios[name], payloads),
                        "BENCH_KEY_PREFIX": f"{side}-{time.time_ns()}",
                    }
                    sample = _measure(scenario, pids[side], seconds, manifest.token, wrk_env)
                    samples[(name, side)].append(sample)
                    print(
                        f"  {backend} round {round_ + 1}/{rounds} {name:18} {side:7} "
                        f"{sample.rps:8,.0f} req/s cpu {sample.cpu_ms:6.3f} ms/req",
                        flush=True,
                    )
    return _table(backend, ref, rounds, seconds, samples)


def _table(
    backend: str,
    ref: str,
    rounds: int,
    seconds: int,
    samples: dict[tuple[str, str], list[driver.Sample]],
) -> str:
    lines = [
        f"#### {backend}: {ref} → current, {rounds} alternating rounds of {seconds} s, medians",
        "",
        "| scenario | base req/s | current req/s | ratio | base CPU ms/req | current CPU ms/req "
        "| ratio |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name in SCENARIOS:
        base, current = samples[(name, "base")], samples[(name, "current")]
        rps = [statistics.median(s.rps for s in side) for side in (base, current)]
        cpu = [statistics.median(s.cpu_ms for s in side) for side in (base, current)]
        lines.append(
            f"| {name} | {rps[0]:,.0f} | {rps[1]:,.0f} | {rps[1] / rps[0]:.2f} "
            f"| {cpu[0]:.3f} | {cpu[1]:.3f} | {cpu[1] / cpu[0]:.2f} |"
        )
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench compare", description=__doc__)
    parser.add_argument("--base", required=True, help="the commit to compare against")
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--duration", type=int, default=4, help="seconds per measurement")
    args = parser.parse_args(argv)
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    tables = [compare(backend, args.base, args.rounds, args.duration) for backend in backends]
    print("\n\n".join(tables))
    return 0
