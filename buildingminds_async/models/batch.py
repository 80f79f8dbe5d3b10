"""Batches, inbound messages and their statuses (REFERENCE.md section 6).

A successful push returns a Batch ID; the batch then holds one inbound message per pushed
record, each with a status. None of these shapes is documented, so the models accept the
likely spellings of each field, keep unknown fields and never reject a status.
"""

from __future__ import annotations

import reprlib
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Generic, Literal, TypeVar, assert_never

from pydantic import AliasChoices, Field

from ._base import ResponseModel

__all__ = [
    "Batch",
    "BatchResult",
    "BatchStatus",
    "InboundMessage",
    "Outcome",
    "Page",
    "parse_batch_id",
    "status_outcome",
]

T = TypeVar("T")

Outcome = Literal["success", "failure", "pending"]
"""Where a record stands: onboarded, failed for good, or still in processing."""


class BatchStatus(StrEnum):
    """Status of an inbound message (one pushed record); the batch endpoints filter on it.

    Lookup ignores case (``BatchStatus("COMPLETED")`` is ``COMPLETED``): the docs spell the
    target state both ways.
    """

    NEW = "New"
    """Accepted and waiting; also where a record waits for a missing parent."""
    IN_PROGRESS = "InProgress"
    RETRYING = "Retrying"
    RESUBMITTING = "Resubmitting"
    GEO_CODING_SUCCESSFUL = "GeoCodingSuccessful"
    """Address geocoded; processing continues."""
    COMPLETED = "Completed"
    PUBLISHED = "Published"
    """Named by the newest FAQ next to Completed as a finished state."""
    FAILED = "Failed"
    FAILED_VALIDATION = "FailedValidation"
    FAILED_GEO_CODING = "FailedGeoCoding"
    TRANSFORMATION_FAILED = "TransformationFailed"

    @classmethod
    def _missing_(cls, value: object) -> BatchStatus | None:
        if isinstance(value, str):
            folded = value.casefold()
            for member in cls:
                if member.value.casefold() == folded:
                    return member
        return None


def status_outcome(status: str) -> Outcome:
    """``"success"``, ``"failure"`` or ``"pending"`` for a status; unknown ones are pending.

    Completed and Published succeed; Failed, FailedValidation, FailedGeoCoding and
    TransformationFailed fail; every other status, including one this SDK does not know
    yet, means the record is still being processed.
    """
    # Called for every record of every poll: the exact spellings are looked up directly.
    outcome = _OUTCOMES.get(status)
    return outcome if outcome is not None else _outcome_of(status)


def _outcome_of(status: str) -> Outcome:
    try:
        known = BatchStatus(status)
    except ValueError:
        return "pending"
    match known:
        case BatchStatus.COMPLETED | BatchStatus.PUBLISHED:
            return "success"
        case (
            BatchStatus.FAILED
            | BatchStatus.FAILED_VALIDATION
            | BatchStatus.FAILED_GEO_CODING
            | BatchStatus.TRANSFORMATION_FAILED
        ):
            return "failure"
        case (
            BatchStatus.NEW
            | BatchStatus.IN_PROGRESS
            | BatchStatus.RETRYING
            | BatchStatus.RESUBMITTING
            | BatchStatus.GEO_CODING_SUCCESSFUL
        ):
            return "pending"
        case _:
            assert_never(known)


_OUTCOMES: dict[str, Outcome] = {str(s): _outcome_of(str(s)) for s in BatchStatus}

_BATCH_ID_KEYS = ("batchId", "id", "BatchId", "batch_id")


def _shorten(payload: object, limit: int = 120) -> str:
    text = reprlib.repr(payload)  # already bounds long containers and strings
    return text if len(text) <= limit else text[: limit - 3] + "..."


def parse_batch_id(payload: object) -> str:
    """The Batch ID in the decoded JSON response of an entity push.

    Accepts ``{"batchId": "..."}`` and, since the shape is undocumented, the keys ``id``,
    ``BatchId`` and ``batch_id`` or a bare JSON string. Raises ``ValueError`` saying what
    was received otherwise.
    """
    if isinstance(payload, str) and payload.strip():
        return payload.strip()
    if isinstance(payload, dict):
        for key in _BATCH_ID_KEYS:
            value = payload.get(key)
            if isinstance(value, str) and value.strip():
                return value.strip()
            if isinstance(value, int) and not isinstance(value, bool):
                return str(value)
    raise ValueError(
        'expected a Batch ID in the push response, as {"batchId": "..."} or a JSON '
        f"string; received {_shorten(payload)}"
    )


