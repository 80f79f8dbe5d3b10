"""The job users run, measured as they run it, against another revision.

``client.onboard(records)`` with its defaults (``wait=True``, chunks of 500, concurrency
4), rate told (``rate=R``) and unknown, against the sandbox in its own process with a
limit of R = 20/s:

- on pushes only, a bucket of 5 and of 1 (no burst), rate told and unknown: the figure
  is the accepted push rate over the push phase (first push to last accepted one) ÷ R;
- on every request (polls too), rate unknown: a bucket of 5; a bucket of 1 whose answers
  carry IETF ``RateLimit`` headers; a fixed window of 200 calls per 10 s. The figure is
  every accepted request per second over the push phase ÷ R (the window's allowance is
  R per second), with the 10 s windows that saw a 429.

Beside it: status reads per batch, and the whole job's time (first request to last
answer, polls included) as a ratio, which is what a user waits for.

Each run pushes ``PUSHES`` chunks, waits for every batch, and must complete every record;
the 429 share is over all requests.

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
# The fixed default of 500, spelt out so that both revisions push the same chunks (the
# figures are push rates; benchmarks/chunk_size.py measures chunk_size="auto").
CHUNK = 500
# name: (sandbox arguments beyond --rate-limit, rate told, figure over every request)
CASES: dict[str, tuple[list[str], bool, bool]] = {
    "push-only, bucket 5, rate told": (["--burst", "5", "--rate-limit-scope", "push"], True, False),
    "push-only, bucket 5, rate unknown": (
        ["--burst", "5", "--rate-limit-scope", "push"],
        False,
        False,
    ),
    "push-only, bucket 1, rate told": (["--burst", "1", "--rate-limit-scope", "push"], True, False),
    "push-only, bucket 1, rate unknown": (
        ["--burst", "1", "--rate-limit-scope", "push"],
        False,
        False,
    ),
    "all limited, bucket 5, rate unknown": (["--burst", "5"], False, True),
    "all limited, bucket 1, IETF headers, rate unknown": (
        ["--burst", "1", "--rate-limit-headers", "ietf"],
        False,
        True,
    ),
    "all limited, window 200 / 10 s, rate unknown": (["--rate-limit-window", "10"], False, True),
}
WINDOW = 10.0
ROOT = Path(__file__).resolve().parents[1]


async def case_run(name: str, server_root: str) -> dict[str, Any]:
    """One onboarding run of ``PUSHES`` default chunks; its figures."""
    from benchmarks._common import RecordingTransport, SandboxProcess, addresses, sdk_client

    extra, told, every_request = CASES[name]
    sandbox = SandboxProcess(rate_limit=RATE, processing_delay=0.5, root=Path(server_root))
    # Set here, not through SandboxProcess: the other revision's helper may not know them.
    sandbox.args = [*sandbox.args[:4], "--rate-limit", str(RATE), *extra]
    log: list[Any] = []
    records = addresses(PUSHES * CHUNK)
    with sandbox.launch():
        transport = RecordingTransport.like_the_sdk(log)
        async with sdk_client(sandbox.endpoint, transport=transport) as client:
            report = await client.onboard(
                records, entity="address", chunk_size=CHUNK, rate=RATE if told else None
            )
    posts = [e for e in log if e.method == "POST"]
    accepted = [e for e in posts if e.status == 200]
    if report.completed != len(records) or len(accepted) != PUSHES:
        raise SystemExit(f"not every record completed: {report}")
    start, end = posts[0].start, accepted[-1].start
    counted = log if every_request else posts
    passed = [e for e in counted if e.status != 429 and start <= e.start <= end]
    return {
        "rate_over_r": (len(passed) - 1) / (end - start) / RATE,
        "share_429": sum(e.status == 429 for e in log) / len(log),
        "reads_per_batch": sum(e.method == "GET" for e in log) / PUSHES,
        "job_s": log[-1].end - log[0].start,
        "windows_429": len(
            {int((e.start - log[0].start) // WINDOW) for e in log if e.status == 429}
        ),
    }


def _child(tree: Path, name: str) -> dict[str, Any]:
    case = json.dumps({"name": name, "server_root": str(ROOT)})
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
    runs: dict[tuple[str, str], list[dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-rev-") as tmp:
        tree = Path(tmp) / "tree"
        git = ["git", "-C", str(ROOT)]
        subprocess.run([*git, "worktree", "add", "--detach", "-q", str(tree), rev], check=True)
        try:
            for rnd in range(rounds):
                order = [(here, ROOT), (there, tree)]
                for name in CASES:
                    for label, root in order if rnd % 2 == 0 else order[::-1]:
                        result = _child(root, name)
                        runs.setdefault((label, name), []).append(result)
                        print(f"round {rnd + 1}, {label}, {name}: {result}", flush=True)
                        time.sleep(0.5)
        finally:
            subprocess.run([*git, "worktree", "remove", "--force", str(tree)], check=False)

    def col(label: str, name: str, key: str) -> list[float]:
        return [r[key] for r in runs[(label, name)]]

    def pct(label: str, name: str) -> str:
        return Stat.of([100 * v for v in col(label, name, "share_429")]).fmt(".1f", "%")

    rows = []
    for name, (_, _, every_request) in CASES.items():
        ours = col(here, name, "rate_over_r")
        theirs = col(there, name, "rate_over_r")
        rows.append(
            [
                name,
                "all requests/s ÷ R" if every_request else "push/s ÷ R",
                Stat.of(ours).fmt(".3f"),
                Stat.of(theirs).fmt(".3f"),
                ratio_stat(ours, theirs).fmt(".2f", "x"),
                pct(here, name),
                pct(there, name),
                Stat.of(col(here, name, "windows_429")).fmt(".0f"),
                Stat.of(col(there, name, "windows_429")).fmt(".0f"),
                Stat.of(col(here, name, "reads_per_batch")).fmt(".2f"),
                Stat.of(col(there, name, "reads_per_batch")).fmt(".2f"),
                ratio_stat(col(here, name, "job_s"), col(there, name, "job_s")).fmt(".2f", "x"),
            ]
        )
    table = Table(
        f"The default job (wait=True, chunks of {CHUNK}), {PUSHES} pushes, sandbox limit "
        f"R = {RATE}/s; {rounds} round(s), median (min-max)",
        [
            "case",
            "figure",
            "this checkout",
            rev,
            "÷, paired by round",
            "429 share, this checkout",
            f"429 share, {rev}",
            f"{WINDOW:g} s windows with a 429, this checkout",
            f"... {rev}",
            "reads per batch, this checkout",
            f"... {rev}",
            "job time ÷ (first request to last answer)",
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
