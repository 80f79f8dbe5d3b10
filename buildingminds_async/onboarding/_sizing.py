"""How many records a request carries: a fixed number, or ``"auto"``, learned from the server.

Under a rate limit of R pushes/s, a run sends R x records-per-push records/s: once the
limit binds, a bigger chunk is the only way to go faster. With ``chunk_size="auto"`` the
``ChunkSizer`` starts at the fixed default and then:

- **grows** (doubling) while the pushers spend most of their time waiting on the push
  lane of the rate gate (its pacing or a 429's cooldown): the limit binds, not the
  network nor the server. Without a limit nothing waits there, and the size stays put;
- **probes** each new size with one chunk: the others of that size wait for its answer,
  so a server that refuses the size answers one 413, not one per pusher;
- **learns the ceiling** from a 413 (or a 400 that says the payload is too large): back
  to the last size the server took, or to the limit its message states; it then tries
  half-way between, until the gap is under a quarter (at most three 413s a run);
- **shrinks** back to the size before the last growth when answers got so slow that the
  bigger chunks carry fewer records/s than those did (the pushers no longer keep the
  rate), and does not grow again for ``SLOW_HOLD`` seconds;
- stays within ``max_chunk_size`` and ``max_chunk_bytes``, and grows no further than
  a size of which the pending window (``max_pending_records``) holds ``2 x concurrency``
  batches: fewer, and the pushers would wait on the poller instead of the server.

A fixed ``chunk_size`` never grows: a 413 lowers it for the rest of the run, to the limit
its message states or by half. Every change is kept with its reason (``ChunkSizes`` in the report).
"""

from __future__ import annotations

import re
import statistics
from collections import deque
from collections.abc import Callable
from typing import Final

import anyio

from ._chunking import Chunk, Chunker
from ._report import ChunkSizes, SizeChange

AUTO: Final = "auto"
# Share of a push's time (waiting for its turn + sending) spent waiting on the gate above
# which the limit binds.
BINDS: Final = 0.5
SLOW_HOLD: Final = 60.0
"""Seconds the size does not grow after answers were too slow."""
# Pending batches the window must hold per pusher (one answered, one on its way).
BATCHES_PER_PUSHER: Final = 2
_CLOSE_ENOUGH: Final = 4  # stop probing when the gap to a refused size is under 1/4
# "the limit is 1000", "at most 1,000 records"; never a number of bytes.
_STATED = re.compile(
    r"(?:limit|maximum|max|at most|up to)\D{0,20}?(\d[\d,._]*)(?![\d,._])"
    r"(?!\s*(?:bytes?|[kmg]i?b|octets)\b)",
    re.IGNORECASE,
)
_TOO_LARGE = re.compile(
    r"payload too large|request entity too large|(?:body|payload|request|content) "
    r"(?:is )?too (?:large|big)|too many records|maximum (?:request|payload|body) size",
    re.IGNORECASE,
)


def says_too_large(message: str) -> bool:
    """Whether a 400's message says the request was too large (a 413 in other words)."""
    return _TOO_LARGE.search(message) is not None


