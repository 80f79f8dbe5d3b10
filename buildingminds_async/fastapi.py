"""FastAPI integration (extra ``[fastapi]``): one client per app, a dependency, error answers.

```python
from buildingminds_async.fastapi import BuildingMindsClient, install_error_handlers, lifespan

app = FastAPI(lifespan=lifespan())          # opens one AsyncClient, closes it at shutdown
install_error_handlers(app)                 # SDK errors become 422 / 502 / 503 / 504 answers

@app.post("/buildings")
async def create(building: Building, client: BuildingMindsClient) -> dict[str, str]:
    return {"batch_id": await client.push("building", [building])}
```

- ``lifespan(**options)`` opens an ``AsyncClient(**options)`` at start-up, gets a token
  (wrong credentials fail the start-up, not the first request), and closes it at
  shutdown. With an app lifespan of your own, use ``open_client(app, ...)`` inside it.
- ``get_client`` is the dependency (``BuildingMindsClient`` its annotated form): every
  request of the app shares the one client, so one token and one connection pool.
- Tests point the app at the sandbox by overriding the dependency; the lifespan then
  opens no client of its own (so the test needs no credentials). ``client_override``
  makes the override (a coroutine, like ``get_client``: a plain function would run in a
  worker thread)::

      app.dependency_overrides[get_client] = client_override(buildingminds_client)

- ``install_error_handlers(app)`` answers what BuildingMinds did, as a caller of your API
  should see it: a record that does not validate → 422 (FastAPI's error shape); 429 →
  503 with ``Retry-After``; 5xx, refused credentials or another refusal → 502; a timeout
  → 504. The body says what happened and BuildingMinds' request id, never a URL of the
  upstream API, a token or a secret.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any

try:
    from fastapi import Depends, FastAPI, Request
    from fastapi.responses import JSONResponse
except ImportError as exc:  # pragma: no cover - exercised without the extra only
    raise ImportError(
        "buildingminds_async.fastapi needs FastAPI: pip install 'buildingminds-async[fastapi]'"
    ) from exc

from ._client import AsyncClient
from ._errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BuildingMindsError,
    CredentialsError,
    PermissionDeniedError,
    RateLimitError,
    RecordValidationError,
)

__all__ = [
    "BuildingMindsClient",
    "client_override",
    "get_client",
    "install_error_handlers",
    "lifespan",
    "open_client",
]

logger = logging.getLogger("buildingminds_async.fastapi")

_STATE = "buildingminds_client"


async def get_client(request: Request) -> AsyncClient:
    """The app's client (the dependency): the one ``lifespan``/``open_client`` opened.

    A coroutine on purpose: FastAPI runs a plain function dependency in a worker thread,
    a thread hop per request for a dictionary look-up."""
    client = getattr(request.app.state, _STATE, None)
    if not isinstance(client, AsyncClient):
        raise RuntimeError(
            "no BuildingMinds client is open for this app: create the app with "
            "FastAPI(lifespan=buildingminds_async.fastapi.lifespan()) or call open_client(app) "
            "in its lifespan; in tests, override the dependency "
            "(app.dependency_overrides[get_client] = ...) or run the lifespan "
            "(TestClient as a context manager, asgi_lifespan.LifespanManager)"
        )
    return client


BuildingMindsClient = Annotated[AsyncClient, Depends(get_client)]
"""An endpoint parameter annotated with this receives the app's ``AsyncClient``."""


@contextlib.asynccontextmanager
async def open_client(
    app: FastAPI, *, authenticate: bool = True, **options: Any
) -> AsyncIterator[AsyncClient | None]:
    """Open the app's ``AsyncClient(**options)`` for the body of the block, then close it.

    ``authenticate``: get a token now, so that wrong credentials fail the start-up. When
    ``get_client`` is overridden (tests), nothing is opened and None is yielded.
    """
    if get_client in app.dependency_overrides:
        yield None
        return
    async with AsyncClient(**options) as client:
        if authenticate:
            await client.authenticate()
        setattr(app.state, _STATE, client)
        try:
            yield client
        finally:
            delattr(app.state, _STATE)


def client_override(client: AsyncClient) -> Callable[[], Awaitable[AsyncClient]]:
    """A dependency that returns ``client`` (for ``app.dependency_overrides[get_client]``)."""

    async def override() -> AsyncClient:
        return client

    return override


def lifespan(
    *, authenticate: bool = True, **options: Any
) -> Callable[[FastAPI], contextlib.AbstractAsyncContextManager[None]]:
    """A FastAPI lifespan that opens one ``AsyncClient(**options)`` for the app's life."""

    @contextlib.asynccontextmanager
    async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_client(app, authenticate=authenticate, **options):
            yield

    return _lifespan


def install_error_handlers(app: FastAPI) -> None:
    """Answer the SDK's errors raised from an endpoint as a caller of the app expects."""
    app.add_exception_handler(BuildingMindsError, _answer)


async def _answer(request: Request, exc: Exception) -> JSONResponse:
    status, body, headers = error_answer(exc)
    if status >= 500:
        logger.warning("%s %s: %s", request.method, request.url.path, exc)
    return JSONResponse(body, status_code=status, headers=headers)


def error_answer(exc: BaseException) -> tuple[int, dict[str, Any], dict[str, str]]:
    """The status, JSON body and headers an app answers for an SDK error.

    Bodies name what BuildingMinds did and its request id; they never carry the upstream
    URL, a header, a token or a secret (the SDK's own messages carry the URL: those go to
    the log, not to the caller).
    """
    if isinstance(exc, RecordValidationError):
        location = ["body", *([exc.field] if exc.field else [])]
        detail = [{"type": "buildingminds_validation", "loc": location, "msg": exc.reason}]
        return 422, {"detail": detail}, {}
    if isinstance(exc, RateLimitError):
        headers = {}
        if exc.retry_after is not None:
            headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after)))
        return (
            503,
            _upstream("BuildingMinds is limiting the request rate; retry later", exc),
            headers,
        )
    if isinstance(exc, AuthenticationError | PermissionDeniedError | CredentialsError):
        return (
            502,
            _upstream("BuildingMinds refused this service's credentials", exc),
            {},
        )
    if isinstance(exc, APIStatusError):
        what = (
            f"BuildingMinds failed ({exc.status_code}); retry later"
            if exc.status_code >= 500
            else f"BuildingMinds refused the request ({exc.status_code}): {exc.message}"
        )
        return 502, _upstream(what, exc), {}
    if isinstance(exc, APITimeoutError):
        return 504, {"detail": "BuildingMinds did not answer in time; retry later"}, {}
    if isinstance(exc, APIConnectionError):
        return 502, {"detail": "BuildingMinds could not be reached; retry later"}, {}
    return 500, {"detail": "the BuildingMinds client is misconfigured; see the service's log"}, {}


def _upstream(detail: str, exc: BuildingMindsError) -> dict[str, Any]:
    body: dict[str, Any] = {"detail": detail}
    if isinstance(exc, APIStatusError):
        body["upstream_status"] = exc.status_code
        if exc.request_id:
            body["upstream_request_id"] = exc.request_id
    return body
