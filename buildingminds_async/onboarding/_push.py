"""The pushers: each takes a chunk from the queue and sees it through to a Batch ID.

A chunk first waits for the ``ChunkSizer`` (a chunk of a size the server never took
waits while another is being tried; one above a limit learned since it was cut is
halved unsent), then for its ``Window`` (the pending window, and in strict order its
parents), then is sent through the rate gate's push lane (429s are the gate's business)
by the one retry helper, within the run's retry budget:

```
POST /<entity> -> Batch ID        accepted: the settler watches the batch; the sizer learns
  413            -> split in half, both halves queued again; the sizer learns the ceiling
  400 too large  -> the same (a server that says "payload too large" with a 400)
  answer lost    -> look the batch up; re-send only if the server does not have it
  5xx / network  -> back-off and retry (attempts, budget, deadline)
  other 4xx      -> the chunk's records fail with the server's message; the run goes on
  2xx, no id     -> look the batch up; "Unreadable" if it is not found
```
"""

from __future__ import annotations

import contextlib
import logging
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING

import anyio

from .._errors import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    CredentialsError,
    PayloadTooLargeError,
    RateLimitError,
)
from .._events import RetryEvent
from .._ratelimit import RateGate
from .._retry import RetryBudget, RetryBudgetSpentError, RetryPolicy, is_retryable, retry_call
from .._tracing import NO_TRACING, Attributes, Tracing
from ..models import entity_spec
from ..resources.pushes import BatchId, read_batch_id
from ._chunking import Chunk, Chunker
from ._queue import ChunkQueue
from ._reconcile import Reconciler, Unresolved
from ._run_journal import RunJournal
from ._sizing import ChunkSizer, says_too_large
from ._tally import Tally

if TYPE_CHECKING:
    import httpx2

    from .._client import AsyncClient, Sleep

logger = logging.getLogger("buildingminds_async.onboarding")

# Rounds of attempts a chunk gets (each ``max_retries + 1`` attempts with back-off), the
# later ones after the other chunks: enough for an outage of a minute or so.
_ROUNDS = 3


class Window:
    """When a pusher may send its next chunk.

    Two bounds: the records accepted but not final (``max_pending``: a slow server must not
    make the run hold the whole input), and, in strict order, no chunk or open batch of a
    lower level (a parent entity) may still be in progress.
    """

    def __init__(
        self,
        *,
        max_pending: int | None,
        strict_order: bool,
        awaiting: Callable[[], int],
        open_levels: Callable[[], Iterable[int]],
    ) -> None:
        self._max_pending = max_pending
        self._strict_order = strict_order
        self._awaiting = awaiting
        self._open_levels = open_levels
        self._busy: Counter[int] = Counter()
        self._changed = anyio.Event()

    def changed(self) -> None:
        """Something the window depends on moved (a batch settled, a push ended)."""
        self._changed.set()
        self._changed = anyio.Event()

    @contextlib.asynccontextmanager
    async def admit(self, chunk: Chunk) -> AsyncIterator[None]:
        """Wait until ``chunk`` may go; it counts as in progress inside the block."""
        while self._closed_for(chunk.level):
            await self._changed.wait()
        self._busy[chunk.level] += 1
        try:
            yield
        finally:
            self._busy[chunk.level] -= 1
            self.changed()

    def _closed_for(self, level: int) -> bool:
        if self._max_pending is not None and self._awaiting() >= self._max_pending:
            return True
        if not self._strict_order:
            return False
        return any(lvl < level for lvl, n in self._busy.items() if n) or any(
            lvl < level for lvl in self._open_levels()
        )


class _Stopped(Exception):
    """The run stopped sending while this chunk waited to be retried."""


@dataclass(slots=True)
class _Tries:
    """What the attempts at one chunk showed: whether one may have been stored, and how
    long the last one waited on the gate and then for its answer (None: no answer read)."""

    maybe_stored: bool = False
    doubt: str = "answer lost"
    """Why an attempt may have been stored (the reason a re-send is counted under)."""
    turn_at: float = 0.0
    sent_at: float = 0.0
    latency: float | None = None
    sent: int = 0
    """Requests sent for the chunk so far (429s repeated by the gate included)."""
    batch_id: str | None = None


