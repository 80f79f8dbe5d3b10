"""The chunker: cutting encoded records into request bodies by count and by bytes."""

from __future__ import annotations

import json

import pytest

from buildingminds_async.onboarding._chunking import Chunk, Chunker, RecordRef, RecordTooLargeError


def ref(index: int, external_id: str | None = None) -> RecordRef:
    return RecordRef(index=index, external_id=external_id or f"R{index}")


def encoded(index: int, size: int | None = None) -> bytes:
    """A JSON object of exactly ``size`` bytes (default: as short as it gets)."""
    body = json.dumps({"id": f"R{index}"}, separators=(",", ":")).encode()
    if size is None:
        return body
    padding = size - len(body) - len(',"p":""')
    assert padding >= 0
    return body[:-1] + b',"p":"' + b"x" * padding + b'"}'


def feed(chunker: Chunker, count: int, *, entity: str = "building", size: int | None = None):
    closed: list[Chunk] = []
    for index in range(count):
        closed.extend(chunker.add(entity, 2, ref(index), encoded(index, size)))
    return closed


def ids(chunk: Chunk) -> list[str]:
    return [item["id"] for item in json.loads(chunk.body())]


def test_cuts_by_record_count() -> None:
    """A chunk closes when it holds max_records records; the rest waits for flush()."""
    chunker = Chunker(max_records=3, max_bytes=1 << 20)
    closed = feed(chunker, 7)
    assert [len(chunk) for chunk in closed] == [3, 3]
    assert chunker.buffered == 1
    rest = chunker.flush()
    assert [len(chunk) for chunk in rest] == [1]
    assert [ids(chunk) for chunk in [*closed, *rest]] == [
        ["R0", "R1", "R2"],
        ["R3", "R4", "R5"],
        ["R6"],
    ]
    assert chunker.buffered == 0
    assert chunker.flush() == []


def test_cuts_by_bytes_exactly_at_the_boundary() -> None:
    """Records fill a body up to exactly max_bytes; one byte more starts a new chunk."""
    # n records of 20 bytes make a body of 2 + 20n + (n - 1) = 21n + 1 bytes.
    exact = Chunker(max_records=100, max_bytes=64)  # 3 records: 64 bytes, a perfect fit
    closed = feed(exact, 7, size=20) + exact.flush()
    assert [len(chunk) for chunk in closed] == [3, 3, 1]
    assert closed[0].size == 64

    short = Chunker(max_records=100, max_bytes=63)  # one byte short of three records
    closed = feed(short, 7, size=20) + short.flush()
    assert [len(chunk) for chunk in closed] == [2, 2, 2, 1]
    assert all(chunk.size <= 63 for chunk in closed)


def test_size_is_the_length_of_the_body() -> None:
    """A chunk's size is always exactly len(chunk.body()), for records of any size."""
    chunker = Chunker(max_records=5, max_bytes=200)
    closed: list[Chunk] = []
    for index, size in enumerate([21, 40, 24, 90, 25, 30, 29, 60, 150, 22, 33]):
        closed.extend(chunker.add("site", 1, ref(index), encoded(index, size)))
    closed.extend(chunker.flush())
    assert len(closed) > 2
    for chunk in closed:
        assert chunk.size == len(chunk.body())
        assert chunk.size <= 200
    assert Chunk(1, "site", 1).size == len(Chunk(1, "site", 1).body()) == 2


def test_bodies_are_json_arrays_of_the_records_in_order() -> None:
    """Every body parses as a JSON array holding the records as given, in input order."""
    chunker = Chunker(max_records=4, max_bytes=1 << 20)
    records = [{"id": f"R{i}", "name": f'na"me {i}', "n": i} for i in range(10)]
    closed: list[Chunk] = []
    for index, record in enumerate(records):
        closed.extend(chunker.add("building", 2, ref(index), json.dumps(record).encode()))
    closed.extend(chunker.flush())
    decoded = [item for chunk in closed for item in json.loads(chunk.body())]
    assert decoded == records
    assert [r.index for chunk in closed for r in chunk.refs] == list(range(10))


def test_a_record_that_fits_alone_is_accepted() -> None:
    """A record of max_bytes - 2 bytes fits in a body of its own."""
    chunker = Chunker(max_records=10, max_bytes=50)
    assert chunker.add("building", 2, ref(0), encoded(0, 48)) == []
    (chunk,) = chunker.flush()
    assert chunk.size == len(chunk.body()) == 50


def test_a_record_too_large_for_any_body_is_refused_helpfully() -> None:
    """A record that cannot fit a body alone raises RecordTooLargeError saying what to do."""
    chunker = Chunker(max_records=10, max_bytes=50)
    feed(chunker, 2, size=20)
    with pytest.raises(RecordTooLargeError) as caught:
        chunker.add("building", 2, ref(9), encoded(9, 49))
    error = caught.value
    assert isinstance(error, ValueError)
    assert (error.size, error.max_bytes) == (49, 50)
    message = str(error)
    assert "49 bytes" in message
    assert "max_chunk_bytes=50" in message
    assert "raise max_chunk_bytes" in message
    # Nothing was lost or half-added: the open chunk still holds the two earlier records.
    assert chunker.buffered == 2


