"""The rate gate: cooldown, in-flight cap and pacing, with discovery and headers behind it.

For each request, in this order:

1. **Cooldown** (``Cooldown``). A 429 closes the gate for everyone until its
   ``Retry-After`` has passed (capped at ``max_retry_after``): one throttled request
   pauses the whole lane, so the others do not hammer a server that has just said "too
   many". A quota the headers say is spent closes it until the quota's reset.
2. **In-flight cap.** At most ``max_in_flight`` requests are out at once.
3. **Pacing** (``PacingLimiter``). When a rate is known (told, stated by the headers, or
   found by ``Discovery``), requests are spaced evenly: a burst of ``strict_burst``, never
   a burst of ``rate``.

Every answer then feeds back: a 429 to ``Discovery`` (which may lower the rate), any
other answer as a request that got through (which may raise it), and its rate-limit
headers (``read_quota``) as the server's own statement of its rate, paced at with no
probing. Tuning constants are in ``Tuning``.

Two lanes (pushes, reads) each have their own gate. When the server turns out to count
both against one budget (both draw 429s, or both are told the same quota), the read lane
joins the push lane's cooldown, rate and pacer (``share_budget_with``); its in-flight cap
stays its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import httpx2

from .._config import DEFAULT_MAX_RETRY_AFTER
from .._errors import APIStatusError, RateLimitError
from ._cooldown import Cooldown
from ._discovery import Discovery
from ._headers import Quota, read_quota
from ._pacer import PacingLimiter
from ._shared import SharedLane
from ._tuning import TUNING, Tuning

__all__ = ["RateGate", "RateGateStatistics"]

logger = logging.getLogger("buildingminds_async")

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


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
    held_total: float = 0.0
    """Seconds it held back because the headers said the quota was spent until a reset."""
    header_rate: float | None = None
    """The rate the server's headers last stated (requests/s), if they state one."""


