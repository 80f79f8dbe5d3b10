"""Event hooks: what the client and a bulk run did, told as it happens, to code of yours.

```python
def count(event: RequestEvent) -> None:
    metrics.histogram("bm.request", event.duration, status=event.status_code)

client = AsyncClient(hooks=EventHooks(on_request=count, on_rate_limited=print))
report = await client.onboard(records, hooks=EventHooks(on_batch_finished=store))
```

Each hook receives one small frozen dataclass. Hooks run on the event loop, inline: keep
them quick (hand slow work to a queue). A hook that raises is logged (once per hook,
with its traceback) and never breaks the request or the run. Events carry no token, no
secret and no record content.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Generic, TypeVar

import httpx2

from ._retry import parse_retry_after

__all__ = [
    "BatchAcceptedEvent",
    "BatchFinishedEvent",
    "EventHooks",
    "RateLimitedEvent",
    "RequestEvent",
    "RetryEvent",
    "TokenEvent",
]

logger = logging.getLogger("buildingminds_async")

E = TypeVar("E")


@dataclass(frozen=True, slots=True)
class RequestEvent:
    """One HTTP request finished (API or token endpoint), answered or not."""

    method: str
    path: str
    """The URL path (no host, no query)."""
    status_code: int | None
    """None when no answer came (``error`` says why)."""
    duration: float
    """Seconds from sending to the answer (or the failure)."""
    error: str | None = None
    """The exception's type name when no answer came (``ReadTimeout``, ``ConnectError``)."""


@dataclass(frozen=True, slots=True)
class RetryEvent:
    """A request is about to be tried again."""

    what: str
    """What is retried: ``"push"``, ``"request"``, ``"token"``."""
    attempt: int
    """The attempt that failed (1 = the first)."""
    delay: float
    """Seconds until the next attempt."""
    reason: str
    """The error, as its message says it."""


@dataclass(frozen=True, slots=True)
class RateLimitedEvent:
    """The API answered 429."""

    method: str
    path: str
    retry_after: float | None
    """The server's hint in seconds, when it gave one."""


@dataclass(frozen=True, slots=True)
class TokenEvent:
    """An access token was fetched (at start, on refresh, after a 401)."""

    slot: str
    """Which secret got it: ``"primary"`` or ``"secondary"``."""
    valid_for: float
    """Its lifetime in seconds."""


@dataclass(frozen=True, slots=True)
class BatchAcceptedEvent:
    """A bulk run's push was accepted: the API returned its Batch ID."""

    batch_id: str
    entity: str
    records: int


@dataclass(frozen=True, slots=True)
class BatchFinishedEvent:
    """A bulk run's batch has a final status for each of its records."""

    batch_id: str
    entity: str
    records: int
    completed: int
    failed: int


class _Hook(Generic[E]):
    """One user callable, called safely: a raise is logged once, then only counted."""

    __slots__ = ("_callable", "_failures", "_name")

    def __init__(self, name: str, function: Callable[[E], object]) -> None:
        self._name = name
        self._callable = function
        self._failures = 0

    def __call__(self, event: E) -> None:
        try:
            self._callable(event)
        except Exception:
            self._failures += 1
            if self._failures == 1:
                logger.exception(
                    "the %s hook raised (ignored: hooks never break a request or a run; "
                    "later failures of this hook are not logged)",
                    self._name,
                )


@dataclass(frozen=True, slots=True)
class EventHooks:
    """The callables to tell events to; any may be None.

    ``on_request``, ``on_retry``, ``on_rate_limited`` and ``on_token`` are told by the
    client (for every request, bulk runs' included); ``on_batch_accepted`` and
    ``on_batch_finished`` by bulk runs (``onboard``).
    """

    on_request: Callable[[RequestEvent], object] | None = None
    on_retry: Callable[[RetryEvent], object] | None = None
    on_rate_limited: Callable[[RateLimitedEvent], object] | None = None
    on_token: Callable[[TokenEvent], object] | None = None
    on_batch_accepted: Callable[[BatchAcceptedEvent], object] | None = None
    on_batch_finished: Callable[[BatchFinishedEvent], object] | None = None


class Emitter:
    """The hooks of a client or a run, each wrapped so that it cannot raise.

    Internal: ``emit.request(event)`` and so on are no-ops without a hook, and an
    emitter may chain to another (a run's hooks, then its client's).
    """

    __slots__ = (
        "batch_accepted",
        "batch_finished",
        "hears_requests",
        "rate_limited",
        "request",
        "retry",
        "token",
    )

    def __init__(self, *hooks: EventHooks | None) -> None:
        given = [h for h in hooks if h is not None]
        self.request = _chain("on_request", [h.on_request for h in given])
        self.retry = _chain("on_retry", [h.on_retry for h in given])
        self.rate_limited = _chain("on_rate_limited", [h.on_rate_limited for h in given])
        self.token = _chain("on_token", [h.on_token for h in given])
        self.batch_accepted = _chain("on_batch_accepted", [h.on_batch_accepted for h in given])
        self.batch_finished = _chain("on_batch_finished", [h.on_batch_finished for h in given])
        self.hears_requests = self.request is not _ignore or self.rate_limited is not _ignore


RUN_EVENTS: ContextVar[Emitter | None] = ContextVar("buildingminds_run_events", default=None)
"""The hooks of the bulk run a request belongs to (set by ``onboard`` for its tasks)."""


def _ignore(event: object) -> None:
    return None


def _chain(name: str, functions: list[Callable[[E], object] | None]) -> Callable[[E], None]:
    hooks = [_Hook(name, f) for f in functions if f is not None]
    if not hooks:
        return _ignore
    if len(hooks) == 1:
        return hooks[0]

    def all_of(event: E) -> None:
        for hook in hooks:
            hook(event)

    return all_of


def tell_request(
    client: Emitter,
    method: str,
    path: str,
    duration: float,
    *,
    response: httpx2.Response | None = None,
    error: str | None = None,
) -> None:
    """Tell a finished request (and a 429) to the client's hooks and its run's, if any."""
    run = RUN_EVENTS.get()
    if not client.hears_requests and (run is None or not run.hears_requests):
        return  # no event built for nobody: this is on every request's path
    status = response.status_code if response is not None else None
    event = RequestEvent(method, path, status, duration, error)
    client.request(event)
    if run is not None:
        run.request(event)
    if response is not None and status == 429:
        limited = RateLimitedEvent(method, path, parse_retry_after(response.headers))
        client.rate_limited(limited)
        if run is not None:
            run.rate_limited(limited)