def test_entities_are_kept_apart() -> None:
    """Interleaved entities go into separate chunks; a chunk carries a single entity."""
    chunker = Chunker(max_records=2, max_bytes=1 << 20)
    closed: list[Chunk] = []
    for index in range(6):
        entity = "site" if index % 2 else "building"
        closed.extend(chunker.add(entity, 1, ref(index), encoded(index)))
    closed.extend(chunker.flush())
    by_entity = {chunk.entity: ids(chunk) for chunk in closed if len(chunk) == 2}
    assert [(chunk.entity, ids(chunk)) for chunk in closed] == [
        ("building", ["R0", "R2"]),
        ("site", ["R1", "R3"]),
        ("building", ["R4"]),
        ("site", ["R5"]),
    ]
    assert set(by_entity) == {"building", "site"}


def test_flush_hands_out_parents_first() -> None:
    """flush() orders chunks by level (parents' entities first), then by age."""
    chunker = Chunker(max_records=10, max_bytes=1 << 20)
    chunker.add("space", 4, ref(0), encoded(0))
    chunker.add("building", 2, ref(1), encoded(1))
    chunker.add("address", 0, ref(2), encoded(2))
    chunker.add("site", 1, ref(3), encoded(3))
    chunker.add("land", 1, ref(4), encoded(4))
    assert [chunk.entity for chunk in chunker.flush()] == [
        "address",
        "site",
        "land",
        "building",
        "space",
    ]


def test_chunks_are_numbered_in_the_order_they_open() -> None:
    """Each chunk gets a new sequence number, increasing in the order chunks are opened."""
    chunker = Chunker(max_records=2, max_bytes=1 << 20)
    chunks = feed(chunker, 6) + chunker.flush()
    seqs = [chunk.seq for chunk in chunks]
    assert seqs == sorted(seqs)
    assert len(set(seqs)) == 3


def test_split_keeps_order_and_exact_sizes() -> None:
    """split() gives two halves in order; the first keeps its seq, both sizes are exact."""
    chunker = Chunker(max_records=5, max_bytes=1 << 20)
    (chunk,) = feed(chunker, 5, size=30)
    first, second = chunk.split(seq=99)
    assert ids(first) == ["R0", "R1"]
    assert ids(second) == ["R2", "R3", "R4"]
    assert [r.index for r in first.refs + second.refs] == [0, 1, 2, 3, 4]
    assert (first.seq, second.seq) == (chunk.seq, 99)
    assert (first.entity, first.level) == (second.entity, second.level) == ("building", 2)
    for half in (first, second):
        assert half.size == len(half.body())
    assert first.size + second.size == chunk.size + 1  # one comma fewer, one "[]" more


def test_split_of_two_records_gives_one_each() -> None:
    """The smallest splittable chunk halves into single-record chunks."""
    chunker = Chunker(max_records=2, max_bytes=1 << 20)
    (chunk,) = feed(chunker, 2)
    first, second = chunk.split(seq=7)
    assert (ids(first), ids(second)) == (["R0"], ["R1"])


def test_shrink_lowers_the_limits_for_later_chunks() -> None:
    """shrink() lowers both limits (never raises them) for chunks closed afterwards."""
    chunker = Chunker(max_records=10, max_bytes=1000)
    chunker.shrink(max_records=2, max_bytes=500)
    assert (chunker.max_records, chunker.max_bytes) == (2, 500)
    assert [len(chunk) for chunk in feed(chunker, 5)] == [2, 2]

    chunker.shrink(max_records=50, max_bytes=5000)
    assert (chunker.max_records, chunker.max_bytes) == (2, 500)

    chunker.shrink(max_records=0, max_bytes=0)
    assert (chunker.max_records, chunker.max_bytes) == (1, 3)


@pytest.mark.parametrize(("max_records", "max_bytes"), [(0, 100), (10, 2)])
def test_impossible_limits_are_refused(max_records: int, max_bytes: int) -> None:
    """A chunker that could hold no record is refused at construction."""
    with pytest.raises(ValueError, match="chunk"):
        Chunker(max_records=max_records, max_bytes=max_bytes)


def test_record_source_names_file_and_line_or_index() -> None:
    """A record's source is file:line when read from a file, #index otherwise."""
    assert RecordRef(3, "B-1").source == "#3"
    assert RecordRef(3, "B-1", file="buildings.csv", line=5).source == "buildings.csv:5"
    assert RecordRef(3, "B-1", file="buildings.jsonl").source == "buildings.jsonl"
