"""The token-bucket estimate: the server's rate read from the episodes 429s ended.

An episode starts with the server's bucket full (the run's first request, the end of a
cooldown) and ends at the request a 429 refused (the bucket empty). Sent faster than the
bucket refills, it let ``A = B + R * t`` requests through in its ``t`` seconds; a line
through two or more such episodes estimates the rate ``R`` and the burst ``B``.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

__all__ = ["Episodes"]


@dataclass(slots=True)
class _Episode:
    start: float
    end: float
    accepted: int
    slowest: float
    """The slowest rate paced during the episode (inf while unpaced)."""


class Episodes:
    """The current episode and the last ended ones; ``estimate()`` fits the line."""

    def __init__(self, *, kept: int = 8) -> None:
        self.start: float | None = None
        """When the current episode began; None before the first turn."""
        self.accepted = 0
        """Requests of the current episode that got through."""
        self._slowest = math.inf
        self._ended: deque[_Episode] = deque(maxlen=kept)

    def begin(self, at: float) -> None:
        """The run's first turn starts the first episode."""
        if self.start is None:
            self.start = at

    def paced(self, rate: float) -> None:
        self._slowest = min(self._slowest, rate)

    def count(self, sent_at: float) -> None:
        """A request sent at ``sent_at`` got through: count it in the episode it was sent in
        (a success that comes after the 429 still belongs to the episode before)."""
        if self.start is not None and sent_at >= self.start:
            self.accepted += 1
            return
        for episode in reversed(self._ended):
            if episode.start <= sent_at < episode.end:
                episode.accepted += 1
                return

    def end(self, refused_at: float, next_start: float) -> None:
        """End the episode at the refused request; the next starts when the cooldown ends
        (the server's bucket refills meanwhile)."""
        start = self.start
        if start is not None and refused_at > start:
            self._ended.append(_Episode(start, refused_at, self.accepted, self._slowest))
        self.start = next_start
        self.accepted = 0
        self._slowest = math.inf

    def estimate(self) -> float | None:
        """The server's rate; None when it cannot be trusted.

        Episodes paced slower than the ``R`` found are left out (a full bucket wastes what
        it cannot hold) and the line fitted again. No estimate without two episodes of
        different lengths, or when the line shows no burst (``B`` below 1): against a
        server without a burst allowance a 429 can come from two requests a little too
        close, the bucket far from drained, and ``A`` then measures the client.
        """
        points = list(self._ended)
        for _ in range(3):
            fit = _line(points)
            if fit is None:
                return None
            rate, burst = fit
            busy = [e for e in self._ended if e.slowest > rate * 1.02]
            if busy == points:
                break
            points = busy
        else:
            return None
        if rate <= 0 or burst < 1.0:
            return None
        return rate


def _line(episodes: list[_Episode]) -> tuple[float, float] | None:
    """Slope and intercept of accepted requests over seconds."""
    n = len(episodes)
    if n < 2:
        return None
    xs = [e.end - e.start for e in episodes]
    ys = [float(e.accepted) for e in episodes]
    mean_x = sum(xs) / n
    mean_y = sum(ys) / n
    spread = sum((x - mean_x) ** 2 for x in xs)
    if spread < n * 0.01:  # lengths within about 0.1 s of each other: no slope to read
        return None
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / spread
    return slope, mean_y - slope * mean_x
