"""The rate gate against simulated token buckets on a fake clock: `python -m benchmarks.gate_sim`.

Scenario 1 runs against real servers on a shared machine, whose speed moves by a quarter
from one minute to the next: too noisy to tell two versions of the gate apart. This runs
the gate alone, deterministically and in seconds: four pushers share one `RateGate`
(rate unknown, ``max_in_flight=4``), each request takes a seeded random 6-40 ms round
trip, and the server is a token bucket of ``burst`` requests refilled at ``R`` per second
that answers 429 with ``Retry-After: 1`` when empty. Each run pushes ``R x seconds``
accepted requests, or stops at 1.1x the nominal time plus 3 s.

``--told`` gives the gate the rate (``rate=R``) instead. Figures per server and length,
over 6 seeds: accepted/s ÷ R from the first request to the last accepted one (median and
min), and the share of requests answered 429 (median and max). Use it to compare a change
to the gate with the gate before it.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys

import looptime

from buildingminds_async._ratelimit import RateGate

SETUPS = ((20.0, 1.0, 40), (20.0, 5.0, 40), (20.0, 5.0, 15), (100.0, 5.0, 15), (100.0, 20.0, 15))
SEEDS = range(6)
PUSHERS = 4


class TokenBucket:
    """``burst`` requests at once, refilled at ``rate`` per second."""

    def __init__(self, rate: float, burst: float, now: float) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.at = now

    def admit(self, now: float) -> bool:
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


async def one_run(
    rate: float, burst: float, seconds: float, seed: int, told: bool = False
) -> tuple[float, float]:
    """Accepted/s ÷ R and the 429 share of one run."""
    loop = asyncio.get_running_loop()
    rng = random.Random(seed)
    bucket = TokenBucket(rate, burst, loop.time())
    gate = RateGate(max_in_flight=PUSHERS, rate=rate if told else None, clock=loop.time)
    outcomes: list[tuple[float, bool]] = []
    start = loop.time()
    end = start + seconds * 1.1 + 3
    wanted = int(rate * seconds)
    accepted = 0

    async def pusher() -> None:
        nonlocal accepted
        while loop.time() < end and accepted < wanted:
            async with gate.turn() as granted:
                await asyncio.sleep(rng.uniform(0.003, 0.02))
                ok = bucket.admit(loop.time())
                await asyncio.sleep(rng.uniform(0.003, 0.02))
            outcomes.append((loop.time(), ok))
            if ok:
                accepted += 1
                gate.record_success(sent_at=granted)
            else:
                gate.record_throttle(1.0, sent_at=granted)

    await asyncio.gather(*(pusher() for _ in range(PUSHERS)))
    last = max(t for t, ok in outcomes if ok)
    throttled = sum(1 for _, ok in outcomes if not ok)
    return accepted / (last - start) / rate, throttled / len(outcomes)


def simulate(
    rate: float, burst: float, seconds: float, seed: int, told: bool = False
) -> tuple[float, float]:
    loop = looptime.new_event_loop()
    try:
        return loop.run_until_complete(one_run(rate, burst, seconds, seed, told))
    finally:
        loop.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.gate_sim", description=__doc__)
    parser.add_argument("--told", action="store_true", help="the gate is told the rate R")
    args = parser.parse_args(argv)
    print(f"{'server':26} {'accepted/s ÷ R (min)':>22} {'429 share (max)':>18}")
    for rate, burst, seconds in SETUPS:
        runs = [simulate(rate, burst, seconds, seed, args.told) for seed in SEEDS]
        use = [u for u, _ in runs]
        share = [s for _, s in runs]
        name = f"R={rate:g}/s burst {burst:g}, {seconds} s"
        print(
            f"{name:26} {statistics.median(use):>14.3f} ({min(use):.3f})"
            f" {statistics.median(share):>10.2%} ({max(share):.2%})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
