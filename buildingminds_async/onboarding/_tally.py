"""The run's accounts: every record counted once, every failure kept, progress and report.

The stages tell the tally what happened (a record was invalid, a chunk accepted, a batch
settled); the tally never asks them. ``pending`` is derived, not stored: the records
accepted or left unsent by this run, less those that reached a final status.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ._chunking import Chunk, RecordRef
from ._report import (
    ChunkSizes,
    FailureCallback,
    OnboardingReport,
    Progress,
    ProgressCallback,
    RecordFailure,
    RunStatistics,
)

logger = logging.getLogger("buildingminds_async.onboarding")

Clock = Callable[[], float]
_PROGRESS_INTERVAL = 0.25


@dataclass(frozen=True, slots=True)
class GateView:
    """What the tally reads off the rate gate for progress and the report."""

    rate: Callable[[], float | None]
    throttled: Callable[[], int]
    cooldown_total: Callable[[], float]


class Tally:
    """Counts, failures and batch ids of one run; the one place that builds its report."""

    def __init__(
        self,
        *,
        clock: Clock,
        gate: GateView,
        open_batches: Callable[[], int],
        chunk_sizes: Callable[[], ChunkSizes] | None = None,
        waiting_for_parent: Callable[[], int] | None = None,
        on_progress: ProgressCallback | None = None,
        on_failure: FailureCallback | None = None,
    ) -> None:
        self._clock = clock
        self._chunk_sizes = chunk_sizes
        self._waiting_for_parent = waiting_for_parent
        self._gate = gate
        self._open_batches = open_batches
        self._on_progress = on_progress
        self._on_failure = on_failure
        self._last_progress = float("-inf")
        self.started = clock()
        self.read = 0
        self.invalid = 0
        self.accepted = 0
        self.completed = 0
        self.failed = 0
        self.rejected = 0
        """Records of requests the server refused (failed, but never accepted)."""
        self.not_sent = 0
        self.blocked = 0
        self.skipped = 0
        """Records an earlier run's journal accounts for (not read again)."""
        self.pushes = 0
        self.polls = 0
        self.reads = 0
        self.retries = 0
        self.resent_because: Counter[str] = Counter()
        """Re-sent chunks by why an earlier attempt may have been stored."""
        self.splits = 0
        self.reconciled = 0
        self.failures: list[RecordFailure] = []
        self.batch_ids: dict[str, None] = {}
        """Every batch of the run, in order (a dict: membership is asked per lost push)."""
        self.stopped_reason: str | None = None

    # -- derived ----------------------------------------------------------------------

    @property
    def awaiting(self) -> int:
        """Records the API accepted that have no final status yet."""
        return self.accepted - self.completed - (self.failed - self.rejected)

    @property
    def pending(self) -> int:
        """Records without a final outcome: awaiting a status, or never accepted."""
        return self.awaiting + self.not_sent

    @property
    def resent(self) -> int:
        """Chunks sent again after an attempt the server may have stored."""
        return sum(self.resent_because.values())

    @property
    def requests(self) -> int:
        return self.pushes + self.polls + self.reads

    # -- what happened ----------------------------------------------------------------

    def fail(
        self, ref: RecordRef, entity: str | None, status: str, reason: str, **extra: Any
    ) -> None:
        """Keep one record's failure (the counting is the caller's)."""
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
        if self._on_failure is not None:
            self._on_failure(failure)

    def record_invalid(
        self,
        ref: RecordRef,
        entity: str | None,
        reason: str,
        *,
        field: str | None,
        record: Any,
        status: str = "Invalid",
    ) -> None:
        self.invalid += 1
        self.fail(ref, entity, status, reason, field=field, record=record)
        self.progress()

    def record_rejected(self, chunk: Chunk, status: str, reason: str) -> None:
        """The server refused the whole request: its records failed, the run goes on."""
        for position, ref in enumerate(chunk.refs):
            record = chunk.decoded(position) if chunk.parts else None
            self.fail(ref, chunk.entity, status, reason, record=record)
        self.failed += len(chunk)
        self.rejected += len(chunk)
        self.progress()

    def record_accepted(self, chunk: Chunk, batch_id: str) -> None:
        self.accepted += len(chunk)
        self.batch_ids[batch_id] = None
        self.progress()

    def record_not_sent(self, records: int) -> None:
        self.not_sent += records
        self.progress()

    def record_settled(self, completed: int, failed: int) -> None:
        """A batch's records reached a final status (failures were kept with ``fail``)."""
        self.completed += completed
        self.failed += failed
        self.progress()

    def stop(self, reason: str) -> None:
        """Nothing more is sent from now on; the first reason is the one reported."""
        if self.stopped_reason is None:
            self.stopped_reason = reason
            logger.warning("onboarding stops sending: %s", reason)

    # -- what is shown ----------------------------------------------------------------

    def progress(self, *, finished: bool = False) -> None:
        if self._on_progress is None:
            return
        now = self._clock()
        if not finished and now - self._last_progress < _PROGRESS_INTERVAL:
            return
        self._last_progress = now
        self._on_progress(
            Progress(
                read=self.read,
                invalid=self.invalid,
                accepted=self.accepted,
                completed=self.completed,
                failed=self.failed,
                pending=self.pending,
                open_batches=self._open_batches(),
                requests=self.requests,
                retries=self.retries,
                rate_limited=self._gate.throttled(),
                rate=self._gate.rate(),
                elapsed=now - self.started,
                finished=finished,
                chunk_size=self._chunk_sizes().final if self._chunk_sizes else None,
                waiting_for_parent=self._waiting_for_parent() if self._waiting_for_parent else 0,
            )
        )

    def report(self, carried: Mapping[str, int]) -> OnboardingReport:
        """The report of the run, with what earlier runs of its journal finished."""
        stats = RunStatistics(
            requests=self.requests,
            pushes=self.pushes,
            polls=self.polls,
            retries=self.retries,
            resent=self.resent,
            resent_by_reason=dict(self.resent_because),
            rate_limited=self._gate.throttled(),
            splits=self.splits,
            reconciled=self.reconciled,
            duration=self._clock() - self.started,
            cooldown=self._gate.cooldown_total(),
            final_rate=self._gate.rate(),
            chunk_sizes=self._chunk_sizes() if self._chunk_sizes else None,
        )
        completed = self.completed + carried.get("completed", 0)
        failed = self.failed + carried.get("failed", 0)
        invalid = self.invalid + carried.get("invalid", 0)
        pending = self.pending
        return OnboardingReport(
            submitted=completed + failed + pending,
            completed=completed,
            failed=failed,
            invalid=invalid,
            pending=pending,
            not_sent=self.not_sent,
            blocked=self.blocked,
            failures=tuple(self.failures),
            batch_ids=tuple(self.batch_ids),
            stats=stats,
            stopped_reason=self.stopped_reason,
            resumed=self.skipped,
        )
