"""What incremental sync costs, and saves, against onboarding the whole export again.

A nightly job has two choices: ``onboard()`` the whole export every night, or ``sync()``
it. This runs, side by side in one process against in-process sandboxes (no rate limit,
no processing delay, the defaults: ``wait=True``, ``chunk_size="auto"``):

- ``onboard``: the whole export onboarded (what a job without sync does every night);
- ``sync first``: the first sync into a fresh state file (everything added);
- ``sync unchanged``: the same export again (nothing to send);
- ``sync 1% changed``: the export with 1% of the records changed.

Each is reported as wall seconds, client CPU seconds, pushes, and wall ÷ ``onboard`` of
the same round (min-max over the rounds). The sandbox runs in this process, so the CPU
figures include its work on what is sent: a sync that sends nothing pays none of it.

    python -m benchmarks.sync_cost [--records 100000] [--rounds 2]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from buildingminds_async import AsyncClient
from buildingminds_async.sandbox import Sandbox


def export(n: int, *, changed_every: int | None = None) -> list[dict[str, Any]]:
    records = []
    for i in range(n):
        city = "Hamburg" if changed_every and i % changed_every == 0 else "Berlin"
        records.append(
            {
                "eventType": "AddressAdded",
                "addressId": f"A{i:07d}",
                "city": city,
                "country": "DE",
                "postalCode": "10115",
                "streetName": "Invalidenstraße",
                "houseNumber": str(i % 200 + 1),
            }
        )
    return records


async def measured(job: Callable[[], Awaitable[Any]]) -> tuple[float, float, Any]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = await job()
    return time.perf_counter() - wall, time.process_time() - cpu, result


async def one_round(n: int, state_dir: Path) -> dict[str, tuple[float, float, int]]:
    records = export(n)
    changed = export(n, changed_every=100)
    figures: dict[str, tuple[float, float, int]] = {}

    base = Sandbox(processing_delay=0.0)
    async with AsyncClient(
        credentials=base.credentials(), base_url=base.base_url, transport=base.transport()
    ) as client:
        wall, cpu, report = await measured(lambda: client.onboard(records))
        assert report.completed == n, report
        figures["onboard"] = (wall, cpu, report.stats.pushes)

    sandbox = Sandbox(processing_delay=0.0)
    state = state_dir / "state.sqlite"
    async with AsyncClient(
        credentials=sandbox.credentials(), base_url=sandbox.base_url, transport=sandbox.transport()
    ) as client:
        for name, data in (
            ("sync first", records),
            ("sync unchanged", records),
            ("sync 1% changed", changed),
        ):
            wall, cpu, report = await measured(lambda data=data: client.sync(data, state=state))
            assert report.report is not None
            assert report.report.pending == 0, report
            figures[name] = (wall, cpu, report.report.stats.pushes)
        assert report.updated == n // 100, report
        counts = sandbox.ledger.receive_counts("address")
        assert len(counts) == n
        assert max(counts.values()) == 2, "a record received too often"
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    rounds = []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            directory = Path(tmp) / str(r)
            directory.mkdir()
            rounds.append(asyncio.run(one_round(args.records, directory)))
    print(f"sync cost, {args.records:,} address records, {args.rounds} round(s)\n")
    print("| job | wall s | client CPU s | pushes | wall ÷ onboard |")
    print("|---|---|---|---|---|")
    for name in rounds[0]:
        walls = [r[name][0] for r in rounds]
        cpus = [r[name][1] for r in rounds]
        ratios = [r[name][0] / r["onboard"][0] for r in rounds]
        print(
            f"| {name} | {min(walls):.2f}-{max(walls):.2f} | {min(cpus):.2f}-{max(cpus):.2f} "
            f"| {rounds[0][name][2]} | {min(ratios):.2f}-{max(ratios):.2f} |"
        )


if __name__ == "__main__":
    main()
