"""The journal's record sets: a million finished records fold into a few ranges."""

from __future__ import annotations

import random

from buildingminds_async.onboarding._journal import _Ranges


def test_consecutive_chunks_fold_into_one_range() -> None:
    """Chunks of consecutive lines, finished in any order, become a single range."""
    ranges = _Ranges()
    chunks = [list(range(start, start + 500)) for start in range(0, 1_000_000, 500)]
    random.Random(7).shuffle(chunks)
    for chunk in chunks:
        ranges.add(chunk)
    assert ranges.as_lists() == [[0, 1_000_000]]


def test_membership_matches_a_plain_set() -> None:
    """Scattered numbers, overlaps and duplicates answer `in` exactly as a set would."""
    rng = random.Random(3)
    ranges, plain = _Ranges(), set()
    for _ in range(300):
        numbers = [rng.randrange(2_000) for _ in range(rng.randrange(1, 20))]
        ranges.add(numbers)
        plain.update(numbers)
    assert all((n in ranges) == (n in plain) for n in range(-5, 2_010))
    starts = [a for a, _ in ranges.as_lists()]
    stops = [b for _, b in ranges.as_lists()]
    assert all(stop < start for stop, start in zip(stops, starts[1:], strict=False))
