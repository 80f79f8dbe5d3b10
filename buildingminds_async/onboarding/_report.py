"""What ``onboard()`` hands back: the report, its failures and statistics, the progress.

These are the public result types of the pipeline; every stage fills them through the
tally (``_tally.py``), none builds them itself.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..models import EntityModel


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
    index: int | None = None
    """The record's position in the caller's input, when that is not its position in
    the stream handed over (a selection of the input, as ``sync()`` sends)."""


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

    def as_dict(self) -> dict[str, Any]:
        """The failure as plain JSON values (a line of the CLI's reject file)."""
        return {
            "file": self.file,
            "line": self.line,
            "entity": self.entity,
            "external_id": self.external_id,
            "status": self.status,
            "field": self.field,
            "reason": self.reason,
            "batch_id": self.batch_id,
            "record": self.record,
        }

    def __str__(self) -> str:
        """One line, whatever the input held: control and bidirectional formatting
        characters of the id, source and reason are shown escaped (``\\n``, ``\\u202e``)."""
        if self.external_id:
            who = f"{self.entity or 'record'} {shown(self.external_id)}"
        else:
            who = f"{self.entity} record" if self.entity else "record"
        batch = f" (batch {shown(self.batch_id)})" if self.batch_id else ""
        return f"{shown(self.source)}: {who} {self.status}: {shown(self.reason)}{batch}"


_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def shown(text: str) -> str:
    """``text`` safe to print on one terminal line: control and bidirectional formatting
    characters escaped as Python would write them."""
    return _UNSAFE.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


@dataclass(frozen=True, slots=True)
class SizeChange:
    """One change of the chunk size, and why."""

    at: float
    """Seconds into the run."""
    size: int
    """Records per push from then on."""
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"at_s": round(self.at, 3), "size": self.size, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class ChunkSizes:
    """The records-per-push limits a run cut its chunks at (``RunStatistics.chunk_sizes``).

    ``smallest`` and ``largest`` are of the limit, not of the chunks: the last chunk of
    each entity holds what is left.
    """

    auto: bool
    initial: int
    smallest: int
    largest: int
    final: int
    changes: tuple[SizeChange, ...] = ()


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
    """Chunks sent again after an attempt the server may have processed (and, asked,
    showed it had not stored)."""
    rate_limited: int
    """429 answers, to pushes and reads."""
    splits: int
    """Chunks halved after a 413."""
    reconciled: int
    """Pushes whose response was lost but whose batch was found on the server (not re-sent)."""
    duration: float
    cooldown: float
    """Seconds all pushers were paused by Retry-After."""
    final_rate: float | None
    """Pushes per second the push lane ended at (None: never throttled, unpaced)."""
    chunk_sizes: ChunkSizes | None = None
    """The records per push the run cut its chunks at, and why that changed."""
    resent_by_reason: Mapping[str, int] = field(default_factory=dict)
    """``resent`` by why the earlier attempt may have been stored: ``"answer timed out"``
    (no answer within the read timeout) or ``"connection lost"`` (reset, closed)."""


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
    chunk_size: int | None = None
    """Records per push chunks are cut at now."""
    waiting_for_parent: int = 0
    """Pending records the platform holds until a parent record exists (last seen)."""


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
            "resent_by_reason": dict(self.stats.resent_by_reason),
            "rate_limited": self.stats.rate_limited,
            "reconciled": self.stats.reconciled,
            "batches": len(self.batch_ids),
            "duration_s": round(self.stats.duration, 3),
            "stopped_reason": self.stopped_reason,
            **_sizes_summary(self.stats.chunk_sizes),
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


def _sizes_summary(sizes: ChunkSizes | None) -> dict[str, Any]:
    if sizes is None:
        return {}
    return {
        "chunk_size": "auto" if sizes.auto else sizes.initial,
        "chunk_size_min": sizes.smallest,
        "chunk_size_max": sizes.largest,
        "chunk_size_final": sizes.final,
        "chunk_size_changes": [change.as_dict() for change in sizes.changes],
    }
