"""The rate gate: shared cooldown, in-flight cap, steady pacing and AIMD, on fake loop time."""

from __future__ import annotations

import asyncio
import itertools
import random
from dataclasses import replace

import pytest

from buildingminds_async._ratelimit import TUNING, RateGate

pytestmark = pytest.mark.looptime


def loop_time() -> float:
    return asyncio.get_running_loop().time()


def make_gate(**options: object) -> RateGate:
    """A gate whose first request does not go alone (that rule has its own test)."""
    options.setdefault("first_alone", False)
    return RateGate(clock=loop_time, **options)  # type: ignore[arg-type]


async def succeed_for(gate: RateGate, seconds: float, *, every: float = 0.1) -> list[float]:
    """Record a success every ``every`` seconds for ``seconds``; return the rate after each."""
    rates: list[float] = []
    end = loop_time() + seconds
    while loop_time() < end:
        await asyncio.sleep(every)
        gate.record_success()
        rates.append(gate.rate or 0.0)
    return rates


async def test_a_429_pauses_every_task_until_its_deadline() -> None:
    """One 429 with Retry-After closes the gate for all tasks; nobody enters before it ends."""
    gate = make_gate(max_in_flight=2)
    entries: list[tuple[int, float]] = []

    async def request(i: int) -> None:
        async with gate.turn():
            entries.append((i, loop_time()))
            await asyncio.sleep(0.1)
        if i == 0:
            gate.record_throttle(5.0)
        else:
            gate.record_success()

    await asyncio.gather(*(request(i) for i in range(8)))
    assert sorted(i for i, _ in entries) == list(range(8))
    first_two = {i for i, t in entries if t == 0.0}
    assert first_two == {0, 1}
    later = [t for i, t in entries if i not in first_two]
    # The 429 arrived at t=0.1 and asked for 5 s: the gate reopens at 5.1, not before.
    assert min(later) >= 5.1 - 1e-6
    assert min(later) == pytest.approx(5.1, abs=0.05)
    assert gate.statistics().throttled == 1


async def test_tasks_arriving_during_the_cooldown_wait_too() -> None:
    """A task that asks for a turn during a cooldown enters only once it is over."""
    gate = make_gate(max_in_flight=4)
    gate.record_throttle(3.0)
    await asyncio.sleep(1.0)
    async with gate.turn():
        entered = loop_time()
    assert entered == pytest.approx(3.0, abs=1e-3)


async def test_the_cooldown_only_moves_forward() -> None:
    """A shorter Retry-After never shortens a cooldown; a longer one extends it."""
    gate = make_gate(max_in_flight=4)
    gate.record_throttle(10.0)
    gate.record_throttle(2.0)
    assert gate.statistics().cooldown_remaining == pytest.approx(10.0)
    await asyncio.sleep(4.0)
    gate.record_throttle(1.0)
    assert gate.statistics().cooldown_remaining == pytest.approx(6.0)
    async with gate.turn():
        assert loop_time() >= 10.0 - 1e-6
    gate.record_throttle(20.0)
    assert gate.statistics().cooldown_remaining == pytest.approx(20.0)


async def test_retry_after_is_capped_at_max_retry_after() -> None:
    """An hour-long Retry-After closes the gate for max_retry_after seconds only."""
    gate = make_gate(max_in_flight=1, max_retry_after=60.0)
    gate.record_throttle(3600.0)
    assert gate.statistics().cooldown_remaining == 60.0
    async with gate.turn():
        assert loop_time() == pytest.approx(60.0, abs=1e-3)


async def test_without_a_hint_the_cooldown_doubles_while_429s_continue() -> None:
    """429s without Retry-After close the gate for 1 s, then 2 s, 4 s ...; a success resets it."""
    gate = make_gate(max_in_flight=1)
    waits = []
    for _ in range(3):
        gate.record_throttle(None)
        waits.append(gate.statistics().cooldown_remaining)
        await asyncio.sleep(waits[-1])
    assert waits == [1.0, 2.0, 4.0]
    gate.record_success()
    gate.record_throttle(None)
    assert gate.statistics().cooldown_remaining == 1.0


@pytest.mark.parametrize("rate", [2.0, 5.0, 20.0])
async def test_a_given_rate_spaces_requests_evenly(rate: float) -> None:
    """With rate=R, requests go out 1/R apart: no burst at the start, R per second after."""
    gate = make_gate(max_in_flight=100, rate=rate)
    times: list[float] = []

    async def request() -> None:
        async with gate.turn():
            times.append(loop_time())

    count = int(rate * 4)
    await asyncio.gather(*(request() for _ in range(count)))
    times.sort()
    # Never a burst: the limiter's 5% slack (for late timers) lets the second request out
    # 95% of an interval after the first, and every later one a whole interval apart.
    assert times[1] - times[0] == pytest.approx(0.95 / rate, rel=0.01)
    gaps = [b - a for a, b in itertools.pairwise(times[1:])]
    assert all(gap == pytest.approx(1 / rate, rel=0.01) for gap in gaps)
    # Any one-second window holds at most R + 1 requests.
    for start in times:
        assert sum(1 for t in times if start <= t < start + 1.0) <= rate + 1
    assert times[-1] == pytest.approx((count - 1.05) / rate, rel=0.02)


