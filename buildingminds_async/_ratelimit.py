"""The rate gate: where every request of a bulk run waits its turn.

Three things, in this order, for each request:

1. **Cooldown.** A 429 closes the gate for everyone until its ``Retry-After`` has passed
   (capped at ``max_retry_after``): one throttled pusher pauses all of them, so the others
   do not hammer a server that has just said "too many". The cooldown only moves forward;
   a shorter Retry-After never shortens it.
2. **In-flight cap.** At most ``max_in_flight`` requests are out at once.
3. **Steady rate.** When a rate is known (given, or learned from a 429), requests are
   spaced evenly by ``aiolimiter`` configured as ``burst`` requests per ``burst / rate``
   seconds: a burst of one or two, never a burst of ``rate`` (``AsyncLimiter(R, 1)``
   lets R requests out at once and trips a strict server's limiter for a third of them).

When the server's limit is unknown the gate adapts (AIMD, with memory). The first 429 of
an unpaced run starts pacing at what was getting through (at half of it when measured
over a second or more); the rate then doubles
after every short hold period without a 429 (slow start) until a 429 marks a rate as too
high. From then on a 429 drops the rate to the highest rate that ran a whole hold period
without one, kept at most 95% of the lowest rate that drew one (multiplicative
decrease), and each quiet hold period moves it halfway up towards that throttled rate
(additive probing, by bisection). Near the throttled rate the hold is 5 s: a server with
a burst allowance absorbs a small excess for ``burst / excess`` seconds. Within 5% of it
the gate stops there, and looks 5% above it once a minute so that a raised limit is
noticed. 429s of one overload (every request in flight gets one) lower the rate once.

A rate "ran" a hold period at what it achieved, not at what it paced: a gate held back by
its in-flight cap paces faster than it sends, and the paced rate proves nothing.

The gate also reads a token bucket's arithmetic. An episode starts with the server's
bucket full (the run's first request, the end of a cooldown) and ends at the request a
429 refused (the bucket empty); sent faster than the bucket refills, it let
``A = B + R * t`` requests through in its ``t`` seconds. A line through two or more such
episodes estimates the rate ``R`` and the burst ``B`` (none when it shows no burst: then a
429 may come from two requests a little too close). The estimate is a lower bound (a full
bucket wastes its refill while the client is slower). It lifts the rate the gate settles
at to 97% of it, skipping the probes below; and when a rate the gate had held as
sustainable draws a 429 (a burst allowance hides an excess for ``B / excess`` seconds,
longer than a short hold), it says how far down to go, in one step instead of 5% a 429.

Each 429 costs every pusher the whole Retry-After (a second or more), so the algorithm is
built to draw few of them: a probe that gains 2% of the rate is not worth a 429. A told
``rate`` is a ceiling the gate never exceeds; it adapts below it only if 429s come.

The limiter's burst is 1.05: a server that allows no burst rejects two requests sent
back to back, and the extra 0.05 lets a request whose turn came late (timer lateness on
a busy event loop) make up to 5% of an interval, without ever sending two requests
closer than 95% of one.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from ._config import DEFAULT_MAX_RETRY_AFTER
from ._errors import APIStatusError, RateLimitError
from ._pacer import PacingLimiter

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RateGateStatistics:
    """A snapshot of the gate (``RateGate.statistics()``)."""

    rate: float | None
    """Requests per second the gate paces at; None while unpaced."""
    burst: float
    max_in_flight: int
    in_flight: int
    granted: int
    throttled: int
    decreases: int
    increases: int
    cooldown_remaining: float
    cooldown_total: float
    """Seconds the gate has been closed by Retry-After so far."""


class RateGate:
    """Cooldown, in-flight cap and steady (adaptive) rate, shared by all tasks of a run.

    ```python
    gate = RateGate(max_in_flight=4, rate=None)
    response = await gate.call(send)   # waits its turn; a 429 is recorded and sent again
    ```

    ``call`` is the one way requests go through the gate; ``turn``, ``record_success`` and
    ``record_throttle`` are its parts (and what the gate's tests drive directly).
    """

    def __init__(
        self,
        *,
        max_in_flight: int,
        rate: float | None = None,
        adaptive: bool = True,
        max_retry_after: float = DEFAULT_MAX_RETRY_AFTER,
        min_rate: float = 0.2,
        start_rate: float = 2.0,
        decrease: float = 0.9,
        converged: float = 0.05,
        probe_step: float = 0.05,
        probe_interval: float = 60.0,
        hold_requests: float = 3.0,
        min_hold: float = 0.25,
        max_hold: float = 2.0,
        near: float = 0.9,
        near_hold: float = 5.0,
        strict_burst: float = 1.05,
        settle: float = 0.95,
        estimate_margin: float = 0.97,
        measure_window: float = 2.0,
        clock: Clock,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if max_in_flight < 1:
            raise ValueError("max_in_flight must be at least 1")
        if rate is not None and rate <= 0:
            raise ValueError("rate must be a positive number of requests per second")
        self._clock = clock
        self._sleep = sleep
        self._slots = asyncio.Semaphore(max_in_flight)
        self._max_in_flight = max_in_flight
        self._in_flight = 0
        self._ceiling = rate
        self._adaptive = adaptive
        self._max_retry_after = max_retry_after
        self._min_rate = min_rate
        self._start_rate = start_rate
        self._decrease = decrease
        self._converged = converged
        self._probe_step = probe_step
        self._probe_interval = probe_interval
        self._hold_requests = hold_requests
        self._min_hold = min_hold
        self._max_hold = max_hold
        self._near = near
        self._near_hold = near_hold
        self._strict_burst = strict_burst
        self._settle = settle
        self._estimate_margin = estimate_margin
        # Episodes of the token-bucket estimate (`_estimate`): each starts with the
        # server's bucket full (the run's first turn, the end of a cooldown) and ends at
        # the request a 429 refused. Ended ones are kept as [start, end, accepted, slowest
        # rate paced in it]; a success that comes after the 429 still counts in the
        # episode its request was sent in.
        self._episode_start: float | None = None
        self._episode_accepted = 0
        self._episode_min_rate = math.inf
        self._episodes: deque[list[float]] = deque(maxlen=8)
        self._rate_since: float | None = None  # when the current rate's turns began
        self._accepted_since = 0
        self._window = measure_window
        self._burst: float = strict_burst
        self._rate: float | None = None
        self._limiter: PacingLimiter | None = None
        self._cooldown_until = float("-inf")
        self._cooldown_total = 0.0
        self._last_decrease_at = float("-inf")
        self._next_step_at = float("inf")
        self._next_probe_at = float("inf")
        self._good: float | None = None
        self._bad: float | None = None
        self._consecutive_throttles = 0
        self._accepted: deque[float] = deque()
        self._granted = 0
        self._throttled = 0
        self._decreases = 0
        self._increases = 0
        if rate is not None:
            self._set_rate(rate)

    @property
    def rate(self) -> float | None:
        return self._rate

    def statistics(self) -> RateGateStatistics:
        return RateGateStatistics(
            rate=self._rate,
            burst=self._burst,
            max_in_flight=self._max_in_flight,
            in_flight=self._in_flight,
            granted=self._granted,
            throttled=self._throttled,
            decreases=self._decreases,
            increases=self._increases,
            cooldown_remaining=max(self._cooldown_until - self._clock(), 0.0),
            cooldown_total=self._cooldown_total,
        )

    def __repr__(self) -> str:
        rate = "unpaced" if self._rate is None else f"{self._rate:.2f}/s burst {self._burst:g}"
        return (
            f"<RateGate {rate}, {self._in_flight}/{self._max_in_flight} in flight, "
            f"{self._throttled} throttled>"
        )

    async def call(
        self,
        send: Callable[[], Awaitable[T]],
        *,
        on_throttle: Callable[[RateLimitError], None] | None = None,
    ) -> T:
        """Send through the gate until the answer is not a 429, and return it.

        Each 429 closes the gate for everyone (its Retry-After), may lower the rate, is told
        to ``on_throttle``, and the request waits its turn again. Any other answer, error
        statuses included, counts as a request that got through; errors without an answer
        (network) count as nothing.
        """
        while True:
            granted = None
            try:
                async with self.turn() as granted:
                    result = await send()
            except RateLimitError as exc:
                self.record_throttle(exc.retry_after, sent_at=granted)
                if on_throttle is not None:
                    on_throttle(exc)
                continue
            except APIStatusError:
                self.record_success(sent_at=granted)
                raise
            self.record_success(sent_at=granted)
            return result

    @contextlib.asynccontextmanager
    async def turn(self) -> AsyncIterator[float]:
        """Wait for the cooldown, a free slot and the pacing; hold the slot inside the block.

        Yields the time the turn was granted: pass it to ``record_throttle`` so that 429s
        of requests sent before the last decrease do not lower the rate again.
        """
        await self._wait_cooldown()
        async with self._slots:
            self._in_flight += 1
            try:
                while True:
                    if self._limiter is not None:
                        await self._limiter.acquire()
                    if self._cooldown_until - self._clock() <= 1e-6:
                        break
                    # A 429 arrived while this request waited for its pacing slot.
                    await self._wait_cooldown()
                self._granted += 1
                granted = self._clock()
                if self._episode_start is None:
                    self._episode_start = granted
                yield granted
            finally:
                self._in_flight -= 1

    async def _wait_cooldown(self) -> None:
        # A microsecond is below any clock's resolution that matters here; waiting for
        # less could spin forever on a coarse (or fake) clock.
        while (remaining := self._cooldown_until - self._clock()) > 1e-6:
            await self._sleep(remaining)

    def _hold(self, rate: float) -> float:
        """How long a rate must run without a 429 before it counts as sustainable.

        Short in slow start. Near the lowest throttled rate it is long: a server with a
        burst allowance absorbs a small excess for ``burst / excess`` seconds, which a
        short hold would take for a sustainable rate.
        """
        bad = self._bad
        if bad is None:
            return min(max(self._hold_requests / rate, self._min_hold), self._max_hold)
        if rate >= bad * self._near:
            return max(self._near_hold, 4 * self._hold_requests / rate)
        return min(max(2 * self._hold_requests / rate, self._max_hold / 2), self._max_hold)

    def record_success(self, *, sent_at: float | None = None) -> None:
        """A request got through: count it towards the measured rate, maybe raise the rate.

        ``sent_at`` is the time its turn was granted (what ``turn()`` yields): it counts
        the request in the estimate's episode it was sent in.
        """
        now = self._clock()
        self._consecutive_throttles = 0
        accepted = self._accepted
        accepted.append(now)
        while accepted and accepted[0] < now - self._window:
            accepted.popleft()
        sent = sent_at if sent_at is not None else now
        if self._rate_since is not None and sent >= self._rate_since:
            self._accepted_since += 1
        start = self._episode_start
        if start is not None and sent >= start:
            self._episode_accepted += 1
        else:
            for episode in reversed(self._episodes):
                if episode[0] <= sent < episode[1]:
                    episode[2] += 1
                    break
        rate = self._rate
        if rate is None or not self._adaptive or now < self._next_step_at:
            return
        # The current rate ran a whole hold period without a 429: what it achieved is
        # sustainable. Achieved, not paced: a gate held back by its in-flight cap (or by
        # a slow server) paces faster than it sends, and the paced rate proves nothing.
        sustained = rate
        since = self._rate_since
        if since is not None and now - since >= self._min_hold:
            sustained = min(rate, self._accepted_since / (now - since))
        self._good = sustained if self._good is None else max(self._good, sustained)
        bad = self._bad
        target: float | None = None
        if bad is None:
            target = rate * 2.0  # nothing throttled at a paced rate yet: slow start
        elif rate < bad * (1.0 - self._converged):
            target = (rate + bad) / 2.0  # halve the gap to the rate that drew a 429
        elif now >= self._next_probe_at:
            # Converged: now and then, look above the last throttled rate in case the
            # server's limit went up.
            self._bad = bad * (1.0 + self._probe_step)
            self._next_probe_at = now + self._probe_interval
            target = (rate + self._bad) / 2.0
        if self._ceiling is not None and target is not None:
            target = min(target, self._ceiling)
        if target is not None and target > rate:
            self._increases += 1
            self._set_rate(target)
        self._next_step_at = now + self._hold(self._rate or rate)

    def record_throttle(self, retry_after: float | None, *, sent_at: float | None = None) -> None:
        """A request got a 429: close the gate for everyone, lower the rate once per overload.

        ``sent_at`` is the time its turn was granted; a request sent before the last
        decrease says nothing about the lowered rate.
        """
        now = self._clock()
        self._throttled += 1
        self._consecutive_throttles += 1
        if retry_after is None:
            # No hint: wait 1 s, doubling while 429s keep coming.
            retry_after = 2.0 ** min(self._consecutive_throttles - 1, 6)
        wait = min(max(retry_after, 0.0), self._max_retry_after)
        until = now + wait
        if until > self._cooldown_until:
            self._cooldown_total += until - max(self._cooldown_until, now)
            self._cooldown_until = until  # the cooldown only moves forward
        self._burst = self._strict_burst
        if not self._adaptive:
            if self._ceiling is not None:
                self._set_rate(self._ceiling)  # the drop to a burst of 1 takes effect
            return
        if sent_at is not None and sent_at <= self._last_decrease_at:
            # Sent at the old rate: the same overload as a 429 already acted on. A turn
            # granted at the very instant of the decrease (a coarse or fake clock) was
            # granted before it: one granted after it waited for the cooldown.
            return
        self._last_decrease_at = now
        self._end_episode(sent_at if sent_at is not None else now, until)
        current = self._rate
        if current is None:
            # The first 429 of an unpaced run: what got through is an upper bound of the
            # server's rate when it was measured over a second or more. Within the first
            # second it is rather the size of the server's burst allowance.
            measured, measured_span = self._measured_rate(now)
            if measured_span >= 1.0:
                self._bad = measured if self._bad is None else min(self._bad, measured)
                new = max(measured * 0.5, self._start_rate)
            else:
                new = max(measured, self._start_rate)
        else:
            self._bad = current if self._bad is None else min(self._bad, current)
            estimate = self._estimate()
            if self._good is not None and self._good >= self._bad * self._settle:
                # It was not sustainable after all: a burst allowance hid the excess while
                # it was held. The estimate, a lower bound of the limit, says how far down.
                self._good = self._bad * self._settle
                if estimate is not None:
                    self._good = max(
                        min(self._good, estimate * self._estimate_margin), self._min_rate
                    )
            if estimate is not None and estimate < self._bad:
                # The estimate is a lower bound of the limit (a bucket that was full at
                # times wasted some of its refill): trust it enough to skip the probes
                # below it, and to bring the throttled rate down to just above it.
                candidate = min(estimate * self._estimate_margin, self._bad * self._settle)
                if self._good is None or candidate > self._good:
                    self._good = candidate
                self._bad = min(
                    self._bad, max(estimate / self._estimate_margin, self._good / self._settle)
                )
            new = self._good if self._good is not None else current * self._decrease
        new = max(new, self._min_rate)
        if self._ceiling is not None:
            new = min(new, self._ceiling)
        self._decreases += 1
        self._set_rate(new)
        self._next_step_at = until + self._hold(new)
        self._next_probe_at = until + self._probe_interval

    def _end_episode(self, refused_at: float, cooldown_end: float) -> None:
        """End the estimate's episode at the refused request; the next starts at cooldown end."""
        start = self._episode_start
        if start is not None and refused_at > start:
            self._episodes.append(
                [start, refused_at, float(self._episode_accepted), self._episode_min_rate]
            )
        self._episode_start = cooldown_end  # the server's bucket refills meanwhile
        self._episode_accepted = 0
        self._episode_min_rate = math.inf

    def _estimate(self) -> float | None:
        """The server's rate from the episodes 429s ended; None when it cannot be trusted.

        A token bucket of ``B`` requests refilled at ``R`` per second, full when an episode
        starts and empty when the 429 ends it, has let ``A = B + R * t`` requests through
        in the episode's ``t`` seconds, provided the client sent faster than ``R`` all
        along (a full bucket wastes what it cannot hold). A least-squares line through
        such episodes gives ``R`` and ``B``; episodes paced slower than the ``R`` found are
        left out and the line fitted again. No estimate without two episodes of different
        lengths, or when the line shows no burst (``B`` below 1): against a server without
        a burst allowance a 429 can come from two requests a little too close, the
        bucket far from drained, and ``A`` then measures the client, not the server.
        """
        points = list(self._episodes)
        for _ in range(3):
            fit = _line(points)
            if fit is None:
                return None
            rate, burst = fit
            busy = [p for p in self._episodes if p[3] > rate * 1.02]
            if busy == points:
                break
            points = busy
        else:
            return None
        if rate <= 0 or burst < 1.0:
            return None
        return rate

    def _measured_rate(self, now: float) -> tuple[float, float]:
        """Requests accepted per second over the recent window, and the span measured."""
        accepted = self._accepted
        while accepted and accepted[0] < now - self._window:
            accepted.popleft()
        if not accepted:
            return 0.0, 0.0
        span = now - accepted[0]
        return len(accepted) / max(span, 1.0), span

    def _set_rate(self, rate: float) -> None:
        self._rate = rate
        self._episode_min_rate = min(self._episode_min_rate, rate)
        self._rate_since = max(self._clock(), self._cooldown_until)
        self._accepted_since = 0
        if self._limiter is None:
            self._limiter = PacingLimiter(self._burst, self._burst / rate)
        else:
            self._limiter.set_rate(rate, self._burst)


def _line(points: list[list[float]]) -> tuple[float, float] | None:
    """Slope and intercept of accepted over seconds ([start, end, accepted, ...] points)."""
    n = len(points)
    if n < 2:
        return None
    xs = [p[1] - p[0] for p in points]
    ys = [p[2] for p in points]
    mean_x = sum(xs) / n
    mean_y = sum(ys) / n
    spread = sum((x - mean_x) ** 2 for x in xs)
    if spread < n * 0.01:  # lengths within about 0.1 s of each other: no slope to read
        return None
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / spread
    return slope, mean_y - slope * mean_x
