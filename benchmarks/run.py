"""Run the benchmarks, print the tables and the targets, write ``results/latest.json``.

```
python -m benchmarks.run                      # every scenario (make bench)
python -m benchmarks.run --quick              # shorter runs, for a smoke test
python -m benchmarks.run --only ratelimit,memory
```

Scenarios: ratelimit (1), throughput (2), small_pushes (3), memory (4), polling (5),
sandbox_speed (6).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import subprocess
import sys
import time
import traceback
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

if not __package__:  # run as a script: python benchmarks/run.py
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import (
    CLIENT_CPU,
    PINNING,
    RESULTS_DIR,
    SERVER_CPU,
    ScenarioResult,
    Table,
    Target,
)

SCENARIOS = ("ratelimit", "throughput", "small_pushes", "memory", "polling", "sandbox_speed")
PACKAGES = (
    "buildingminds-async",
    "httpx2",
    "httpcore2",
    "httpx",
    "anyio",
    "sniffio",
    "pydantic",
    "pydantic-core",
    "aiolimiter",
    "aiohttp",
    "httpx-aiohttp",
    "orjson",
    "uvicorn",
    "h11",
    "httptools",
    "uvloop",
)


def machine() -> dict[str, object]:
    """Where the figures were measured."""
    model = ""
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        for line in lscpu.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    except OSError:
        pass
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    nginx = ""
    try:
        done = subprocess.run(["nginx", "-v"], capture_output=True, text=True, check=False)
        nginx = done.stderr.strip().removeprefix("nginx version: ")
    except OSError:
        pass
    return {
        "sdk_source": _git_state(),
        "cpu_model": model,
        "nproc": os.cpu_count() or 1,
        "pinning": f"server CPU {SERVER_CPU}, client CPU {CLIENT_CPU}" if PINNING else "none",
        "python": platform.python_version(),
        "platform": platform.platform(),
        "nginx": nginx,
        "packages": versions,
    }


def _git_state() -> str:
    """The commit measured, and the SDK files that differed from it (work in progress)."""
    root = Path(__file__).resolve().parents[1]
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "buildingminds_async"],
            cwd=root,
            capture_output=True,
            text=True,
        ).stdout.split("\n")
    except OSError:
        return "unknown (no git)"
    changed = [line[3:] for line in dirty if line.strip()]
    return head + (f" + uncommitted changes to {', '.join(changed)}" if changed else "")


def _loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


def run_scenario(name: str, *, quick: bool) -> ScenarioResult:
    module = importlib.import_module(f"benchmarks.{name}")
    print(
        f"\n=== {name} ({'quick' if quick else 'full'}), load average {_loadavg()} ===", flush=True
    )
    started = time.perf_counter()
    try:
        result: ScenarioResult = module.run(quick=quick)
    except Exception as exc:  # noqa: BLE001 - one failed scenario must not stop the others
        traceback.print_exc()
        result = ScenarioResult(name, name, notes=[f"FAILED: {exc}"])
        result.targets.append(Target(name, "scenario did not complete", str(exc)[:200], "", None))
    result.seconds = time.perf_counter() - started
    result.raw["load_average_after"] = _loadavg()
    for table in result.tables:
        print("\n" + table.text(), flush=True)
    print(f"({name}: {result.seconds:.0f} s)", flush=True)
    return result


def targets_table(results: list[ScenarioResult]) -> Table:
    rows = []
    for result in results:
        for t in result.targets:
            met = "n/a" if t.met is None else ("met" if t.met else "MISSED")
            rows.append([t.scenario, t.figure, t.measured, t.target, met, "" if t.met else t.why])
    headers = ["scenario", "figure", "measured", "target", "met", "why (when missed)"]
    return Table("Targets", headers, rows)


def markdown(results: list[ScenarioResult], meta: dict[str, object]) -> str:
    machine_ = meta["machine"]
    assert isinstance(machine_, dict)
    versions = ", ".join(f"{k} {v}" for k, v in machine_["packages"].items() if v)
    parts = [
        f"Measured {meta['date']} ({meta['mode']} run, {meta['seconds']:.0f} s in total; "
        f"load average before: {meta['load_average_before']}).",
        f"SDK measured: {machine_['sdk_source']}.",
        f"Machine: {machine_['cpu_model']}, {machine_['nproc']} CPUs ({machine_['pinning']}), "
        f"Python {machine_['python']}, {machine_['platform']}, nginx {machine_['nginx']}.",
        f"Packages: {versions}.",
    ]
    parts.append(targets_table(results).markdown())
    for result in results:
        parts.append(f"### {result.title}")
        parts.extend(table.markdown() for table in result.tables)
        parts.extend(result.notes)
    return "\n\n".join(parts) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--only", help=f"comma-separated scenarios ({','.join(SCENARIOS)})")
    parser.add_argument("--quick", action="store_true", help="shorter runs (smoke test)")
    parser.add_argument(
        "--output",
        type=Path,
        help="where to write the JSON results (default: benchmarks/results/latest.json for"
        " a full run of every scenario, benchmarks/results/partial.json otherwise, so that"
        " a partial or quick run never replaces the published table)",
    )
    args = parser.parse_args(argv)
    names = SCENARIOS if not args.only else tuple(n.strip() for n in args.only.split(","))
    if args.output is None:
        complete = set(names) == set(SCENARIOS) and not args.quick
        args.output = RESULTS_DIR / ("latest.json" if complete else "partial.json")
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario(s) {', '.join(unknown)}; known: {', '.join(SCENARIOS)}")
    started = time.perf_counter()
    meta: dict[str, object] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "mode": "quick" if args.quick else "full",
        "machine": machine(),
        "load_average_before": _loadavg(),
    }
    results = [run_scenario(name, quick=args.quick) for name in names]
    meta["seconds"] = time.perf_counter() - started
    summary = targets_table(results)
    print("\n" + summary.text())
    args.output.parent.mkdir(parents=True, exist_ok=True)
    document = {"meta": meta, "scenarios": {r.name: r.to_json() for r in results}}
    tmp = args.output.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(document, separators=(",", ":"), ensure_ascii=False) + "\n")
    tmp.replace(args.output)
    md = args.output.with_suffix(".md")
    md.write_text(markdown(results, meta))
    print(f"\nwrote {args.output} and {md} ({meta['seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
