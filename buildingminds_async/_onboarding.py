"""``onboard()``: push any number of records as fast as the server allows, account for each.

```
records ─ reader: validate, encode once, chunk per entity ─▶ bounded priority queue
        ─▶ pushers (concurrency), through one RateGate ─▶ Batch IDs ─▶ one BatchPoller
        ─▶ each record's final status, mapped back to its source ─▶ OnboardingReport
```

Every stage is bounded, so memory stays flat whatever the input size: the reader blocks
when the queue is full, and the pushers block when too many records await their final
status. The queue hands out parents' chunks before children's (address, site, building,
...); ``strict_order`` also waits for the parents' batches to finish first.

Each input record ends in exactly one of: ``completed``, ``failed`` (a final failure status,
or a request the server rejected), ``invalid`` (never sent) or ``pending`` (still processing
at the deadline, or not accepted because the run had to stop). The counts add up to the
input, and every failed or invalid record is in ``failures`` with its source and reason.

This is the only module that starts tasks; they all live in one task group, and callers
get one SDK exception, never an ``ExceptionGroup``.
"""

from __future__ import annotations

import heapq
import json
import logging
import math
import warnings
from collections import Counter, deque
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import anyio.lowlevel
from pydantic import ValidationError

from ._chunking import Chunk, Chunker, RecordRef, RecordTooLargeError
from ._client import read_batch_id
from ._config import (
    DEFAULT_CHUNK_SIZE,
    DEFAULT_CONCURRENCY,
    DEFAULT_MAX_CHUNK_BYTES,
    DEFAULT_ONBOARD_TIMEOUT,
)
from ._errors import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    AuthenticationError,
    BuildingMindsError,
    ConfigurationError,
    CredentialsError,
    PayloadTooLargeError,
    RateLimitError,
    first_error,
)
from ._polling import BatchPoller, BatchResult
from ._ratelimit import RateGate
from ._retry import RetryBudget, RetryPolicy, is_retryable
from .models import (
    EntityModel,
    EntitySpec,
    InboundMessage,
    UnknownEnumValueWarning,
    entity_for_event_type,
    entity_spec,
    status_outcome,
)

if TYPE_CHECKING:
    from ._client import AsyncClient
    from ._journal import Journal

logger = logging.getLogger("buildingminds_async.onboarding")

# How many chunks may wait for a pusher: enough to keep every pusher busy and to let
# parents' chunks overtake children's, small enough to bound memory.
_QUEUE_CHUNKS_PER_PUSHER = 2
# Records accepted by the API but without a final status yet: beyond this the pushers
# wait for the poller, so that a slow server cannot make the run hold the whole input.
DEFAULT_MAX_PENDING_RECORDS = 25_000
# Attempts per chunk on 5xx and network errors (the run-wide budget bounds them too).
DEFAULT_MAX_ATTEMPTS = 6
_PROGRESS_INTERVAL = 0.25


class RecordValidationError(BuildingMindsError, ValueError):
    """A record does not match its entity's model (nothing was sent).

    ``entity``, ``index`` (position in the input), ``field`` (wire name of the first field
    at fault) and ``errors`` (pydantic's list) say where.
    """

    def __init__(
        self, message: str, *, entity: str | None, index: int, field: str | None, errors: list[Any]
    ) -> None:
        super().__init__(message)
        self.entity = entity
        self.index = index
        self.field = field
        self.errors = errors


@dataclass(frozen=True, slots=True)
class SourceRecord:
    """A record and where it came from; file readers yield these so errors name the line.

    ``(file, line)`` identifies the record in a resume journal (the input position does
    when there is no file), so a reader must give each record of a file its own line
    number: for a JSON array, the element's position is a fine "line".
    """

    data: Mapping[str, Any] | EntityModel
    file: str | None = None
    line: int | None = None
    entity: str | None = None


@dataclass(frozen=True, slots=True)
class RecordFailure:
    """One record that did not make it, and why.

    ``status`` is the server's final status (``FailedValidation``, ``FailedGeoCoding``,
    ...), ``Rejected`` when the server refused the whole request (4xx), ``Invalid`` when
    the record failed local validation, or ``TooLarge`` when it cannot fit any request.
    ``record`` is the record as given (invalid) or as sent (failed), for a reject file.
    """

    entity: str | None
    external_id: str | None
    source: str
    index: int
    file: str | None
    line: int | None
    status: str
    reason: str
    batch_id: str | None = None
    field: str | None = None
    record: Any = None

    def __str__(self) -> str:
        who = f"{self.entity or 'record'} {self.external_id}" if self.external_id else "record"
        batch = f" (batch {self.batch_id})" if self.batch_id else ""
        return f"{self.source}: {who} {self.status}: {self.reason}{batch}"


