"""The rate gate's parts: the headers it reads, the cooldown, the estimates, on fake time."""

from __future__ import annotations

import asyncio

import httpx2
import pytest

from buildingminds_async._errors import status_error
from buildingminds_async._ratelimit import TUNING, Quota, RateGate, read_quota
from buildingminds_async._ratelimit._bucket import Episodes
from buildingminds_async._ratelimit._cooldown import Cooldown

pytestmark = pytest.mark.looptime

MARGIN = TUNING.header_margin


def loop_time() -> float:
    return asyncio.get_running_loop().time()


# -- what the headers say ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        pytest.param(
            {"RateLimit-Policy": '"default";q=100;w=60', "RateLimit": '"default";r=42;t=17'},
            Quota(limit=100, window=60, remaining=42, reset=17),
            id="ietf",
        ),
        pytest.param(
            {
                "RateLimit-Policy": '"burst";q=10;w=1, "day";q=1000;w=86400',
                "RateLimit": '"burst";r=9;t=1, "day";r=400;t=5000',
            },
            Quota(limit=1000, window=86400, remaining=9, reset=1),
            id="ietf-tightest-of-several",
        ),
        pytest.param(
            {
                "RateLimit-Limit": "100, 100;w=60",
                "RateLimit-Remaining": "5",
                "RateLimit-Reset": "3",
            },
            Quota(limit=100, window=60, remaining=5, reset=3),
            id="ietf-older-draft",
        ),
        pytest.param(
            {"X-RateLimit-Limit": "200", "X-RateLimit-Remaining": "7", "X-RateLimit-Reset": "4"},
            Quota(limit=200, window=None, remaining=7, reset=4),
            id="x-ratelimit",
        ),
        pytest.param(
            {"X-Rate-Limit-Limit": "50", "X-Rate-Limit-Remaining": "0"},
            Quota(limit=50, remaining=0),
            id="x-rate-limit",
        ),
        pytest.param(
            {"Remaining-Calls": "3", "Total-Calls": "50"},
            Quota(limit=50, remaining=3),
            id="api-gateway",
        ),
        pytest.param({"RateLimit": "garbage", "X-RateLimit-Remaining": "soon"}, None, id="junk"),
        pytest.param({"Retry-After": "1"}, None, id="none"),
    ],
)
def test_the_quota_headers_of_each_family_are_read(
    headers: dict[str, str], expected: Quota | None
) -> None:
    assert read_quota(httpx2.Headers(headers)) == expected


def test_an_epoch_reset_is_turned_into_seconds_from_now() -> None:
    headers = httpx2.Headers({"X-RateLimit-Limit": "60", "X-RateLimit-Reset": "2000000010"})
    assert read_quota(headers, wall_clock=2_000_000_000.0) == Quota(limit=60, reset=10.0)


# -- the gate paces at what they say ----------------------------------------------------


async def turn_times(gate: RateGate, n: int) -> list[float]:
    times = []
    for _ in range(n):
        async with gate.turn():
            times.append(loop_time())
    return times


async def test_a_stated_policy_paces_the_gate_at_once() -> None:
    """No 429 and no probing: the first answer's policy sets the pace."""
    gate = RateGate(max_in_flight=4, clock=loop_time)
    gate.record_quota(read_quota(httpx2.Headers({"RateLimit-Policy": '"p";q=200;w=10'})))
    assert gate.rate == pytest.approx(20 * MARGIN)
    times = await turn_times(gate, 41)
    assert times[-1] - times[1] == pytest.approx(39 / (20 * MARGIN), rel=0.02)
    assert gate.statistics().header_rate == pytest.approx(20.0)
    assert gate.statistics().throttled == 0


async def test_a_told_rate_stays_the_ceiling_of_a_stated_one() -> None:
    gate = RateGate(max_in_flight=4, rate=10.0, clock=loop_time)
    gate.record_quota(Quota(limit=20, window=1))
    assert gate.rate == 10.0
    gate.record_quota(Quota(limit=5, window=1))
    assert gate.rate == pytest.approx(5 * MARGIN)


