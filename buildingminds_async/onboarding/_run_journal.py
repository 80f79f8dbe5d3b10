"""What the pipeline's stages write their pushes' lives to, and the journal of a run that
keeps none."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Protocol

from ._chunking import Chunk, RecordRef


class RunJournal(Protocol):
    """What the pipeline's stages write to: a ``Journal``, the ``NullJournal``, or the
    state store of ``sync()``, which keeps its records by entity and external id.

    ``finished`` gets each record's outcome by position (``"success"``, ``"failure"``,
    ``"pending"``) when the batch was read record by record, ``None`` when a listing
    showed every record succeeded.
    """

    def carried_counts(self) -> dict[str, int]: ...
    def in_doubt(self) -> list[tuple[Chunk, datetime]]: ...
    def open_batches(self) -> list[tuple[str, Chunk]]: ...
    def is_done(self, index: int, file: str | None, line: int | None) -> bool: ...
    async def intend(self, chunk: Chunk, sent_at: datetime) -> None: ...
    def accepted(self, chunk: Chunk, batch_id: str) -> None: ...
    def unsent(self, chunk: Chunk) -> None: ...
    def finished(
        self,
        batch_id: str,
        chunk: Chunk,
        *,
        completed: int,
        failed: int,
        outcomes: Sequence[str] | None = None,
    ) -> None: ...
    def rejected(self, chunk: Chunk) -> None:
        """The server refused the whole request: its records failed, no batch."""

    def settled_in_part(self, batch_id: str, chunk: Chunk, outcomes: Sequence[str]) -> None:
        """The run ends with ``batch_id`` open: ``outcomes`` of the records that have one
        (the batch stays open for a later run)."""

    def mark_done(
        self, refs: Iterable[RecordRef], *, invalid: int = 0, failed: int = 0
    ) -> None: ...
    async def aclose(self) -> None: ...


class NullJournal:
    """The journal of a run that keeps none: every event is dropped, nothing is skipped."""

    def carried_counts(self) -> dict[str, int]:
        return {}

    def in_doubt(self) -> list[tuple[Chunk, datetime]]:
        return []

    def open_batches(self) -> list[tuple[str, Chunk]]:
        return []

    def is_done(self, index: int, file: str | None, line: int | None) -> bool:
        return False

    async def intend(self, chunk: Chunk, sent_at: datetime) -> None:
        return None

    def accepted(self, chunk: Chunk, batch_id: str) -> None:
        return None

    def unsent(self, chunk: Chunk) -> None:
        return None

    def finished(
        self,
        batch_id: str,
        chunk: Chunk,
        *,
        completed: int,
        failed: int,
        outcomes: Sequence[str] | None = None,
    ) -> None:
        return None

    def rejected(self, chunk: Chunk) -> None:
        return None

    def settled_in_part(self, batch_id: str, chunk: Chunk, outcomes: Sequence[str]) -> None:
        return None

    def mark_done(self, refs: Iterable[RecordRef], *, invalid: int = 0, failed: int = 0) -> None:
        return None

    async def aclose(self) -> None:
        return None
