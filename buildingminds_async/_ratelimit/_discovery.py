"""Discovery of a rate nobody told the gate: AIMD with memory, helped by two estimates.

The first 429 of an unpaced run starts pacing at what was getting through (at half of it
when measured over a second or more); the rate then doubles after every short hold
period without a 429 (slow start) until a 429 marks a rate as too high. From then on a
429 drops the rate to the highest rate that ran a whole hold period without one, kept at
most ``settle`` of the lowest rate that drew one (multiplicative decrease), and each quiet
hold period moves it halfway up towards that throttled rate (additive probing, by
bisection). Near the throttled rate the hold is long: a server with a burst allowance
absorbs a small excess for ``burst / excess`` seconds. Within ``converged`` of it the rate
stays, and looks ``probe_step`` above it once every ``probe_interval`` so that a raised
limit is noticed. 429s of one overload (every request in flight gets one) lower it once.

A rate "ran" a hold period at what it achieved, not at what it paced: a gate held back by
its in-flight cap paces faster than it sends, and the paced rate proves nothing.

Two estimates shortcut the probing:

- **The token bucket** (``Episodes``): lifts the rate the gate settles at to
  ``estimate_margin`` of it, and when a rate held as sustainable draws a 429 (a burst
  allowance hid the excess), says how far down to go in one step.
- **The fixed window**: a Retry-After of ``long_retry_after`` or more is the end of a
  gateway's counting period, not one bucket interval. What the episode let through over
  its length plus that wait is the window's rate; the gate settles just below it at once,
  instead of taking the long pause for proof of a tiny rate and creeping down 10% a window.

Each 429 costs every request of the lane the whole Retry-After, so the algorithm is built
to draw few of them: a probe that gains 2% of the rate is not worth a 429. A ceiling (a
told ``rate``, or one the server's headers state) is never exceeded.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from ._bucket import Episodes
from ._tuning import Tuning

__all__ = ["Discovery"]


class Discovery:
    """The lane's rate: None (unpaced) until a 429 or a ceiling sets one.

    ``succeeded`` and ``throttled`` return True when the rate changed (the gate then
    re-paces); ``cap`` sets a ceiling from the server's own figures.
    """

    def __init__(
        self,
        *,
        ceiling: float | None,
        adaptive: bool,
        tuning: Tuning,
        clock: Callable[[], float],
        cooldown_end: Callable[[], float],
    ) -> None:
        self._told = ceiling
        self._ceiling = ceiling
        self._adaptive = adaptive
        self._t = tuning
        self._clock = clock
        self._cooldown_end = cooldown_end
        self.episodes = Episodes()
        self.rate: float | None = None
        self.increases = 0
        self.decreases = 0
        self._rate_since: float | None = None  # when the current rate's turns began
        self._accepted_since = 0
        self._accepted: deque[float] = deque()
        self._last_decrease_at = float("-inf")
        self._next_step_at = float("inf")
        self._next_probe_at = float("inf")
        self._good: float | None = None  # the highest rate that ran a hold without a 429
        self._bad: float | None = None  # the lowest rate that drew one
        # (accepted, seconds) of the window the last decrease read, while it stands.
        self._last_window: tuple[int, float] | None = None
        self._window_refused_at = float("-inf")
        if ceiling is not None:
            self._set(ceiling)

    def cap(self, rate: float) -> bool:
        """The server says its rate (headers): pace at it (below a told rate), no probing."""
        ceiling = rate if self._told is None else min(self._told, rate)
        if ceiling == self._ceiling:
            return False
        self._ceiling = ceiling
        if self.rate is not None and self._bad is not None and self.rate < ceiling:
            return False  # a 429 lowered it: discovery climbs back up to the new ceiling
        self._set(ceiling)
        return True

    @property
    def told(self) -> float | None:
        """The rate the caller told (``rate=``), if any."""
        return self._told

    def absorb(self, other: Discovery) -> bool:
        """Another lane joins this one's budget: its requests of the current episode were
        let through by the same server window, so the window's rate counts them too."""
        window = self._last_window
        extra = other._last_window[0] if other._last_window else other.episodes.accepted
        if window is None or extra == 0 or self._clock() >= self._cooldown_end():
            return False  # no window read, or it is over: not the same window
        accepted, seconds = window
        self._set(self._clamped(self._settle_at_window(accepted + extra, seconds)))
        return True

    def _hold(self, rate: float) -> float:
        """How long a rate must run without a 429 before it counts as sustainable."""
        t, bad = self._t, self._bad
        if bad is None:
            return min(max(t.hold_requests / rate, t.min_hold), t.max_hold)
        if rate >= bad * t.near:
            return max(t.near_hold, 4 * t.hold_requests / rate)
        return min(max(2 * t.hold_requests / rate, t.max_hold / 2), t.max_hold)

    def succeeded(self, now: float, sent: float) -> bool:
        accepted = self._accepted
        accepted.append(now)
        while accepted and accepted[0] < now - self._t.measure_window:
            accepted.popleft()
        if self._rate_since is not None and sent >= self._rate_since:
            self._accepted_since += 1
        self.episodes.count(sent)
        if self._late_in_window(now, sent):
            return True
        rate = self.rate
        if rate is None or not self._adaptive or now < self._next_step_at:
            return False
        # The current rate ran a whole hold period without a 429: what it achieved is
        # sustainable (achieved, not paced).
        t = self._t
        sustained = rate
        since = self._rate_since
        if since is not None and now - since >= t.min_hold:
            sustained = min(rate, self._accepted_since / (now - since))
        self._good = sustained if self._good is None else max(self._good, sustained)
        bad = self._bad
        target: float | None = None
        if bad is None:
            target = rate * 2.0  # nothing throttled at a paced rate yet: slow start
        elif rate < bad * (1.0 - t.converged):
            target = (rate + bad) / 2.0  # halve the gap to the rate that drew a 429
        elif now >= self._next_probe_at:
            # Converged: now and then, look above the last throttled rate in case the
            # server's limit went up.
            self._bad = bad * (1.0 + t.probe_step)
            self._next_probe_at = now + t.probe_interval
            target = (rate + self._bad) / 2.0
        if self._ceiling is not None and target is not None:
            target = min(target, self._ceiling)
        changed = False
        if target is not None and target > rate:
            self.increases += 1
            self._set(target)
            changed = True
        self._next_step_at = now + self._hold(self.rate or rate)
        return changed

    def throttled(
        self, now: float, sent_at: float | None, cooldown_end: float, retry_after: float | None
    ) -> bool:
        """A 429: lower the rate once per overload. ``cooldown_end`` is when this 429's
        wait ends; ``retry_after`` what the server asked (None: no hint)."""
        if not self._adaptive:
            return False
        if sent_at is not None and sent_at <= self._last_decrease_at:
            # Sent at the old rate: the same overload as a 429 already acted on. A turn
            # granted at the very instant of the decrease (a coarse or fake clock) was
            # granted before it: one granted after it waited for the cooldown.
            return False
        t = self._t
        self._last_decrease_at = now
        refused_at = sent_at if sent_at is not None else now
        window = self._window(refused_at, retry_after)
        self.episodes.end(refused_at, cooldown_end)
        current = self.rate
        if window is not None:
            # The end of a counting window: its rate is known, settle just below it.
            new = self._settle_at_window(*window)
        elif current is None:
            # The first 429 of an unpaced run: what got through is an upper bound of the
            # server's rate when it was measured over a second or more. Within the first
            # second it is rather the size of the server's burst allowance.
            measured, span = self._measured_rate(now)
            if span >= 1.0:
                self._bad = measured if self._bad is None else min(self._bad, measured)
                new = max(measured * 0.5, t.start_rate)
            else:
                new = max(measured, t.start_rate)
        else:
            new = self._lowered(current)
        new = self._clamped(new)
        self.decreases += 1
        self._set(new)
        self._next_step_at = cooldown_end + self._hold(new)
        self._next_probe_at = cooldown_end + t.probe_interval
        return True

    def _lowered(self, current: float) -> float:
        """The rate after a 429 at ``current``, a paced rate."""
        t = self._t
        self._bad = bad = current if self._bad is None else min(self._bad, current)
        estimate = self.episodes.estimate()
        if self._good is not None and self._good >= bad * t.settle:
            # It was not sustainable after all: a burst allowance hid the excess while it
            # was held. The estimate, a lower bound of the limit, says how far down.
            self._good = bad * t.settle
            if estimate is not None:
                self._good = max(min(self._good, estimate * t.estimate_margin), t.min_rate)
        if estimate is not None and estimate < bad:
            # The estimate is a lower bound of the limit (a bucket that was full at times
            # wasted some of its refill): trust it enough to skip the probes below it, and
            # to bring the throttled rate down to just above it.
            candidate = min(estimate * t.estimate_margin, bad * t.settle)
            if self._good is None or candidate > self._good:
                self._good = candidate
            self._bad = min(bad, max(estimate / t.estimate_margin, self._good / t.settle))
        return self._good if self._good is not None else current * t.decrease

    def _window(self, refused_at: float, retry_after: float | None) -> tuple[int, float] | None:
        """(accepted, seconds) of a fixed window a long Retry-After ended, or None.

        The episode (since the last cooldown, or the run's start) let ``accepted`` requests
        through; the window reopens after ``retry_after``. A window that began before the
        episode makes its rate an underestimate, never an overestimate.
        """
        self._last_window = None
        start = self.episodes.start
        if retry_after is None or retry_after < self._t.long_retry_after or start is None:
            return None
        accepted = self.episodes.accepted
        if accepted < 2:
            return None
        self._last_window = (accepted, refused_at - start + retry_after)
        self._window_refused_at = refused_at
        return self._last_window

    def _late_in_window(self, now: float, sent: float) -> bool:
        """A request sent before the 429 that ended a window, answered after it: the window
        let it through too, so its rate is re-read (the in-flight answers of a fast run
        arrive after the 429, and left out they cost a few percent of every window)."""
        window, refused_at = self._last_window, self._window_refused_at
        if window is None or sent >= refused_at or now >= self._cooldown_end():
            return False
        accepted, seconds = window
        self._set(self._clamped(self._settle_at_window(accepted + 1, seconds)))
        return True

    def _clamped(self, rate: float) -> float:
        rate = max(rate, self._t.min_rate)
        return rate if self._ceiling is None else min(rate, self._ceiling)

    def _settle_at_window(self, accepted: int, seconds: float) -> float:
        """Mark the window's rate as the limit; the rate just below it to pace at."""
        self._last_window = (accepted, seconds)
        self._bad = accepted / seconds
        self._good = self._bad * self._t.settle
        return self._good

    def _measured_rate(self, now: float) -> tuple[float, float]:
        """Requests accepted per second over the recent window, and the span measured."""
        accepted = self._accepted
        while accepted and accepted[0] < now - self._t.measure_window:
            accepted.popleft()
        if not accepted:
            return 0.0, 0.0
        span = now - accepted[0]
        return len(accepted) / max(span, 1.0), span

    def _set(self, rate: float) -> None:
        self.rate = rate
        self.episodes.paced(rate)
        self._rate_since = max(self._clock(), self._cooldown_end())
        self._accepted_since = 0
