"""The last stage before the report: watch the open batches, settle each record.

One ``BatchPoller`` watches every batch the API accepted, through the run's read lane.
When a batch is done, each record of its chunk is matched to its inbound message (by
position, else by external id) and counted completed or failed, with the server's
reason. Where the server's batch listing counts records per status, one listing answers
for many batches (``Summaries``): a batch whose records all succeeded is settled from it,
and every other open batch it shows done is settled too, before its own poll comes due.
At the deadline, what the last polls saw is counted and the rest stays pending.
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import anyio

from .._errors import BuildingMindsError
from .._polling import BatchPoller
from ..models import BatchResult, InboundMessage, status_outcome
from ._chunking import Chunk
from ._run_journal import RunJournal
from ._summary import Summaries, by_outcome, verdict
from ._tally import Tally

if TYPE_CHECKING:
    from ..resources.batches import Batches

Clock = Callable[[], float]

_BLOCKED_CHECK = 1.0  # seconds between looks at whether only orphans are left


@dataclass(slots=True)
class _Open:
    """A chunk the API accepted, waiting for its batch to finish."""

    chunk: Chunk
    batch_id: str


class Settler:
    """Polls the run's open batches and settles their records in the tally."""

    def __init__(
        self,
        *,
        batches: Batches,
        tally: Tally,
        journal: RunJournal,
        clock: Clock,
        on_settled: Callable[[], None],
        on_finished: Callable[[str, Chunk, int, int], None] | None = None,
        blocked_timeout: float = float("inf"),
    ) -> None:
        self._batches = batches
        self._tally = tally
        self._journal = journal
        self._on_settled = on_settled
        self._on_finished = on_finished
        self._open: dict[str, _Open] = {}
        self._poller = BatchPoller(self._fetch, clock=clock)
        self.summaries = Summaries(batches, clock=clock)
        self._listings_settled = 0  # the listings whose done batches were settled
        self._scope: anyio.CancelScope | None = None
        self._until = float("inf")
        self._closed = False
        self._clock = clock
        self._blocked_timeout = blocked_timeout
        # What the last look at each open batch said: records waiting for a parent, and
        # records with a final status.
        self._waiting: dict[str, int] = {}
        self._final: dict[str, int] = {}
        self._read: dict[str, BatchResult] = {}  # the last record-by-record reading
        self.stopped: str | None = None
        """Why the polls ended early (parents that never came), if they did."""

    def __len__(self) -> int:
        """Batches still open."""
        return len(self._open)

    def waiting(self) -> int:
        """Records of the open batches that the last looks saw waiting for a parent."""
        return sum(self._waiting.get(batch_id, 0) for batch_id in self._open)

    def levels(self) -> Iterator[int]:
        """The entity level of each open batch (strict order waits for parents')."""
        return (entry.chunk.level for entry in self._open.values())

    def watch(self, chunk: Chunk, batch_id: str) -> None:
        self._open[batch_id] = _Open(chunk, batch_id)
        self.summaries.pushed()
        self._poller.watch(batch_id, expected=len(chunk), on_done=self._on_done)

    async def run(self) -> None:
        """Poll until every watched batch is done and ``close()`` was called, until the
        last round ``close(within=)`` allowed is over, or until the open batches have
        waited ``blocked_timeout`` for parents that never come."""
        with anyio.CancelScope(deadline=self._until) as self._scope:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._watch_blocked, tg.cancel_scope)
                await self._poller.run()
                tg.cancel_scope.cancel()

    async def _watch_blocked(self, scope: anyio.CancelScope) -> None:
        """End the polls once, with nothing more to push, every open record has waited
        ``blocked_timeout`` for a parent (nothing else can finish them)."""
        since: float | None = None
        while True:
            await anyio.sleep(_BLOCKED_CHECK)
            stuck = (
                self._closed
                and bool(self._open)
                and all(
                    self._waiting.get(batch_id, 0)
                    >= len(entry.chunk) - self._final.get(batch_id, 0)
                    for batch_id, entry in self._open.items()
                )
            )
            now = self._clock()
            if not stuck:
                since = None
                continue
            since = now if since is None else since
            if now - since >= self._blocked_timeout:
                waiting = self.waiting()
                shown = ", ".join(list(self._open)[:3]) + (" ..." if len(self._open) > 3 else "")
                self.stopped = (
                    f"{waiting:,} records waited {self._blocked_timeout:g} s for parents that "
                    f"are neither in the input nor on the platform (batches {shown}); they "
                    "stay pending: push their parents, then run again (client.batches.messages"
                    "(batch_id, missing_dependencies=True) lists them)"
                )
                await self._read_open()  # what did finish in them is counted
                scope.cancel()
                return

    def close(self, *, within: float | None = None) -> None:
        """No more batches will be watched; with ``within``, the open ones are polled for
        at most that many seconds more (a run that had to stop sending)."""
        self._poller.close()
        self._closed = True
        if within is not None and self._open:
            self._until = min(self._until, anyio.current_time() + within)
            if self._scope is not None:
                self._scope.deadline = self._until

    def settle_at_deadline(self) -> None:
        """Count what the last looks saw of each open batch; the rest stays pending.

        A batch last read record by record counts each record by its status. One seen
        through listings only counts its successes by number, and its records waiting for
        a parent as blocked; its failures, whose reasons the listing does not give, stay
        pending (a resumed run reads them).
        """
        for batch_id, entry in list(self._open.items()):
            result = self._read.get(batch_id)
            if result is not None and result.messages:
                _, _, outcomes = self._settle(entry, result, final=False)
                self._journal.settled_in_part(batch_id, entry.chunk, outcomes)
                continue
            succeeded = by_outcome(self.summaries.seen().get(batch_id))["success"]
            self._tally.record_settled(min(succeeded, len(entry.chunk)), 0)
            self._tally.blocked += self._waiting.get(batch_id, 0)
        self._open.clear()

    async def _read_open(self) -> None:
        """Read every open batch record by record once (before the polls end early)."""
        for batch_id, entry in list(self._open.items()):
            with contextlib.suppress(BuildingMindsError):
                self._read[batch_id] = await self._batches.result(
                    batch_id, len(entry.chunk), keep_unknown_fields=False
                )

    async def _fetch(self, batch_id: str, expected: int | None) -> BatchResult:
        summary = await self.summaries.lookup(batch_id, self._open.keys())
        self._settle_listed()
        if summary is not None and verdict(summary, expected) != "read":
            # Settled just now if done (the poller was told to drop it), else still open:
            # either way, not done for the poller.
            if (entry := self._open.get(batch_id)) is not None:
                self._waiting[batch_id] = self.summaries.waiting(batch_id, len(entry.chunk))
                counts = by_outcome(summary)
                self._final[batch_id] = counts["success"] + counts["failure"]
            return BatchResult(batch_id, (), 0, expected)
        result = await self._batches.result(batch_id, expected, keep_unknown_fields=False)
        self._read[batch_id] = result
        self._waiting[batch_id] = result.blocked
        self._final[batch_id] = result.completed + result.failed
        return result

    def _settle_listed(self) -> None:
        """Settle the open batches a new listing shows with every record succeeded."""
        summaries = self.summaries
        if summaries.requests == self._listings_settled:
            return
        self._listings_settled = summaries.requests
        done = [
            entry
            for batch_id, summary in summaries.seen().items()
            if (entry := self._open.get(batch_id)) is not None
            and verdict(summary, len(entry.chunk)) == "completed"
        ]
        if not done:
            return
        self._poller.drop({entry.batch_id for entry in done})
        for entry in done:
            del self._open[entry.batch_id]
            self._tally.record_settled(len(entry.chunk), 0)
            self._finished(entry, completed=len(entry.chunk), failed=0)

    async def _on_done(self, result: BatchResult) -> None:
        entry = self._open.pop(result.batch_id, None)
        if entry is None:
            return
        completed, failed, outcomes = self._settle(entry, result, final=True)
        self._finished(entry, completed=completed, failed=failed, outcomes=outcomes)

    def _finished(
        self, entry: _Open, *, completed: int, failed: int, outcomes: list[str] | None = None
    ) -> None:
        for seen in (self._waiting, self._final, self._read):
            seen.pop(entry.batch_id, None)
        self._journal.finished(
            entry.batch_id, entry.chunk, completed=completed, failed=failed, outcomes=outcomes
        )
        if self._on_finished is not None:
            self._on_finished(entry.batch_id, entry.chunk, completed, failed)
        self._on_settled()

    def _settle(
        self, entry: _Open, result: BatchResult | None, *, final: bool
    ) -> tuple[int, int, list[str]]:
        """Count each record of ``entry`` by its status in ``result``: (completed, failed,
        each position's outcome: ``"success"``, ``"failure"`` or ``"pending"``)."""
        chunk = entry.chunk
        statuses = match(chunk, result)
        tally = self._tally
        completed = failed = 0
        outcomes: list[str] = []
        for position, ref in enumerate(chunk.refs):
            message = statuses.get(position)
            outcome = status_outcome(message.status) if message is not None else "pending"
            outcomes.append(outcome)
            if outcome == "success":
                completed += 1
            elif outcome == "failure":
                assert message is not None  # noqa: S101
                failed += 1
                reason = message.error or f"the platform reported {message.status}"
                record = chunk.decoded(position) if chunk.parts else None
                tally.fail(
                    ref,
                    chunk.entity,
                    message.status,
                    reason,
                    batch_id=entry.batch_id,
                    record=record,
                )
            elif not final and message is not None and message.missing_dependencies:
                tally.blocked += 1
        tally.record_settled(completed, failed)
        return completed, failed, outcomes


def match(chunk: Chunk, result: BatchResult | None) -> dict[int, InboundMessage]:
    """Map each position of ``chunk`` to its inbound message: by index, else by external id.

    A message whose index is missing, out of range, taken, or names another record is
    placed by its external id instead (the first free position with that id).
    """
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
