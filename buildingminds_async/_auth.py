"""Client credentials and the access token they buy.

The token manager follows these rules:

- A token is fetched on first use, never at import or construction.
- It is refreshed by a background task once half its lifetime has passed (the 30 minutes
  the BuildingMinds knowledge base advises for one-hour tokens), minus a random jitter so
  that many processes started together do not refresh together. Times come from the
  monotonic clock, so a wall-clock jump changes nothing.
- Until it is ``mandatory_margin`` seconds from expiry, the current token stays in use
  while the refresh runs; a failed early refresh is logged and retried, and the
  still-valid token keeps serving. A token closer to expiry than that is never sent: the
  caller waits for a new one.
- One refresh at a time: however many requests find the token missing or expired, one
  request goes to the token endpoint and the others wait for its result.
- A rejected primary secret (``invalid_client``, AADSTS7000215, AADSTS7000222) fails over
  to the secondary secret; errors and logs name the slot, never the value.
- Token endpoint 429, 5xx and network failures are retried with back-off.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx2

from ._credentials import ClientCredentials
from ._errors import (
    APIResponseValidationError,
    BuildingMindsError,
    CredentialsError,
    CredentialSlot,
    read_error_body,
    status_error,
)
from ._events import RetryEvent, TokenEvent
from ._ratelimit._shared import SharedToken, SharedTokenCache
from ._retry import RetryPolicy, parse_retry_after, retry_call

logger = logging.getLogger("buildingminds_async.auth")

Clock = Callable[[], float]


def loop_clock() -> float:
    """The running event loop's monotonic clock: the one asyncio.sleep and timeouts use."""
    return asyncio.get_running_loop().time()


Sleep = Callable[[float], Awaitable[None]]
Send = Callable[[httpx2.Request], Awaitable[httpx2.Response]]

_REJECTED_SECRET_CODES = ("AADSTS7000215", "AADSTS7000222")
_DEFAULT_LIFETIME = 3599.0  # what Entra ID issues when a response omits expires_in
_CREDENTIALS_HINT = (
    "check BUILDINGMINDS_CLIENT_SECRET (and _SECONDARY), or create a new API key under "
    "Administration center > Data connection > API keys"
)


@dataclass(frozen=True, slots=True)
class AccessToken:
    """A bearer token and when it stops being usable, on the monotonic clock."""

    value: str = field(repr=False)
    obtained_at: float
    expires_at: float
    refresh_at: float
    slot: CredentialSlot

    @property
    def lifetime(self) -> float:
        return self.expires_at - self.obtained_at

    def __repr__(self) -> str:
        return f"AccessToken(lifetime={self.lifetime:.0f}s, slot={self.slot!r})"


class _SecretRejected(Exception):
    def __init__(self, slot: CredentialSlot, error: str, description: str, status: int) -> None:
        super().__init__(slot)
        self.slot = slot
        self.error = error
        self.description = description
        self.status = status


@dataclass(frozen=True, slots=True)
class TokenStatistics:
    """Counters of the token manager (``AsyncClient.statistics().tokens``)."""

    requests: int
    refreshes_failed: int
    slot: CredentialSlot
    valid_for: float | None


