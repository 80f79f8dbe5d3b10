"""The chunk sizer alone: when it grows, what a 413 teaches it, which messages it reads."""

from __future__ import annotations

import asyncio

import pytest

from buildingminds_async.onboarding._chunking import Chunk, Chunker, RecordRef
from buildingminds_async.onboarding._sizing import ChunkSizer, says_too_large


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def sizer(
    *,
    auto: bool = True,
    rate: float | None = 20.0,
    window: int | None = None,
    ceiling: int = 5_000,
) -> ChunkSizer:
    return ChunkSizer(
        Chunker(max_records=500, max_bytes=1 << 20),
        auto=auto,
        size=500,
        ceiling=ceiling,
        concurrency=4,
        pending_window=window,
        rate=lambda: rate,
        clock=Clock(),
    )


_seq = iter(range(1, 1_000_000))


def chunk(records: int) -> Chunk:
    c = Chunk(next(_seq), "address", 0)
    c.refs = [RecordRef(i, f"A{i}") for i in range(records)]
    c.parts = [b"{}"] * records
    c.size = 2 + 3 * records
    return c


def binding(s: ChunkSizer, records: int, pushes: int = 4) -> None:
    """``pushes`` accepted chunks of ``records`` that waited 0.18 s on the gate each."""
    for _ in range(pushes):
        s.accepted(chunk(records), waited=0.18, latency=0.02)


def test_it_grows_only_while_the_gate_binds_and_once_per_size_taken() -> None:
    s = sizer()
    for _ in range(20):
        s.accepted(chunk(500), waited=0.001, latency=0.05)
    assert s.sizes().changes == ()  # the gate does not bind: no growth
    binding(s, 500)
    assert [c.size for c in s.sizes().changes] == [1_000]
    binding(s, 500, pushes=20)  # the queue's older chunks say nothing about 1,000
    assert [c.size for c in s.sizes().changes] == [1_000]
    binding(s, 1_000)
    assert [c.size for c in s.sizes().changes] == [1_000, 2_000]


def test_a_fixed_size_never_grows_and_a_413_halves_it() -> None:
    s = sizer(auto=False)
    binding(s, 500, pushes=40)
    assert s.sizes().changes == ()
    s.refused(chunk(500), "Request Entity Too Large")
    assert s.sizes().final == 250


@pytest.mark.parametrize(
    ("message", "ceiling"),
    [
        ("2000 records in one request; the limit is 1000", 1_000),
        ("at most 1,500 records per request.", 1_500),
        ("The body is larger than the limit of 1500 bytes", 1_000),
        ("Request Entity Too Large", 1_000),
    ],
)
def test_a_413_of_a_new_size_goes_back_or_to_the_stated_limit(message: str, ceiling: int) -> None:
    s = sizer()
    binding(s, 500)
    binding(s, 1_000)
    s.refused(chunk(2_000), message)
    assert s.sizes().changes[-1].size == ceiling


def test_an_unstated_ceiling_is_bisected_in_at_most_three_refusals() -> None:
    s = sizer()
    binding(s, 500)
    refusals = 0
    for _ in range(30):
        size = s.sizes().changes[-1].size
        if size > 1_300:
            s.refused(chunk(size), "too big")
            refusals += 1
        else:
            binding(s, size)
    assert refusals <= 3
    assert 1_000 <= s.sizes().final <= 1_300


async def test_the_probe_goes_alone() -> None:
    """Of two chunks larger than any the server took, the second waits for the first's
    answer: a server refusing the size answers one 413, not one per pusher."""
    s = sizer()
    binding(s, 500)
    first, second = chunk(1_000), chunk(1_000)
    order: list[str] = []
    await s.turn(first)
    order.append("first goes")

    async def then() -> None:
        await s.turn(second)
        order.append("second goes")

    task = asyncio.create_task(then())
    await asyncio.sleep(0.01)
    order.append("first answered")
    s.accepted(first, waited=0.1, latency=0.1)
    await task
    assert order == ["first goes", "first answered", "second goes"]


def test_the_pending_window_caps_growth() -> None:
    s = sizer(window=8_000)  # 4 pushers x 2 batches: at most 1,000 a batch
    binding(s, 500)
    binding(s, 1_000, pushes=10)
    assert s.sizes().largest == 1_000


def test_slower_answers_that_still_carry_more_records_keep_the_size() -> None:
    """At 80/s, 1,000-record pushes of 0.06 s (4 pushers: 66 pushes/s) still carry more
    than 500-record pushes at the full rate: no shrinking."""
    s = sizer(rate=80.0, ceiling=1_000)
    for _ in range(4):
        s.accepted(chunk(500), waited=0.03, latency=0.02)
    assert s.sizes().changes[-1].size == 1_000
    for _ in range(8):
        s.accepted(chunk(1_000), waited=0.0, latency=0.06)
    assert [c.size for c in s.sizes().changes] == [1_000]


def test_a_small_pending_window_does_not_lower_the_start() -> None:
    """Where nothing binds, "auto" sends what the fixed default would."""
    s = sizer(window=1_000)  # a cap of 125 records a batch
    assert s.sizes().final == 500
    binding(s, 500, pushes=10)
    assert s.sizes().changes == ()  # and does not grow past the cap


def test_slow_answers_halve_it_and_hold_it() -> None:
    s = sizer()
    binding(s, 500)
    binding(s, 1_000)
    for _ in range(4):
        s.accepted(chunk(2_000), waited=0.0, latency=0.5)  # 4 / 20 per s = 0.2 s a push
    assert s.sizes().changes[-1].size == 1_000
    assert s.sizes().changes[-1].reason.startswith("answers slowed to 0.50 s")
    binding(s, 1_000, pushes=10)
    assert s.sizes().changes[-1].size == 1_000  # held


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("Payload too large", True),
        ("request body is too big", True),
        ("Too many records in one request", True),
        ("Request Entity Too Large", True),
        ("name: value is too long", False),
        ("postalCode exceeds the maximum length", False),
    ],
)
def test_which_400_messages_mean_too_large(message: str, expected: bool) -> None:
    assert says_too_large(message) is expected
