"""``AsyncClient``: the connection pool, the token, request -> response -> error, lifecycle.

The client owns transport concerns only. Bulk onboarding (``onboarding``) and batch
polling (``_polling``) are built on its public ``request()`` method and take the client
as an argument, the way elasticsearch-py keeps its bulk helpers outside its client.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, Self, Unpack

import httpx2

from ._auth import TokenManager, TokenStatistics, loop_clock
from ._config import (
    DEFAULT_MAX_IN_FLIGHT,
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT,
    EnvSettings,
    checked_url,
    pool_limits,
    resolve_environment,
)
from ._credentials import ClientCredentials
from ._errors import (
    BuildingMindsError,
    ConfigurationError,
    RecordValidationError,
    map_transport_errors,
    status_error,
    where,
)
from ._events import Emitter, EventHooks, RetryEvent, tell_request
from ._http import USER_AGENT, make_http_client, refuse_old_httpx
from ._retry import RetryPolicy, parse_retry_after, retry_call
from ._single_push import push_chunk
from ._tracing import NO_TRACING, Tracing
from ._validation import known_entity, validate_record
from .onboarding import OnboardingReport, OnboardOptions, onboard
from .onboarding._chunking import Chunk, RecordRef
from .redis_backend import RedisRateBackend, shared_backend
from .resources.batches import Batches
from .resources.pushes import BatchId
from .sync import SyncOptions, SyncReport, sync

if TYPE_CHECKING:
    from .models import EntityModel

logger = logging.getLogger("buildingminds_async")

HttpBackend = Literal["httpx", "aiohttp"]
_URL_CACHE = 64
Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class ClientStatistics:
    """What the client has done so far (``AsyncClient.statistics()``)."""

    requests: int
    in_flight: int
    max_in_flight: int
    tokens: TokenStatistics


class AsyncClient:
    """An async client of the BuildingMinds ingestion API.

    ```python
    async with AsyncClient(credentials=credentials, environment="production") as client:
        batch_id = await client.push("building", [building])
        result = await client.batches.wait(batch_id, timeout=600)
        report = await client.onboard(records)
    ```

    With no arguments the configuration comes from the ``BUILDINGMINDS_*`` environment
    variables. One client per process is enough (FastAPI: open it in the lifespan); it
    holds one httpx connection pool and one token, and never has more than
    ``max_in_flight`` requests in flight however many tasks use it, because httpx slows
    down sharply beyond that.

    The HTTP library is httpx2 (the maintained successor of httpx, same API): objects
    given here (``timeout``, ``limits``, ``transport``, ``http_client``) are httpx2's; one
    of the old ``httpx`` library is a ``ConfigurationError`` saying so.

    Args:
        credentials: the API key; default ``ClientCredentials.from_env()``.
        base_url: the API's base URL; overrides ``environment``.
        environment: ``"production"`` (default) or ``"development"``.
        timeout: per-request timeout (seconds or ``httpx2.Timeout``).
        limits: connection pool limits; default: ``max_in_flight`` connections plus two
            (the token endpoint, and a spare), kept alive 30 s. More connections than
            requests in flight only cost httpx time scanning its pool.
        max_in_flight: the most requests this client sends at once.
        max_retries: retries of ``push()`` and batch reads on 429, 5xx and network errors.
        http_backend: ``"httpx"`` (default) or ``"aiohttp"`` (extra ``[aiohttp]``; much
            cheaper per request when many small pushes run concurrently).
        transport: an httpx2 transport (tests: ``sandbox.transport()``, respx, MockTransport).
        http_client: a ready ``httpx2.AsyncClient``; it stays yours to close.
        trust_env: let httpx read proxy and CA settings from the environment.
        sleep: the coroutine used to wait between retries (a testing seam).
        hooks: ``EventHooks`` told of every request, retry, 429 and token fetch (and of
            every bulk run's batches); a hook that raises is logged, never raised.
        rate_backend: ``"redis://..."`` or a ``RedisRateBackend`` (extra ``[redis]``;
            default ``BUILDINGMINDS_REDIS_URL``; ``False``: none, whatever the
            environment says): the processes of a tenant share one rate budget, cooldown
            and token through it.
    """

    def __init__(
        self,
        *,
        credentials: ClientCredentials | None = None,
        base_url: str | httpx2.URL | None = None,
        environment: str | None = None,
        timeout: float | httpx2.Timeout = DEFAULT_TIMEOUT,
        limits: httpx2.Limits | None = None,
        max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        http_backend: HttpBackend = "httpx",
        transport: httpx2.AsyncBaseTransport | None = None,
        http_client: httpx2.AsyncClient | None = None,
        trust_env: bool = True,
        sleep: Sleep = asyncio.sleep,
        clock: Callable[[], float] = loop_clock,
        hooks: EventHooks | None = None,
        rate_backend: str | RedisRateBackend | Literal[False] | None = None,
    ) -> None:
        if max_in_flight < 1:
            raise ConfigurationError("max_in_flight must be at least 1")
        if max_retries < 0:
            raise ConfigurationError("max_retries must not be negative")
        if http_client is not None and transport is not None:
            raise ConfigurationError("give transport= or http_client=, not both")
        refuse_old_httpx(
            base_url=base_url,
            timeout=timeout,
            limits=limits,
            transport=transport,
            http_client=http_client,
        )
        env = EnvSettings.from_environ()
        if base_url is None and environment is None:
            base_url, environment = env.base_url, env.environment
        preset = resolve_environment(environment)
        url = checked_url(base_url if base_url is not None else preset.base_url, what="base_url")
        self._base_url = url.copy_with(raw_path=url.raw_path.rstrip(b"/") + b"/")
        self._environment = preset.name if base_url is None or environment else None
        self._credentials = credentials if credentials is not None else ClientCredentials.from_env()
        token_url = self._credentials.resolve_token_url(preset.tenant)

        self._owns_http = http_client is None
        if http_client is None:
            http_client = make_http_client(
                backend=http_backend,
                timeout=timeout,
                limits=limits if limits is not None else pool_limits(max_in_flight),
                transport=transport,
                trust_env=trust_env,
            )
        self._http = http_client
        self._rate_backend = shared_backend(
            None if rate_backend is False else rate_backend or env.redis_url,
            prefix=f"{self._base_url}#{self._credentials.client_id}",
        )
        self._in_flight = asyncio.Semaphore(max_in_flight)
        self._max_in_flight = max_in_flight
        self._retry = RetryPolicy(max_attempts=max_retries + 1)
        self._sleep = sleep
        self._clock = clock
        self._hooks = hooks
        self._tracing: Tracing = NO_TRACING  # buildingminds_async.otel.instrument() sets it
        self._emit = Emitter(*self._hook_sets())
        self._tokens = TokenManager(
            self._credentials,
            token_url,
            send=self._send_unauthenticated,
            clock=clock,
            sleep=sleep,
            on_token=lambda event: self._emit.token(event),  # _instrument() rebuilds _emit
            on_retry=lambda event: self._emit.retry(event),
            shared=self._rate_backend.token_cache(
                f"{token_url}#{self._credentials.client_id}#{self._credentials.scope}"
            )
            if self._rate_backend is not None
            else None,
        )
        self._requests = 0
        self._urls: dict[str, httpx2.URL] = {}
        self._closed = False
        self._batches: Batches | None = None

    # -- configuration ------------------------------------------------------------------

    @property
    def base_url(self) -> httpx2.URL:
        return self._base_url

    @property
    def environment(self) -> str | None:
        """The environment preset in use, or None when ``base_url`` was given."""
        return self._environment

    @property
    def credentials(self) -> ClientCredentials:
        return self._credentials

    @property
    def is_closed(self) -> bool:
        return self._closed

    @property
    def clock(self) -> Callable[[], float]:
        """The monotonic clock the client times with (``clock=``; the event loop's)."""
        return self._clock

    @property
    def sleep(self) -> Sleep:
        """The coroutine the client waits with between retries (``sleep=``)."""
        return self._sleep

    def statistics(self) -> ClientStatistics:
        return ClientStatistics(
            requests=self._requests,
            in_flight=self._max_in_flight - self._in_flight._value,
            max_in_flight=self._max_in_flight,
            tokens=self._tokens.statistics(),
        )

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return (
            f"<AsyncClient base_url={str(self._base_url)!r} "
            f"client_id={self._credentials.client_id!r} [{state}]>"
        )

    # -- lifecycle ----------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        if self._closed:
            raise BuildingMindsError("this AsyncClient is closed; create a new one")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop the token refresher and close the connection pool (if the client owns it).

        Calling it again does nothing.
        """
        if self._closed:
            return
        self._closed = True
        await self._tokens.aclose()
        if self._owns_http:
            await self._http.aclose()
        if self._rate_backend is not None:
            await self._rate_backend.aclose()

    async def authenticate(self) -> None:
        """Get a token now, if there is no valid one: check the credentials before work
        that would be wasted without them (a FastAPI app's start-up, a long run).

        Raises:
            CredentialsError: the token endpoint refused the credentials.
            APIConnectionError, APIStatusError: the token endpoint could not be reached.
        """
        await self._tokens.get()

    # -- requests -----------------------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int | bool] | None = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | httpx2.Timeout | None = None,
    ) -> httpx2.Response:
        """Send one authenticated request to ``base_url + path`` and return the 2xx response.

        A 401 causes one token refresh and one replay. Nothing else is retried here.

        Raises:
            APIStatusError: a subclass per status (``AuthenticationError`` after the
                replay, ``RateLimitError`` with ``retry_after``, ...).
            APIConnectionError: the request got no usable response.
            CredentialsError: the token endpoint refused the credentials.
        """
        if self._closed:
            raise BuildingMindsError("this AsyncClient is closed; create a new one")
        url = self._urls.get(path)
        if url is None:
            # Joining parses two URLs (about 100 µs): done once per entity path. Batch
            # paths are one per batch, so the cache is kept small.
            if len(self._urls) >= _URL_CACHE:
                self._urls.clear()
            url = self._urls[path] = self._base_url.join(path.lstrip("/"))
        send_headers = {"Accept": "application/json"}
        if content is not None:
            send_headers["Content-Type"] = "application/json"
        if headers:
            send_headers.update(headers)
        query = {k: _query_value(v) for k, v in params.items()} if params else None
        for attempt in (1, 2):
            token = await self._tokens.get()
            request = self._http.build_request(
                method,
                url,
                params=query,
                content=content,
                headers={**send_headers, "Authorization": f"Bearer {token.value}"},
                timeout=timeout if timeout is not None else httpx2.USE_CLIENT_DEFAULT,
            )
            response = await self._send(request)
            if response.status_code == 401 and attempt == 1:
                logger.info("401 from %s; refreshing the token and replaying once", where(request))
                self._tokens.invalidate(token)
                continue
            break
        if response.is_success:
            return response
        raise status_error(response, retry_after=parse_retry_after(response.headers))

    async def _send(self, request: httpx2.Request) -> httpx2.Response:
        async with self._in_flight:
            self._requests += 1
            return await self._told(request)

    async def _send_unauthenticated(self, request: httpx2.Request) -> httpx2.Response:
        # Token requests skip the in-flight cap: a request holding a slot may be the one
        # waiting for the new token.
        request.headers.setdefault("User-Agent", USER_AGENT)
        return await self._told(request)

    async def _told(self, request: httpx2.Request) -> httpx2.Response:
        """Send ``request``; the hooks hear of it (``on_request``, ``on_rate_limited``)."""
        method, url, started = request.method, request.url, self._clock()
        with self._tracing.http(method, url) as span:
            try:
                with map_transport_errors(request):
                    response = await self._http.send(request, follow_redirects=False)
            except BaseException as exc:
                error = type(exc.__cause__ if exc.__cause__ is not None else exc).__name__
                span.set_attribute("error.type", error)
                tell_request(self._emit, method, url.path, self._clock() - started, error=error)
                raise
            span.set_attribute("http.response.status_code", response.status_code)
        tell_request(self._emit, method, url.path, self._clock() - started, response=response)
        return response

    @property
    def hooks(self) -> EventHooks | None:
        """The event hooks given to the client (``EventHooks``), if any."""
        return self._hooks

    def _hook_sets(self) -> tuple[EventHooks | None, ...]:
        """Who hears the client's events: the user's hooks, then the tracing's (metrics)."""
        return (self._hooks, self._tracing.hooks)

    def _instrument(self, tracing: Tracing) -> None:
        """Install ``tracing`` (``buildingminds_async.otel``): its spans and its hooks."""
        self._tracing = tracing
        self._emit = Emitter(*self._hook_sets())

    def _retried(self, what: str) -> Callable[[BaseException, int, float], None]:
        """The ``on_retry`` of a retry loop: logged, and told to the ``on_retry`` hook."""

        def retrying(exc: BaseException, attempt: int, delay: float) -> None:
            _log_retry(exc, attempt, delay)
            self._emit.retry(RetryEvent(what, attempt, delay, str(exc)))

        return retrying

    async def call_with_retries(
        self, call: Callable[[], Awaitable[httpx2.Response]], *, max_retries: int | None = None
    ) -> httpx2.Response:
        """Run ``call`` (one request), retrying 408/429/5xx and network errors with back-off.

        Waits what the server asks (Retry-After, capped) or an exponential, fully
        jittered delay; gives up after ``max_retries`` retries (default: the client's).
        """
        policy = self._retry_policy(max_retries)
        return await retry_call(
            call, policy=policy, sleep=self._sleep, on_retry=self._retried("request")
        )

    def _retry_policy(self, max_retries: int | None) -> RetryPolicy:
        """The client's policy, or one of ``max_retries`` retries."""
        return self._retry if max_retries is None else RetryPolicy(max_attempts=max_retries + 1)

    # -- the API ------------------------------------------------------------------------

    async def push(
        self,
        entity: str | type[EntityModel],
        records: Iterable[EntityModel | Mapping[str, Any]],
        *,
        max_retries: int | None = None,
    ) -> BatchId:
        """Validate ``records`` and push them in one request; return the Batch ID.

        Dicts are validated into the entity's model (wire or attribute names). The request
        is retried on 429, 5xx and network errors. A push whose answer was lost after it
        was sent (a reset, a read timeout) is looked up on the server before it is sent
        again, as ``onboard()`` does: found, its Batch ID is returned, and the records are
        not processed twice. For many records use ``onboard()``.

        Raises:
            RecordValidationError: a record is invalid (nothing was sent).
            APIConnectionError: also when the answer was lost and the server could not be
                asked whether it stored the push (``maybe_sent`` is True; the message says
                so): check ``batches.list()`` before pushing the records again.
            APIStatusError, CredentialsError: as ``request()``.
        """
        try:
            spec = known_entity(entity if isinstance(entity, str) else entity.ENTITY)
        except RecordValidationError as exc:
            raise ConfigurationError(f"push(): {exc}") from None
        models = [validate_record(spec, record, index) for index, record in enumerate(records)]
        if not models:
            raise ConfigurationError(f"push() needs at least one {spec.name} record")
        chunk = Chunk(
            0,
            spec.name,
            0,
            [RecordRef(i, model.external_id) for i, model in enumerate(models)],
            [model.to_json() for model in models],
        )

        return await push_chunk(
            self,
            chunk,
            spec.path,
            policy=self._retry_policy(max_retries),
            on_retry=self._retried("push"),
        )

    async def onboard(
        self,
        records: Iterable[Any] | AsyncIterable[Any],
        **options: Unpack[OnboardOptions],
    ) -> OnboardingReport:
        """Push any number of records, wait for their batches, and account for every one.

        The options are ``OnboardOptions`` (``chunk_size``, ``concurrency``, ``rate``,
        ``wait``, ``timeout``, ``journal`` ...), each with a safe default; see
        ``buildingminds_async.onboarding.onboard`` and the README.
        """
        return await onboard(self, records, **options)

    async def sync(
        self,
        records: Iterable[Any] | AsyncIterable[Any],
        *,
        state: str | Path,
        **options: Unpack[SyncOptions],
    ) -> SyncReport:
        """Push only what changed since the last sync into ``state`` (a SQLite file);
        with ``delete_missing=True`` delete what disappeared. See ``buildingminds_async.sync``."""
        return await sync(self, records, state=state, **options)

    @property
    def batches(self) -> Batches:
        """Batch listing, inbound messages and the waiter (``client.batches.wait``)."""
        if self._batches is None:
            self._batches = Batches(self)
        return self._batches


def _log_retry(exc: BaseException, attempt: int, delay: float) -> None:
    logger.info("%s; retry %d in %.2f s", exc, attempt, delay)


def _query_value(value: str | int | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
