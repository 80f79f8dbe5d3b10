"""Scenario 4: peak memory of the CLI streaming a large NDJSON file.

``buildingminds onboard FILE --json`` with its defaults (resume journal on, wait for every
batch, chunks of 500, 4 in flight), pinned to the client CPU, against a sandbox process
with no rate limit and no processing delay. Peak RSS is the child's ``ru_maxrss`` from
``os.wait4``. The files (address records, one per line, about 330 bytes each) are
generated once into ``benchmarks/.cache``.

A run of 1,000 records gives the fixed cost (interpreter, imports, pools); the targets
are on the 1,000,000-record run: peak RSS at most 150 MB, and at most 1.2x the peak of
the 100,000-record run (memory must not grow with the input).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from benchmarks._common import (
    CACHE_DIR,
    CLIENT_CPU,
    ROOT,
    BenchError,
    SandboxProcess,
    ScenarioResult,
    Table,
    Target,
    pinned,
    write_ndjson,
)

SIZES = (1_000, 100_000, 1_000_000)
QUICK_SIZES = (1_000, 30_000, 300_000)  # the same 10x step, in a third of the time
MAX_PEAK_MB = 150.0
MAX_GROWTH = 1.2


def _cli() -> str:
    found = Path(sys.executable).parent / "buildingminds"
    if not found.exists():
        raise BenchError(f"the CLI is not installed next to {sys.executable}")
    return str(found)


def cli_run(path: Path, sandbox: SandboxProcess, *, timeout: float) -> dict[str, Any]:
    """Onboard ``path`` with the CLI's defaults; peak RSS, CPU and wall time of the process."""
    for leftover in (Path(f"{path}.journal"), Path(f"{path}.rejects.ndjson")):
        leftover.unlink(missing_ok=True)  # a journal left by an aborted run would resume it
    env = {**os.environ, **sandbox.endpoint.env(), "NO_COLOR": "1"}
    argv = pinned(CLIENT_CPU, [_cli(), "onboard", str(path), "--json"])
    start = time.perf_counter()
    proc = subprocess.Popen(
        argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    assert proc.stdout is not None
    watchdog = threading.Timer(timeout, proc.kill)
    watchdog.start()
    samples: list[tuple[float, float]] = []
    sampler = threading.Thread(target=_sample_rss, args=(proc, start, samples), daemon=True)
    sampler.start()
    try:
        out = proc.stdout.read()  # returns at the child's exit (EOF)
        _, status, usage = os.wait4(proc.pid, 0)  # the rusage of this child alone
    finally:
        watchdog.cancel()
        sampler.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    if wall >= timeout:
        raise BenchError(f"the CLI was stopped after {timeout:g} s on {path.name}")
    try:
        summary = json.loads(out.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise BenchError(f"the CLI printed no JSON summary (exit {proc.returncode})") from None
    if proc.returncode != 0:
        raise BenchError(f"the CLI exited {proc.returncode}: {summary}")
    body = [mb for t, mb in samples if t < 0.9 * wall] or [0.0]
    top = max(samples, key=lambda sample: sample[1], default=(wall, 0.0))
    return {
        "exit": proc.returncode,
        "peak_rss_mb": usage.ru_maxrss / 1024,
        "rss_first_90pct_mb": max(body),
        "largest_sample_s_before_end": wall - top[0],
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "wall_s": wall,
        "completed": summary.get("completed"),
        "requests": summary.get("requests"),
    }


def _sample_rss(proc: subprocess.Popen[str], start: float, out: list[tuple[float, float]]) -> None:
    """Note the child's resident set size every 0.2 s until it exits."""
    status = Path(f"/proc/{proc.pid}/status")
    while proc.poll() is None:
        try:
            for line in status.read_text().splitlines():
                if line.startswith("VmRSS:"):
                    out.append((time.perf_counter() - start, int(line.split()[1]) / 1024))
        except (OSError, ValueError):
            return
        time.sleep(0.2)


def run(*, quick: bool = False) -> ScenarioResult:
    sizes = QUICK_SIZES if quick else SIZES
    results: dict[int, dict[str, Any]] = {}
    for size in sizes:
        path = write_ndjson(CACHE_DIR / f"addresses-{size}.ndjson", size)
        with SandboxProcess() as sandbox:
            result = cli_run(path, sandbox, timeout=600)
        if result["completed"] != size:
            raise BenchError(f"the CLI completed {result['completed']} of {size} records")
        results[size] = result
    small, mid, big = (results[s] for s in sizes)
    growth = big["peak_rss_mb"] / mid["peak_rss_mb"]
    rows = [
        [
            f"{size:,}",
            f"{r['peak_rss_mb']:.1f}",
            f"{r['peak_rss_mb'] / small['peak_rss_mb']:.2f}x",
            f"{r['rss_first_90pct_mb']:.1f}",
            f"{r['wall_s']:.1f}",
            f"{size / r['wall_s']:,.0f}",
            f"{r['cpu_s'] / size * 1e6:.1f}",
            f"{r['requests']:,}",
        ]
        for size, r in results.items()
    ]
    table = Table(
        "Memory: `buildingminds onboard FILE.ndjson --json` (defaults: journal on, wait for "
        "every batch), one run each",
        [
            "records",
            "peak RSS MB",
            f"÷ {sizes[0]:,}-record run",
            "max RSS MB, first 90% of the run",
            "wall s",
            "records/s",
            "CLI CPU µs/record",
            "requests",
        ],
        rows,
        notes=[
            "Peak RSS of the CLI process (ru_maxrss); the sandbox runs in its own process. "
            "The RSS column next to it is the largest of the samples taken every 0.2 s "
            "(/proc/PID/status) during the first 90% of the run's wall time, while records "
            "stream, before the run's final steps.",
        ],
    )
    why = (
        f"RSS while streaming (first 90% of the run): {mid['rss_first_90pct_mb']:.0f} MB at "
        f"{sizes[1]:,} records, {big['rss_first_90pct_mb']:.0f} MB at {sizes[2]:,}; the largest "
        f"sample came {big['largest_sample_s_before_end']:.1f} s before the end of the "
        f"{big['wall_s']:.0f} s run"
    )
    targets = [
        Target(
            "4 memory",
            f"peak RSS, {sizes[2]:,} records ÷ {sizes[1]:,} records",
            f"{growth:.2f}x",
            f"≤ {MAX_GROWTH}x",
            growth <= MAX_GROWTH,
            why,
        ),
        Target(
            "4 memory",
            f"peak RSS onboarding {sizes[2]:,} records",
            f"{big['peak_rss_mb']:.0f} MB",
            f"≤ {MAX_PEAK_MB:.0f} MB",
            big["peak_rss_mb"] <= MAX_PEAK_MB,
            why,
        ),
    ]
    return ScenarioResult(
        "memory",
        "4. Memory",
        tables=[table],
        targets=targets,
        raw={str(k): v for k, v in results.items()},
    )
