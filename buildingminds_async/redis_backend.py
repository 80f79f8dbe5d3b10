"""One tenant, many processes: the rate budget and the token shared through Redis.

```python
client = AsyncClient(rate_backend="redis://localhost:6379/0")          # or
client = AsyncClient(rate_backend=RedisRateBackend("redis://...", prefix="acme-prod"))
```

(``BUILDINGMINDS_REDIS_URL``, CLI ``--redis URL``.) Every process of a tenant that uses
the same Redis and key prefix shares, per lane (pushes, reads):

- **the pacing**: send slots handed out by one Lua script (a GCRA reservation on Redis's
  own clock, atomic): N processes together send at the lane's rate, a process that
  starts later takes the next slot instead of bursting;
- **the cooldown**: a 429 seen by one process moves the lane's next slot past its
  Retry-After for all of them;
- **the learned rate**: the rate a process's discovery settles on (or was told) paces
  the others too.

And the **token**: one token per lifetime for all of them, fetched by one process at a
time (a lock with a timeout), stored with a TTL shorter than its expiry. The client secret
never goes to Redis.

When Redis cannot be reached or answers too slowly (``timeout``), each process warns
once, paces alone at 90% of ``1/N`` of the last shared rate (N: the processes seen
recently),
keeps its own token, and asks Redis again every ``retry_every`` seconds: never an
unbounded burst, never a stuck run, no record lost.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

from ._errors import ConfigurationError
from ._ratelimit._shared import Reservation, SharedToken

__all__ = ["RedisRateBackend"]

logger = logging.getLogger("buildingminds_async.redis")

# KEYS: slot, cooldown, rate, members, counts, changed. ARGV: the caller's tenant rate as
# an interval in µs (0: it knows none), TTL ms, member id.
#
# A caller that knows the tenant's rate (told, or stated by the server) shares it and takes
# its slot at it. One that does not follows the rate the lane learned: the tenant's own
# discovery, here rather than in each process (whose traffic is only its share): unpaced
# until the first 429, which sets the rate below what was sent per second (``_THROTTLED``),
# then a quarter higher after each 2 s without a decrease. Every slot is counted per
# second (the measure of a 429). Returns the wait in µs, the lane's interval in µs
# (0: no rate), and the processes seen in the last 30 s.
_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local ttl = tonumber(ARGV[2])
redis.call('ZADD', KEYS[4], now, ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now - 30000000)
redis.call('PEXPIRE', KEYS[4], ttl)
local members = redis.call('ZCARD', KEYS[4])
local cooldown = tonumber(redis.call('GET', KEYS[2]) or '0')
local interval = tonumber(ARGV[1])
if interval > 0 then
  redis.call('SET', KEYS[3], interval, 'PX', ttl)
  redis.call('SET', KEYS[6], now, 'PX', ttl)
else
  interval = tonumber(redis.call('GET', KEYS[3]) or '0')
  local changed = tonumber(redis.call('GET', KEYS[6]) or '0')
  if interval > 0 and now - changed > 2000000 and now > cooldown then
    interval = math.max(math.floor(interval / 1.25), 1)
    redis.call('SET', KEYS[3], interval, 'PX', ttl)
    redis.call('SET', KEYS[6], now, 'PX', ttl)
  end
end
redis.call('HINCRBY', KEYS[5], math.floor(now / 1000000), 1)
redis.call('PEXPIRE', KEYS[5], 5000)
local start = math.max(now, cooldown)
if interval <= 0 then
  return {start - now, 0, members}
end
local slot = math.max(tonumber(redis.call('GET', KEYS[1]) or '0'), start)
redis.call('SET', KEYS[1], slot + interval, 'PX', ttl)
return {slot - now, interval, members}
"""

# KEYS: cooldown, rate, counts, changed. ARGV: Retry-After µs, TTL ms, learn (1: the caller
# knows no tenant rate: the lane learns from this 429). The cooldown only moves forward;
# one decrease per second (a burst of 429s is one overload): to 85% of the lower of the
# current rate and the slots handed out per second (the last whole second's, or this
# one's so far, scaled to a second).
_THROTTLED = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local ttl = tonumber(ARGV[2])
local until_ = now + tonumber(ARGV[1])
if until_ > tonumber(redis.call('GET', KEYS[1]) or '0') then
  redis.call('SET', KEYS[1], until_, 'PX', ttl)
end
if ARGV[3] == '1' then
  local changed = tonumber(redis.call('GET', KEYS[4]) or '0')
  if now - changed > 1000000 then
    local second = math.floor(now / 1000000)
    local into = math.max((now % 1000000) / 1000000, 0.25)
    local sent = math.max(tonumber(redis.call('HGET', KEYS[3], second - 1) or '0'),
                          tonumber(redis.call('HGET', KEYS[3], second) or '0') / into)
    local interval = tonumber(redis.call('GET', KEYS[2]) or '0')
    local rate = sent
    if interval > 0 then rate = math.min(rate, 1000000 / interval) end
    rate = math.max(rate * 0.85, 0.5)
    redis.call('SET', KEYS[2], math.floor(1000000 / rate), 'PX', ttl)
    redis.call('SET', KEYS[4], now, 'PX', ttl)
  end