class RateGate:
    """One lane of requests (pushes, or reads), shared by all tasks of a run.

    ```python
    gate = RateGate(max_in_flight=4, rate=None, clock=loop.time)
    response = await gate.call(send)   # waits its turn; a 429 is recorded and sent again
    ```

    ``call`` is the one way requests go through the gate; ``turn``, ``record_success``,
    ``record_throttle`` and ``record_quota`` are its parts (what the tests drive).
    """

    def __init__(
        self,
        *,
        max_in_flight: int,
        rate: float | None = None,
        adaptive: bool = True,
        max_retry_after: float = DEFAULT_MAX_RETRY_AFTER,
        tuning: Tuning = TUNING,
        first_alone: bool = True,
        shared: SharedLane | None = None,
        clock: Clock,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if max_in_flight < 1:
            raise ValueError("max_in_flight must be at least 1")
        if rate is not None and rate <= 0:
            raise ValueError("rate must be a positive number of requests per second")
        self._clock = clock
        self._sleep = sleep
        self._tuning = tuning
        self._shared = shared
        self._slots = asyncio.Semaphore(max_in_flight)
        self._max_in_flight = max_in_flight
        self._in_flight = 0
        self._max_retry_after = max_retry_after
        self._core = _Core(rate=rate, adaptive=adaptive, tuning=tuning, clock=clock, sleep=sleep)
        self._partner: RateGate | None = None
        self._joins = False  # True: joins the partner's core when both lanes look shared
        self._ever_throttled = False
        self._policy: tuple[float, float] | None = None
        # The lane's first request goes alone: its answer may state the quota (headers),
        # and a strict server refuses the second of two requests sent back to back.
        self._first_answer: asyncio.Event | None = asyncio.Event() if first_alone else None
        self._first_out = False
        self._granted = 0
        self._throttled = 0

    @property
    def rate(self) -> float | None:
        return self._core.discovery.rate

    @property
    def shares_budget(self) -> bool:
        """Whether this lane paces together with its partner (see ``share_budget_with``)."""
        return self._partner is not None and self._partner._core is self._core

    def share_budget_with(self, primary: RateGate) -> None:
        """Pair this lane with ``primary``: if the server turns out to count both lanes'
        requests against one budget, this lane joins ``primary``'s cooldown and pacing.

        The sign is that both lanes draw 429s, or that both lanes' answers state the same
        quota in their headers. A server that limits only one lane (pushes, usually)
        never shows it, and the lanes stay apart.
        """
        self._partner, self._joins = primary, True
        primary._partner, primary._joins = self, False

    def _join_if_shared(self) -> None:
        partner = self._partner
        if partner is None or partner._core is self._core:
            return
        joining, primary = (self, partner) if self._joins else (partner, self)
        logger.info("the server counts pushes and reads against one budget: pacing them together")
        if primary._core.discovery.absorb(joining._core.discovery):
            primary._core.pace()
        joining._core = primary._core
        # Across processes too: the joining lane takes its slots from the primary's.
        joining._shared = primary._shared

    def statistics(self) -> RateGateStatistics:
        return RateGateStatistics(
            rate=self._core.discovery.rate,
            burst=self._core.burst,
            max_in_flight=self._max_in_flight,
            in_flight=self._in_flight,
            granted=self._granted,
            throttled=self._throttled,
            decreases=self._core.discovery.decreases,
            increases=self._core.discovery.increases,
            cooldown_remaining=self._core.cooldown.remaining(),
            cooldown_total=self._core.cooldown.throttled_total,
            held_total=self._core.cooldown.held_total,
            header_rate=self._core.header_rate,
        )

    def __repr__(self) -> str:
        rate = self._core.discovery.rate
        paced = "unpaced" if rate is None else f"{rate:.2f}/s burst {self._core.burst:g}"
        return (
            f"<RateGate {paced}, {self._in_flight}/{self._max_in_flight} in flight, "
            f"{self._throttled} throttled>"
        )

    async def call(
        self,
        send: Callable[[], Awaitable[httpx2.Response]],
        *,
        on_throttle: Callable[[RateLimitError], None] | None = None,
    ) -> httpx2.Response:
        """Send through the gate until the answer is not a 429, and return it.

        Each 429 closes the gate for everyone (its Retry-After), may lower the rate, is told
        to ``on_throttle``, and the request waits its turn again. Any other answer, error
        statuses included, counts as a request that got through; errors without an answer
        (network) count as nothing. Every answer's rate-limit headers are read.
        """
        while True:
            granted = None
            try:
                async with self.turn() as granted:
                    response = await send()
            except RateLimitError as exc:
                self.record_throttle(exc.retry_after, sent_at=granted)
                self.record_quota(_quota_of(exc.response), throttled=True)
                if on_throttle is not None:
                    on_throttle(exc)
                if self._shared is not None:
                    # The other processes pause too; a rate nobody told is the lane's to
                    # learn, from every process's 429s.
                    core = self._core
                    await self._shared.throttled(
                        core.cooldown.remaining(),
                        learn=core.header_rate is None and core.discovery.told is None,
                    )
                continue
            except APIStatusError as exc:
                self.record_success(sent_at=granted)
                self.record_quota(_quota_of(exc.response))
                raise
            self.record_success(sent_at=granted)
            self.record_quota(_quota_of(response))
            return response

    @contextlib.asynccontextmanager
    async def turn(self) -> AsyncIterator[float]:
        """Wait for the cooldown, a free slot and the pacing; hold the slot inside the block.

        Yields the time the turn was granted: pass it to ``record_throttle`` so that 429s
        of requests sent before the last decrease do not lower the rate again.
        """
        first = self._first_answer
        alone = False
        if first is not None and not first.is_set():
            if self._first_out:
                await first.wait()
            else:
                self._first_out = alone = True
        try:
            partner = self._partner
            stated = partner is not None and partner._core.header_rate is not None
            if alone and self._joins and stated and partner and partner._core.limiter:
                # The partner lane's answers state a quota this lane's may count against
                # too: its first request takes a turn of the partner's pace.
                await partner._core.limiter.acquire()
            async with self._granted_turn() as granted:
                yield granted
        finally:
            if alone and first is not None:
                first.set()  # answered, failed or cancelled: the others wait no longer

    @contextlib.asynccontextmanager
    async def _granted_turn(self) -> AsyncIterator[float]:
        await self._core.cooldown.wait()
        async with self._slots:
            self._in_flight += 1
            try:
                while True:
                    if self._core.limiter is not None:
                        await self._core.limiter.acquire()
                    if self._shared is not None:
                        await self._shared_turn(self._shared)
                    if self._core.cooldown.is_open():
                        break
                    # A 429 arrived while this request waited for its pacing slot.
                    await self._core.cooldown.wait()
                self._granted += 1
                granted = self._clock()
                self._core.discovery.episodes.begin(granted)
                yield granted
            finally:
                self._in_flight -= 1

    async def _shared_turn(self, shared: SharedLane) -> None:
        """The tenant's next slot (other processes spend the same budget), after any
        cooldown one of them was told.

        The tenant's rate is the one this process was told or the server's headers
        state, which every process paces its slots at; with none, the lane's (learned in
        Redis from every process's 429s, see ``redis_backend``). A process's own discovery
        does not learn on a shared lane (``adaptive=False``): its traffic is only a share.
        """
        core = self._core
        reservation = await shared.reserve(core.header_rate or core.discovery.told)
        if (
            reservation.shared
            and reservation.rate is not None
            and core.discovery.cap(reservation.rate)
        ):
            core.pace()
        if reservation.wait > 0:
            await self._sleep(reservation.wait)

    def record_success(self, *, sent_at: float | None = None) -> None:
        """A request got through: count it towards the measured rate, maybe raise the rate.

        ``sent_at`` is the time its turn was granted (what ``turn()`` yields): it counts
        the request in the estimate's episode it was sent in.
        """
        now = self._clock()
        self._core.consecutive_throttles = 0
        if self._core.discovery.succeeded(now, sent_at if sent_at is not None else now):
            self._core.pace()

    def record_throttle(self, retry_after: float | None, *, sent_at: float | None = None) -> None:
        """A request got a 429: close the gate for everyone, lower the rate once per overload.

        ``sent_at`` is the time its turn was granted; a request sent before the last
        decrease says nothing about the lowered rate.
        """
        now = self._clock()
        self._throttled += 1
        self._ever_throttled = True
        self._core.consecutive_throttles += 1
        asked = retry_after
        if retry_after is None:
            # No hint: wait 1 s, doubling while 429s keep coming.
            retry_after = 2.0 ** min(self._core.consecutive_throttles - 1, 6)
        until = self._core.cooldown.close_for(min(max(retry_after, 0.0), self._max_retry_after))
        core = self._core
        core.burst = self._tuning.strict_burst if core.header_rate is None else 1.0
        core.discovery.throttled(now, sent_at, until, asked)
        core.pace()  # the drop to a burst of 1 takes effect even at an unchanged rate
        if self._partner is not None and self._partner._ever_throttled:
            # Both lanes drew 429s: the server counts them together. Joined after this
            # 429 is recorded, so that the window it ended counts both lanes' calls.
            self._join_if_shared()

    def record_quota(self, quota: Quota | None, *, throttled: bool = False) -> None:
        """The server's headers stated its quota: pace at its rate, hold while it is spent.

        A policy stated with a window gives the rate at once. A limit without a window (the
        ``X-RateLimit-*`` style) counts over the longest reset seen so far, which is the
        window once a request opened one. A quota spent with more than a second to its
        reset closes the lane until then (a per-second quota is the pacing's business: a
        reset in whole seconds would only overshoot it).
        """
        if quota is None:
            return
        if quota.limit is not None:
            self._policy = (quota.limit, quota.window or 0.0)
            if self._partner is not None and self._partner._policy == self._policy:
                self._join_if_shared()
        if quota.reset is not None:
            self._core.longest_reset = max(self._core.longest_reset, quota.reset)
        rate = quota.rate
        if rate is None and quota.limit is not None and self._core.longest_reset >= 1.0:
            rate = quota.limit / self._core.longest_reset
        if rate is not None and rate > 0:
            self._core.header_rate = rate
            # Paced at a stated rate, no request may come early: a strict server at that
            # rate refuses a request 5% early (the margin makes up for timer lateness).
            self._core.burst = 1.0
            if self._core.discovery.cap(
                max(rate * self._tuning.header_margin, self._tuning.min_rate)
            ):
                self._core.pace()
        if (
            not throttled
            and quota.remaining is not None
            and quota.remaining < 1
            and quota.reset is not None
            and quota.reset > 1.0
        ):
            self._core.cooldown.close_for(min(quota.reset, self._max_retry_after), throttled=False)


def _quota_of(response: httpx2.Response | None) -> Quota | None:
    return None if response is None else read_quota(response.headers)


class _Core:
    """What lanes that share the server's budget share: cooldown, rate, pacer."""

    def __init__(
        self,
        *,
        rate: float | None,
        adaptive: bool,
        tuning: Tuning,
        clock: Clock,
        sleep: Sleep,
    ) -> None:
        self.cooldown = Cooldown(clock=clock, sleep=sleep)
        self.discovery = Discovery(
            ceiling=rate,
            adaptive=adaptive,
            tuning=tuning,
            clock=clock,
            cooldown_end=lambda: self.cooldown.until,
        )
        self.burst = tuning.strict_burst
        self.limiter: PacingLimiter | None = None
        self.consecutive_throttles = 0
        self.longest_reset = 0.0
        self.header_rate: float | None = None
        self.pace()

    def pace(self) -> None:
        rate = self.discovery.rate
        if rate is None:
            return
        if self.limiter is None:
            self.limiter = PacingLimiter(self.burst, self.burst / rate)
            if self.discovery.episodes.start is not None:
                self.limiter.count_sent()  # paced from now on: the last request counts
        else:
            self.limiter.set_rate(rate, self.burst)
