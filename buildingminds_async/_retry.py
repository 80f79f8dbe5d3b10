"""What is retried, how long to wait, and how much retrying a run may do.

Four pieces, the first three small and pure:

- ``parse_retry_after`` reads the server's hint (``retry-after-ms``, ``Retry-After`` in
  seconds or as an HTTP date);
- ``RetryPolicy`` is exponential back-off with full jitter (``backoff.expo`` and
  ``backoff.full_jitter``), bounded by a number of attempts;
- ``RetryBudget`` bounds retrying across a whole run (botocore's retry quota): retries
  spend tokens, successes earn a few back, and an empty budget means the service is
  unhealthy and the run must stop hammering it;
- ``retry_call`` is the one retry loop: the client's retries, the token endpoint's and a
  bulk run's pushes all go through it.
"""

from __future__ import annotations

import email.utils
import math
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar

import backoff
import httpx2

from ._config import DEFAULT_MAX_RETRY_AFTER
from ._errors import APIConnectionError, APIStatusError, APITimeoutError

RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})

Jitter = Callable[[float], float]
Sleep = Callable[[float], Awaitable[None]]
T = TypeVar("T")


def parse_retry_after(
    headers: httpx2.Headers, *, now: Callable[[], datetime] | None = None
) -> float | None:
    """Seconds the server asked to wait, or None when it gave no (readable) hint.

    ``retry-after-ms`` wins over ``Retry-After``; ``Retry-After`` may be a number of
    seconds (fractions tolerated) or an HTTP date. A date in the past means 0.
    """
    if (value := headers.get("retry-after-ms")) is not None:
        try:
            milliseconds = float(value)
        except ValueError:
            pass
        else:
            if math.isfinite(milliseconds):
                return max(milliseconds / 1000.0, 0.0)
    value = headers.get("retry-after")
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        current = now() if now is not None else datetime.now(UTC)
        return max((when - current).total_seconds(), 0.0)
    return max(seconds, 0.0) if math.isfinite(seconds) else None


def is_retryable(exc: BaseException) -> bool:
    """True for failures that may succeed when repeated: 408, 429, 5xx but 501, network."""
    if isinstance(exc, APIStatusError):
        return exc.status_code in RETRYABLE_STATUS
    return isinstance(exc, APIConnectionError)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential back-off with full jitter, bounded by attempts.

    The n-th retry waits ``jitter(min(max_delay, base_delay * 2**n))``; with the default
    full jitter that is uniform in ``[0, that]`` (AWS's "full jitter", which spreads
    many clients best). A server hint (Retry-After) replaces the computed delay, capped at
    ``max_retry_after``.
    """

    max_attempts: int = 3
    base_delay: float = 0.5
    max_delay: float = 30.0
    max_retry_after: float = DEFAULT_MAX_RETRY_AFTER
    jitter: Jitter = field(default=backoff.full_jitter, compare=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1 (the first attempt)")
        if self.base_delay < 0 or self.max_delay < 0 or self.max_retry_after < 0:
            raise ValueError("delays must not be negative")

    def delays(self) -> Iterator[float]:
        """The jittered waits before each retry, endless (callers count attempts)."""
        waits = backoff.expo(base=2, factor=self.base_delay, max_value=self.max_delay)
        next(waits)  # backoff's generators are primed with one next()
        for wait in waits:
            yield self.jitter(wait)

    def delay_for(self, exc: BaseException, computed: float) -> float:
        """The wait before retrying after ``exc``: the server's hint if any, else ``computed``."""
        hint = getattr(exc, "retry_after", None)
        if isinstance(hint, int | float) and hint >= 0:
            return min(float(hint), self.max_retry_after)
        return computed


@dataclass(slots=True)
class RetryBudget:
    """A run-wide allowance of retries (a token bucket, like botocore's retry quota).

    A retry after an error costs ``retry_cost`` tokens (``timeout_cost`` after a timeout,
    which ties the server up longer); every success earns ``success_refund`` back, up to
    ``capacity``. Throttling (429) costs nothing: the rate gate handles it. With the
    defaults a healthy run never runs dry, and a dead service stops a run after about a
    hundred retries instead of millions.
    """

    capacity: float = 500.0
    retry_cost: float = 5.0
    timeout_cost: float = 10.0
    success_refund: float = 1.0
    available: float = field(init=False)
    spent: float = field(default=0.0, init=False)

    def __post_init__(self) -> None:
        self.available = self.capacity

    def try_spend(self, exc: BaseException) -> bool:
        """Take the cost of retrying after ``exc``; False (nothing taken) when too little left."""
        cost = self.timeout_cost if isinstance(exc, APITimeoutError) else self.retry_cost
        if cost > self.available:
            return False
        self.available -= cost
        self.spent += cost
        return True

    def refund(self) -> None:
        self.available = min(self.capacity, self.available + self.success_refund)

    @property
    def exhausted(self) -> bool:
        return self.available < min(self.retry_cost, self.timeout_cost)


class RetryBudgetSpentError(Exception):
    """Retrying stopped because the run-wide ``RetryBudget`` is empty; ``error`` is the last
    failure (also the ``__cause__``). Internal: callers turn it into a report or an SDK error."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(f"the retry budget is spent (last error: {error})")
        self.error = error


async def retry_call(
    call: Callable[[], Awaitable[T]],
    *,
    policy: RetryPolicy,
    sleep: Sleep,
    retryable: Callable[[BaseException], bool] = is_retryable,
    budget: RetryBudget | None = None,
    on_retry: Callable[[BaseException, int, float], None] | None = None,
) -> T:
    """Await ``call()`` until it succeeds, retrying what ``retryable`` accepts: the one retry
    loop of the package.

    Each retry waits ``policy.delay_for`` (the server's Retry-After, else exponential back-off
    with full jitter). ``on_retry(error, attempt, delay)`` is told before each wait.

    Raises:
        the last error: it is not retryable, or ``policy.max_attempts`` attempts failed.
        RetryBudgetSpentError: ``budget`` cannot pay for another retry (raised from the error).
    """
    delays = policy.delays()
    attempt = 0
    while True:
        attempt += 1
        try:
            return await call()
        except BaseException as exc:
            if not isinstance(exc, Exception) or not retryable(exc):
                raise  # cancellation and other BaseExceptions are never retried
            if attempt >= policy.max_attempts:
                raise
            if budget is not None and not budget.try_spend(exc):
                raise RetryBudgetSpentError(exc) from exc
            delay = policy.delay_for(exc, next(delays))
            if on_retry is not None:
                on_retry(exc, attempt, delay)
        await sleep(delay)
