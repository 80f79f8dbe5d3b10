"""The pacer of the rate gate: requests spaced evenly at a rate that can change.

aiolimiter stays behind this module (pinned below 2): the gate asks it for a turn and
changes its rate; nothing else in the package knows aiolimiter.
"""

from __future__ import annotations

from aiolimiter import AsyncLimiter


class PacingLimiter(AsyncLimiter):
    """``AsyncLimiter`` whose rate can change without forgetting its current level.

    Replacing the limiter on every change would hand out a fresh, empty bucket (an extra
    request each time); this changes the drain rate in place. It relies on aiolimiter's
    ``_rate_per_sec``/``_leak``/``_wake_next`` (stable since 1.0; pinned below 2).
    """

    def _leak(self) -> None:
        super()._leak()
        # Round off float dust: a level a hair above the threshold would schedule the
        # waker for "now" again and again, a busy loop under a coarse or fake clock.
        self._level = round(self._level, 9)

    def set_rate(self, rate: float, burst: float) -> None:
        self._leak()
        self.max_rate = float(burst)
        self.time_period = burst / rate
        self._rate_per_sec = rate
        self._level = min(self._level, float(burst))
        self._wake_next()

    def count_sent(self, amount: float = 1.0) -> None:
        """Count requests sent before this limiter paced them (it starts empty): the next
        waits its interval after them instead of going at once."""
        self._leak()
        self._level = min(self._level + amount, float(self.max_rate))