class ChunkSizer:
    """The chunk size of one run; the pushers tell it how their pushes went.

    ```python
    sizer = ChunkSizer(chunker, auto=True, size=500, ceiling=5000, ...)
    await sizer.turn(chunk)          # a chunk of an untried size waits for the probe
    if sizer.too_big(chunk): ...     # a ceiling was learned since it was cut: split it
    sizer.accepted(chunk, waited=0.18, latency=0.02)
    sizer.refused(chunk, message)    # 413
    sizer.done(chunk)                # any outcome: a probe that ends frees the others
    ```
    """

    def __init__(
        self,
        chunker: Chunker,
        *,
        auto: bool,
        size: int,
        ceiling: int,
        concurrency: int,
        pending_window: int | None,
        rate: Callable[[], float | None],
        clock: Callable[[], float],
    ) -> None:
        self._chunker = chunker
        self._auto = auto
        self._concurrency = concurrency
        self._rate = rate
        self._clock = clock
        self._started = clock()
        self._ceiling = ceiling
        self._window_cap: int | None = None
        if auto and pending_window is not None:
            self._window_cap = max(1, pending_window // (BATCHES_PER_PUSHER * concurrency))
        # The window caps growth, not the start: where nothing binds, "auto" sends what a
        # fixed default would.
        self._floor = min(size, ceiling) if auto else size
        self._limit = self._floor
        self._confirmed = self._floor
        self._refused_at: int | None = None
        self._slow_until = 0.0
        self._before: tuple[int, float] | None = None
        """(size, median latency) before the last growth: what it is judged against."""
        self._probe: int | None = None
        self._probe_done = anyio.Event()
        # The last pushes' waits and latencies, of chunks larger than the size before the
        # last growth: a decision is about the size it led to, not the queue's older ones.
        sample = max(concurrency, 4)
        self._waited: deque[float] = deque(maxlen=sample)
        self._latency: deque[float] = deque(maxlen=sample)
        self._since = 0
        self._smallest = self._largest = self._floor
        self._changes: list[SizeChange] = []
        chunker.max_records = self._limit

    def sizes(self) -> ChunkSizes:
        """The sizes so far; a size grown to and not yet taken does not count as used."""
        final = min(self._limit, self._confirmed) if self._auto else self._limit
        return ChunkSizes(
            auto=self._auto,
            initial=self._floor,
            smallest=min(self._smallest, final),
            largest=max(self._largest, final),
            final=final,
            changes=tuple(self._changes),
        )

    # -- before a push ----------------------------------------------------------------

    async def turn(self, chunk: Chunk) -> None:
        """Wait until ``chunk`` may go: a chunk larger than any the server took waits
        while another such chunk (the probe) is out, then goes as the probe itself."""
        if not self._auto:
            return
        while len(chunk) > self._confirmed and not self.too_big(chunk):
            if self._probe is None:
                self._probe = chunk.seq
                return
            await self._probe_done.wait()

    def too_big(self, chunk: Chunk) -> bool:
        """Whether ``chunk`` is larger than a limit learned since it was cut."""
        return len(chunk) > 1 and (
            len(chunk) > self._chunker.max_records or chunk.size > self._chunker.max_bytes
        )

    # -- after it ---------------------------------------------------------------------

    def accepted(
        self, chunk: Chunk, *, waited: float | None = None, latency: float | None = None
    ) -> None:
        """The server took ``chunk``: its push waited ``waited`` seconds on the gate and
        took ``latency`` to answer (None: the answer was lost and the batch found)."""
        if not self._auto:
            return
        self._confirmed = max(self._confirmed, len(chunk))
        self._largest = max(self._largest, min(self._confirmed, self._limit))
        self.done(chunk)
        if waited is None or latency is None or not self._since < len(chunk) <= self._limit:
            return  # a chunk of a size before the last change
        self._waited.append(waited)
        self._latency.append(latency)
        if len(self._latency) == self._latency.maxlen:
            self._decide()

    def refused(self, chunk: Chunk, message: str) -> None:
        """The server refused ``chunk`` as too large (the pusher splits it)."""
        size = len(chunk)
        self.done(chunk)
        if not self._auto or size <= self._confirmed:
            # A fixed size, or one the server took before (the bytes, then): the limit
            # the message states, else half of both.
            stated = _stated_limit(message, 1, size)
            if stated is None:
                self._chunker.shrink(max_records=size // 2, max_bytes=chunk.size // 2 + 1)
            else:
                self._chunker.shrink(max_records=stated, max_bytes=self._chunker.max_bytes)
            self._confirmed = min(self._confirmed, self._chunker.max_records)
            self._refused_at = min(self._refused_at or size, size)
            self._change(self._chunker.max_records, f"413 for {size:,} records ({message})")
            return
        stated = _stated_limit(message, self._confirmed, size)
        refused_at = size if stated is None else stated + 1
        self._refused_at = min(self._refused_at or refused_at, refused_at)
        to = stated if stated is not None else self._confirmed
        why = f"the server takes at most {to:,}" if stated else "back to the last size it took"
        self._change(to, f"413 for {size:,} records: {why}")

    def done(self, chunk: Chunk) -> None:
        """``chunk``'s push ended, however: if it was the probe, the others go on."""
        if self._probe == chunk.seq:
            self._probe = None
            self._probe_done.set()
            self._probe_done = anyio.Event()

    # -- deciding ---------------------------------------------------------------------

    def _decide(self) -> None:
        waited, latency = self._waited, self._latency
        rate = self._rate()
        slow = statistics.median(latency)
        now = self._records_per_s(self._limit, slow, rate)
        before = self._before
        if before is not None and now < self._records_per_s(*before, rate):
            # So slow that the pushers no longer keep the rate, and the bigger chunks
            # carry fewer records/s than the smaller ones did: back to those.
            self._slow_until = self._clock() + SLOW_HOLD
            self._before = None
            self._change(
                before[0],
                f"answers slowed to {slow:.2f} s a push: {now:,.0f} records/s at this size, "
                f"{self._records_per_s(*before, rate):,.0f} at {before[0]:,}",
            )
            return
        share = sum(waited) / max(sum(waited) + sum(latency), 1e-9)
        if share < BINDS or self._confirmed < self._limit:
            return  # not binding, or the size it grew to last is not taken yet
        grown = self._grown()
        if grown is not None:
            self._before = (self._limit, slow)
            self._change(grown, f"the rate limit binds: pushes waited {share:.0%} of their time")

    def _records_per_s(self, size: int, latency: float, rate: float | None) -> float:
        """What ``concurrency`` pushers of ``size`` records move when each answer takes
        ``latency``, at most ``rate`` pushes/s."""
        pushes = self._concurrency / max(latency, 1e-9)
        return size * (pushes if rate is None else min(pushes, rate))

    def _grown(self) -> int | None:
        limit = self._limit
        top = min(self._ceiling, self._window_cap or self._ceiling)
        if self._clock() < self._slow_until:
            return None
        if self._refused_at is not None:
            if self._refused_at - limit <= limit // _CLOSE_ENOUGH:
                return None
            top = min(top, self._refused_at - 1)
            grown = (limit + self._refused_at) // 2
        else:
            grown = limit * 2
        grown = min(grown, top)
        return grown if grown > limit else None

    def _change(self, size: int, reason: str) -> None:
        size = max(1, size)
        if size == self._limit:
            return
        self._waited.clear()
        self._latency.clear()
        self._since = self._limit if size > self._limit else 0
        self._limit = size
        self._chunker.max_records = size
        self._smallest = min(self._smallest, size)
        self._changes.append(SizeChange(self._clock() - self._started, size, reason))


def _stated_limit(message: str, low: int, high: int) -> int | None:
    """A records limit the server's 413 message states, if one lies in ``[low, high)``."""
    for match in _STATED.finditer(message):
        digits = re.sub(r"\D", "", match.group(1))
        if digits and low <= int(digits) < high:
            return int(digits)
    return None
