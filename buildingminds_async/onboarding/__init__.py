"""``onboard()``: push any number of records as fast as the server allows, account for each.

The run is a pipeline of stages, each owning its state and handing on through a bounded
stream; this module only wires them:

```
source ─ Intake (_intake): validate, encode once, chunk per entity ─▶ ChunkQueue (_queue)
       ─▶ Pusher x concurrency (_push): Window, RateGate push lane, retries, 413, reconcile
       ─▶ Batch IDs ─▶ Settler (_settle): one BatchPoller through the read lane
       ─▶ Tally (_tally): each record's outcome, mapped back to its source ─▶ OnboardingReport
```

Every stage is bounded, so memory stays flat whatever the input size: the intake waits
when the queue is full, and the pushers wait when too many records await their final
status. The queue hands out parents' chunks before children's (address, site, building,
...); ``strict_order`` also waits for the parents' batches to finish first.

Each input record ends in exactly one of: ``completed``, ``failed`` (a final failure status,
or a request the server rejected), ``invalid`` (never sent) or ``pending`` (still processing
at the deadline, or not accepted because the run had to stop). The counts add up to the
input, and every failed or invalid record is in ``failures`` with its source and reason.

This is the only package that starts tasks; they all live in one task group, and callers
get one SDK exception, never an ``ExceptionGroup``.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Unpack

import anyio
import httpx2

from .._errors import first_error
from .._events import RUN_EVENTS, BatchAcceptedEvent, BatchFinishedEvent, Emitter
from .._polling import DEFAULT_MAX_CONCURRENT
from .._ratelimit import RateGate
from ..resources.batches import Batches, Send
from ._chunking import Chunk, Chunker
from ._intake import Intake, Source, read_in_thread
from ._journal import Journal, JournalInfo
from ._options import OnboardOptions, Settings
from ._push import Pusher, Window, not_sent_at_deadline
from ._queue import ChunkQueue
from ._reconcile import Reconciler, Unresolved
from ._report import (
    ChunkSizes,
    FailureCallback,
    OnboardingReport,
    Progress,
    ProgressCallback,
    RecordFailure,
    RunStatistics,
    SizeChange,
    SourceRecord,
)
from ._run_journal import NullJournal, RunJournal
from ._settle import Settler
from ._sizing import AUTO, ChunkSizer
from ._tally import GateView, Tally

if TYPE_CHECKING:
    from .._client import AsyncClient

__all__ = [
    "ChunkSizes",
    "FailureCallback",
    "Journal",
    "JournalInfo",
    "OnboardOptions",
    "OnboardingReport",
    "Progress",
    "ProgressCallback",
    "RecordFailure",
    "RunStatistics",
    "SizeChange",
    "SourceRecord",
    "onboard",
    "read_in_thread",
]


# How many chunks may wait for a pusher: enough to keep every pusher busy and to let
# parents' chunks overtake children's, small enough to bound memory.
_QUEUE_CHUNKS_PER_PUSHER = 2
# Reads in flight at once: the poller's own cap, plus one for a look-up of a lost push.
_READS_IN_FLIGHT = DEFAULT_MAX_CONCURRENT + 1
# Seconds between progress reports when no count changes.
_HEARTBEAT = 1.0

LAST_ROUND = 60.0
"""Seconds the open batches are still polled once a run had to stop sending (its retry
budget spent): long enough for batches that were processing, bounded for a dead service."""

logger = logging.getLogger("buildingminds_async.onboarding")


async def onboard(
    client: AsyncClient,
    records: Iterable[Any] | AsyncIterable[Any],
    **options: Unpack[OnboardOptions],
) -> OnboardingReport:
    """Push ``records`` through ``client``, wait for their batches, and report on every one.

    ``records`` are models, dicts (wire or attribute names) or ``SourceRecord``s, from a
    sync or async iterable, read lazily (a generator over a huge file is fine; wrap a
    blocking one in ``read_in_thread``). ``options`` are ``OnboardOptions``.

    Raises:
        ConfigurationError: an unknown option or a value that cannot work.
        CredentialsError, AuthenticationError: the credentials do not work (nothing more
            can be sent). Per-record problems are never raised; they are in the report.
    """
    return await run_settled(client, records, Settings.of(options))


async def run_settled(
    client: AsyncClient,
    records: Iterable[Any] | AsyncIterable[Any],
    settings: Settings,
    *,
    journal: RunJournal | None = None,
) -> OnboardingReport:
    """``onboard()`` with its options checked; ``journal``, when given, is the run's (its
    owner opens and closes it) instead of ``settings.journal``."""
    # Credentials are checked before anything is read or journaled: a wrong secret fails
    # at once, and a run that never got a token leaves no push in doubt.
    await client.authenticate()
    # The run's own hooks hear of its requests too: the client reads them from the context
    # its tasks inherit.
    run_events = RUN_EVENTS.set(Emitter(settings.hooks) if settings.hooks is not None else None)
    try:
        with client._tracing.span("buildingminds.onboard", {}) as span:
            if journal is not None:
                report = await _run(client, records, settings, journal)
            else:
                async with _opened(settings.journal) as opened:
                    report = await _run(client, records, settings, opened)
            for key in ("submitted", "completed", "failed", "invalid", "pending"):
                span.set_attribute(f"buildingminds.records.{key}", getattr(report, key))
            return report
    finally:
        RUN_EVENTS.reset(run_events)


async def _run(
    client: AsyncClient,
    records: Iterable[Any] | AsyncIterable[Any],
    settings: Settings,
    journal: RunJournal,
) -> OnboardingReport:
    clock = client.clock
    # Batches and push retries: told to the run's hooks, the client's, the tracing's.
    events = Emitter(settings.hooks, *client._hook_sets())
    # Two lanes: pushes and reads each have their own cooldown and learned rate, so that
    # status polls never spend the push budget, and a 429 pauses only the lane it hit.
    # With a shared backend (Redis), the other processes of the tenant spend the same
    # budget: each lane takes its send slots, cooldowns and learned rate from it.
    backend = client._rate_backend
    # A shared lane learns an untold rate in Redis, from every process's 429s: the local
    # gate does not (its traffic is only a share of the tenant's).
    push_lane = RateGate(
        max_in_flight=settings.concurrency + 1,
        rate=settings.rate,
        adaptive=backend is None,
        shared=backend.lane("push") if backend is not None else None,
        clock=clock,
        sleep=client.sleep,
    )
    read_lane = RateGate(
        max_in_flight=_READS_IN_FLIGHT,
        rate=settings.read_rate,
        adaptive=backend is None,
        shared=backend.lane("read") if backend is not None else None,
        clock=clock,
        sleep=client.sleep,
    )
    read_lane.share_budget_with(push_lane)  # paced together if the server counts them so
    chunker = Chunker(max_records=settings.first_chunk_size, max_bytes=settings.max_chunk_bytes)
    sizer = ChunkSizer(
        chunker,
        auto=settings.chunk_size == AUTO,
        size=settings.first_chunk_size,
        ceiling=settings.max_chunk_size,
        concurrency=settings.concurrency,
        pending_window=settings.max_pending_records if settings.wait else None,
        rate=lambda: push_lane.rate,
        clock=clock,
    )
    settler: Settler | None = None
    tally = Tally(
        clock=clock,
        gate=GateView(
            rate=lambda: push_lane.rate,
            throttled=lambda: push_lane.statistics().throttled + read_lane.statistics().throttled,
            cooldown_total=lambda: push_lane.statistics().cooldown_total,
        ),
        open_batches=lambda: len(settler) if settler is not None else 0,
        chunk_sizes=sizer.sizes,
        waiting_for_parent=lambda: settler.waiting() if settler is not None else 0,
        on_progress=settings.on_progress,
        on_failure=settings.on_failure,
    )
    window = Window(
        max_pending=settings.max_pending_records if settings.wait else None,
        strict_order=settings.strict_order,
        awaiting=lambda: tally.awaiting,
        open_levels=lambda: settler.levels() if settler is not None else iter(()),
    )

    def finished(batch_id: str, chunk: Chunk, completed: int, failed: int) -> None:
        events.batch_finished(
            BatchFinishedEvent(batch_id, chunk.entity, len(chunk), completed, failed)
        )

    settler = Settler(
        batches=Batches(client, send=_lane(read_lane, tally, "polls")),
        tally=tally,
        journal=journal,
        clock=clock,
        on_settled=window.changed,
        on_finished=finished,
        blocked_timeout=settings.blocked_timeout,
    )
    reconciler = Reconciler(
        Batches(client, send=_lane(read_lane, tally, "reads")), tally, sleep=client.sleep
    )
    queue = ChunkQueue(max(settings.concurrency * _QUEUE_CHUNKS_PER_PUSHER, 2))
    intake = Intake(
        entity=settings.entity, chunker=chunker, queue=queue, tally=tally, journal=journal
    )

    def accepted(chunk: Chunk, batch_id: str) -> None:
        tally.record_accepted(chunk, batch_id)
        events.batch_accepted(BatchAcceptedEvent(batch_id, chunk.entity, len(chunk)))
        if settler is not None and settings.wait:
            settler.watch(chunk, batch_id)

    pusher = Pusher(
        client=client,
        gate=push_lane,
        queue=queue,
        chunker=chunker,
        sizer=sizer,
        window=window,
        tally=tally,
        journal=journal,
        reconciler=reconciler,
        accepted=accepted,
        max_retries=settings.max_retries,
        sleep=client.sleep,
        clock=clock,
        on_retry=events.retry,
        tracing=client._tracing,
    )

    source: Source = aiter(records) if isinstance(records, AsyncIterable) else iter(records)
    carried: Mapping[str, int] = {}
    try:
        with anyio.move_on_after(settings.timeout) as deadline:
            try:
                carried = await _take_up(journal, reconciler, tally, settler, settings.wait)
                async with anyio.create_task_group() as outer:
                    outer.start_soon(_heartbeat, tally)
                    async with anyio.create_task_group() as tg:
                        tg.start_soon(intake.run, source)
                        tg.start_soon(_push_all, pusher, settings.concurrency, settler, tally)
                        if settings.wait:
                            tg.start_soon(settler.run)
                    outer.cancel_scope.cancel()
            except BaseExceptionGroup as group:
                raise first_error(group) from None
        if deadline.cancelled_caught:
            tally.stop(f"the deadline of {settings.timeout:g} s passed")
            # A chunk a pusher held may have reached the server: the journal keeps it in doubt.
            not_sent_at_deadline(
                pusher.in_flight(), maybe_stored=True, tally=tally, journal=journal
            )
            not_sent_at_deadline(intake.unsent(), maybe_stored=False, tally=tally, journal=journal)
            settler.settle_at_deadline()
            await intake.take_all(source)
        elif settler.stopped is not None:  # only orphans were left
            logger.warning("onboarding ends: %s", settler.stopped)
            tally.stopped_reason = tally.stopped_reason or settler.stopped
            settler.settle_at_deadline()
        elif len(settler):  # the last round of polls after a stop is over
            logger.warning(
                "%d batch(es) still open after the last %g s of polls: their records are "
                "pending; run again with the same journal to poll them again",
                len(settler),
                LAST_ROUND,
            )
            settler.settle_at_deadline()
    finally:
        with anyio.CancelScope(shield=True):
            await _close(source)
    tally.progress(finished=True)
    return tally.report(carried)


async def _heartbeat(tally: Tally) -> None:
    """Progress at least every second, whether or not a count changed: a run waiting out
    a long Retry-After or a slow batch is still seen to be alive (stats lines, a bar)."""
    while True:
        await anyio.sleep(_HEARTBEAT)
        tally.progress()


async def _push_all(pusher: Pusher, concurrency: int, settler: Settler, tally: Tally) -> None:
    try:
        async with anyio.create_task_group() as tg:
            for _ in range(concurrency):
                tg.start_soon(pusher.run)
    finally:
        # No more batches: the settler ends once the open ones are done, and a run that
        # had to stop sending (the service keeps failing) gives them one last round only.
        stopped = tally.stopped_reason is not None
        settler.close(within=LAST_ROUND if stopped else None)


def _lane(gate: RateGate, tally: Tally, counter: str) -> Send:
    """Reads through the read lane, each request counted in ``tally.<counter>``."""

    async def send(call: Callable[[], Awaitable[httpx2.Response]]) -> httpx2.Response:
        async def counted() -> httpx2.Response:
            setattr(tally, counter, getattr(tally, counter) + 1)
            return await call()

        return await gate.call(counted)

    return send


async def _take_up(
    journal: RunJournal,
    reconciler: Reconciler,
    tally: Tally,
    settler: Settler,
    wait: bool,
) -> Mapping[str, int]:
    """Take up an earlier run: settle its in-doubt pushes, watch its open batches again."""
    for batch_id, _ in journal.open_batches():
        tally.batch_ids[batch_id] = None  # known: not a candidate for a lost push
    for chunk, sent_at in journal.in_doubt():
        try:
            found = await reconciler.find(chunk, sent_at)
        except Unresolved as exc:
            logger.warning(
                "%d %s records an earlier run may have stored could not be checked (%s): "
                "they stay pending and are checked again next time",
                len(chunk),
                chunk.entity,
                exc,
            )
            tally.record_not_sent(len(chunk))
            continue
        if found is not None:
            journal.accepted(chunk, found)
        else:
            journal.unsent(chunk)
    for batch_id, chunk in journal.open_batches():
        tally.record_accepted(chunk, batch_id)
        if wait:
            settler.watch(chunk, batch_id)
    return journal.carried_counts()


@contextlib.asynccontextmanager
async def _opened(journal: str | Path | Journal | None) -> AsyncIterator[RunJournal]:
    """The run's journal: one it opens from a path (and closes), a caller's, or none."""
    if journal is None:
        yield NullJournal()
    elif isinstance(journal, Journal):
        yield journal  # its owner closes it
    else:
        opened = await Journal.open(Path(journal))
        try:
            yield opened
        finally:
            with anyio.CancelScope(shield=True):
                await opened.aclose()


async def _close(source: Source) -> None:
    """Close a generator the run stopped reading (a file reader holds its file open)."""
    aclose = getattr(source, "aclose", None)
    if aclose is not None:
        await aclose()
        return
    close = getattr(source, "close", None)
    if close is not None:
        close()
