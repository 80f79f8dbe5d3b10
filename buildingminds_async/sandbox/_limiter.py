"""The sandbox's rate limiter: a token bucket or a fixed window per client, and the
rate-limit headers that describe it.

A **token bucket** (the default) holds ``burst`` requests and refills at ``rate_limit``
per second, like nginx ``limit_req``: a refused request is told ``Retry-After`` in whole
seconds, never 0 and never shorter than the real wait. A **fixed window** (with
``rate_limit_window``) lets ``rate_limit x window`` requests through per window, counted
from a window's first request, like an API gateway's ``rate-limit`` policy: a refused
request is told to retry when the window ends.

With ``rate_limit_headers`` every answer the limiter counted carries one family of
headers: ``"ietf"`` (``RateLimit-Policy`` and ``RateLimit``), ``"x-ratelimit"``
(``X-RateLimit-Limit`` / ``-Remaining`` / ``-Reset``, reset in seconds) or ``"gateway"``
(``Remaining-Calls`` and ``Total-Calls``, as an API gateway told to add them does, with
no reset). A bucket is described as a one-second policy of ``rate_limit`` requests.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ._config import RateLimitHeaders

__all__ = ["Limiter", "Verdict"]

Header = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the limiter decided about one request, and the quota after it."""

    retry_after: int | None
    """None: let through; else the seconds to announce in Retry-After."""
    limit: float
    window: float
    remaining: int
    reset: int
    """Whole seconds until the quota is back (a bucket: until the next request may pass)."""

    def headers(self, style: RateLimitHeaders | None) -> tuple[Header, ...]:
        out: tuple[Header, ...] = ()
        if self.retry_after is not None:
            out = (("retry-after", str(self.retry_after)),)
        if style is None:
            return out
        limit = f"{self.limit:g}"
        if style == "ietf":
            return (
                *out,
                ("ratelimit-policy", f'"sandbox";q={limit};w={self.window:g}'),
                ("ratelimit", f'"sandbox";r={self.remaining};t={self.reset}'),
            )
        if style == "x-ratelimit":
            return (
                *out,
                ("x-ratelimit-limit", limit),
                ("x-ratelimit-remaining", str(self.remaining)),
                ("x-ratelimit-reset", str(self.reset)),
            )
        return (*out, ("remaining-calls", str(self.remaining)), ("total-calls", limit))


class Limiter:
    """Counts each client's requests; ``take`` decides one. Not thread-safe (the state's
    lock guards it)."""

    def __init__(self) -> None:
        self._buckets: dict[str, list[float]] = {}  # client: [tokens, at]
        self._windows: dict[str, list[float]] = {}  # client: [opened, used]

    def take(
        self, client_id: str, now: float, *, rate: float, burst: int, window: float | None
    ) -> Verdict:
        if window is not None:
            return self._take_window(client_id, now, rate=rate, window=window)
        capacity = float(burst)
        bucket = self._buckets.get(client_id)
        if bucket is None:
            bucket = self._buckets[client_id] = [capacity, now]
        tokens = min(capacity, bucket[0] + (now - bucket[1]) * rate)
        bucket[1] = now
        allowed = tokens >= 1.0
        if allowed:
            tokens -= 1.0
        bucket[0] = tokens
        wait = 0 if tokens >= 1.0 else max(1, math.ceil((1.0 - tokens) / rate))
        return Verdict(
            retry_after=None if allowed else wait,
            limit=rate,
            window=1.0,
            remaining=int(tokens),
            reset=wait,
        )

    def _take_window(self, client_id: str, now: float, *, rate: float, window: float) -> Verdict:
        allowance = max(1, round(rate * window))
        state = self._windows.get(client_id)
        if state is None or now >= state[0] + window:
            state = self._windows[client_id] = [now, 0.0]
        allowed = state[1] < allowance
        if allowed:
            state[1] += 1
        reset = max(1, math.ceil(state[0] + window - now))
        return Verdict(
            retry_after=None if allowed else reset,
            limit=allowance,
            window=window,
            remaining=allowance - int(state[1]),
            reset=reset,
        )
