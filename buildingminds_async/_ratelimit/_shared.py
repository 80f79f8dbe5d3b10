"""What a rate gate shares with the other processes of a tenant, when it shares anything.

A ``SharedLane`` is one lane (pushes, reads) of a budget that several processes spend:
``reserve`` hands out the next send slot of the whole tenant (after any cooldown one of
them was told) at the tenant's rate, and ``throttled`` tells the others of a 429. The Redis backend
(``buildingminds_async.redis_backend``) implements it; without a backend a gate shares
nothing and nothing here runs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

__all__ = ["Reservation", "SharedLane", "SharedToken", "SharedTokenCache"]


@dataclass(frozen=True, slots=True)
class Reservation:
    """The slot a process may send in, and what the others have learned."""

    wait: float
    """Seconds to wait before sending (a slot later, or the end of a shared cooldown)."""
    rate: float | None
    """The lane's rate as last learned by any process (None: nobody has learned one)."""
    shared: bool = True
    """False when the backend could not be asked and this is a local stand-in."""


class SharedLane(Protocol):
    async def reserve(self, rate: float | None) -> Reservation:
        """The tenant's next slot, after any shared cooldown. ``rate`` is the tenant's
        rate as this process knows it (told, or stated by the server; None: not known),
        which it shares; with none, the slot is at the rate another process shared, or
        only the end of a cooldown when nobody knows one."""
        ...

    async def throttled(self, retry_after: float, *, learn: bool) -> None:
        """A 429: close the lane for every process for ``retry_after`` s; with ``learn``
        (the caller knows no tenant rate), the lane lowers the rate it learned."""
        ...


@dataclass(frozen=True, slots=True)
class SharedToken:
    """A bearer token as the processes share it: its value and how long it stays valid."""

    value: str
    lifetime: float
    """Seconds it was valid for when issued."""
    remaining: float
    """Seconds it stays valid from now."""
    slot: str


class SharedTokenCache(Protocol):
    async def get(self) -> SharedToken | None:
        """The token another process stored, if it is still good for a while."""
        ...

    async def fetch_once(
        self, fetch: Callable[[], Awaitable[SharedToken]], *, newer_than: str | None
    ) -> SharedToken | None:
        """Run ``fetch`` in at most one process at a time and store its token for the
        others, or wait for the token another process fetches (one that is not
        ``newer_than``'s value); None when the cache cannot be asked."""
        ...
