"""``chunk_size="auto"`` against the fixed default of 500, side by side in one run.

The job users run, ``client.onboard(records, entity="address")`` with its defaults
(``wait=True``, concurrency 4) but for ``chunk_size``, against the sandbox in its own
process (pinned to CPU 0, the client on CPU 1), ``RECORDS`` address records:

- **1,000 / push**: the sandbox's defaults (413 above 1,000 records or 4 MiB), pushes
  limited to R = 20/s (bucket of 1), rate told; "auto" and 500. Target: auto ≥ 0.9 x R x
  1,000 records/s, and ≥ 1.8x the fixed 500.
- **the same, bucket of 5**: ``--burst 5``, where the gate keeps R without 429s, so the
  figure shows the chunk size alone;
- **5,000 / push**: the same with ``--max-records 5000``, rate told; auto only. Target
  ≥ 0.9 x R x the largest size auto may reach (``max_chunk_size`` 5,000, the pending
  window's cap, ``max_chunk_bytes``), or the client's own CPU ceiling, whichever is lower
  (the unlimited run below says where that is).
- **413s on the way**: ``--max-records 1300``, rate unknown to the client: 413s per run
  (target ≤ 3).
- **no limit**: "auto" and 500. Target: within 5%.

The figure is accepted records per second over the push phase (first push to the last
accepted one); beside it the whole job (to the last status read). Every run must store
every record exactly once (the sandbox's ledger) and complete it.

```sh
python -m benchmarks.chunk_size --rounds 2
```
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

RATE = 20
RECORDS = 400_000
# name: (sandbox arguments, rate limited, rate told, the chunk sizes to run)
CASES: dict[str, tuple[list[str], bool, bool, list[str]]] = {
    "1,000 / push, R = 20/s, rate told": ([], True, True, ["auto", "500"]),
    "1,000 / push, R = 20/s bucket of 5, rate told": (
        ["--burst", "5"],
        True,
        True,
        ["auto", "500"],
    ),
    "5,000 / push, R = 20/s, rate told": (["--max-records", "5000"], True, True, ["auto"]),
    "1,300 / push, R = 20/s, rate unknown": (["--max-records", "1300"], True, False, ["auto"]),
    "no rate limit": ([], False, False, ["auto", "500"]),
}


async def case_run(params: dict[str, Any]) -> dict[str, Any]:
    """One onboarding run in this (child) process; its figures."""
    from benchmarks._common import RecordingTransport, SandboxProcess, address, sdk_client

    extra, limited, told, _ = CASES[params["case"]]
    chunk_size: Any = params["chunk_size"]
    chunk_size = chunk_size if chunk_size == "auto" else int(chunk_size)
    sandbox = SandboxProcess(rate_limit=RATE if limited else None, scope="push")
    sandbox.args += extra
    log: list[Any] = []
    n = params["records"]
    records = (address(i) for i in range(n))
    with sandbox:
        transport = RecordingTransport.like_the_sdk(log)
        async with sdk_client(sandbox.endpoint, transport=transport) as client:
            report = await client.onboard(
                records, entity="address", chunk_size=chunk_size, rate=RATE if told else None
            )
        received = sandbox.ledger()["received"]["address"]
    posts = [e for e in log if e.method == "POST"]
    accepted = [e for e in posts if e.status == 200]
    once = received["records"] == received["distinctIds"] == n and not received["duplicateIds"]
    if report.completed != n or not once:
        raise SystemExit(f"not every record completed once: {report}; ledger {received}")
    start, end = posts[0].start, accepted[-1].start
    sizes = report.stats.chunk_sizes
    return {
        "records_per_s": n / (accepted[-1].end - start) if end > start else 0.0,
        "job_s": log[-1].end - log[0].start,
        "pushes": len(posts),
        "s413": sum(e.status == 413 for e in posts),
        "s429": sum(e.status == 429 for e in log),
        "final": sizes.final if sizes else None,
        "largest": sizes.largest if sizes else None,
        "changes": [c.as_dict() for c in sizes.changes] if sizes else [],
    }


def main(argv: list[str] | None = None) -> int:
    from benchmarks._common import Stat, Table, ratio_stat, run_child

    parser = argparse.ArgumentParser(prog="python -m benchmarks.chunk_size")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--records", type=int, default=RECORDS)
    parser.add_argument("--only", metavar="TEXT", help="the cases whose name holds TEXT")
    args = parser.parse_args(argv)
    cases = {k: v for k, v in CASES.items() if args.only is None or args.only in k}
    runs: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for rnd in range(args.rounds):
        for case, (_, _, _, sizes) in cases.items():
            for size in sizes if rnd % 2 == 0 else sizes[::-1]:
                params = {"case": case, "chunk_size": size, "records": args.records}
                result = run_child("chunk_size", "case_run", params, timeout=900)
                runs.setdefault((case, size), []).append(result)
                shown = {k: v for k, v in result.items() if k != "changes"}
                print(f"round {rnd + 1}, {case}, chunk_size={size}: {shown}", flush=True)
                time.sleep(0.5)

    def col(case: str, size: str, key: str) -> list[float]:
        return [r[key] for r in runs[(case, size)]]

    rows = []
    for case, (_, limited, _, sizes) in cases.items():
        for size in sizes:
            rps = col(case, size, "records_per_s")
            vs = ratio_stat(rps, col(case, "500", "records_per_s")) if "500" in sizes else None
            rows.append(
                [
                    case,
                    size,
                    Stat.of(rps).fmt(",.0f"),
                    Stat.of([v / (RATE * 1000) for v in rps]).fmt(".2f") if limited else "",
                    vs.fmt(".2f", "x") if vs and size != "500" else "",
                    Stat.of(col(case, size, "job_s")).fmt(".1f", " s"),
                    Stat.of(col(case, size, "pushes")).fmt(",.0f"),
                    Stat.of(col(case, size, "s413")).fmt(".0f"),
                    Stat.of(col(case, size, "s429")).fmt(".0f"),
                    Stat.of(col(case, size, "largest")).fmt(",.0f"),
                    Stat.of(col(case, size, "final")).fmt(",.0f"),
                ]
            )
    table = Table(
        f"chunk_size auto vs 500: {args.records:,} address records, wait=True, "
        f"{args.rounds} round(s), median (min-max)",
        [
            "case",
            "chunk_size",
            "records/s (push phase)",
            "÷ (R x 1,000)",
            "÷ chunk_size=500",
            "job time",
            "pushes",
            "413s",
            "429s",
            "largest size",
            "final size",
        ],
        rows,
    )
    print()
    print(table.markdown())
    last = {f"{c} / {s}": r[-1]["changes"] for (c, s), r in runs.items() if s == "auto"}
    print("\nchanges of the last round:\n" + json.dumps(last, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