@dataclass(frozen=True, slots=True)
class RunStatistics:
    """How the run went on the wire."""

    requests: int
    """HTTP requests of the run: pushes, polls and reconciliation reads."""
    pushes: int
    polls: int
    retries: int
    """Requests repeated after a 429, 5xx or network error."""
    resent: int
    """Chunks sent again after an attempt the server may have processed."""
    rate_limited: int
    """429 answers."""
    splits: int
    """Chunks halved after a 413."""
    reconciled: int
    """Pushes whose response was lost but whose batch was found on the server (not re-sent)."""
    duration: float
    cooldown: float
    """Seconds all pushers were paused by Retry-After."""
    final_rate: float | None
    """Requests per second the rate gate ended at (None: never throttled, unpaced)."""


@dataclass(frozen=True, slots=True)
class Progress:
    """Counts as the run advances (passed to ``on_progress``)."""

    read: int
    invalid: int
    accepted: int
    """Records in batches the API accepted."""
    completed: int
    failed: int
    pending: int
    """Records accepted but without a final status yet."""
    open_batches: int
    requests: int
    retries: int
    rate_limited: int
    rate: float | None
    elapsed: float
    finished: bool


ProgressCallback = Callable[[Progress], None]
FailureCallback = Callable[[RecordFailure], None]


@dataclass(frozen=True, slots=True)
class OnboardingReport:
    """The outcome of ``onboard()``: every input record is counted exactly once.

    ``submitted = completed + failed + pending`` are the valid records; ``invalid`` were
    never sent; together they are the whole input. ``pending`` includes ``not_sent``
    (never accepted because the run stopped, see ``stopped_reason``) and ``blocked``
    (parked by the platform until a parent record exists).
    """

    submitted: int
    completed: int
    failed: int
    invalid: int
    pending: int
    not_sent: int
    blocked: int
    failures: tuple[RecordFailure, ...]
    batch_ids: tuple[str, ...]
    stats: RunStatistics
    stopped_reason: str | None = None
    resumed: int = 0
    """Records already accounted for by the journal of an earlier run."""

    @property
    def total(self) -> int:
        return self.submitted + self.invalid

    @property
    def ok(self) -> bool:
        """Everything completed: nothing failed, invalid or still pending."""
        return self.failed == 0 and self.invalid == 0 and self.pending == 0

    def summary(self) -> dict[str, Any]:
        """The counts as one flat dict (the CLI's ``--json`` keys)."""
        return {
            "submitted": self.submitted,
            "completed": self.completed,
            "failed": self.failed,
            "invalid": self.invalid,
            "pending": self.pending,
            "not_sent": self.not_sent,
            "blocked": self.blocked,
            "requests": self.stats.requests,
            "retries": self.stats.retries,
            "resent": self.stats.resent,
            "rate_limited": self.stats.rate_limited,
            "reconciled": self.stats.reconciled,
            "batches": len(self.batch_ids),
            "duration_s": round(self.stats.duration, 3),
            "stopped_reason": self.stopped_reason,
        }

    def __str__(self) -> str:
        lines = [
            f"{self.total:,} records: {self.completed:,} completed, {self.failed:,} failed, "
            f"{self.invalid:,} invalid, {self.pending:,} pending "
            f"in {len(self.batch_ids):,} batches ({self.stats.duration:.1f} s)",
        ]
        if self.stopped_reason:
            lines.append(f"stopped early: {self.stopped_reason}")
        lines.extend(f"  {failure}" for failure in self.failures[:10])
        if len(self.failures) > 10:
            lines.append(f"  ... and {len(self.failures) - 10:,} more")
        return "\n".join(lines)


def _field_of(error: Mapping[str, Any]) -> str | None:
    loc = error.get("loc") or ()
    return ".".join(str(part) for part in loc) or None


def describe_validation_error(exc: ValidationError, *, limit: int = 3) -> tuple[str | None, str]:
    """(first field at fault, a one-line message naming up to ``limit`` problems)."""
    errors = exc.errors(include_url=False, include_input=False)
    parts = []
    for error in errors[:limit]:
        where = _field_of(error)
        parts.append(f"{where}: {error['msg']}" if where else str(error["msg"]))
    more = f" (+{len(errors) - limit} more)" if len(errors) > limit else ""
    return (_field_of(errors[0]) if errors else None), "; ".join(parts) + more


def _resolve_spec(data: Any, entity: str | None) -> EntitySpec:
    """The entity of one record: ``entity=``, else the model's, else the ``eventType``."""
    if isinstance(data, EntityModel):
        spec = entity_spec(data.ENTITY)
        if entity is not None and entity_spec(entity).name != spec.name:
            raise ValueError(f"the record is a {type(data).__name__} but entity={entity!r}")
        return spec
    if entity is not None:
        return entity_spec(entity)
    event_type = data.get("eventType") if isinstance(data, Mapping) else None
    if isinstance(event_type, str):
        found = entity_for_event_type(event_type)
        if found is not None:
            return found
        raise ValueError(
            f"eventType {event_type!r} names no known entity; use e.g. BuildingAdded, "
            f"SiteUpdated, FloorDeleted"
        )
    raise ValueError(
        "cannot tell which entity this record is: pass entity=..., or give it an eventType "
        "such as BuildingAdded"
    )


