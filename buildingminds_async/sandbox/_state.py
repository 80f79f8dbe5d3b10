"""The sandbox's state, and the processing that moves records through their statuses.

No task runs in the background. Every change of status is an event on a heap, due at a
time of the injected clock; whenever the sandbox is observed (a request arrives, the
ledger is read) the due events are applied in time order. A fake clock therefore
replaces waiting, and the same state serves an in-process ASGI transport, which runs
no lifespan, as well as a real server.

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

Every method that starts with an underscore expects the caller to hold ``lock``.
"""

from __future__ import annotations

import heapq
import math
import random
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from ._config import SandboxConfig, SecretSlot
from ._entities import EntityRule, RecordVerdict, references
from ._faults import Fault, FaultSchedule

__all__ = ["STATUSES", "SandboxState"]

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


@dataclass(slots=True)
class IssuedToken:
    client_id: str
    expires_at: float
    revoked: bool = False


TokenCheck = Literal["ok", "missing", "unknown", "revoked", "expired"]
SecretCheck = Literal["ok", "wrong", "expired"]


class SandboxState:
    """Everything a sandbox knows; guarded by ``lock`` (requests may come from a thread)."""

    def __init__(
        self,
        *,
        rules: Mapping[str, EntityRule],
        client_id: str,
        config: SandboxConfig,
        faults: Iterable[Fault],
        clock: Callable[[], float],
        epoch: float | None,
    ) -> None:
        self.lock = threading.RLock()
        self.rules = dict(rules)
        self.client_id = client_id
        self.clock = clock
        self.initial_config = config
        self.initial_faults = tuple(faults)
        t0 = clock()
        # Wall time of clock() == t0: createdAt dates follow the injected clock.
        self._t0 = t0
        self._epoch = time.time() if epoch is None else epoch
        # Batch IDs: a random prefix per sandbox and a counter, shaped as a version 4 UUID
        # (74 random bits, then 48 bits of counter). Not reset by reset(): every Batch ID
        # a sandbox hands out stays unique.
        r = secrets.randbits(74)
        self._batch_prefix = (
            f"{r >> 42:08x}-{(r >> 26) & 0xFFFF:04x}-4{(r >> 14) & 0xFFF:03x}-"
            f"{0x8 | ((r >> 12) & 0x3):x}{r & 0xFFF:03x}-"
        )
        self._batch_seq = 0
        self.resets = 0  # how many times reset() dropped the data
        self._reset_state()

    # -- lifecycle ----------------------------------------------------------------------

    def _reset_state(self) -> None:
        self.config = self.initial_config
        self.faults = FaultSchedule()
        self.faults.install(self.initial_faults)
        self._rng = random.Random(self.config.processing_seed)
        self.tokens: dict[str, IssuedToken] = {}
        self.buckets: dict[str, list[float]] = {}
        self.batches: dict[str, Batch] = {}
        self.batch_order: list[Batch] = []
        self.store: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in self.rules}
        self.received: dict[str, dict[str, int]] = {name: {} for name in self.rules}
        self.status_by_entity: dict[str, dict[str, int]] = {name: {} for name in self.rules}
        self.waiting: dict[tuple[str, str], list[Message]] = {}
        self.counters: dict[str, int] = {}
        self.paths: dict[str, int] = {}
        self.responses: dict[int, int] = {}
        self._heap: list[tuple[float, int, int, list[Message]]] = []
        self._seq = 0
        self._request_seq = 0
        self._pending = 0  # records not yet in a final status, over every batch

    def reset(self) -> None:
        with self.lock:
            self._reset_state()
            self.resets += 1

    def configure(self, config: SandboxConfig) -> None:
        with self.lock:
            if config.processing_seed != self.config.processing_seed:
                self._rng = random.Random(config.processing_seed)
            self.config = config

    # -- time -----------------------------------------------------------------------------

    def now(self) -> float:
        return self.clock()

    def wall(self, t: float) -> float:
        """Epoch seconds of clock time ``t``."""
        return self._epoch + (t - self._t0)

    # -- bookkeeping ----------------------------------------------------------------------

    def count(self, name: str, n: int = 1) -> None:
        with self.lock:
            counters = self.counters
            counters[name] = counters.get(name, 0) + n

    def _request(self, route: str) -> str:
        """Count a request; its request id."""
        paths = self.paths
        paths[route] = paths.get(route, 0) + 1
        self._request_seq += 1
        return f"sandbox-{self._request_seq:08d}"

    def request(self, route: str, *, api: bool) -> str:
        with self.lock:
            if api:
                counters = self.counters
                counters["requests"] = counters.get("requests", 0) + 1
            return self._request(route)

    def response(self, status: int) -> None:
        with self.lock:
            self.responses[status] = self.responses.get(status, 0) + 1

    # -- tokens ---------------------------------------------------------------------------

    def check_secret(self, secret: str) -> SecretCheck | SecretSlot:
        """Which slot ``secret`` is ('primary'/'secondary'), 'expired' or 'wrong'."""
        config = self.config
        slot: SecretSlot | None = None
        if secrets.compare_digest(secret.encode(), config.client_secret.encode()):
            slot = "primary"
        elif config.secondary_client_secret is not None and secrets.compare_digest(
            secret.encode(), config.secondary_client_secret.encode()
        ):
            slot = "secondary"
        if slot is None:
            return "wrong"
        return "expired" if slot in config.expired_secrets else slot

    def issue_token(self, client_id: str) -> tuple[str, int]:
        with self.lock:
            lifetime = self.config.token_lifetime
            token = secrets.token_urlsafe(32)
            self.tokens[token] = IssuedToken(client_id, self.clock() + lifetime)
            self.count("tokens_issued")
            return token, lifetime

    def check_token(self, authorization: str | None) -> tuple[TokenCheck, str | None]:
        """The verdict on an ``Authorization`` header, and the client it authenticates."""
        if not authorization:
            return "missing", None
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return "missing", None
        with self.lock:
            issued = self.tokens.get(token)
            if issued is None:
                return "unknown", None
            if issued.revoked:
                return "revoked", None
            if self.clock() >= issued.expires_at:
                return "expired", None
            return "ok", issued.client_id

    def revoke_tokens(self) -> int:
        """Revoke every token issued so far; how many were still valid."""
        with self.lock:
            now = self.clock()
            n = 0
            for issued in self.tokens.values():
                if not issued.revoked and now < issued.expires_at:
                    n += 1
                issued.revoked = True
            self.count("tokens_revoked", n)
            return n

    # -- rate limit -----------------------------------------------------------------------

    def take_rate(self, client_id: str, *, push: bool) -> int | None:
        """None when the request may go on, else the seconds to announce in Retry-After."""
        if self.config.rate_limit is None:  # no limit: nothing to count (read atomically)
            return None
        with self.lock:
            config = self.config
            rate = config.rate_limit
            if rate is None or (config.rate_limit_scope == "push" and not push):
                return None
            now = self.clock()
            capacity = float(config.burst)
            bucket = self.buckets.get(client_id)
            if bucket is None:
                bucket = self.buckets[client_id] = [capacity, now]
            tokens = min(capacity, bucket[0] + (now - bucket[1]) * rate)
            bucket[1] = now
            if tokens >= 1.0:
                bucket[0] = tokens - 1.0
                return None
            bucket[0] = tokens
            self.count("rate_limited")
            # Like nginx's `Retry-After: 1`: whole seconds, never 0, never shorter than
            # the real wait, so a client that honours it is not refused again.
            return max(1, math.ceil((1.0 - tokens) / rate))

    # -- faults ---------------------------------------------------------------------------

    def draw_fault(self, target: str) -> Fault | None:
        if not self.faults:  # none armed (the usual case): nothing to count or draw
            return None
        with self.lock:
            fault = self.faults.draw(target)
            if fault is not None:
                self.count(f"fault_{fault.kind}")
            return fault

    # -- pushes ---------------------------------------------------------------------------

    def store_batch(
        self, rule: EntityRule, records: list[Any], verdicts: list[RecordVerdict], client_id: str
    ) -> str:
        """Accept a push: one batch, one New message per record; its Batch ID."""
        with self.lock:
            now = self.clock()
            self._advance(now)
            self._batch_seq += 1
            batch_id = f"{self._batch_prefix}{self._batch_seq:012x}"
            delay = self.config.processing_delay
            batch = Batch(batch_id, rule.name, client_id, now, delay)
            messages = [
                Message(batch, i, rule, record, verdict)
                for i, (record, verdict) in enumerate(zip(records, verdicts, strict=True))
            ]
            n = len(messages)
            batch.messages = messages
            batch.counts["New"] = n
            batch.pending = n
            self._pending += n
            status = self.status_by_entity[rule.name]
            status["New"] = status.get("New", 0) + n
            received = self.received[rule.name]
            for verdict in verdicts:
                external_id = verdict.external_id
                if external_id is not None:
                    received[external_id] = received.get(external_id, 0) + 1
            self.batches[batch_id] = batch
            self.batch_order.append(batch)
            counters = self.counters
            counters["batches"] = counters.get("batches", 0) + 1
            counters["records"] = counters.get("records", 0) + n
            if messages:
                self._schedule(now + delay / (3.0 if rule.geocoded else 2.0), _PICKUP, messages)
            return batch_id

    # -- processing -----------------------------------------------------------------------

    def advance(self) -> None:
        """Apply every status change due by now."""
        with self.lock:
            self._advance(self.clock())

    def _schedule(self, due: float, kind: int, messages: list[Message]) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (due, self._seq, kind, messages))

    def _advance(self, now: float) -> None:
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
            self._pending -= n
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
        bad = self.config.bad_postcodes
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
        config = self.config
        rng = self._rng
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

    # -- queries --------------------------------------------------------------------------

    def pending_count(self) -> int:
        with self.lock:
            self._advance(self.clock())
            return self._pending