async def test_a_limit_without_a_window_counts_over_the_longest_reset() -> None:
    """X-RateLimit-* name no window: a reset seen right after the window opened is one."""
    gate = RateGate(max_in_flight=4, clock=loop_time)
    gate.record_quota(Quota(limit=200, remaining=150, reset=5))
    assert gate.rate == pytest.approx(200 / 5 * MARGIN)
    gate.record_quota(Quota(limit=200, remaining=199, reset=10))
    assert gate.rate == pytest.approx(200 / 10 * MARGIN)
    gate.record_quota(Quota(limit=200, remaining=100, reset=5))
    assert gate.rate == pytest.approx(200 / 10 * MARGIN)


async def test_a_spent_quota_holds_the_lane_until_its_reset() -> None:
    gate = RateGate(max_in_flight=4, clock=loop_time)
    gate.record_quota(Quota(limit=200, window=10, remaining=0, reset=4))
    async with gate.turn():
        assert loop_time() == pytest.approx(4.0, abs=1e-3)
    stats = gate.statistics()
    assert (stats.held_total, stats.throttled, stats.cooldown_total) == (4.0, 0, 0.0)


async def test_a_per_second_quota_is_left_to_the_pacing() -> None:
    """A reset of one whole second says nothing finer than the pacing does: no hold."""
    gate = RateGate(max_in_flight=4, clock=loop_time)
    gate.record_quota(Quota(limit=20, window=1, remaining=0, reset=1))
    async with gate.turn():
        assert loop_time() < 0.1
    assert gate.statistics().held_total == 0.0


def _answer(status: int, headers: dict[str, str]) -> httpx2.Response:
    return httpx2.Response(
        status, headers=headers, request=httpx2.Request("POST", "https://api.test/address")
    )


async def test_call_reads_the_headers_of_every_answer_429s_included() -> None:
    gate = RateGate(max_in_flight=4, clock=loop_time)
    answers = [
        _answer(429, {"Retry-After": "1", "RateLimit-Policy": '"p";q=10;w=1'}),
        _answer(200, {}),
    ]

    async def send() -> httpx2.Response:
        response = answers.pop(0)
        if response.status_code == 429:
            raise status_error(response, retry_after=1.0)
        return response

    await gate.call(send)
    assert gate.statistics().header_rate == 10.0
    assert gate.rate is not None
    assert gate.rate <= 10 * MARGIN


async def test_the_first_request_goes_alone() -> None:
    """Until the lane's first answer, nobody else is sent: that answer may state the quota,
    and a strict server refuses the second of two requests sent back to back."""
    gate = RateGate(max_in_flight=4, clock=loop_time)
    starts: list[float] = []

    async def request() -> None:
        async with gate.turn():
            starts.append(loop_time())
            await asyncio.sleep(0.1)

    await asyncio.gather(*(request() for _ in range(4)))
    assert starts == [0.0, 0.1, 0.1, 0.1]


async def test_a_first_request_that_fails_or_is_cancelled_releases_the_others() -> None:
    gate = RateGate(max_in_flight=4, clock=loop_time)

    async def doomed() -> None:
        async with gate.turn():
            await asyncio.sleep(10)

    first = asyncio.create_task(doomed())
    await asyncio.sleep(0.5)
    first.cancel()
    async with gate.turn():
        assert loop_time() == pytest.approx(0.5)


# -- a fixed window ---------------------------------------------------------------------