class Pusher:
    """Sends chunks from the queue; run ``run()`` in as many tasks as pushes may be in flight."""

    def __init__(
        self,
        *,
        client: AsyncClient,
        gate: RateGate,
        queue: ChunkQueue,
        chunker: Chunker,
        sizer: ChunkSizer,
        window: Window,
        tally: Tally,
        journal: RunJournal,
        reconciler: Reconciler,
        accepted: Callable[[Chunk, str], None],
        max_retries: int,
        sleep: Sleep,
        clock: Callable[[], float],
        on_retry: Callable[[RetryEvent], None] | None = None,
        tracing: Tracing = NO_TRACING,
    ) -> None:
        self._on_retry = on_retry
        self._tracing = tracing
        self._client = client
        self._gate = gate
        self._queue = queue
        self._chunker = chunker
        self._sizer = sizer
        self._window = window
        self._tally = tally
        self._journal = journal
        self._reconciler = reconciler
        self._accepted = accepted
        self._policy = RetryPolicy(max_attempts=max_retries + 1, base_delay=0.5, max_delay=30.0)
        self._budget = RetryBudget()
        self._sleep = sleep
        self._clock = clock
        self._in_flight: dict[int, Chunk] = {}
        self._rounds: dict[int, int] = {}  # chunk seq -> rounds of attempts so far
        self._stopping = anyio.Event()  # set when the run stops: back-off waits end at once

    async def run(self) -> None:
        """Push chunks until the queue is closed and empty."""
        while (chunk := await self._queue.get()) is not None:
            if self._tally.stopped_reason is not None:
                self._not_sent(chunk)
                continue
            self._in_flight[chunk.seq] = chunk
            await self._sizer.turn(chunk)
            if self._sizer.too_big(chunk):
                self._cut(chunk)
                continue
            try:
                async with self._window.admit(chunk):
                    await self._push(chunk)
            finally:
                self._sizer.done(chunk)

    def in_flight(self) -> list[Chunk]:
        """The chunks taken by a pusher and not settled (the deadline takes them back)."""
        chunks = list(self._in_flight.values())
        self._in_flight.clear()
        return chunks

    async def _push(self, chunk: Chunk) -> None:
        tries = _Tries()
        attributes: Attributes = {
            "buildingminds.entity": chunk.entity,
            "buildingminds.records": len(chunk),
            "buildingminds.bytes": chunk.size,
        }
        with self._tracing.span("buildingminds.push", attributes) as span:
            try:
                await self._push_tried(chunk, tries)
            finally:
                span.set_attribute("http.request.resend_count", max(tries.sent - 1, 0))
                if tries.batch_id is not None:
                    span.set_attribute("buildingminds.batch_id", tries.batch_id)

    async def _push_tried(self, chunk: Chunk, tries: _Tries) -> None:
        await self._journal.intend(chunk, datetime.now(UTC))
        try:
            batch_id = await retry_call(
                partial(self._attempt, chunk, tries),
                policy=self._policy,
                sleep=self._back_off,
                budget=self._budget,
                on_retry=partial(self._retrying, chunk),
            )
        except _Stopped:
            self._not_sent(chunk, tries)
        except Unresolved as exc:
            self._in_doubt(chunk, tries, exc)
        except RetryBudgetSpentError as spent:
            self._tally.stop(
                f"the run's retry budget is spent (the service keeps failing; "
                f"last error: {spent.error})"
            )
            self._stopping.set()
            self._not_sent(chunk, tries)
        except (CredentialsError, AuthenticationError):
            # Refused before or by the API: nothing was stored, nothing is in doubt.
            self._journal.unsent(chunk)
            raise
        except APIResponseValidationError as exc:
            # Accepted (2xx) but the Batch ID is unreadable: look for the batch.
            try:
                found = await self._reconciler.find(chunk, datetime.now(UTC))
            except Unresolved as unresolved:
                self._in_doubt(chunk, tries, unresolved)
                return
            if found is not None:
                self._accept(chunk, found)
            else:
                self._reject(chunk, "Unreadable", str(exc))
        except PayloadTooLargeError as exc:
            self._split(chunk, exc)
        except APIStatusError as exc:
            if exc.status_code == 400 and says_too_large(exc.message):
                self._split(chunk, exc)
            elif is_retryable(exc):
                self._again_later(chunk, tries, exc)
            else:
                self._reject(chunk, "Rejected", f"{exc.status_code} {exc.message}")
        except APIConnectionError as exc:
            self._again_later(chunk, tries, exc)
        else:
            self._budget.refund()
            lost = tries.latency is None  # the answer was lost, the batch found
            waited = None if lost else tries.sent_at - tries.turn_at
            self._sizer.accepted(chunk, waited=waited, latency=tries.latency)
            tries.batch_id = batch_id
            self._accept(chunk, batch_id)

    async def _attempt(self, chunk: Chunk, tries: _Tries) -> BatchId:
        """One attempt at the chunk (the gate repeats it after 429s); a lost answer is
        looked up before it counts as a failure."""
        if self._tally.stopped_reason is not None:
            raise _Stopped
        if tries.maybe_stored:
            self._tally.resent_because[tries.doubt] += 1
        sent_at = datetime.now(UTC)
        tries.turn_at, tries.latency = self._clock(), None
        try:
            response = await self._gate.call(
                partial(self._send, chunk, tries), on_throttle=partial(self._throttled, tries)
            )
        except APIConnectionError as exc:
            if not exc.maybe_sent:
                raise
            tries.maybe_stored = True  # until the server says otherwise
            tries.doubt = (
                "answer timed out" if isinstance(exc, APITimeoutError) else "connection lost"
            )
            found = await self._reconciler.find(chunk, sent_at)  # Unresolved: stays so
            if found is None:
                raise
            return BatchId(found)
        return read_batch_id(response)

    async def _send(self, chunk: Chunk, tries: _Tries) -> httpx2.Response:
        self._tally.pushes += 1
        tries.sent += 1
        tries.sent_at = self._clock()
        response = await self._client.request(
            "POST", entity_spec(chunk.entity).path, content=chunk.body()
        )
        tries.latency = self._clock() - tries.sent_at
        return response

    def _throttled(self, tries: _Tries, exc: RateLimitError) -> None:
        self._tally.retries += 1
        if self._on_retry is not None:
            delay = exc.retry_after if exc.retry_after is not None else 0.0
            self._on_retry(RetryEvent("push", tries.sent, delay, str(exc)))

    async def _back_off(self, delay: float) -> None:
        """Wait ``delay`` before a retry, or less when the run stops meanwhile: the next
        attempt then sees the stop and the chunk is counted as not sent (a dead service
        ends the run when its budget is spent, not after every pusher's longest back-off)."""
        if self._stopping.is_set():
            return
        async with anyio.create_task_group() as tg:

            async def stop_waiting() -> None:
                await self._stopping.wait()
                tg.cancel_scope.cancel()

            tg.start_soon(stop_waiting)
            await self._sleep(delay)
            tg.cancel_scope.cancel()

    def _retrying(self, chunk: Chunk, exc: BaseException, attempt: int, delay: float) -> None:
        self._tally.retries += 1
        if self._on_retry is not None:
            self._on_retry(RetryEvent("push", attempt, delay, str(exc)))
        logger.info(
            "push of %d %s records failed (%s); retry in %.2f s",
            len(chunk),
            chunk.entity,
            exc,
            delay,
        )

    def _again_later(self, chunk: Chunk, tries: _Tries, exc: BaseException) -> None:
        """The chunk's attempts are spent (the server was never seen to store it), the run's
        retry budget is not: the chunk goes back in the queue, behind the others, and gets
        another round of attempts, at most ``_ROUNDS`` in all. A service down for a while
        then back loses nothing; a dead one spends the budget, which stops the run."""
        rounds = self._rounds.get(chunk.seq, 1)
        if rounds >= _ROUNDS or self._tally.stopped_reason is not None or self._budget.exhausted:
            self._rounds.pop(chunk.seq, None)
            self._not_sent(chunk, tries, gave_up=self._gave_up(exc, rounds))
            return
        self._rounds[chunk.seq] = rounds + 1
        logger.info(
            "%d %s records: %d attempts failed (%s); tried again later (round %d of %d)",
            len(chunk),
            chunk.entity,
            self._policy.max_attempts,
            exc,
            rounds + 1,
            _ROUNDS,
        )
        self._in_flight.pop(chunk.seq, None)
        self._journal.unsent(chunk)  # the server was asked: it has not stored the chunk
        self._queue.put_nowait(chunk)

    def _gave_up(self, exc: BaseException, rounds: int = 1) -> str:
        return f"gave up after {rounds * self._policy.max_attempts} attempts: {exc}"

    def _split(self, chunk: Chunk, exc: APIStatusError) -> None:
        if len(chunk) == 1:
            self._reject(
                chunk,
                "TooLarge",
                f"the server refused this record alone as too large ({exc.message})",
            )
            return
        self._tally.splits += 1
        self._journal.unsent(chunk)
        self._sizer.refused(chunk, exc.message)
        logger.info(
            "%d for %d %s records (%d bytes); splitting, and sending at most %d records "
            "/ %d bytes from now on",
            exc.status_code,
            len(chunk),
            chunk.entity,
            chunk.size,
            self._chunker.max_records,
            self._chunker.max_bytes,
        )
        self._cut(chunk)

    def _cut(self, chunk: Chunk) -> None:
        """Halve ``chunk`` and queue both halves (unsent: they go before the queue's others)."""
        self._in_flight.pop(chunk.seq, None)
        first, second = chunk.split(self._chunker.next_seq())
        self._queue.put_nowait(first)
        self._queue.put_nowait(second)

    def _accept(self, chunk: Chunk, batch_id: str) -> None:
        self._in_flight.pop(chunk.seq, None)
        logger.info("batch %s accepted: %d %s records", batch_id, len(chunk), chunk.entity)
        self._journal.accepted(chunk, batch_id)
        self._accepted(chunk, batch_id)

    def _reject(self, chunk: Chunk, status: str, reason: str) -> None:
        self._in_flight.pop(chunk.seq, None)
        self._tally.record_rejected(chunk, status, reason)
        self._journal.rejected(chunk)

    def _in_doubt(self, chunk: Chunk, tries: _Tries, exc: Unresolved) -> None:
        """The push's answer was lost and the server could not be asked whether it stored
        it: never sent blindly again, its records are pending and stay in doubt."""
        logger.warning(
            "%d %s records (%s) may have been stored: the answer to their push was lost and "
            "the server could not be asked (%s). They are pending: run again with the same "
            "journal to have the server checked before anything is sent again",
            len(chunk),
            chunk.entity,
            chunk.describe(),
            exc,
        )
        tries.maybe_stored = True
        self._not_sent(chunk, tries)

    def _not_sent(
        self, chunk: Chunk, tries: _Tries | None = None, *, gave_up: str | None = None
    ) -> None:
        """The chunk was not accepted and the run will not try again: its records are pending.

        When an attempt may have been stored, the journal keeps the chunk in doubt so that
        a resumed run checks the server before sending it again.
        """
        self._in_flight.pop(chunk.seq, None)
        if gave_up is not None:
            logger.warning(
                "%d %s records not sent (%s); they are pending: run again to send them",
                len(chunk),
                chunk.entity,
                gave_up,
            )
        if tries is None or not tries.maybe_stored:
            self._journal.unsent(chunk)
        self._tally.record_not_sent(len(chunk))


def not_sent_at_deadline(
    chunks: Iterable[Chunk], *, maybe_stored: bool, tally: Tally, journal: RunJournal
) -> None:
    """Count chunks the deadline caught as not sent; those that may have reached the
    server stay in doubt in the journal."""
    for chunk in chunks:
        if not maybe_stored:
            journal.unsent(chunk)
        tally.record_not_sent(len(chunk))
