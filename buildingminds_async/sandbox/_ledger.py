"""The ledger: what the sandbox received, stored and answered, for tests to check.

Reading the ledger first applies every status change that is due, exactly as a request
would, so it always shows the state a client would see now. Every method returns a copy:
a test can keep a result while the sandbox goes on.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ._state import FAILURE, STATUSES, TERMINAL, Batch, Message, SandboxState

__all__ = ["BatchSnapshot", "Ledger", "MessageSnapshot"]


@dataclass(frozen=True, slots=True)
class MessageSnapshot:
    """One inbound message (one pushed record) as it stands."""

    message_id: str
    batch_id: str
    entity: str
    index: int
    external_id: str | None
    event_type: str | None
    status: str
    missing_dependencies: bool
    missing_references: tuple[tuple[str, str], ...]
    error_message: str | None
    created_at: datetime
    updated_at: datetime

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL


@dataclass(frozen=True, slots=True)
class BatchSnapshot:
    """One batch (one accepted push) as it stands."""

    batch_id: str
    entity: str
    created_at: datetime
    updated_at: datetime
    record_count: int
    status: str
    status_counts: Mapping[str, int]
    missing_dependencies: int

    def to_json(self) -> dict[str, Any]:
        return {
            "batchId": self.batch_id,
            "entity": self.entity,
            "createdAt": _stamp(self.created_at.timestamp()),
            "updatedAt": _stamp(self.updated_at.timestamp()),
            "recordCount": self.record_count,
            "status": self.status,
            "statusCounts": dict(self.status_counts),
            "missingDependencies": self.missing_dependencies,
        }


def _stamp(epoch: float) -> str:
    """``yyyy-mm-ddThh:mm:ssZ``, the API's date-time format."""
    return _stamp_second(int(epoch))


@functools.lru_cache(maxsize=1024)
def _stamp_second(second: int) -> str:
    # Listing a batch formats two stamps per message; most share their second.
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(second))


