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

from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import anyio

from .._polling import BatchPoller
from ..models import BatchResult, InboundMessage, status_outcome
from ._chunking import Chunk
from ._journal import RunJournal
from ._summary import Summaries, verdict
from ._tally import Tally

if TYPE_CHECKING:
    from ..resources.batches import Batches

Clock = Callable[[], float]


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
    ) -> None:
        self._batches = batches
        self._tally = tally
        self._journal = journal
        self._on_settled = on_settled
        self._open: dict[str, _Open] = {}
        self._poller = BatchPoller(self._fetch, clock=clock)
        self.summaries = Summaries(batches, clock=clock)
        self._listings_settled = 0  # the listings whose done batches were settled
        self._scope: anyio.CancelScope | None = None
        self._until = float("inf")

    def __len__(self) -> int:
        """Batches still open."""
        return len(self._open)

    def levels(self) -> Iterator[int]:
        """The entity level of each open batch (strict order waits for parents')."""
        return (entry.chunk.level for entry in self._open.values())

    def watch(self, chunk: Chunk, batch_id: str) -> None:
        self._open[batch_id] = _Open(chunk, batch_id)
        self.summaries.pushed()
        self._poller.watch(batch_id, expected=len(chunk), on_done=self._on_done)

    async def run(self) -> None:
        """Poll until every watched batch is done and ``close()`` was called, or until the
        last round ``close(within=)`` allowed is over."""
        with anyio.CancelScope(deadline=self._until) as self._scope:
            await self._poller.run()

    def close(self, *, within: float | None = None) -> None:
        """No more batches will be watched; with ``within``, the open ones are polled for
        at most that many seconds more (a run that had to stop sending)."""
        self._poller.close()
        if within is not None and self._open:
            self._until = min(self._until, anyio.current_time() + within)
            if self._scope is not None:
                self._scope.deadline = self._until

    def settle_at_deadline(self) -> None:
        """Count what the last polls saw of each open batch; the rest stays pending."""
        last = dict(self._poller.open_results())
        for batch_id, entry in list(self._open.items()):
            result = last.get(batch_id)
            self._settle(entry, result, final=False)
            if result is None or not result.messages:  # seen through listings only
                self._tally.blocked += self.summaries.waiting(batch_id, len(entry.chunk))
        self._open.clear()

    async def _fetch(self, batch_id: str, expected: int | None) -> BatchResult:
        summary = await self.summaries.lookup(batch_id, self._open.keys())
        self._settle_listed()
        if summary is not None and verdict(summary, expected) != "read":
            # Settled just now if done (the poller was told to drop it), else still open:
            # either way, not done for the poller.
            return BatchResult(batch_id, (), 0, expected)
        return await self._batches.result(batch_id, expected, keep_unknown_fields=False)

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
        completed, failed = self._settle(entry, result, final=True)
        self._finished(entry, completed=completed, failed=failed)

    def _finished(self, entry: _Open, *, completed: int, failed: int) -> None:
        self._journal.finished(entry.batch_id, entry.chunk, completed=completed, failed=failed)
        self._on_settled()

    def _settle(self, entry: _Open, result: BatchResult | None, *, final: bool) -> tuple[int, int]:
        """Count each record of ``entry`` by its status in ``result``: (completed, failed)."""
        chunk = entry.chunk
        statuses = match(chunk, result)
        tally = self._tally
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
        return completed, failed


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
