"""The job users run, measured as they run it, against another revision.

``client.onboard(records)`` with its defaults (``wait=True``, chunks of 500, concurrency
4), rate told (``rate=R``) and unknown, against the sandbox in its own process limiting
pushes only to R = 20/s, with a bucket of 5 and of 1 (no burst). Each run pushes
``PUSHES`` chunks, waits for every batch, and must complete every record. The figure is
the accepted push rate over the push phase (first push to last accepted push) ÷ R, with
the share of pushes answered 429 and the status reads per batch.

```sh
python -m benchmarks.default_job --against 8968266 --rounds 2
```

Both revisions' clients run against this checkout's sandbox, one run at a time, the
order alternating by round; each run is a fresh process (``--case``) that imports the
package, and ``benchmarks._common``, of its revision. Not part of ``make bench``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

RATE = 20
PUSHES = 200
CHUNK = 500  # the SDK's default chunk size, spelt out so both revisions push the same
CASES = ((5, True), (5, False), (1, True), (1, False))  # (bucket, rate told)
ROOT = Path(__file__).resolve().parents[1]


async def case_run(burst: int, told: bool, server_root: str) -> dict[str, Any]:
    """One onboarding run of ``PUSHES`` default chunks; its figures."""
    from benchmarks._common import RecordingTransport, SandboxProcess, addresses, sdk_client

    sandbox = SandboxProcess(
        rate_limit=RATE, burst=burst, scope="push", processing_delay=0.5, root=Path(server_root)
    )
    log: list[Any] = []
    records = addresses(PUSHES * CHUNK)
    with sandbox.launch():
        transport = RecordingTransport.like_the_sdk(log)
        async with sdk_client(sandbox.endpoint, transport=transport) as client:
            report = await client.onboard(records, entity="address", rate=RATE if told else None)
    posts = [e for e in log if e.method == "POST"]
    accepted = [e for e in posts if e.status == 200]
    if report.completed != len(records) or len(accepted) != PUSHES:
        raise SystemExit(f"not every record completed: {report}")
    span = accepted[-1].start - posts[0].start
    return {
        "push_rate_over_r": (len(accepted) - 1) / span / RATE,
        "share_429": sum(e.status == 429 for e in posts) / len(posts),
        "reads_per_batch": sum(e.method == "GET" for e in log) / PUSHES,
    }


def _child(tree: Path, burst: int, told: bool) -> dict[str, Any]:
    case = json.dumps({"burst": burst, "told": told, "server_root": str(ROOT)})
    env = {**os.environ, "PYTHONPATH": str(tree)}
    out = subprocess.run(
        [sys.executable, __file__, "--case", case],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def compare(rev: str, rounds: int) -> int:
    from benchmarks._common import Stat, Table, ratio_stat

    here, there = "this checkout", f"revision {rev}"
    runs: dict[tuple[str, int, bool], list[dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-rev-") as tmp:
        tree = Path(tmp) / "tree"
        git = ["git", "-C", str(ROOT)]
        subprocess.run([*git, "worktree", "add", "--detach", "-q", str(tree), rev], check=True)
        try:
            for rnd in range(rounds):
                order = [(here, ROOT), (there, tree)]
                for burst, told in CASES:
                    for label, root in order if rnd % 2 == 0 else order[::-1]:
                        result = _child(root, burst, told)
                        runs.setdefault((label, burst, told), []).append(result)
                        print(f"round {rnd + 1}, {label}, bucket {burst}, told {told}: {result}")
                        time.sleep(0.5)
        finally:
            subprocess.run([*git, "worktree", "remove", "--force", str(tree)], check=False)

    def col(label: str, burst: int, told: bool, key: str) -> list[float]:
        return [r[key] for r in runs[(label, burst, told)]]

    rows = []
    for burst, told in CASES:
        ours = col(here, burst, told, "push_rate_over_r")
        theirs = col(there, burst, told, "push_rate_over_r")
        rows.append(
            [
                f"bucket {burst}, rate {'told' if told else 'unknown'}",
                Stat.of(ours).fmt(".3f"),
                Stat.of(theirs).fmt(".3f"),
                ratio_stat(ours, theirs).fmt(".2f", "x"),
                Stat.of([100 * v for v in col(here, burst, told, "share_429")]).fmt(".1f", "%"),
                Stat.of([100 * v for v in col(there, burst, told, "share_429")]).fmt(".1f", "%"),
                Stat.of(col(here, burst, told, "reads_per_batch")).fmt(".2f"),
            ]
        )
    table = Table(
        f"The default job (wait=True, chunks of {CHUNK}), {PUSHES} pushes, sandbox limiting "
        f"pushes to R = {RATE}/s; {rounds} round(s), median (min-max)",
        [
            "case",
            "push/s ÷ R, this checkout",
            f"push/s ÷ R, {rev}",
            "÷, paired by round",
            "429 share, this checkout",
            f"429 share, {rev}",
            "reads per batch, this checkout",
        ],
        rows,
    )
    print()
    print(table.markdown())
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.default_job")
    parser.add_argument("--against", metavar="REV", help="git revision")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--case", help=argparse.SUPPRESS)  # one run, in a child process
    args = parser.parse_args(argv)
    if args.case:
        case = json.loads(args.case)
        print(json.dumps(asyncio.run(case_run(**case))), flush=True)
        return 0
    if not args.against:
        parser.error("--against REV is required")
    return compare(args.against, args.rounds)


if __name__ == "__main__":
    raise SystemExit(main())
