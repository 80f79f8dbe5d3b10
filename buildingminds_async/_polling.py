"""Watching batches until their records reach a final status.

``BatchPoller`` is one loop for any number of batches. Each batch is polled on its own
schedule: the first poll comes when batches have typically been finishing (learned
from the batches seen so far), then the interval grows by ``growth`` up to ``max_delay``.
That keeps the request count near one or two per batch when processing time is steady,
instead of one per fixed interval. Polls that fail are rescheduled the same way; only
errors that no wait can fix (credentials, permissions) stop the loop.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import random
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field

import anyio

from ._errors import (
    AuthenticationError,
    BuildingMindsError,
    CredentialsError,
    PermissionDeniedError,
    first_error,
)
from .models import BatchResult

logger = logging.getLogger("buildingminds_async.polling")

Clock = Callable[[], float]

DEFAULT_MAX_CONCURRENT = 4
"""Polls a ``BatchPoller`` has in flight at once, by default."""


FetchResult = Callable[[str, "int | None"], Awaitable[BatchResult]]
OnDone = Callable[[BatchResult], Awaitable[None]]


@dataclass(order=True, slots=True)
class _Watch:
    next_at: float
    order: int
    batch_id: str = field(compare=False)
    expected: int | None = field(compare=False)
    added_at: float = field(compare=False)
    interval: float = field(compare=False)
    on_done: OnDone | None = field(compare=False)
    last: BatchResult | None = field(default=None, compare=False)
    polls: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class PollerStatistics:
    requests: int
    errors: int
    watched: int
    done: int
    open: int
    typical_latency: float | None


class BatchPoller:
    """Polls many batches from one loop until each is done, or until a deadline.

    ```python
    poller = BatchPoller(client.batches.result)
    poller.watch(batch_id, expected=500, on_done=handle)
    poller.close()                   # no more batches will be added
    await poller.run(deadline=None)  # returns when every batch is done
    ```
    """

    def __init__(
        self,
        fetch: FetchResult,
        *,
        clock: Clock,
        initial_delay: float = 0.25,
        min_delay: float = 0.05,
        max_delay: float = 15.0,
        growth: float = 1.6,
        max_concurrent: int = DEFAULT_MAX_CONCURRENT,
        fatal: tuple[type[BaseException], ...] = (),
    ) -> None:
        self._fetch = fetch
        self._clock = clock
        self._initial_delay = initial_delay
        self._min_delay = min_delay
        self._max_delay = max_delay
        self._growth = growth
        self._max_concurrent = max_concurrent
        self._fatal = (CredentialsError, AuthenticationError, PermissionDeniedError, *fatal)
        self._heap: list[_Watch] = []
        self._dropped: set[str] = set()
        self._order = itertools.count()
        self._changed = anyio.Event()
        self._closed = False
        self._typical: float | None = None
        self._requests = 0
        self._errors = 0
        self._watched = 0
        self._done = 0

    def watch(
        self, batch_id: str, *, expected: int | None = None, on_done: OnDone | None = None
    ) -> None:
        """Start watching ``batch_id``; ``on_done`` is awaited with its final result."""
        now = self._clock()
        first = self._first_delay()
        heapq.heappush(
            self._heap,
            _Watch(now + first, next(self._order), batch_id, expected, now, first, on_done),
        )
        self._watched += 1
        self._changed.set()

    def drop(self, batch_ids: Collection[str]) -> None:
        """Stop watching these batches: their results came by other means."""
        kept = [w for w in self._heap if w.batch_id not in batch_ids]
        self._done += len(self._heap) - len(kept)
        in_flight = set(batch_ids) - {w.batch_id for w in self._heap}
        self._dropped |= in_flight  # polled right now: its answer is ignored
        self._done += len(in_flight)
        heapq.heapify(kept)
        self._heap = kept
        self._changed.set()

    def close(self) -> None:
        """No more batches will be watched: ``run()`` returns once the open ones are done."""
        self._closed = True
        self._changed.set()

    def open_results(self) -> list[tuple[str, BatchResult | None]]:
        """The batches still open and the last result seen for each (None: never polled)."""
        return [(w.batch_id, w.last) for w in sorted(self._heap)]

    def statistics(self) -> PollerStatistics:
        return PollerStatistics(
            requests=self._requests,
            errors=self._errors,
            watched=self._watched,
            done=self._done,
            open=len(self._heap),
            typical_latency=self._typical,
        )

    def _first_delay(self) -> float:
        if self._typical is None:
            return self._initial_delay
        # A little early, so that the learned time can shrink as well as grow; a batch
        # found unfinished is polled again soon (see _reschedule). Not capped at
        # max_delay: when batches take a minute, polling at 15 s only wastes a request.
        return max(self._typical * 0.95, self._min_delay)

    async def run(self, *, deadline: float | None = None) -> None:
        """Poll until every watched batch is done and ``close()`` was called, or the deadline."""
        while True:
            if self._closed and not self._heap:
                return
            now = self._clock()
            if deadline is not None and now >= deadline:
                return
            due: list[_Watch] = []
            while self._heap and self._heap[0].next_at <= now and len(due) < self._max_concurrent:
                due.append(heapq.heappop(self._heap))
            if not due:
                wake_at = self._heap[0].next_at if self._heap else None
                if deadline is not None:
                    wake_at = deadline if wake_at is None else min(wake_at, deadline)
                self._changed = anyio.Event()
                if wake_at is None:
                    await self._changed.wait()
                else:
                    with anyio.move_on_after(max(wake_at - now, 0.0)):
                        await self._changed.wait()
                continue
            try:
                async with anyio.create_task_group() as tg:
                    for watch in due:
                        tg.start_soon(self._poll, watch)
            except BaseExceptionGroup as group:
                raise first_error(group) from None

    async def _poll(self, watch: _Watch) -> None:
        self._requests += 1
        watch.polls += 1
        try:
            result = await self._fetch(watch.batch_id, watch.expected)
        except BuildingMindsError as exc:
            if isinstance(exc, self._fatal):
                raise
            if self._forgotten(watch):
                return
            self._errors += 1
            logger.info("polling batch %s failed (%s); polling it again later", watch.batch_id, exc)
            self._reschedule(watch)
            return
        if self._forgotten(watch):
            return
        watch.last = result
        if not result.done:
            self._reschedule(watch)
            return
        latency = self._clock() - watch.added_at
        self._typical = latency if self._typical is None else 0.7 * self._typical + 0.3 * latency
        self._done += 1
        logger.info(
            "batch %s done after %d poll(s): %d completed, %d failed",
            watch.batch_id,
            watch.polls,
            result.completed,
            result.failed,
        )
        if watch.on_done is not None:
            await watch.on_done(result)

    def _forgotten(self, watch: _Watch) -> bool:
        """Dropped while its poll was out: neither reschedule it nor report it."""
        if watch.batch_id not in self._dropped:
            return False
        self._dropped.discard(watch.batch_id)
        return True

    def _reschedule(self, watch: _Watch) -> None:
        if watch.polls == 1 and self._typical is not None:
            # Polled when batches usually finish, and not finished yet: most likely it
            # is about to, so look again soon rather than a whole interval later.
            watch.interval = min(max(self._typical * 0.25, self._min_delay), self._max_delay)
        else:
            watch.interval = min(
                max(watch.interval * self._growth, self._min_delay), self._max_delay
            )
        jitter = random.uniform(0.0, watch.interval * 0.1)
        watch.next_at = self._clock() + watch.interval + jitter
        heapq.heappush(self._heap, watch)
