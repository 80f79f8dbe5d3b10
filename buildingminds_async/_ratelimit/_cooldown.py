"""The gate's cooldown: closed for everyone until a deadline that only moves forward."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

__all__ = ["Cooldown"]

# A microsecond is below any clock's resolution that matters here; waiting for less could
# spin forever on a coarse (or fake) clock.
_EPSILON = 1e-6


class Cooldown:
    """Closed until ``until``; a shorter pause never shortens a longer one.

    A 429's Retry-After closes it (``throttled`` time), and so does a quota that the
    server's headers say is spent until its reset (``held`` time): they are told apart in
    the totals because only the first is a refusal.
    """

    def __init__(self, *, clock: Callable[[], float], sleep: Callable[[float], Awaitable[None]]):
        self._clock = clock
        self._sleep = sleep
        self.until = float("-inf")
        self.throttled_total = 0.0
        self.held_total = 0.0

    def remaining(self) -> float:
        return max(self.until - self._clock(), 0.0)

    def is_open(self) -> bool:
        return self.until - self._clock() <= _EPSILON

    def close_for(self, seconds: float, *, throttled: bool = True) -> float:
        """Close for ``seconds`` from now unless already closed longer; the end."""
        now = self._clock()
        until = now + max(seconds, 0.0)
        if until > self.until:
            added = until - max(self.until, now)
            if throttled:
                self.throttled_total += added
            else:
                self.held_total += added
            self.until = until
        return until

    async def wait(self) -> None:
        while (remaining := self.until - self._clock()) > _EPSILON:
            await self._sleep(remaining)
