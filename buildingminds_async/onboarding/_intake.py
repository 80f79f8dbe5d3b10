"""The first stage: source -> validated, encoded records -> chunks -> the queue.

Each record is taken once: skipped when an earlier run's journal accounts for it,
validated into its model (an invalid one is reported with its source and never sent),
encoded once, and cut into chunks per entity by count and by bytes. Closed chunks wait in
an outbox until the bounded queue takes them, so the intake (and the reading) pauses when
the pushers are behind, and a deadline striking while the queue is full loses no chunk.

A blocking source (a file reader, a decompressor) is read off the event loop with
``read_in_thread``; a plain iterable is read on the loop, with a checkpoint every few
records so that a long in-memory list does not starve the other tasks.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from typing import Any, Generic, TypeVar

import anyio.lowlevel

from .._errors import RecordValidationError
from .._validation import EntityResolver, external_id_of, validate_record
from ..models import EntityModel
from ._chunking import Chunk, Chunker, RecordRef, RecordTooLargeError
from ._queue import ChunkQueue
from ._report import SourceRecord
from ._run_journal import RunJournal
from ._tally import Tally

T = TypeVar("T")
Source = Iterator[Any] | AsyncIterator[Any]

_CHECKPOINT_EVERY = 32


class Intake:
    """Takes every record of a source and hands its chunks to the queue."""

    def __init__(
        self,
        *,
        entity: str | None,
        chunker: Chunker,
        queue: ChunkQueue,
        tally: Tally,
        journal: RunJournal,
    ) -> None:
        self._entity = entity
        self._chunker = chunker
        self._queue = queue
        self._tally = tally
        self._journal = journal
        self._resolve = EntityResolver()
        self._outbox: deque[Chunk] = deque()
        self._position = 0

    async def run(self, source: Source) -> None:
        """Take the whole source, then flush the open chunks; the queue closes after it."""
        try:
            await self.take_all(source)
            self._outbox.extend(self._chunker.flush())
            await self._send_outbox()
        finally:
            self._queue.close()

    async def take_all(self, source: Source) -> None:
        """Take every record of ``source``. After a stop, taking a record only counts it as
        not sent: that is how the input left at a deadline is accounted for."""
        if isinstance(source, AsyncIterator):
            async for item in source:
                await self._take(item)
        else:
            for item in source:
                await self._take(item)
                if self._position % _CHECKPOINT_EVERY == 0:
                    await anyio.lowlevel.checkpoint()

    def unsent(self) -> list[Chunk]:
        """The chunks not handed to a pusher yet (the deadline takes them back)."""
        chunks = [*self._outbox, *self._queue.drain(), *self._chunker.flush()]
        self._outbox.clear()
        return chunks

    async def _send_outbox(self) -> None:
        while self._outbox:
            await self._queue.put(self._outbox[0])
            self._outbox.popleft()

    async def _take(self, item: Any) -> None:
        index = self._position
        self._position += 1
        if isinstance(item, SourceRecord):
            data, file, line, entity = item.data, item.file, item.line, item.entity
            if item.index is not None:
                index = item.index
        else:
            data, file, line, entity = item, None, None, None
        tally = self._tally
        if self._journal.is_done(index, file, line):
            tally.skipped += 1
            return
        tally.read += 1
        if tally.stopped_reason is not None:
            # After a stop the rest is only counted, not validated: it is sent next time.
            tally.record_not_sent(1)
            return
        spec = None
        try:
            spec = self._resolve(data, entity or self._entity)
            model = validate_record(spec, data, index, quiet_enums=True)
        except RecordValidationError as exc:
            ref = RecordRef(index, external_id_of(data, spec), file, line)
            self._invalid(ref, exc.entity, exc.reason, exc.field, data)
            return
        ref = RecordRef(index, model.external_id, file, line)
        try:
            closed = self._chunker.add(spec.name, spec.level, ref, model.to_json())
        except RecordTooLargeError as exc:
            self._invalid(ref, spec.name, str(exc), None, data, status="TooLarge")
            return
        if closed:
            self._outbox.extend(closed)
            await self._send_outbox()

    def _invalid(
        self,
        ref: RecordRef,
        entity: str | None,
        reason: str,
        field: str | None,
        data: Any,
        *,
        status: str = "Invalid",
    ) -> None:
        self._tally.record_invalid(
            ref, entity, reason, field=field, record=as_plain(data), status=status
        )
        self._journal.mark_done([ref], invalid=1)


def as_plain(data: Any) -> Any:
    """A record as plain JSON values where it is a model or a mapping (a failure's ``record``)."""
    if isinstance(data, EntityModel):
        return data.to_wire()
    if isinstance(data, Mapping):
        return dict(data)
    return data


class read_in_thread(Generic[T]):
    """An async iterator over a blocking iterable, read in blocks in a worker thread.

    ```python
    await client.onboard(read_in_thread(rows_from_a_slow_file()))
    ```

    A block ends after ``block`` items or ``max_delay`` seconds, whichever comes first, so
    a trickling source (a pipe) is not held back. Closing it waits for a block being read,
    then closes the iterable (a generator's ``finally`` runs). The iterable is advanced by
    one thread at a time, but not always the same one: a source tied to its thread (a
    sqlite3 cursor) must be read on the loop instead.
    """

    def __init__(self, iterable: Iterable[T], *, block: int = 256, max_delay: float = 0.05):
        self._source = iterable
        self._it = iter(iterable)
        self._block = block
        self._max_delay = max_delay
        self._buffer: deque[T] = deque()
        self._exhausted = False
        self._error: Exception | None = None
        self._reading: asyncio.Future[list[T]] | None = None

    def __aiter__(self) -> read_in_thread[T]:
        return self

    async def __anext__(self) -> T:
        while not self._buffer:
            if self._exhausted:
                if self._error is not None:
                    error, self._error = self._error, None
                    raise error
                raise StopAsyncIteration
            if self._reading is None:
                loop = asyncio.get_running_loop()
                # The loop's own executor: the loop then knows work is pending (fake-clock
                # test loops rely on that).
                self._reading = loop.run_in_executor(None, self._read_block)
            # Shielded: a cancelled reader must not leave the thread inside the iterable
            # while aclose() closes it.
            reading = self._reading
            block = await asyncio.shield(reading)
            self._reading = None
            self._buffer.extend(block)
        return self._buffer.popleft()

    def _read_block(self) -> list[T]:
        block: list[T] = []
        until = time.monotonic() + self._max_delay
        try:
            for item in self._it:
                block.append(item)
                if len(block) >= self._block or time.monotonic() >= until:
                    return block
        except Exception as exc:  # noqa: BLE001 (raised once the records before it are taken)
            self._error = exc
        self._exhausted = True
        return block

    async def aclose(self) -> None:
        """Wait for a block being read, then close the iterable."""
        if self._reading is not None:
            await self._reading  # _read_block keeps its errors; this never raises them
            self._reading = None
        close = getattr(self._it, "close", None)
        if close is not None:
            close()