class Batch(ResponseModel):
    """A batch as listed by ``GET /batch``; its fields are undocumented, others are kept."""

    batch_id: str = Field(alias="batchId", validation_alias=AliasChoices("batchId", "id"))
    created_at: datetime | None = Field(default=None, alias="createdAt")
    status: str | None = None
    entity: str | None = Field(
        default=None, alias="entity", validation_alias=AliasChoices("entity", "entityType")
    )
    record_count: int | None = Field(
        default=None,
        alias="recordCount",
        validation_alias=AliasChoices("recordCount", "totalCount", "count"),
    )
    """Number of records pushed in the batch."""
    status_counts: dict[str, int] | None = Field(default=None, alias="statusCounts")
    """Records per status, where the server summarises them (the sandbox does; whether the
    real API does is undocumented). ``None`` when the batch object has no such field."""
    missing_dependencies: int | bool | None = Field(default=None, alias="missingDependencies")
    """Records (or whether any) wait for a parent record, where the server says so."""


class InboundMessage(ResponseModel):
    """One pushed record of a batch and its status (``GET /batch/{batchId}/inbound``)."""

    message_id: str | None = Field(
        default=None, alias="messageId", validation_alias=AliasChoices("messageId", "id")
    )
    batch_id: str | None = Field(default=None, alias="batchId")
    entity: str | None = Field(
        default=None, alias="entity", validation_alias=AliasChoices("entity", "entityType")
    )
    external_id: str | None = Field(
        default=None,
        alias="externalId",
        validation_alias=AliasChoices("externalId", "entityId", "recordId"),
    )
    index: int | None = Field(
        default=None, alias="index", validation_alias=AliasChoices("index", "position")
    )
    """Position of the record in the pushed array."""
    status: str
    """A :class:`BatchStatus` value, or one this SDK does not know yet."""
    missing_dependencies: bool = Field(default=False, alias="missingDependencies")
    """True while a referenced parent record does not exist yet."""
    error: str | None = Field(
        default=None,
        alias="errorMessage",
        validation_alias=AliasChoices("errorMessage", "error", "reason", "statusMessage"),
    )
    """Why the record failed, when the server says."""
    created_at: datetime | None = Field(default=None, alias="createdAt")
    updated_at: datetime | None = Field(default=None, alias="updatedAt")

    @property
    def outcome(self) -> Outcome:
        """:func:`status_outcome` of this message's status."""
        return status_outcome(self.status)


class Page(ResponseModel, Generic[T]):
    """The envelope of the batch listings: ``{"message", "totalCount", "data": [...]}``."""

    message: str | None = None
    total_count: int = Field(default=0, alias="totalCount")
    data: list[T] = Field(default_factory=list)


@dataclass(frozen=True, slots=True)
class BatchResult:
    """The statuses of a batch's records, as last seen.

    ``done`` is True once every record has a final status (success or failure) and the
    server lists as many records as were pushed (``expected``, when known).
    """

    batch_id: str
    messages: tuple[InboundMessage, ...]
    total_count: int
    expected: int | None = None
    # (completed, failed, pending, blocked) among the listed messages, counted once.
    _counts: tuple[int, int, int, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        completed = failed = pending = blocked = 0
        for message in self.messages:
            outcome = status_outcome(message.status)
            if outcome == "success":
                completed += 1
            elif outcome == "failure":
                failed += 1
            else:
                pending += 1
                blocked += message.missing_dependencies
        object.__setattr__(self, "_counts", (completed, failed, pending, blocked))

    @property
    def status_counts(self) -> Mapping[str, int]:
        return Counter(message.status for message in self.messages)

    @property
    def completed(self) -> int:
        return self._counts[0]

    @property
    def failed(self) -> int:
        return self._counts[1]

    @property
    def pending(self) -> int:
        """Records without a final status, including those not listed by the server yet."""
        known = max(self.total_count, self.expected or 0)
        return self._counts[2] + max(known - len(self.messages), 0)

    @property
    def blocked(self) -> int:
        """Records parked in ``New`` because a parent they reference is not onboarded yet."""
        return self._counts[3]

    @property
    def done(self) -> bool:
        known = max(self.total_count, self.expected or 0)
        return known > 0 and len(self.messages) >= known and self.pending == 0

    @property
    def ok(self) -> bool:
        """Done, and every record succeeded."""
        return self.done and self.failed == 0

    @property
    def failures(self) -> tuple[InboundMessage, ...]:
        return tuple(m for m in self.messages if status_outcome(m.status) == "failure")

    def __repr__(self) -> str:
        return (
            f"BatchResult(batch_id={self.batch_id!r}, completed={self.completed}, "
            f"failed={self.failed}, pending={self.pending}, done={self.done})"
        )