class TokenManager:
    """Holds the current token; fetches, caches and refreshes it (see the module docstring)."""

    def __init__(
        self,
        credentials: ClientCredentials,
        token_url: httpx2.URL,
        *,
        send: Send,
        clock: Clock = loop_clock,
        sleep: Sleep = asyncio.sleep,
        retry: RetryPolicy | None = None,
        refresh_fraction: float = 0.5,
        refresh_jitter: float = 60.0,
        mandatory_margin: float = 60.0,
        on_token: Callable[[TokenEvent], None] | None = None,
        on_retry: Callable[[RetryEvent], None] | None = None,
        shared: SharedTokenCache | None = None,
    ) -> None:
        self._shared = shared
        self._refused: str | None = None
        self._on_token = on_token
        self._on_retry = on_retry
        self._credentials = credentials
        self._token_url = token_url
        self._send = send
        self._clock = clock
        self._sleep = sleep
        self._retry = retry or RetryPolicy(max_attempts=4, base_delay=0.5, max_delay=10.0)
        self._refresh_fraction = refresh_fraction
        self._refresh_jitter = refresh_jitter
        self._mandatory_margin = mandatory_margin
        self._slot: CredentialSlot = "primary"
        self._token: AccessToken | None = None
        self._lock = asyncio.Lock()
        self._refresher: asyncio.Task[None] | None = None
        self._closed = False
        self._requests = 0
        self._refreshes_failed = 0

    @property
    def token_url(self) -> httpx2.URL:
        return self._token_url

    def statistics(self) -> TokenStatistics:
        token = self._token
        return TokenStatistics(
            requests=self._requests,
            refreshes_failed=self._refreshes_failed,
            slot=self._slot,
            valid_for=None if token is None else max(token.expires_at - self._clock(), 0.0),
        )

    def _usable(self, token: AccessToken | None) -> bool:
        margin = min(self._mandatory_margin, token.lifetime * 0.1) if token else 0.0
        return token is not None and self._clock() < token.expires_at - margin

    async def get(self) -> AccessToken:
        """A token that is valid now; waits for a refresh only when there is none."""
        token = self._token
        if self._usable(token):
            assert token is not None  # noqa: S101 (narrowing for mypy)
            self._ensure_refresher()
            return token
        return await self._refresh(stale=token)

    def invalidate(self, token: AccessToken) -> None:
        """Forget ``token`` because the API refused it; a newer token is kept."""
        if self._token is token:
            logger.info("the API refused the current token; a new one will be requested")
            self._token = None
            self._refused = token.value  # not to be taken back from a shared cache

    async def aclose(self) -> None:
        self._closed = True
        refresher, self._refresher = self._refresher, None
        if refresher is not None and not refresher.done():
            refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await refresher

    async def _refresh(self, *, stale: AccessToken | None) -> AccessToken:
        async with self._lock:
            token = self._token
            if token is not stale and self._usable(token):
                assert token is not None  # noqa: S101
                return token  # another task refreshed while this one waited
            token = await self._fetch()
            self._token = token
        self._ensure_refresher()
        return token

    def _ensure_refresher(self) -> None:
        # The refresher is a plain task owned by this object rather than a task group
        # entered in __aenter__: a client is often opened in one task and closed in
        # another (pytest-asyncio fixtures, FastAPI lifespans), which a cancel scope
        # forbids. aclose() cancels and awaits it, so it never outlives the client.
        if self._closed or (self._refresher is not None and not self._refresher.done()):
            return
        self._refresher = asyncio.get_running_loop().create_task(
            self._refresh_ahead(), name="buildingminds-token-refresher"
        )

    async def _refresh_ahead(self) -> None:
        retry_delay = 1.0
        while not self._closed:
            token = self._token
            if token is None:
                return  # the request path refreshes on demand
            wait = token.refresh_at - self._clock()
            if wait > 0:
                # At least a millisecond: a wait of float dust may not move a coarse clock
                # (a fake test loop's) past refresh_at, and the loop would spin.
                await self._sleep(max(wait, _MIN_WAIT))
                continue
            try:
                async with self._lock:
                    if self._token is token:
                        self._token = await self._fetch()
                retry_delay = 1.0
            except CredentialsError as exc:
                self._refreshes_failed += 1
                logger.error("background token refresh stopped: %s", exc)
                return
            except BuildingMindsError as exc:
                # Keep the still-valid token; the request path takes over if it expires.
                self._refreshes_failed += 1
                remaining = token.expires_at - self._clock()
                logger.warning(
                    "background token refresh failed (%s); the current token stays in use "
                    "for %.0f s more",
                    exc,
                    max(remaining, 0.0),
                )
                if remaining <= 0:
                    return
                await self._sleep(min(retry_delay, max(remaining / 4, 0.05)))
                retry_delay = min(retry_delay * 2, 30.0)

    async def _fetch(self) -> AccessToken:
        """A new token: from the token endpoint, or, with a shared cache, the one another
        process fetched (one token request per lifetime for all of them)."""
        shared = self._shared
        if shared is None:
            return await self._fetch_alone()
        stale = self._token.value if self._token is not None else self._refused
        cached = await shared.get()
        if cached is not None and cached.value != stale and self._fresh(cached):
            return self._adopted(cached)
        fetched: list[AccessToken] = []

        async def fetch() -> SharedToken:
            token = await self._fetch_alone()
            fetched.append(token)
            now = self._clock()
            return SharedToken(token.value, token.lifetime, token.expires_at - now, token.slot)

        got = await shared.fetch_once(fetch, newer_than=stale)
        if fetched:
            return fetched[0]
        if got is not None and got.value != stale:
            return self._adopted(got)
        return await self._fetch_alone()  # the cache cannot be asked: alone

    def _fresh(self, cached: SharedToken) -> bool:
        """Not yet due for a refresh (the first half of its life, as for our own)."""
        return cached.remaining > cached.lifetime * (1 - self._refresh_fraction)

    def _adopted(self, cached: SharedToken) -> AccessToken:
        now = self._clock()
        obtained = now - (cached.lifetime - cached.remaining)
        jitter = random.uniform(0.0, min(self._refresh_jitter, cached.lifetime * 0.05))
        slot: CredentialSlot = "secondary" if cached.slot == "secondary" else "primary"
        logger.debug("token shared by another process, valid for %.0f s", cached.remaining)
        return AccessToken(
            value=cached.value,
            obtained_at=obtained,
            expires_at=now + cached.remaining,
            refresh_at=obtained + cached.lifetime * self._refresh_fraction - jitter,
            slot=slot,
        )

    async def _fetch_alone(self) -> AccessToken:
        slots = list(self._credentials.slots)
        if self._slot in slots:
            slots.remove(self._slot)
            slots.insert(0, self._slot)
        rejected: list[_SecretRejected] = []
        for slot in slots:
            try:
                token = await self._fetch_with_retries(slot)
            except _SecretRejected as exc:
                rejected.append(exc)
                remaining = [s for s in slots if s not in {r.slot for r in rejected}]
                if remaining:
                    logger.warning(
                        "the token endpoint rejected the %s client secret (%s); trying the %s "
                        "secret",
                        slot,
                        _first_line(exc.description) or exc.error,
                        remaining[0],
                    )
                continue
            if slot != self._slot:
                logger.warning(
                    "now using the %s client secret for client id %s; replace the %s secret "
                    "before the %s one expires",
                    slot,
                    self._credentials.client_id,
                    self._slot,
                    slot,
                )
                self._slot = slot
            return token
        details = "; ".join(f"{r.slot}: {_first_line(r.description) or r.error}" for r in rejected)
        which = (
            "both client secrets" if len(rejected) > 1 else f"the {rejected[0].slot} client secret"
        )
        raise CredentialsError(
            f"the token endpoint {self._token_url} rejected {which} of client id "
            f"{self._credentials.client_id} ({details}); {_CREDENTIALS_HINT}",
            slot=rejected[-1].slot,
            error=rejected[-1].error,
            error_description=rejected[-1].description,
            status_code=rejected[-1].status,
        )

    async def _fetch_with_retries(self, slot: CredentialSlot) -> AccessToken:
        return await retry_call(
            lambda: self._fetch_once(slot),
            policy=self._retry,
            sleep=self._sleep,
            on_retry=self._retrying,
        )

    def _retrying(self, exc: BaseException, attempt: int, delay: float) -> None:
        _log_retry(exc, attempt, delay)
        if self._on_retry is not None:
            self._on_retry(RetryEvent("token", attempt, delay, str(exc)))

    async def _fetch_once(self, slot: CredentialSlot) -> AccessToken:
        """One token request: the token, or the error retry_call retries (429, 5xx, network)
        or passes on (a refused secret, any other answer)."""
        self._requests += 1
        response = await self._send(self._build_request(slot))
        if response.status_code == 200:
            return self._parse(response, slot)
        if response.status_code in (400, 401):
            raise self._refusal(response, slot)
        raise status_error(response, retry_after=parse_retry_after(response.headers))

    def _build_request(self, slot: CredentialSlot) -> httpx2.Request:
        form = {
            "client_id": self._credentials.client_id,
            "client_secret": self._credentials.secret(slot).get_secret_value(),
            "scope": self._credentials.scope,
            "grant_type": "client_credentials",
        }
        return httpx2.Request(
            "POST", self._token_url, data=form, headers={"Accept": "application/json"}
        )

    def _refusal(self, response: httpx2.Response, slot: CredentialSlot) -> Exception:
        message, body = read_error_body(response)
        error = str(body.get("error") or "")
        description = str(body.get("error_description") or "")
        if error == "invalid_client" or any(code in description for code in _REJECTED_SECRET_CODES):
            return _SecretRejected(
                slot, error or "invalid_client", description, response.status_code
            )
        return CredentialsError(
            f"the token endpoint {self._token_url} refused client id "
            f"{self._credentials.client_id} with scope {self._credentials.scope} "
            f"({response.status_code}: {message}); check BUILDINGMINDS_CLIENT_ID, "
            f"BUILDINGMINDS_SCOPE and the tenant",
            error=error or None,
            error_description=description or None,
            status_code=response.status_code,
        )

    def _parse(self, response: httpx2.Response, slot: CredentialSlot) -> AccessToken:
        try:
            body: Any = response.json()
        except ValueError:
            body = None
        value = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(value, str) or not value:
            raise APIResponseValidationError.of(
                response, "without an access_token: is token_url a token endpoint?"
            )
        try:
            lifetime = float(body.get("expires_in", _DEFAULT_LIFETIME))
        except (TypeError, ValueError):
            lifetime = _DEFAULT_LIFETIME
        if lifetime <= 0:
            lifetime = _DEFAULT_LIFETIME
        now = self._clock()
        jitter = random.uniform(0.0, min(self._refresh_jitter, lifetime * 0.05))
        token = AccessToken(
            value=value,
            obtained_at=now,
            expires_at=now + lifetime,
            refresh_at=now + lifetime * self._refresh_fraction - jitter,
            slot=slot,
        )
        logger.debug("token acquired with the %s secret, valid for %.0f s", slot, lifetime)
        if self._on_token is not None:
            self._on_token(TokenEvent(slot, lifetime))
        return token


_MIN_WAIT = 0.001


def _log_retry(exc: BaseException, attempt: int, delay: float) -> None:
    logger.info("token request failed (%s); retry %d in %.2f s", exc, attempt, delay)


def _first_line(text: str) -> str:
    """The first line of an identity provider's description (the rest is trace ids)."""
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= 200 else line[:197] + "..."