class FixedWindow:
    """``allowance`` requests per ``length`` s, counted from the first request of a window;
    a refused request is told to retry when the window ends (whole seconds, rounded up)."""

    def __init__(self, allowance: int, length: float) -> None:
        self.allowance = allowance
        self.length = length
        self.opened: float | None = None
        self.used = 0
        self.refused_windows: set[float] = set()

    def admit(self, now: float) -> float | None:
        if self.opened is None or now >= self.opened + self.length:
            self.opened, self.used = now, 0
        if self.used < self.allowance:
            self.used += 1
            return None
        self.refused_windows.add(self.opened)
        return float(-(-(self.opened + self.length - now) // 1))


async def drive_window(server: FixedWindow, workers: list[RateGate], until: float) -> list[float]:
    """One task per entry of ``workers`` sends through that gate until ``until``, each way
    to the server and back 10 ms; the times of the accepted requests."""
    accepted: list[float] = []

    async def worker(gate: RateGate) -> None:
        while loop_time() < until:
            async with gate.turn() as granted:
                await asyncio.sleep(0.01)
                retry_after = server.admit(loop_time())
                await asyncio.sleep(0.01)
            if retry_after is None:
                accepted.append(loop_time())
                gate.record_success(sent_at=granted)
            else:
                gate.record_throttle(retry_after, sent_at=granted)

    await asyncio.gather(*(worker(gate) for gate in workers))
    return accepted


async def test_a_long_retry_after_is_read_as_the_end_of_a_window() -> None:
    """Against 200 calls per 10 s the gate settles below the window's rate within a window
    or two, instead of taking each long pause for proof of a tiny rate."""
    server = FixedWindow(200, 10.0)
    gate = RateGate(max_in_flight=4, clock=loop_time)
    accepted = await drive_window(server, [gate] * 4, until=90.0)
    assert len(server.refused_windows) <= 2, sorted(server.refused_windows)
    allowance = 200 / 10 * (accepted[-1] - accepted[0])
    assert len(accepted) >= 0.9 * allowance, (len(accepted), allowance)


async def test_answers_after_the_windows_429_count_in_its_rate() -> None:
    """Requests sent before the 429 that ended a window, answered after it, were let
    through by that window: the rate read from it counts them as they arrive."""
    gate = RateGate(max_in_flight=64, clock=loop_time, first_alone=False)
    sent: list[float] = []
    for _ in range(40):  # 40 requests out over the window's first second
        async with gate.turn() as granted:
            sent.append(granted)
        await asyncio.sleep(0.025)
    for at in sent[:10]:
        gate.record_success(sent_at=at)
    gate.record_throttle(9.0, sent_at=loop_time())  # refused at 1 s: the window is 10 s
    assert gate.rate == pytest.approx(10 / 10 * TUNING.settle)
    for at in sent[10:]:  # the other 30 answers come in after the 429
        gate.record_success(sent_at=at)
    assert gate.rate == pytest.approx(40 / 10 * TUNING.settle)


async def test_lanes_counted_against_one_window_share_it() -> None:
    """Pushes and reads against one window of 200 calls / 10 s: once both lanes drew a
    429, they pace together at the window's rate, counting both lanes' calls."""
    server = FixedWindow(200, 10.0)
    push = RateGate(max_in_flight=4, clock=loop_time)
    read = RateGate(max_in_flight=4, clock=loop_time)
    read.share_budget_with(push)
    accepted = await drive_window(server, [push, read, push, read], until=60.0)
    assert read.shares_budget
    assert len(server.refused_windows) <= 2, sorted(server.refused_windows)
    later = [t for t in accepted if t >= 20.0]
    assert len(later) >= 0.9 * 20 * (later[-1] - 20.0), len(later)


# -- the parts ----------------------------------------------------------------------------


async def test_the_cooldown_tells_refusals_from_holds() -> None:
    cooldown = Cooldown(clock=loop_time, sleep=asyncio.sleep)
    cooldown.close_for(3.0)
    cooldown.close_for(1.0, throttled=False)  # within the longer pause: adds nothing
    cooldown.close_for(5.0, throttled=False)
    assert (cooldown.throttled_total, cooldown.held_total) == (3.0, 2.0)
    await cooldown.wait()
    assert loop_time() == pytest.approx(5.0)
    assert cooldown.is_open()


def test_episodes_of_a_token_bucket_give_its_rate() -> None:
    """A bucket of 5 refilled at 20/s lets 5 + 20 t through in t seconds."""
    episodes = Episodes()
    episodes.begin(0.0)
    for start, length in ((0.0, 1.0), (3.0, 2.0), (7.0, 0.5)):
        episodes.start = start
        for _ in range(int(5 + 20 * length)):
            episodes.count(start)
        episodes.end(start + length, start + length + 1.0)
    assert episodes.estimate() == pytest.approx(20.0)


def test_episodes_without_a_burst_give_no_estimate() -> None:
    episodes = Episodes()
    for start, length in ((0.0, 1.0), (3.0, 2.0)):
        episodes.start = start
        for _ in range(int(20 * length) - 2):
            episodes.count(start)
        episodes.end(start + length, start + length + 1.0)
    assert episodes.estimate() is None
