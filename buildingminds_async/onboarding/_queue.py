"""The bounded stream between the intake and the pushers.

A priority queue of chunks with a capacity: the intake waits when it is full (that bounds
the run's memory), and the pushers take parents' chunks before children's (lowest entity
level first, then the order they were cut), so that a mixed input reaches the platform in
dependency order. A 413 split puts its halves back without waiting: they were already
counted against the capacity.
"""

from __future__ import annotations

import heapq

import anyio

from ._chunking import Chunk


class ChunkQueue:
    """A bounded queue that hands out parents' chunks first (lowest level, then order)."""

    def __init__(self, capacity: int) -> None:
        self._heap: list[tuple[int, int, Chunk]] = []
        self._capacity = capacity
        self._closed = False
        self._changed = anyio.Event()

    def __len__(self) -> int:
        return len(self._heap)

    def _notify(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()

    async def put(self, chunk: Chunk) -> None:
        while len(self._heap) >= self._capacity:
            await self._changed.wait()
        self.put_nowait(chunk)

    def put_nowait(self, chunk: Chunk) -> None:
        heapq.heappush(self._heap, (chunk.level, chunk.seq, chunk))
        self._notify()

    async def get(self) -> Chunk | None:
        """The next chunk, or None once the queue is closed and empty."""
        while not self._heap:
            if self._closed:
                return None
            await self._changed.wait()
        chunk = heapq.heappop(self._heap)[2]
        self._notify()
        return chunk

    def close(self) -> None:
        self._closed = True
        self._notify()

    def drain(self) -> list[Chunk]:
        chunks = [item[2] for item in sorted(self._heap)]
        self._heap.clear()
        self._notify()
        return chunks