def validate_record(spec: EntitySpec, record: Any, index: int) -> EntityModel:
    """``record`` as a validated model of ``spec`` (``push()`` uses this).

    Raises:
        RecordValidationError: naming the entity, the position and the field at fault.
    """
    if isinstance(record, spec.model):
        return record
    if isinstance(record, EntityModel):
        raise RecordValidationError(
            f"record #{index} is a {type(record).__name__}, not a {spec.model.__name__}",
            entity=spec.name,
            index=index,
            field=None,
            errors=[],
        )
    try:
        return spec.model.model_validate(record)
    except ValidationError as exc:
        field_, message = describe_validation_error(exc)
        raise RecordValidationError(
            f"{spec.name} record #{index} is invalid: {message}",
            entity=spec.name,
            index=index,
            field=field_,
            errors=exc.errors(include_url=False),
        ) from None


def _as_plain(data: Any) -> Any:
    if isinstance(data, EntityModel):
        return data.to_wire()
    if isinstance(data, Mapping):
        return dict(data)
    return data


class _ChunkQueue:
    """A bounded queue that hands out parents' chunks first (lowest level, then order)."""

    def __init__(self, capacity: int) -> None:
        self._heap: list[tuple[int, int, Chunk]] = []
        self._capacity = capacity
        self._closed = False
        self._changed = anyio.Event()

    def __len__(self) -> int:
        return len(self._heap)

    def _notify(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()

    async def put(self, chunk: Chunk) -> None:
        while len(self._heap) >= self._capacity:
            await self._changed.wait()
        self.put_nowait(chunk)

    def put_nowait(self, chunk: Chunk) -> None:
        heapq.heappush(self._heap, (chunk.level, chunk.seq, chunk))
        self._notify()

    async def get(self) -> Chunk | None:
        """The next chunk, or None once the queue is closed and empty."""
        while not self._heap:
            if self._closed:
                return None
            await self._changed.wait()
        chunk = heapq.heappop(self._heap)[2]
        self._notify()
        return chunk

    def close(self) -> None:
        self._closed = True
        self._notify()

    def drain(self) -> list[Chunk]:
        chunks = [item[2] for item in sorted(self._heap)]
        self._heap.clear()
        self._notify()
        return chunks


@dataclass(slots=True)
class _Settings:
    entity: str | None
    chunk_size: int
    max_chunk_bytes: int
    concurrency: int
    rate: float | None
    wait: bool
    timeout: float
    strict_order: bool
    max_pending_records: int
    max_attempts: int


@dataclass(slots=True)
class _Counts:
    read: int = 0
    invalid: int = 0
    accepted: int = 0
    completed: int = 0
    failed: int = 0
    pending: int = 0
    not_sent: int = 0
    blocked: int = 0
    pushes: int = 0
    polls: int = 0
    retries: int = 0
    resent: int = 0
    rate_limited: int = 0
    splits: int = 0
    reconciled: int = 0
    reads: int = 0


@dataclass(slots=True)
class _Open:
    """A chunk the API accepted, waiting for its batch to finish."""

    chunk: Chunk
    batch_id: str


class _Run:
    def __init__(
        self,
        client: AsyncClient,
        settings: _Settings,
        *,
        on_progress: ProgressCallback | None,
        on_failure: FailureCallback | None,
        journal: Journal | None,
    ) -> None:
        self.client = client
        self.settings = settings
        self.clock = client._clock
        self.sleep = client._sleep
        self.on_progress = on_progress
        self.on_failure = on_failure
        self.journal = journal
        self.chunker = Chunker(max_records=settings.chunk_size, max_bytes=settings.max_chunk_bytes)
        self.queue = _ChunkQueue(max(settings.concurrency * _QUEUE_CHUNKS_PER_PUSHER, 2))
        self.gate = RateGate(
            max_in_flight=settings.concurrency + 1,
            rate=settings.rate,
            clock=self.clock,
            sleep=self.sleep,
        )
        self.policy = RetryPolicy(
            max_attempts=settings.max_attempts, base_delay=0.5, max_delay=30.0
        )
        self.budget = RetryBudget()
        self.poller = BatchPoller(self._fetch_result, clock=self.clock)
        self.counts = _Counts()
        self.failures: list[RecordFailure] = []
        self.batch_ids: list[str] = []
        self.known_batches: set[str] = set()
        self.open: dict[str, _Open] = {}
        self.outbox: deque[Chunk] = deque()
        self.taken: dict[int, Chunk] = {}
        self.unsent_reasons: Counter[str] = Counter()
        self.skipped = 0
        self.position = 0
        self.specs: dict[tuple[bool, str], EntitySpec] = {}
        self.model_specs: dict[tuple[type[EntityModel], str | None], EntitySpec] = {}
        self.stopped_reason: str | None = None
        self.started = 0.0
        self.last_progress = float("-inf")
        self.pending_space = anyio.Event()
        self.settled = anyio.Event()
        self.busy: Counter[int] = Counter()
        self.pushers_left = settings.concurrency

    # -- bookkeeping ----------------------------------------------------------------------

    def fail(
        self, ref: RecordRef, entity: str | None, status: str, reason: str, **extra: Any
    ) -> None:
        failure = RecordFailure(
            entity=entity,
            external_id=ref.external_id or None,
            source=ref.source,
            index=ref.index,
            file=ref.file,
            line=ref.line,
            status=status,
            reason=reason,
            **extra,
        )
        self.failures.append(failure)
        if self.on_failure is not None:
            self.on_failure(failure)

    def progress(self, *, finished: bool = False) -> None:
        if self.on_progress is None:
            return
        now = self.clock()
        if not finished and now - self.last_progress < _PROGRESS_INTERVAL:
            return
        self.last_progress = now
        c = self.counts
        self.on_progress(
            Progress(
                read=c.read,
                invalid=c.invalid,
                accepted=c.accepted,
                completed=c.completed,
                failed=c.failed,
                pending=c.pending,
                open_batches=len(self.open),
                requests=c.pushes + c.polls + c.reads,
                retries=c.retries,
                rate_limited=c.rate_limited,
                rate=self.gate.rate,
                elapsed=now - self.started,
                finished=finished,
            )
        )

    def stop(self, reason: str) -> None:
        if self.stopped_reason is None:
            self.stopped_reason = reason
            logger.warning("onboarding stops sending: %s", reason)

    # -- reading ------------------------------------------------------------------------

    async def read(self, records: Iterator[Any] | AsyncIterator[Any]) -> None:
        try:
            await self.take_all(records)
            self.outbox.extend(self.chunker.flush())
            await self._send_outbox()
        finally:
            self.queue.close()

    async def _send_outbox(self) -> None:
        # A closed chunk stays in the outbox until the queue took it, so that a deadline
        # striking while the queue is full cannot lose it.
        while self.outbox:
            await self.queue.put(self.outbox[0])
            self.outbox.popleft()

    async def _take(self, item: Any) -> None:
        index = self.position
        self.position += 1
        if isinstance(item, SourceRecord):
            data, file, line, entity = item.data, item.file, item.line, item.entity
        else:
            data, file, line, entity = item, None, None, None
        if self.journal is not None and self.journal.is_done(index, file, line):
            self.skipped += 1
            return
        self.counts.read += 1
        if self.stopped_reason is not None:
            # After a stop the rest is only counted, not validated: it is sent next time.
            self.counts.not_sent += 1
            self.counts.pending += 1
            return
        try:
            spec = self._spec_of(data, entity or self.settings.entity)
        except (KeyError, ValueError) as exc:
            reason = exc.args[0] if exc.args else str(exc)
            self._invalid(
                RecordRef(index, _raw_id(data, None), file, line), entity, reason, None, data
            )
            return
        try:
            model = data if isinstance(data, spec.model) else _validate(spec, data)
        except ValidationError as exc:
            field_, message = describe_validation_error(exc)
            ref = RecordRef(index, _raw_id(data, spec), file, line)
            self._invalid(ref, spec.name, message, field_, data)
            return
        ref = RecordRef(index, model.external_id, file, line)
        try:
            closed = self.chunker.add(spec.name, spec.level, ref, model.to_json())
        except RecordTooLargeError as exc:
            self._invalid(ref, spec.name, str(exc), None, data, status="TooLarge")
            return
        if closed:
            self.outbox.extend(closed)
            await self._send_outbox()

    def _spec_of(self, data: Any, entity: str | None) -> EntitySpec:
        """The entity of a record, with the lookups of names and event types cached."""
        if isinstance(data, EntityModel):
            # A model names its entity; entity= must agree (checked once per pair).
            model_key = (type(data), entity)
            if (spec := self.model_specs.get(model_key)) is None:
                spec = self.model_specs[model_key] = _resolve_spec(data, entity)
            return spec
        key = (
            entity
            if entity is not None
            else data.get("eventType")
            if isinstance(data, Mapping)
            else None
        )
        if isinstance(key, str) and (spec := self.specs.get((entity is None, key))) is not None:
            return spec
        spec = _resolve_spec(data, entity)
        if isinstance(key, str):
            self.specs[(entity is None, key)] = spec
        return spec

    def _invalid(
        self,
        ref: RecordRef,
        entity: str | None,
        reason: str,
        field_: str | None,
        data: Any,
        *,
        status: str = "Invalid",
    ) -> None:
        self.counts.invalid += 1
        self.fail(ref, entity, status, reason, field=field_, record=_as_plain(data))
        if self.journal is not None:
            self.journal.mark_done([ref], invalid=1)
        self.progress()

    # -- pushing ------------------------------------------------------------------------

    async def push_loop(self) -> None:
        try:
            while (chunk := await self.queue.get()) is not None:
                if self.stopped_reason is not None:
                    self._not_sent(chunk, self.stopped_reason)
                    continue
                self.taken[chunk.seq] = chunk
                self.busy[chunk.level] += 1
                try:
                    await self._wait_turn(chunk)
                    await self._push(chunk)
                finally:
                    self.busy[chunk.level] -= 1
                    self._signal_settled()
        finally:
            self.pushers_left -= 1
            if self.pushers_left == 0:
                self.poller.close()

    async def _wait_turn(self, chunk: Chunk) -> None:
        # Bound the records awaiting a final status, and in strict order wait until no
        # chunk or batch of a lower level (a parent entity) is still in progress.
        while True:
            event = self.settled
            too_many = (
                self.settings.wait and self.counts.pending >= self.settings.max_pending_records
            )
            parents_busy = self.settings.strict_order and any(
                n > 0 for level, n in self._busy_levels().items() if level < chunk.level
            )
            if not (too_many or parents_busy):
                return
            await event.wait()

    def _busy_levels(self) -> Counter[int]:
        busy = Counter({level: n for level, n in self.busy.items() if n})
        for entry in self.open.values():
            busy[entry.chunk.level] += 1
        return busy

    def _signal_settled(self) -> None:
        self.settled.set()
        self.settled = anyio.Event()

    async def _push(self, chunk: Chunk) -> None:
        spec = entity_spec(chunk.entity)
        delays = self.policy.delays()
        attempts = 0
        maybe_stored = False
        if self.journal is not None:
            await self.journal.intend(chunk, datetime.now(UTC))
        while True:
            if self.stopped_reason is not None:
                self._not_sent(chunk, self.stopped_reason, maybe_stored=maybe_stored)
                return
            sent_at = datetime.now(UTC)
            if maybe_stored:
                self.counts.resent += 1
            granted = None
            try:
                async with self.gate.turn() as granted:
                    self.counts.pushes += 1
                    response = await self.client.request("POST", spec.path, content=chunk.body())
                batch_id = read_batch_id(response)
            except RateLimitError as exc:
                self.counts.rate_limited += 1
                self.counts.retries += 1
                self.gate.record_throttle(exc.retry_after, sent_at=granted)
                continue
            except (CredentialsError, AuthenticationError):
                # Refused before or by the API: nothing was stored, nothing is in doubt.
                if self.journal is not None:
                    self.journal.unsent(chunk)
                raise
            except APIResponseValidationError as exc:
                # Accepted (2xx) but the Batch ID is unreadable: look for the batch.
                self.gate.record_success()
                found = await self._reconcile(chunk, sent_at)
                if found is not None:
                    self._accept(chunk, found)
                else:
                    self._reject(chunk, "Unreadable", str(exc))
                return
            except PayloadTooLargeError as exc:
                self.gate.record_success()
                self._split(chunk, exc)
                return
            except APIStatusError as exc:
                self.gate.record_success()
                if not is_retryable(exc):
                    self._reject(chunk, "Rejected", f"{exc.status_code} {exc.message}")
                    return
                attempts += 1
                if not await self._backoff(chunk, exc, delays, attempts, maybe_stored):
                    return
                continue
            except APIConnectionError as exc:
                if exc.maybe_sent:
                    found = await self._reconcile(chunk, sent_at)
                    if found is not None:
                        self._accept(chunk, found)
                        return
                    maybe_stored = True
                attempts += 1
                if not await self._backoff(chunk, exc, delays, attempts, maybe_stored):
                    return
                continue
            self.gate.record_success(sent_at=granted)
            self.budget.refund()
            self._accept(chunk, batch_id)
            return

    async def _backoff(
        self,
        chunk: Chunk,
        exc: BuildingMindsError,
        delays: Iterator[float],
        attempts: int,
        maybe_stored: bool,
    ) -> bool:
        """Sleep before a retry; False (chunk counted as not sent) when retrying must stop."""
        if attempts >= self.policy.max_attempts:
            self._not_sent(
                chunk, f"gave up after {attempts} attempts: {exc}", maybe_stored=maybe_stored
            )
            return False
        if not self.budget.try_spend(exc):
            self.stop(
                f"the run's retry budget is spent (the service keeps failing; last error: {exc})"
            )
            self._not_sent(chunk, f"retry budget spent: {exc}", maybe_stored=maybe_stored)
            return False
        self.counts.retries += 1
        delay = self.policy.delay_for(exc, next(delays))
        logger.info(
            "push of %d %s records failed (%s); retry in %.2f s",
            len(chunk),
            chunk.entity,
            exc,
            delay,
        )
        await self.sleep(delay)
        return True

    def _split(self, chunk: Chunk, exc: PayloadTooLargeError) -> None:
        if len(chunk) == 1:
            self._reject(
                chunk,
                "TooLarge",
                f"the server refused this record alone as too large ({exc.message})",
            )
            return
        self.counts.splits += 1
        self.taken.pop(chunk.seq, None)
        if self.journal is not None:
            self.journal.unsent(chunk)
        self.chunker.shrink(max_records=len(chunk) // 2, max_bytes=chunk.size // 2 + 1)
        first, second = chunk.split(self.chunker.next_seq())
        logger.info(
            "413 for %d %s records (%d bytes); splitting, and sending at most %d records "
            "/ %d bytes from now on",
            len(chunk),
            chunk.entity,
            chunk.size,
            self.chunker.max_records,
            self.chunker.max_bytes,
        )
        self.queue.put_nowait(first)
        self.queue.put_nowait(second)

    def _reject(self, chunk: Chunk, status: str, reason: str) -> None:
        """The server refused the whole request: its records failed, the run goes on."""
        self.taken.pop(chunk.seq, None)
        for position, ref in enumerate(chunk.refs):
            record = _decode(chunk.parts[position]) if chunk.parts else None
            self.fail(ref, chunk.entity, status, reason, record=record)
        self.counts.failed += len(chunk)
        if self.journal is not None:
            self.journal.mark_done(chunk.refs, failed=len(chunk))
        self.progress()

    def _not_sent(self, chunk: Chunk, reason: str, *, maybe_stored: bool = False) -> None:
        """The chunk was not accepted and the run will not try again: its records are pending.

        When an attempt may have been stored, the journal keeps the chunk in doubt so that
        a resumed run checks the server before sending it again.
        """
        self.taken.pop(chunk.seq, None)
        self.counts.not_sent += len(chunk)
        self.counts.pending += len(chunk)
        self.unsent_reasons[reason] += len(chunk)
        if self.journal is not None and not maybe_stored:
            self.journal.unsent(chunk)
        self.progress()

    def _accept(self, chunk: Chunk, batch_id: str) -> None:
        self.taken.pop(chunk.seq, None)
        self.batch_ids.append(batch_id)
        self.known_batches.add(batch_id)
        self.counts.accepted += len(chunk)
        self.counts.pending += len(chunk)
        logger.info("batch %s accepted: %d %s records", batch_id, len(chunk), chunk.entity)
        if self.journal is not None:
            self.journal.accepted(chunk, batch_id)
        if self.settings.wait:
            self.open[batch_id] = _Open(chunk, batch_id)
            self.poller.watch(batch_id, expected=len(chunk), on_done=self._on_done)
        self.progress()

    # -- reconciliation -----------------------------------------------------------------

    async def _reconcile(self, chunk: Chunk, sent_at: datetime) -> str | None:
        """After an ambiguous failure, look for a batch holding exactly this chunk's records."""
        from ._reconcile import find_batch

        try:
            found = await find_batch(
                chunk,
                sent_at=sent_at,
                exclude=self.known_batches,
                request=self._gated_request,
            )
        except (CredentialsError, AuthenticationError):
            raise
        except BuildingMindsError as exc:
            logger.info(
                "could not check whether the lost push was stored (%s); sending it again", exc
            )
            return None
        if found is not None:
            self.counts.reconciled += 1
            logger.info(
                "the lost push of %d %s records was stored as batch %s",
                len(chunk),
                chunk.entity,
                found,
            )
        return found

    async def _gated_request(self, path: str, params: dict[str, str | int | bool]) -> Any:
        while True:
            granted = None
            try:
                async with self.gate.turn() as granted:
                    self.counts.reads += 1
                    response = await self.client.request("GET", path, params=params)
            except RateLimitError as exc:
                self.counts.rate_limited += 1
                self.gate.record_throttle(exc.retry_after, sent_at=granted)
                continue
            self.gate.record_success(sent_at=granted)
            return response.json()

    # -- polling ------------------------------------------------------------------------

    async def _fetch_result(self, batch_id: str, expected: int | None) -> BatchResult:
        while True:
            granted = None
            try:
                async with self.gate.turn() as granted:
                    self.counts.polls += 1
                    result = await self.client.batches.result(
                        batch_id, expected, max_retries=0, keep_unknown_fields=False
                    )
            except RateLimitError as exc:
                self.counts.rate_limited += 1
                self.gate.record_throttle(exc.retry_after, sent_at=granted)
                continue
            self.gate.record_success(sent_at=granted)
            return result

    async def _on_done(self, result: BatchResult) -> None:
        entry = self.open.pop(result.batch_id, None)
        if entry is None:
            return
        completed, failed = self._settle(entry, result, final=True)
        if self.journal is not None:
            self.journal.finished(entry.batch_id, entry.chunk, completed=completed, failed=failed)
        self._signal_settled()
        self.progress()

    def _settle(self, entry: _Open, result: BatchResult | None, *, final: bool) -> tuple[int, int]:
        """Count each record of ``entry`` by its status in ``result``: (completed, failed)."""
        chunk = entry.chunk
        statuses = _match(chunk, result)
        completed = failed = 0
        for position, ref in enumerate(chunk.refs):
            message = statuses.get(position)
            outcome = status_outcome(message.status) if message is not None else "pending"
            if outcome == "success":
                completed += 1
            elif outcome == "failure":
                assert message is not None  # noqa: S101
                failed += 1
                reason = message.error or f"the platform reported {message.status}"
                record = _decode(chunk.parts[position]) if chunk.parts else None
                self.fail(
                    ref,
                    chunk.entity,
                    message.status,
                    reason,
                    batch_id=entry.batch_id,
                    record=record,
                )
            elif not final and message is not None and message.missing_dependencies:
                self.counts.blocked += 1
        self.counts.completed += completed
        self.counts.failed += failed
        self.counts.pending -= completed + failed
        return completed, failed

    # -- the end ------------------------------------------------------------------------

    def finish_open(self) -> None:
        """At the deadline: count what the last polls saw; the rest stays pending."""
        last = dict(self.poller.open_results())
        for batch_id, entry in list(self.open.items()):
            self._settle(entry, last.get(batch_id), final=False)
        self.open.clear()

    def stop_at_deadline(self, timeout: float) -> None:
        """Count everything the deadline caught in flight, queued or buffered as not sent."""
        reason = f"the deadline of {timeout:g} s passed"
        self.stop(reason)
        for chunk in list(self.taken.values()):
            # It may have reached the server: the journal keeps it in doubt.
            self._not_sent(chunk, reason, maybe_stored=True)
        for chunk in [*self.outbox, *self.queue.drain(), *self.chunker.flush()]:
            self._not_sent(chunk, reason)
        self.outbox.clear()
        self.finish_open()

    async def take_all(self, records: Iterator[Any] | AsyncIterator[Any]) -> None:
        """Take every record of ``records``; after a stop, taking a record only counts it
        as pending and not sent (that is how the input left at the deadline is counted)."""
        if isinstance(records, AsyncIterator):
            async for item in records:
                await self._take(item)
        else:
            for item in records:
                await self._take(item)
                if self.position % 32 == 0:
                    await anyio.lowlevel.checkpoint()

    def report(self, carried: Mapping[str, int]) -> OnboardingReport:
        c = self.counts
        gate = self.gate.statistics()
        stats = RunStatistics(
            requests=c.pushes + c.polls + c.reads,
            pushes=c.pushes,
            polls=c.polls,
            retries=c.retries,
            resent=c.resent,
            rate_limited=c.rate_limited,
            splits=c.splits,
            reconciled=c.reconciled,
            duration=self.clock() - self.started,
            cooldown=gate.cooldown_total,
            final_rate=gate.rate,
        )
        completed = c.completed + carried.get("completed", 0)
        failed = c.failed + carried.get("failed", 0)
        invalid = c.invalid + carried.get("invalid", 0)
        pending = c.pending
        return OnboardingReport(
            submitted=completed + failed + pending,
            completed=completed,
            failed=failed,
            invalid=invalid,
            pending=pending,
            not_sent=c.not_sent,
            blocked=c.blocked,
            failures=tuple(self.failures),
            batch_ids=tuple(self.batch_ids),
            stats=stats,
            stopped_reason=self.stopped_reason,
            resumed=self.skipped,
        )


def _match(chunk: Chunk, result: BatchResult | None) -> dict[int, InboundMessage]:
    """Map each position of ``chunk`` to its inbound message: by index, else by external id."""
    if result is None:
        return {}
    matched: dict[int, InboundMessage] = {}
    unplaced: list[InboundMessage] = []
    for message in result.messages:
        i = message.index
        if (
            i is not None
            and 0 <= i < len(chunk.refs)
            and i not in matched
            and message.external_id in (None, chunk.refs[i].external_id)
        ):
            matched[i] = message
        else:
            unplaced.append(message)
    if unplaced:
        free: dict[str, deque[int]] = {}
        for i, ref in enumerate(chunk.refs):
            if i not in matched:
                free.setdefault(ref.external_id, deque()).append(i)
        for message in unplaced:
            if message.external_id is not None and (positions := free.get(message.external_id)):
                matched[positions.popleft()] = message
    return matched


def _validate(spec: EntitySpec, data: Any) -> EntityModel:
    try:
        return spec.model.model_validate(data)
    except UnknownEnumValueWarning as warning:
        # Warnings are errors here (-W error): a value outside a lenient enum's known list
        # is still valid and is sent as given; report it once as a log line instead.
        logger.warning("%s", warning)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UnknownEnumValueWarning)
            return spec.model.model_validate(data)


def _raw_id(data: Any, spec: EntitySpec | None) -> str:
    """The external id of a record that failed validation, if it can be read at all."""
    if isinstance(data, EntityModel):
        return data.external_id
    if spec is None or not isinstance(data, Mapping):
        return ""
    value = data.get(spec.id_field)
    if value is None:
        value = data.get(_snake(spec.id_field))
    return value if isinstance(value, str) else ""


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name)


