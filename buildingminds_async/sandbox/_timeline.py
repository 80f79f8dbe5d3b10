"""How a pushed record moves through its statuses, on the sandbox's clock.

No task runs in the background. Every change of status is an event on a heap, due at a
time of the injected clock; whenever the sandbox is observed (a request arrives, the
ledger is read) the due events are applied in time order. A fake clock therefore
replaces waiting.

Timeline of one record pushed at ``t0`` with processing delay ``d`` (``d = 0`` settles
everything at the next observation):

```
New ──d/2──> InProgress ──d/2──> Completed | FailedValidation | Failed | TransformationFailed
                            └──> Retrying ──d/2──> InProgress ──d/2──> ...   (once, optional)
address: New ─d/3─> InProgress ─d/3─> GeoCodingSuccessful ─d/3─> Completed
                                  └─> FailedGeoCoding (postal code in bad_postcodes)
parked:  New (missingDependencies) ──parent Completed──> InProgress ──d/2──> ...
```

``d`` is the processing delay when the batch arrived: changing it later moves only the
records pushed afterwards. With ``d = 0`` nobody could see the statuses in between, so a
batch's records go from New straight to where they end (`_settle`); records released by
a parent still pass through InProgress. The random outcomes (Failed,
TransformationFailed, Retrying) are drawn when a record reaches its final step, with the
settings of that moment.

The ``Timeline`` holds the events and the records parked for a parent; its methods
expect the caller to hold the state's lock.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable
from typing import Any, Final

from ._config import SandboxConfig
from ._entities import EntityRule, RecordVerdict, references

__all__ = ["FAILURE", "STATUSES", "SUCCESS", "TERMINAL", "Batch", "Message", "Timeline"]

STATUSES: Final = (
    "New",
    "InProgress",
    "Failed",
    "FailedValidation",
    "Retrying",
    "Completed",
    "FailedGeoCoding",
    "GeoCodingSuccessful",
    "TransformationFailed",
    "Resubmitting",
    "Published",
)
SUCCESS: Final = frozenset({"Completed", "Published"})
FAILURE: Final = frozenset(
    {"Failed", "FailedValidation", "FailedGeoCoding", "TransformationFailed"}
)
TERMINAL: Final = SUCCESS | FAILURE

_PICKUP: Final = 0
_GEOCODE: Final = 1
_FINISH: Final = 2
_RESUME: Final = 3


class Message:
    """One pushed record and where it stands.

    ``record`` is the pushed record until the message reaches a final status; then it is
    dropped (`_set`, `_set_all`: the store has what completed), so a sandbox does not keep
    every push it was sent.
    """

    __slots__ = (
        "batch",
        "created",
        "delete",
        "error",
        "event_type",
        "external_id",
        "index",
        "missing",
        "record",
        "retried",
        "rule",
        "status",
        "updated",
    )

    def __init__(
        self, batch: Batch, index: int, rule: EntityRule, record: Any, verdict: RecordVerdict
    ) -> None:
        self.batch = batch
        self.index = index
        self.rule = rule
        self.record = record
        self.external_id = verdict.external_id
        self.event_type = verdict.event_type
        self.delete = verdict.delete
        # The reason it will fail validation, revealed when processing reaches it.
        self.error: str | None = verdict.error
        self.status = "New"
        self.missing: tuple[tuple[str, str], ...] = ()
        self.retried = False
        self.created = batch.created
        self.updated = batch.created

    @property
    def message_id(self) -> str:
        return f"{self.batch.batch_id}-{self.index}"


class Batch:
    """One accepted push: its messages and live counts of their statuses."""

    __slots__ = (
        "batch_id",
        "client_id",
        "counts",
        "created",
        "delay",
        "entity",
        "failed",
        "messages",
        "missing",
        "pending",
        "updated",
    )

    def __init__(
        self, batch_id: str, entity: str, client_id: str, created: float, delay: float
    ) -> None:
        self.batch_id = batch_id
        self.entity = entity
        self.client_id = client_id
        self.created = created
        self.updated = created
        # The processing delay when the batch arrived: changing it later does not move
        # records already on their way.
        self.delay = delay
        self.messages: list[Message] = []
        self.counts: dict[str, int] = {}
        self.pending = 0
        self.failed = 0
        self.missing = 0

    @property
    def status(self) -> str:
        """The batch as a whole (not an API value; documented in the OpenAPI)."""
        total = len(self.messages)
        if self.pending:
            return "New" if self.counts.get("New", 0) == total else "InProgress"
        if not self.failed:
            return "Completed"
        return "Failed" if self.failed == total else "CompletedWithErrors"


class Timeline:
    """The status changes due, and what they do to the messages, batches and the store."""

    def __init__(
        self,
        *,
        store: dict[str, dict[str, dict[str, Any]]],
        status_by_entity: dict[str, dict[str, int]],
        config: Callable[[], SandboxConfig],
        seed: int,
    ) -> None:
        self.store = store
        self.status_by_entity = status_by_entity
        self._config = config
        self.rng = random.Random(seed)
        self.waiting: dict[tuple[str, str], list[Message]] = {}
        self.pending = 0  # records not yet in a final status, over every batch
        self._heap: list[tuple[float, int, int, list[Message]]] = []
        self._seq = 0

    def admit(self, messages: list[Message], pickup_at: float) -> None:
        """A new batch's messages (all New): picked up at ``pickup_at``."""
        if not messages:
            return
        messages[0].batch.pending = len(messages)
        self.pending += len(messages)
        self._schedule(pickup_at, _PICKUP, messages)

    def advance(self, now: float) -> None:
        """Apply every status change due by ``now``, in time order."""
        heap = self._heap
        while heap and heap[0][0] <= now:
            due, _, kind, messages = heapq.heappop(heap)
            if kind == _PICKUP:  # a batch of its own: settled at once when it has no delay
                self._pickup(messages, due, settle=not messages[0].batch.delay)
            elif kind == _GEOCODE:
                self._geocode(messages, due)
            elif kind == _FINISH:
                self._finish(messages, due)
            else:
                self._resume(messages, due)

    def _schedule(self, due: float, kind: int, messages: list[Message]) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (due, self._seq, kind, messages))

    def _set(self, m: Message, status: str, t: float) -> None:
        old = m.status
        if old == status:
            return
        m.status = status
        m.updated = t
        if status in TERMINAL:
            m.record = None
        self._move(m.batch, old, status, 1, t)

    def _set_all(self, messages: list[Message], status: str, t: float) -> None:
        """`_set` for each message in turn: the same statuses, times and counts.

        The counts move once per run of messages of one batch in one status (a whole
        batch, usually), not once per message.
        """
        terminal = status in TERMINAL
        batch: Batch | None = None
        old = ""
        moved = 0
        for m in messages:
            current = m.status
            if m.batch is not batch or current != old:
                if moved:
                    self._move(batch, old, status, moved, t)  # type: ignore[arg-type]
                batch, old, moved = m.batch, current, 0
            if current == status:
                continue
            m.status = status
            m.updated = t
            if terminal:
                m.record = None
            moved += 1
        if moved:
            self._move(batch, old, status, moved, t)  # type: ignore[arg-type]

    def _move(self, batch: Batch, old: str, status: str, n: int, t: float) -> None:
        """Count ``n`` messages of ``batch`` moved from ``old`` to ``status`` at ``t``."""
        counts = batch.counts
        counts[old] -= n
        counts[status] = counts.get(status, 0) + n
        by_entity = self.status_by_entity[batch.entity]
        by_entity[old] -= n
        by_entity[status] = by_entity.get(status, 0) + n
        if status in TERMINAL:
            batch.pending -= n
            self.pending -= n
            if status in FAILURE:
                batch.failed += n
        batch.updated = t

    def _missing(self, m: Message) -> tuple[tuple[str, str], ...]:
        store = self.store
        return tuple(
            (parent, pid)
            for parent, pid in references(m.rule, m.record)
            if pid not in store.get(parent, ())
        )

    def _schedule_by_delay(
        self, messages: list[Message], t: float, kind: int, fraction: float
    ) -> None:
        """Schedule ``kind`` for each message at ``t + fraction * its batch's delay``."""
        batch = messages[0].batch
        first = batch.delay
        for m in messages:
            if m.batch is not batch and m.batch.delay != first:
                break
        else:
            self._schedule(t + first * fraction, kind, messages)
            return
        groups: dict[float, list[Message]] = {}
        for m in messages:
            groups.setdefault(m.batch.delay, []).append(m)
        for delay, group in groups.items():
            self._schedule(t + delay * fraction, kind, group)

    def _pickup(self, messages: list[Message], t: float, *, settle: bool = False) -> None:
        plain: list[Message] = []
        geocode: list[Message] = []
        for m in messages:
            if m.error is None and not m.delete and m.rule.parent_fields:
                missing = self._missing(m)
                if missing:
                    # Parked until the first missing parent completes; then checked again.
                    if not m.missing:
                        m.batch.missing += 1
                    m.missing = missing
                    m.updated = t
                    self.waiting.setdefault(missing[0], []).append(m)
                    continue
            if m.missing:
                m.missing = ()
                m.batch.missing -= 1
            # InProgress is set below, all at once: nothing here reads a status or a count.
            if m.rule.geocoded and m.error is None and not m.delete:
                geocode.append(m)
            else:
                plain.append(m)
        if settle:
            self._settle(plain, geocode, t)
            return
        self._set_all(plain, "InProgress", t)
        self._set_all(geocode, "InProgress", t)
        if plain:
            self._schedule_by_delay(plain, t, _FINISH, 1 / 2)
        if geocode:
            self._schedule_by_delay(geocode, t, _GEOCODE, 1 / 3)

    def _geocode(self, messages: list[Message], t: float) -> None:
        ok = self._geocoded(messages, t)
        if ok:
            self._set_all(ok, "GeoCodingSuccessful", t)
            self._schedule_by_delay(ok, t, _FINISH, 1 / 3)

    def _geocoded(self, messages: list[Message], t: float) -> list[Message]:
        """The addresses whose postal code geocodes; the others end FailedGeoCoding."""
        bad = self._config().bad_postcodes
        if not bad:
            return messages
        ok: list[Message] = []
        for m in messages:
            postcode = m.record.get("postalCode")
            if postcode in bad:
                m.error = (
                    f"Geocoding failed: no location found for postal code {postcode!r} "
                    f"of address {m.external_id!r}"
                )
                self._set(m, "FailedGeoCoding", t)
            else:
                ok.append(m)
        return ok

    def _settle(self, plain: list[Message], geocode: list[Message], t: float) -> None:
        """Pickup, geocoding and the final step at once, for a batch with no delay.

        Its records would pass through InProgress and GeoCodingSuccessful within this
        same observation, where nobody can see them: they go straight to where they end.
        """
        if geocode:
            plain = plain + self._geocoded(geocode, t)
        if plain:
            self._finish(plain, t)

    def _resume(self, messages: list[Message], t: float) -> None:
        for m in messages:
            self._set(m, "InProgress", t)
        self._schedule_by_delay(messages, t, _FINISH, 1 / 2)

    def _finish(self, messages: list[Message], t: float) -> None:
        config = self._config()
        rng = self.rng
        p_retry = config.retrying_probability
        p_transform = config.transformation_failed_probability
        p_fail = p_transform + config.failed_probability
        retry: list[Message] = []
        released: list[Message] = []
        done: list[Message] = []
        waiting = self.waiting
        stores = self.store
        for m in messages:
            if m.error is not None:
                self._set(m, "FailedValidation", t)
                continue
            if p_retry and not m.retried and rng.random() < p_retry:
                m.retried = True
                self._set(m, "Retrying", t)
                retry.append(m)
                continue
            if p_fail:
                draw = rng.random()
                if draw < p_fail:
                    if draw < p_transform:
                        m.error = f"Transformation failed: {m.rule.name} {m.external_id!r} could "
                        m.error += "not be mapped into the platform model (injected)"
                        self._set(m, "TransformationFailed", t)
                    else:
                        m.error = f"Processing failed for {m.rule.name} {m.external_id!r}"
                        m.error += " (injected)"
                        self._set(m, "Failed", t)
                    continue
            name = m.rule.name
            external_id = m.external_id
            if external_id is None:  # cannot happen: the model requires the id
                continue
            store = stores[name]
            if m.delete:
                store.pop(external_id, None)
            else:
                old = store.get(external_id)
                # Fields are upserted: a field the update leaves out keeps its value.
                store[external_id] = m.record if old is None else {**old, **m.record}
                if waiting:
                    children = waiting.pop((name, external_id), None)
                    if children:
                        released.extend(children)
            done.append(m)
        # Counted together; nothing above reads a status or a count.
        self._set_all(done, "Completed", t)
        if retry:
            self._schedule_by_delay(retry, t, _RESUME, 1 / 2)
        if released:
            self._pickup(released, t)