end
return 1
"""

# KEYS: lock. ARGV: owner. Deletes the lock only if this process still holds it.
_UNLOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

_STATE_TTL_MS = 600_000  # a lane nobody used for 10 minutes starts afresh
_LOCK_MS = 5_000  # a holder that died stalls the others this long at most
_FALLBACK_SHARE = 0.9


class RedisRateBackend:
    """The Redis side of a tenant's shared rate budget and token (see the module docstring).

    ``prefix`` names the budget: processes with the same Redis and prefix share it. The
    default is derived from the client's base URL and client id (``AsyncClient`` sets it);
    give one explicitly to share a budget across API keys of one tenant.
    """

    def __init__(
        self,
        url: str,
        *,
        prefix: str | None = None,
        timeout: float = 0.5,
        retry_every: float = 5.0,
    ) -> None:
        try:
            import redis.asyncio as aioredis
        except ImportError:
            raise ConfigurationError(
                "rate_backend='redis://...' needs the redis package: "
                "pip install 'buildingminds-async[redis]'"
            ) from None
        if not url.startswith(("redis://", "rediss://", "unix://")):
            raise ConfigurationError(
                f"rate_backend must be a redis://, rediss:// or unix:// URL, not {shown_url(url)!r}"
            )
        self._url = url
        self._redis: Any = aioredis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout, decode_responses=True
        )
        self._errors: tuple[type[BaseException], ...] = (
            aioredis.RedisError,
            OSError,
            asyncio.TimeoutError,
        )
        self.prefix = prefix
        self._retry_every = retry_every
        self._member = secrets.token_hex(6)
        self._down_until = float("-inf")
        self._warned = False
        self._reserve = self._redis.register_script(_RESERVE)
        self._throttled = self._redis.register_script(_THROTTLED)
        self._unlock = self._redis.register_script(_UNLOCK)
        self._lanes: dict[str, RedisLane] = {}
        self.fallbacks = 0
        """Calls answered locally because Redis could not be asked."""

    def __repr__(self) -> str:
        return f"<RedisRateBackend {shown_url(self._url)} prefix={self.prefix!r}>"

    def bind(self, prefix: str) -> None:
        """Set the default prefix (the client's base URL and client id) unless one was given."""
        if self.prefix is None:
            self.prefix = prefix

    def lane(self, name: str) -> RedisLane:
        """The lane ``name`` ("push", "read"): one object per lane and backend."""
        lane = self._lanes.get(name)
        if lane is None:
            lane = self._lanes[name] = RedisLane(self, name)
        return lane

    def token_cache(self, key: str) -> RedisTokenCache:
        return RedisTokenCache(self, key)

    async def aclose(self) -> None:
        await self._redis.aclose()

    # -- asking Redis, or not -----------------------------------------------------------

    def key(self, *parts: str) -> str:
        return ":".join(("buildingminds", self.prefix or "default", *parts))

    @property
    def available(self) -> bool:
        return time.monotonic() >= self._down_until

    async def ask(self, call: Callable[[], Awaitable[Any]]) -> tuple[bool, Any]:
        """``(True, answer)``, or ``(False, None)`` when Redis cannot be asked now."""
        if not self.available:
            return False, None
        try:
            answer = await call()
        except self._errors as exc:
            self._down(exc)
            return False, None
        if self._warned:
            logger.warning(
                "Redis at %s answers again: the shared budget is back", shown_url(self._url)
            )
            self._down_until = float("-inf")
            self._warned = False
        return True, answer

    def _down(self, exc: BaseException) -> None:
        self._down_until = time.monotonic() + self._retry_every
        self.fallbacks += 1
        if not self._warned:
            self._warned = True
            logger.warning(
                "Redis at %s cannot be asked (%s: %s): pacing alone at a share of the last "
                "shared rate, trying again every %g s",
                shown_url(self._url),
                type(exc).__name__,
                exc,
                self._retry_every,
            )


class RedisLane:
    """One lane of the shared budget (see ``SharedLane``)."""

    def __init__(self, backend: RedisRateBackend, name: str) -> None:
        self._backend = backend
        self._name = name
        self._last_rate: float | None = None
        self._members = 1
        self._local_slot = 0.0

    def _keys(self) -> list[str]:
        key = self._backend.key
        lane = self._name
        return [
            key(lane, "slot"),
            key(lane, "cooldown"),
            key(lane, "rate"),
            key(lane, "members"),
            key(lane, "counts"),
            key(lane, "changed"),
        ]

    async def reserve(self, rate: float | None) -> Reservation:
        interval_us = int(1_000_000 / rate) if rate else 0
        backend = self._backend
        ok, answer = await backend.ask(
            lambda: backend._reserve(
                keys=self._keys(), args=[interval_us, _STATE_TTL_MS, backend._member]
            )
        )
        if not ok:
            return self._alone(rate)
        wait_us, shared_interval, members = answer
        self._members = max(int(members), 1)
        shared_rate = 1_000_000 / int(shared_interval) if int(shared_interval) > 0 else None
        if shared_rate is not None:
            self._last_rate = shared_rate
        return Reservation(max(int(wait_us), 0) / 1_000_000, shared_rate)

    def _alone(self, rate: float | None) -> Reservation:
        """The slot a process takes alone: its share of the last rate it knew shared."""
        known = self._last_rate if self._last_rate is not None else rate
        if known is None:
            # No rate known anywhere: the process's own gate paces (it learns from its
            # 429s), as without a shared budget.
            return Reservation(0.0, None, shared=False)
        # Below an even share: N processes pacing alone at exactly R/N each would send R
        # together, and their timers' jitter would trip a strict limiter.
        share = known * _FALLBACK_SHARE / self._members
        now = time.monotonic()
        slot = max(self._local_slot, now)
        self._local_slot = slot + 1.0 / share
        return Reservation(slot - now, share, shared=False)

    async def throttled(self, retry_after: float, *, learn: bool) -> None:
        backend = self._backend
        _slot, cooldown, rate, _members, counts, changed = self._keys()
        await backend.ask(
            lambda: backend._throttled(
                keys=[cooldown, rate, counts, changed],
                args=[int(retry_after * 1_000_000), _STATE_TTL_MS, "1" if learn else "0"],
            )
        )


class RedisTokenCache:
    """The token shared by the processes of one API key (never the secret)."""

    def __init__(self, backend: RedisRateBackend, key: str) -> None:
        self._backend = backend
        self._key = backend.key("token", key)
        self._lock = backend.key("token", key, "lock")

    async def get(self) -> SharedToken | None:
        backend = self._backend
        ok, answer = await backend.ask(
            lambda: backend._redis.eval(
                "return {redis.call('GET', KEYS[1]), redis.call('PTTL', KEYS[1])}", 1, self._key
            )
        )
        if not ok or not answer or not answer[0]:
            return None
        try:
            data = json.loads(answer[0])
            return SharedToken(
                str(data["value"]),
                float(data["lifetime"]),
                max(int(answer[1]), 0) / 1000 + float(data["margin"]),
                str(data["slot"]),
            )
        except (ValueError, KeyError, TypeError):
            return None

    async def fetch_once(
        self, fetch: Callable[[], Awaitable[SharedToken]], *, newer_than: str | None
    ) -> SharedToken | None:
        """A token fetched by this process (holding the lock) or by another one (waiting
        for it); None when Redis cannot be asked (the caller fetches alone)."""
        backend = self._backend
        owner = backend._member
        deadline = time.monotonic() + _LOCK_MS / 1000 * 2
        while time.monotonic() < deadline:
            ok, took = await backend.ask(
                lambda: backend._redis.set(self._lock, owner, nx=True, px=_LOCK_MS)
            )
            if not ok:
                return None
            if took:
                try:
                    token = await fetch()
                    await self._store(token)
                    return token
                finally:
                    await backend.ask(lambda: backend._unlock(keys=[self._lock], args=[owner]))
            await asyncio.sleep(0.05)
            shared = await self.get()
            if shared is not None and shared.value != newer_than:
                return shared
        return None

    async def _store(self, token: SharedToken) -> None:
        # Kept until a minute before it expires (a tenth of its life for short tokens):
        # a process never reads a token about to lapse.
        margin = min(60.0, token.lifetime * 0.1)
        ttl_ms = int((token.remaining - margin) * 1000)
        if ttl_ms <= 0:
            return
        value = json.dumps(
            {"value": token.value, "lifetime": token.lifetime, "margin": margin, "slot": token.slot}
        )
        backend = self._backend
        await backend.ask(lambda: backend._redis.set(self._key, value, px=ttl_ms))


def shared_backend(value: str | RedisRateBackend | None, *, prefix: str) -> RedisRateBackend | None:
    """The client's backend: none, one built from a URL, or the one given; its default
    prefix is the client's base URL and client id."""
    if value is None:
        return None
    backend = RedisRateBackend(value) if isinstance(value, str) else value
    backend.bind(hashlib.sha256(prefix.encode()).hexdigest()[:16])
    return backend


def shown_url(url: str) -> str:
    """The URL without its password (``user:password@`` or a ``password=`` parameter)."""
    shown = url
    if "@" in shown:
        scheme, _, rest = shown.partition("://")
        shown = f"{scheme}://***@{rest.rpartition('@')[2]}"
    return re.sub(r"(?i)(password=)[^&]*", r"\1***", shown)