async def test_the_in_flight_cap_holds() -> None:
    """However many tasks wait, never more than max_in_flight are inside a turn."""
    gate = make_gate(max_in_flight=3)
    inside = 0
    peak = 0
    seen_in_stats: set[int] = set()

    async def request() -> None:
        nonlocal inside, peak
        async with gate.turn():
            inside += 1
            peak = max(peak, inside)
            seen_in_stats.add(gate.statistics().in_flight)
            await asyncio.sleep(0.5)
            inside -= 1
        gate.record_success()

    await asyncio.gather(*(request() for _ in range(20)))
    assert peak == 3
    assert max(seen_in_stats) == 3
    assert loop_time() == pytest.approx(0.5 * 7, abs=1e-3)  # ceil(20 / 3) rounds of 0.5 s
    stats = gate.statistics()
    assert (stats.in_flight, stats.granted, stats.max_in_flight) == (0, 20, 3)


async def test_the_429s_of_one_overload_lower_the_rate_once() -> None:
    """Every request in flight getting a 429 lowers the rate by one step, not one per 429."""
    gate = make_gate(max_in_flight=8, rate=10.0)

    async def throttled_request() -> None:
        async with gate.turn() as granted:
            await asyncio.sleep(0.3)
        gate.record_throttle(1.0, sent_at=granted)

    await asyncio.gather(*(throttled_request() for _ in range(4)))
    stats = gate.statistics()
    assert stats.throttled == 4
    assert stats.decreases == 1
    lowered = gate.rate
    assert lowered is not None
    assert lowered < 10.0
    assert stats.burst < 1.5  # no two requests back to back after a 429
    # A request sent at the lowered rate that still gets a 429 is a new overload.
    await throttled_request()
    assert gate.statistics().decreases == 2
    assert gate.rate is not None
    assert gate.rate < lowered


async def test_the_first_429_sets_the_rate_below_what_was_accepted() -> None:
    """Unpaced until the first 429, the gate then paces a little below the measured rate."""
    gate = make_gate(max_in_flight=8)
    await succeed_for(gate, 2.0, every=0.1)  # 10 accepted per second
    assert gate.rate is None
    assert gate.statistics().rate is None
    gate.record_throttle(None)
    assert gate.rate is not None
    assert 1.0 <= gate.rate < 10.0
    assert gate.statistics().decreases == 1


async def test_quiet_periods_raise_the_rate_up_to_a_told_ceiling() -> None:
    """After a 429 the rate climbs back while no 429 comes, but never above the given rate."""
    gate = make_gate(max_in_flight=8, rate=10.0)
    gate.record_throttle(1.0)
    await asyncio.sleep(1.0)
    lowered = gate.rate
    assert lowered is not None
    assert lowered < 10.0
    rates = await succeed_for(gate, 60.0)
    assert gate.statistics().increases > 0
    assert rates == sorted(rates)  # only ever climbs while nothing is throttled
    assert max(rates) == 10.0
    assert gate.rate == 10.0


async def test_without_a_ceiling_the_rate_probes_beyond_the_throttled_rate() -> None:
    """With no rate given, quiet periods raise the rate back and then past the throttled one."""
    gate = make_gate(max_in_flight=8)
    await succeed_for(gate, 2.0, every=0.1)  # 10 accepted per second, then a 429
    gate.record_throttle(1.0)
    lowered = gate.rate
    assert lowered is not None
    assert lowered < 10.0
    await asyncio.sleep(1.0)
    await succeed_for(gate, 10.0)
    recovered = gate.rate
    assert recovered is not None
    assert recovered > lowered
    # A server whose limit went up is noticed: the gate eventually looks above 10/s.
    await succeed_for(gate, 120.0)
    assert gate.rate is not None
    assert gate.rate > 10.0


async def test_a_non_adaptive_gate_keeps_its_rate() -> None:
    """With adaptive=False and a rate, 429s pause the gate but never change the rate."""
    gate = make_gate(max_in_flight=4, rate=5.0, adaptive=False)
    gate.record_throttle(1.0)
    await asyncio.sleep(5.0)
    gate.record_throttle(1.0)
    await succeed_for(gate, 10.0)
    stats = gate.statistics()
    assert gate.rate == 5.0
    assert (stats.decreases, stats.increases, stats.throttled) == (0, 0, 2)


async def test_the_rate_never_drops_below_min_rate() -> None:
    """Repeated overloads lower the rate to min_rate and no further."""
    gate = make_gate(max_in_flight=4, rate=1.0, tuning=replace(TUNING, min_rate=0.5))
    for _ in range(20):
        gate.record_throttle(0.0)
        await asyncio.sleep(2.0)
    assert gate.rate == 0.5