def _decode(part: bytes) -> Any:
    try:
        return json.loads(part)
    except ValueError:
        return part.decode("utf-8", "replace")


async def onboard(
    client: AsyncClient,
    records: Iterable[Any] | AsyncIterable[Any],
    *,
    entity: str | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    max_chunk_bytes: int = DEFAULT_MAX_CHUNK_BYTES,
    concurrency: int = DEFAULT_CONCURRENCY,
    rate: float | None = None,
    wait: bool = True,
    timeout: float = DEFAULT_ONBOARD_TIMEOUT,
    strict_order: bool = False,
    on_progress: ProgressCallback | None = None,
    on_failure: FailureCallback | None = None,
    journal: str | Path | Journal | None = None,
    max_pending_records: int = DEFAULT_MAX_PENDING_RECORDS,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
) -> OnboardingReport:
    """Push ``records`` through ``client``, wait for their batches, and report on every one.

    Args:
        records: models, dicts (wire or attribute names) or ``SourceRecord``s, from a sync
            or async iterable; read lazily, so a generator over a huge file is fine.
        entity: the entity of dict records (``"building"``); default: each record's
            ``eventType`` (``BuildingAdded`` ...) or its model.
        chunk_size: most records per request.
        max_chunk_bytes: most bytes per request body.
        concurrency: pushes in flight at once.
        rate: requests per second the server allows, when known; unknown: learned from 429s.
        wait: poll the batches until every record has a final status.
        timeout: overall deadline in seconds (push and wait); what is left is ``pending``.
        strict_order: push a child entity only after its parents' batches finished.
        on_progress: called with a ``Progress`` as the run advances.
        on_failure: called with each ``RecordFailure`` as soon as it is known (to write
            a reject file as the run goes; the report holds them all as well).
        journal: a file that makes the run resumable: records already accepted are not
            sent again, and their batches are polled again.
        max_pending_records: most records awaiting a final status before pushing pauses.
        max_attempts: attempts per request on 5xx and network errors.

    Raises:
        CredentialsError, AuthenticationError: the credentials do not work (nothing more
            can be sent). Per-record problems are never raised; they are in the report.
    """
    if concurrency < 1:
        raise ConfigurationError("concurrency must be at least 1")
    if strict_order and not wait:
        raise ConfigurationError(
            "strict_order waits for the parents' batches, so it needs wait=True"
        )
    if timeout <= 0 or math.isnan(timeout):
        raise ConfigurationError("timeout must be a positive number of seconds")
    settings = _Settings(
        entity=entity,
        chunk_size=chunk_size,
        max_chunk_bytes=max_chunk_bytes,
        concurrency=concurrency,
        rate=rate,
        wait=wait,
        timeout=timeout,
        strict_order=strict_order,
        max_pending_records=max_pending_records,
        max_attempts=max_attempts,
    )
    if entity is not None:
        entity_spec(entity)  # an unknown entity is a usage error, raised before anything runs
    # Credentials are checked before anything is read or journaled: a wrong secret fails
    # at once, and a run that never got a token leaves no push in doubt.
    await client._tokens.get()
    journal_obj: Journal | None = None
    if journal is not None:
        from ._journal import Journal

        journal_obj = journal if isinstance(journal, Journal) else await Journal.open(Path(journal))
    run = _Run(
        client, settings, on_progress=on_progress, on_failure=on_failure, journal=journal_obj
    )
    run.started = run.clock()
    source: Iterator[Any] | AsyncIterator[Any] = (
        aiter(records) if isinstance(records, AsyncIterable) else iter(records)
    )
    carried: Mapping[str, int] = {}
    try:
        with anyio.move_on_after(timeout) as deadline:
            try:
                async with anyio.create_task_group() as tg:
                    if journal_obj is not None:
                        carried = await _resume(run, journal_obj)
                    tg.start_soon(run.read, source)
                    for _ in range(concurrency):
                        tg.start_soon(run.push_loop)
                    if wait:
                        tg.start_soon(run.poller.run)
                    else:
                        run.poller.close()
            except BaseExceptionGroup as group:
                raise first_error(group) from None
        if deadline.cancelled_caught:
            run.stop_at_deadline(timeout)
            await run.take_all(source)
    finally:
        with anyio.CancelScope(shield=True):
            await _close(source)
            if journal_obj is not None:
                await journal_obj.aclose()
    run.progress(finished=True)
    return run.report(carried)


