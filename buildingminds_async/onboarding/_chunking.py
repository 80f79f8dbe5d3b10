"""Cutting a stream of encoded records into request bodies. Pure and synchronous.

The chunker keeps one open chunk per entity (one request carries one entity type) and
closes it when it reaches ``max_records`` records or when the next record would push the
encoded body over ``max_bytes``, whichever comes first. Each record arrives encoded once;
a body is the records joined into a JSON array, so its size is known exactly before it is
built: ``2 + sum(len(record)) + (n - 1)``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class RecordRef:
    """Who a record is and where it came from: kept until its outcome is known.

    Not frozen: one is made per input record, and a frozen dataclass's ``__init__``
    (``object.__setattr__`` per field) costs several times as much. Treat it as a value.
    """

    index: int
    """0-based position in the input stream."""
    external_id: str
    file: str | None = None
    line: int | None = None

    @property
    def source(self) -> str:
        """``file:line`` when the record came from a file, ``#index`` otherwise."""
        if self.file is not None:
            return f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"#{self.index}"


@dataclass(slots=True)
class Chunk:
    """The records of one request body, in order."""

    seq: int
    entity: str
    level: int
    refs: list[RecordRef] = field(default_factory=list)
    parts: list[bytes] = field(default_factory=list)
    size: int = 2
    """Bytes of the body once joined: ``[`` + records + commas + ``]``."""

    def __len__(self) -> int:
        return len(self.refs)

    def body(self) -> bytes:
        return b"[" + b",".join(self.parts) + b"]"

    def describe(self) -> str:
        """Which records, for a message: the first and last id and source (ids escaped)."""
        first, last = self.refs[0], self.refs[-1]
        where = f"{first.external_id!r} at {first.source}"
        return where if first is last else f"{where} to {last.external_id!r} at {last.source}"

    def decoded(self, position: int) -> Any:
        """The record at ``position`` as JSON values, as sent (a failure's ``record``)."""
        part = self.parts[position]
        try:
            return json.loads(part)
        except ValueError:
            return part.decode("utf-8", "replace")

    def split(self, seq: int) -> tuple[Chunk, Chunk]:
        """Two halves (the second gets ``seq``); used when the server answers 413."""
        half = len(self.refs) // 2
        first = Chunk(self.seq, self.entity, self.level, self.refs[:half], self.parts[:half])
        second = Chunk(seq, self.entity, self.level, self.refs[half:], self.parts[half:])
        for chunk in (first, second):
            chunk.size = _body_size(chunk.parts)
        return first, second


def _body_size(parts: list[bytes]) -> int:
    return 2 + sum(len(p) for p in parts) + max(len(parts) - 1, 0)


class RecordTooLargeError(ValueError):
    """One encoded record is larger than a whole request body may be."""

    def __init__(self, size: int, max_bytes: int) -> None:
        super().__init__(
            f"the record is {size:,} bytes encoded, more than max_chunk_bytes={max_bytes:,} "
            f"allows for a whole request; shorten its text fields or raise max_chunk_bytes"
        )
        self.size = size
        self.max_bytes = max_bytes


class Chunker:
    """Accumulates encoded records per entity and hands out full chunks.

    ```python
    chunker = Chunker(max_records=500, max_bytes=1 << 20)
    for ref, encoded in records:
        for chunk in chunker.add("building", 2, ref, encoded):
            send(chunk)
    for chunk in chunker.flush():
        send(chunk)
    ```
    """

    def __init__(self, *, max_records: int, max_bytes: int) -> None:
        if max_records < 1:
            raise ValueError("chunk_size must be at least 1")
        if max_bytes < 3:
            raise ValueError("max_chunk_bytes must leave room for at least one record")
        self.max_records = max_records
        self.max_bytes = max_bytes
        self._open: dict[str, Chunk] = {}
        self._seq = 0

    def next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def add(self, entity: str, level: int, ref: RecordRef, encoded: bytes) -> list[Chunk]:
        """Add one record; return the chunks this closed (zero, one, or two).

        Raises:
            RecordTooLargeError: the record alone does not fit in ``max_bytes``.
        """
        size = len(encoded)
        max_bytes = self.max_bytes
        if size + 2 > max_bytes:
            raise RecordTooLargeError(size, max_bytes)
        closed: list[Chunk] = []
        chunk = self._open.get(entity)
        if chunk is not None and chunk.size + 1 + size > max_bytes:
            closed.append(self._open.pop(entity))
            chunk = None
        if chunk is None:
            chunk = self._open[entity] = Chunk(self.next_seq(), entity, level)
            chunk.size += size
        else:
            chunk.size += size + 1
        parts = chunk.parts
        parts.append(encoded)
        chunk.refs.append(ref)
        if len(parts) >= self.max_records:
            closed.append(self._open.pop(entity))
        return closed

    def flush(self) -> list[Chunk]:
        """Close every open chunk, parents' entities first."""
        chunks = sorted(self._open.values(), key=lambda c: (c.level, c.seq))
        self._open.clear()
        return chunks

    def shrink(self, *, max_records: int, max_bytes: int) -> None:
        """Lower the limits for every chunk closed from now on (learned from a 413)."""
        self.max_records = max(1, min(self.max_records, max_records))
        self.max_bytes = max(3, min(self.max_bytes, max_bytes))

    @property
    def buffered(self) -> int:
        """Records waiting in open chunks."""
        return sum(len(c) for c in self._open.values())
