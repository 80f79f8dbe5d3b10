"""Everything a sandbox knows: settings, faults, tokens, the rate limiter, batches, the store
and its counters, behind one lock (requests may come from a server thread).

The status changes of pushed records are the ``Timeline``'s (``_timeline``): no task runs
in the background, and the due changes are applied whenever the sandbox is observed, so
the same state serves an in-process ASGI transport, which runs no lifespan, as well as a
real server, and a fake clock replaces waiting.

Every method that starts with an underscore expects the caller to hold ``lock``.
"""

from __future__ import annotations

import random
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from ._config import SandboxConfig, SecretSlot
from ._entities import EntityRule, RecordVerdict
from ._faults import Fault, FaultSchedule
from ._limiter import Limiter, Verdict
from ._timeline import FAILURE, STATUSES, SUCCESS, TERMINAL, Batch, Message, Timeline

__all__ = ["FAILURE", "STATUSES", "SUCCESS", "TERMINAL", "Batch", "Message", "SandboxState"]


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
        self.tokens: dict[str, IssuedToken] = {}
        self.limiter = Limiter()
        self.batches: dict[str, Batch] = {}
        self.batch_order: list[Batch] = []
        self.store: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in self.rules}
        self.received: dict[str, dict[str, int]] = {name: {} for name in self.rules}
        self.status_by_entity: dict[str, dict[str, int]] = {name: {} for name in self.rules}
        self.counters: dict[str, int] = {}
        self.paths: dict[str, int] = {}
        self.responses: dict[int, int] = {}
        self._request_seq = 0
        self.timeline = Timeline(
            store=self.store,
            status_by_entity=self.status_by_entity,
            config=lambda: self.config,
            seed=self.config.processing_seed,
        )

    def reset(self) -> None:
        with self.lock:
            self._reset_state()
            self.resets += 1

    def configure(self, config: SandboxConfig) -> None:
        with self.lock:
            if config.processing_seed != self.config.processing_seed:
                self.timeline.rng = random.Random(config.processing_seed)
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

    def take_rate(self, client_id: str, *, push: bool) -> Verdict | None:
        """None when the limiter does not count the request, else its verdict."""
        if self.config.rate_limit is None:  # no limit: nothing to count (read atomically)
            return None
        with self.lock:
            config = self.config
            rate = config.rate_limit
            if rate is None or (config.rate_limit_scope == "push" and not push):
                return None
            verdict = self.limiter.take(
                client_id,
                self.clock(),
                rate=rate,
                burst=config.burst,
                window=config.rate_limit_window,
            )
            if verdict.retry_after is not None:
                self.count("rate_limited")
            return verdict

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
            self.timeline.advance(now)
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
            self.timeline.admit(messages, now + delay / (3.0 if rule.geocoded else 2.0))
            return batch_id

    # -- processing -----------------------------------------------------------------------

    def advance(self) -> None:
        """Apply every status change due by now."""
        with self.lock:
            self.timeline.advance(self.clock())

    # -- queries --------------------------------------------------------------------------

    def pending_count(self) -> int:
        with self.lock:
            self.timeline.advance(self.clock())
            return self.timeline.pending