async def test_statistics_reflect_what_happened() -> None:
    """statistics() counts grants, 429s, rate changes and cooldown time."""
    gate = make_gate(max_in_flight=2, rate=4.0)
    assert gate.statistics().burst == pytest.approx(1.05)
    granted = []
    for _ in range(3):
        async with gate.turn() as at:
            granted.append(at)
            await asyncio.sleep(0.1)
        gate.record_success()
    assert granted == pytest.approx([0.0, 0.2375, 0.4875])  # paced at 4/s, 5% slack once
    gate.record_throttle(10.0, sent_at=granted[-1])
    gate.record_throttle(2.0, sent_at=granted[-1])  # within the cooldown: adds no time
    await asyncio.sleep(4.0)
    gate.record_throttle(8.0, sent_at=granted[-1])  # extends the cooldown from 10 to 12
    stats = gate.statistics()
    assert stats.granted == 3
    assert stats.throttled == 3
    assert stats.decreases == 1
    assert stats.rate is not None
    assert stats.rate < 4.0
    assert stats.burst < 1.5  # no two requests back to back after a 429
    assert stats.cooldown_remaining == pytest.approx(8.0)
    assert stats.cooldown_total == pytest.approx(12.0)
    assert stats.in_flight == 0
    assert f"{stats.rate:.2f}/s burst 1" in repr(gate)
    assert "3 throttled" in repr(gate)


@pytest.mark.parametrize("options", [{"max_in_flight": 0}, {"max_in_flight": 1, "rate": 0.0}])
def test_impossible_settings_are_refused(options: dict[str, float]) -> None:
    """A gate that could never let a request through is refused."""
    with pytest.raises(ValueError, match="must be"):
        RateGate(clock=lambda: 0.0, **options)  # type: ignore[arg-type]


class TokenBucket:
    """A server's limiter: ``burst`` requests at once, refilled at ``rate`` per second."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.at = 0.0

    def admit(self, now: float) -> bool:
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


async def drive(
    gate: RateGate, bucket: TokenBucket, seconds: float, rng: random.Random | None = None
) -> list[tuple[float, bool]]:
    """Four pushers through ``gate`` against ``bucket`` for ``seconds``; (time, accepted).

    Each way to the server and back takes 10 ms, or a random 3-20 ms with ``rng``.
    """
    outcomes: list[tuple[float, bool]] = []
    end = loop_time() + seconds

    def way() -> float:
        return 0.01 if rng is None else rng.uniform(0.003, 0.02)

    async def pusher() -> None:
        while loop_time() < end:
            async with gate.turn() as granted:
                await asyncio.sleep(way())  # the request's way to the server
                accepted = bucket.admit(loop_time())
                await asyncio.sleep(way())
            outcomes.append((loop_time(), accepted))
            if accepted:
                gate.record_success(sent_at=granted)
            else:
                gate.record_throttle(1.0, sent_at=granted)

    await asyncio.gather(*(pusher() for _ in range(4)))
    return outcomes


@pytest.mark.parametrize(("rate", "burst", "seconds"), [(20.0, 5.0, 180.0), (100.0, 5.0, 90.0)])
async def test_an_unknown_limit_is_found_and_used(
    rate: float, burst: float, seconds: float
) -> None:
    """Against a token bucket it is not told about, the gate settles just below its rate."""
    bucket = TokenBucket(rate, burst)
    bucket.at = loop_time()
    gate = make_gate(max_in_flight=4)
    outcomes = await drive(gate, bucket, seconds)
    start = outcomes[0][0]
    settled = start + seconds / 3
    steady = [ok for t, ok in outcomes if t >= settled]
    accepted_per_s = sum(steady) / (outcomes[-1][0] - settled)
    throttled_share = steady.count(False) / len(steady)
    assert accepted_per_s >= 0.93 * rate, (accepted_per_s, throttled_share)
    assert throttled_share <= 0.01, (accepted_per_s, throttled_share)


@pytest.mark.parametrize("seed", [0, 1, 2])
async def test_a_burst_allowance_does_not_hide_an_excess_for_long(seed: int) -> None:
    """A rate that only looked sustainable (a burst of 20 hid its excess, or the in-flight
    cap kept it from being sent) is corrected at once: discovery takes a few seconds."""
    rate = 100.0
    bucket = TokenBucket(rate, 20.0)
    bucket.at = loop_time()
    gate = make_gate(max_in_flight=4)
    outcomes = await drive(gate, bucket, 15.0, random.Random(seed))
    start = outcomes[0][0]
    accepted = sum(ok for _, ok in outcomes)
    assert accepted / (outcomes[-1][0] - start) >= 0.65 * rate
    assert gate.statistics().throttled / len(outcomes) <= 0.02