async def _close(source: Iterator[Any] | AsyncIterator[Any]) -> None:
    """Close a generator the run stopped reading (a file reader holds its file open)."""
    aclose = getattr(source, "aclose", None)
    if aclose is not None:
        await aclose()
        return
    close = getattr(source, "close", None)
    if close is not None:
        close()


async def _resume(run: _Run, journal: Journal) -> Mapping[str, int]:
    """Take up an earlier run: settle its in-doubt pushes, watch its open batches again."""
    from ._reconcile import find_batch

    for chunk, sent_at in journal.in_doubt():
        try:
            found = await find_batch(
                chunk, sent_at=sent_at, exclude=run.known_batches, request=run._gated_request
            )
        except (CredentialsError, AuthenticationError):
            raise
        except BuildingMindsError as exc:
            logger.warning(
                "could not check an interrupted push (%s); its records will be sent again", exc
            )
            found = None
        if found is not None:
            run.counts.reconciled += 1
            journal.accepted(chunk, found)
        else:
            journal.unsent(chunk)
    for batch_id, chunk in journal.open_batches():
        run.known_batches.add(batch_id)
        run.batch_ids.append(batch_id)
        run.counts.accepted += len(chunk)
        run.counts.pending += len(chunk)
        if run.settings.wait:
            run.open[batch_id] = _Open(chunk, batch_id)
            run.poller.watch(batch_id, expected=len(chunk), on_done=run._on_done)
    return journal.carried_counts()