def _precise(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def batch_json(state: SandboxState, batch: Batch) -> dict[str, Any]:
    """A batch object of ``GET /batch`` (caller holds the lock)."""
    created = state.wall(batch.created)
    return {
        "batchId": batch.batch_id,
        "entity": batch.entity,
        "createdAt": _stamp(created),
        "createdAtPrecise": _precise(created),
        "updatedAt": _stamp(state.wall(batch.updated)),
        "recordCount": len(batch.messages),
        "status": batch.status,
        "statusCounts": nonzero_counts(batch.counts),
        "missingDependencies": batch.missing,
    }


def nonzero_counts(counts: Mapping[str, int]) -> dict[str, int]:
    """The statuses that have records, in lifecycle order (`STATUSES`), whatever the order
    in which processing first reached them."""
    return {status: counts[status] for status in STATUSES if counts.get(status)}


def message_json(state: SandboxState, m: Message) -> dict[str, Any]:
    """An inbound message of ``GET /batch/{batchId}/inbound`` (caller holds the lock)."""
    return {
        "messageId": m.message_id,
        "batchId": m.batch.batch_id,
        "entity": m.rule.name,
        "index": m.index,
        "externalId": m.external_id,
        "eventType": m.event_type,
        "status": m.status,
        "missingDependencies": bool(m.missing),
        "missingReferences": [{"entity": e, "externalId": i} for e, i in m.missing],
        "errorMessage": m.error if m.status in FAILURE else None,
        "createdAt": _stamp(state.wall(m.created)),
        "updatedAt": _stamp(state.wall(m.updated)),
    }


class Ledger:
    """Read-only view of a sandbox: ``sandbox.ledger``.

    - ``stored(entity)``: the latest record of every id that completed (deleted ids are
      gone), ``record(entity, id)``;
    - ``receive_count(entity, id)``, ``receive_counts(entity)``, ``duplicates(entity)``:
      how many times each id arrived in a push (valid or not, processed or not);
    - ``batches()``, ``batch(batch_id)``, ``messages(batch_id)``: every batch and the
      status of each of its records; ``status_counts()`` totals them;
    - ``counters`` (a name is absent until it happens once): ``requests`` (API and token
      endpoint), ``token_requests``, ``tokens_issued``, ``token_errors``,
      ``tokens_revoked``, ``pushes`` (entity POSTs received), ``batches`` and ``records``
      (stored), ``unauthorized`` (401), ``rate_limited`` (429 of the rate limiter),
      ``too_large`` (413), ``bad_requests`` (400 on a push), ``not_found`` (unknown
      batch), ``fault_<kind>`` per injected fault served (``fault_503``,
      ``fault_reset``, ``fault_slow``, ...) and ``unexpected_errors`` (a sandbox bug);
      ``requests_per_path`` (``"POST /building"``, ``"GET /batch"``, ...);
      ``responses`` (count per HTTP status sent); ``tokens_issued``;
    - ``pending()``: records not yet in a final status.
    """

    __slots__ = ("_state",)

    def __init__(self, state: SandboxState) -> None:
        self._state = state

    def __repr__(self) -> str:
        counters = self.counters
        return (
            f"<Ledger batches={counters.get('batches', 0)} records={counters.get('records', 0)} "
            f"pending={self.pending()}>"
        )

    def _entity(self, entity: str) -> str:
        if entity not in self._state.rules:
            known = ", ".join(self._state.rules)
            raise KeyError(f"unknown entity {entity!r}; known entities: {known}")
        return entity

    # -- what was stored and received ---------------------------------------------------

    def stored(self, entity: str) -> dict[str, dict[str, Any]]:
        """External id -> latest stored record, for every completed id of ``entity``."""
        state = self._state
        with state.lock:
            state.advance()
            return dict(state.store[self._entity(entity)])

    def record(self, entity: str, external_id: str) -> dict[str, Any] | None:
        """The stored record of ``entity`` with that id, or None."""
        state = self._state
        with state.lock:
            state.advance()
            return state.store[self._entity(entity)].get(external_id)

    def receive_count(self, entity: str, external_id: str) -> int:
        """How many times a record of ``entity`` with that id arrived in a push."""
        state = self._state
        with state.lock:
            return state.received[self._entity(entity)].get(external_id, 0)

    def receive_counts(self, entity: str) -> dict[str, int]:
        """External id -> how many times it arrived, for ``entity``."""
        state = self._state
        with state.lock:
            return dict(state.received[self._entity(entity)])

    def duplicates(self, entity: str) -> dict[str, int]:
        """The ids of ``entity`` that arrived more than once, with their counts."""
        return {k: n for k, n in self.receive_counts(entity).items() if n > 1}

    # -- batches and messages ------------------------------------------------------------

    def batch_ids(self) -> list[str]:
        """Every Batch ID, oldest first."""
        state = self._state
        with state.lock:
            return [b.batch_id for b in state.batch_order]

    def batches(self, entity: str | None = None) -> list[BatchSnapshot]:
        """Every batch (of ``entity``, if given), oldest first."""
        state = self._state
        with state.lock:
            state.advance()
            return [
                self._batch(b)
                for b in state.batch_order
                if entity is None or b.entity == self._entity(entity)
            ]

    def batch(self, batch_id: str) -> BatchSnapshot:
        """One batch; KeyError if there is no such batch."""
        state = self._state
        with state.lock:
            state.advance()
            found = state.batches.get(batch_id)
            if found is None:
                raise KeyError(f"no batch {batch_id!r} in the sandbox")
            return self._batch(found)

    def messages(self, batch_id: str) -> list[MessageSnapshot]:
        """The messages of one batch in push order; KeyError if there is no such batch."""
        state = self._state
        with state.lock:
            state.advance()
            found = state.batches.get(batch_id)
            if found is None:
                raise KeyError(f"no batch {batch_id!r} in the sandbox")
            return [self._message(m) for m in found.messages]

    def status_counts(
        self, entity: str | None = None, *, batch_id: str | None = None
    ) -> dict[str, int]:
        """Status -> number of records, over everything, one entity or one batch."""
        state = self._state
        with state.lock:
            state.advance()
            if batch_id is not None:
                found = state.batches.get(batch_id)
                if found is None:
                    raise KeyError(f"no batch {batch_id!r} in the sandbox")
                counts = found.counts
            elif entity is not None:
                counts = state.status_by_entity[self._entity(entity)]
            else:
                counts = {}
                for per_entity in state.status_by_entity.values():
                    for status, n in per_entity.items():
                        counts[status] = counts.get(status, 0) + n
            return nonzero_counts(counts)

    def pending(self) -> int:
        """How many records have not reached a final status yet."""
        return self._state.pending_count()

    # -- traffic ---------------------------------------------------------------------------

    @property
    def counters(self) -> dict[str, int]:
        """Named counts of what happened (see the class docstring)."""
        state = self._state
        with state.lock:
            return dict(state.counters)

    @property
    def requests_per_path(self) -> dict[str, int]:
        """``"METHOD /path-template"`` -> requests received (admin endpoints excluded)."""
        state = self._state
        with state.lock:
            return dict(state.paths)

    @property
    def responses(self) -> dict[int, int]:
        """HTTP status -> responses sent (a reset sends none)."""
        state = self._state
        with state.lock:
            return dict(state.responses)

    @property
    def tokens_issued(self) -> int:
        return self.counters.get("tokens_issued", 0)

    # -- export ----------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        """A summary for ``GET /_sandbox/ledger``."""
        state = self._state
        with state.lock:
            state.advance()
            received = {
                name: {
                    "records": sum(ids.values()),
                    "distinctIds": len(ids),
                    "duplicateIds": sum(1 for n in ids.values() if n > 1),
                }
                for name, ids in state.received.items()
                if ids
            }
            return {
                "counters": dict(state.counters),
                "requestsPerPath": dict(state.paths),
                "responses": {str(k): v for k, v in sorted(state.responses.items())},
                "statusCounts": self.status_counts(),
                "stored": {name: len(ids) for name, ids in state.store.items() if ids},
                "received": received,
                "batches": len(state.batch_order),
                "pending": sum(b.pending for b in state.batch_order),
            }

    # -- snapshots -------------------------------------------------------------------------

    def _batch(self, b: Batch) -> BatchSnapshot:
        wall = self._state.wall
        return BatchSnapshot(
            batch_id=b.batch_id,
            entity=b.entity,
            created_at=datetime.fromtimestamp(wall(b.created), UTC),
            updated_at=datetime.fromtimestamp(wall(b.updated), UTC),
            record_count=len(b.messages),
            status=b.status,
            status_counts=nonzero_counts(b.counts),
            missing_dependencies=b.missing,
        )

    def _message(self, m: Message) -> MessageSnapshot:
        wall = self._state.wall
        return MessageSnapshot(
            message_id=m.message_id,
            batch_id=m.batch.batch_id,
            entity=m.rule.name,
            index=m.index,
            external_id=m.external_id,
            event_type=m.event_type,
            status=m.status,
            missing_dependencies=bool(m.missing),
            missing_references=m.missing,
            error_message=m.error if m.status in FAILURE else None,
            created_at=datetime.fromtimestamp(wall(m.created), UTC),
            updated_at=datetime.fromtimestamp(wall(m.updated), UTC),
        )
