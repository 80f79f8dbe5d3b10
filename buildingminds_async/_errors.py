"""The exceptions of ``buildingminds_async``, and the one place where failures become them.

```
BuildingMindsError
├── ConfigurationError (ValueError)   bad base URL or environment, missing credentials
├── CredentialsError                  the token endpoint refused the credentials (.slot)
├── RecordValidationError (ValueError)  a record does not match its model; nothing sent
│                                     (.entity .index .field .errors)
├── APIError                          a request failed (.method .url)
│   ├── APIConnectionError            no usable response; __cause__ is the httpx error (.maybe_sent)
│   │   └── APITimeoutError
│   ├── APIStatusError                the server answered with an error (.status_code .message
│   │   │                             .request_id .retry_after .response)
│   │   ├── BadRequestError           400
│   │   ├── AuthenticationError       401 (after one token refresh and replay)
│   │   ├── PermissionDeniedError     403
│   │   ├── NotFoundError             404
│   │   ├── MethodNotAllowedError     405
│   │   ├── PayloadTooLargeError      413
│   │   ├── RateLimitError            429
│   │   └── InternalServerError       5xx
│   │       └── ServiceUnavailableError  503
│   └── APIResponseValidationError    a 2xx response whose body the SDK cannot read
└── BatchError                        (.batch_ids)
    └── BatchTimeoutError (TimeoutError)  batches still processing at the deadline (.results)
```

The message of every exception says what failed, where (method and URL, batch, slot)
and what to do. None of them ever contains a header, a token or a client secret: the
response body is quoted only for error responses of the API and the token endpoint,
which carry neither.
"""

from __future__ import annotations

import contextlib
import json
import ssl
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, Literal

import anyio
import httpx2

if TYPE_CHECKING:
    from .models import BatchResult

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "BatchError",
    "BatchTimeoutError",
    "BuildingMindsError",
    "ConfigurationError",
    "CredentialsError",
    "InternalServerError",
    "MethodNotAllowedError",
    "NotFoundError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "RateLimitError",
    "RecordValidationError",
    "ServiceUnavailableError",
]

REQUEST_ID_HEADERS = (
    "x-request-id",
    "request-id",
    "x-ms-request-id",
    "apim-request-id",
    "x-correlation-id",
)
_MAX_QUOTED = 300

CredentialSlot = Literal["primary", "secondary"]


class BuildingMindsError(Exception):
    """Root of every exception this SDK raises."""


class ConfigurationError(BuildingMindsError, ValueError):
    """The client was configured in a way that cannot work (nothing was sent)."""


class CredentialsError(BuildingMindsError):
    """The token endpoint refused the client credentials.

    ``slot`` names the secret that was refused (``"primary"``, ``"secondary"``) or is
    None when the refusal is not about a secret (unknown client id, wrong scope). The
    secret itself never appears. ``error`` is the OAuth error code (``invalid_client``)
    and ``error_description`` the identity provider's text (an ``AADSTS...`` code).
    """

    def __init__(
        self,
        message: str,
        *,
        slot: CredentialSlot | None = None,
        error: str | None = None,
        error_description: str | None = None,
        status_code: int | None = None,
    ) -> None:
        super().__init__(message)
        self.slot = slot
        self.error = error
        self.error_description = error_description
        self.status_code = status_code


class RecordValidationError(BuildingMindsError, ValueError):
    """A record does not match its entity's model, or its entity cannot be told (nothing
    was sent).

    ``entity`` (None when it cannot be told), ``index`` (position in the input, when
    known), ``field`` (wire name of the first field at fault) and ``errors`` (pydantic's
    list) say where; ``reason`` says what, without the where.
    """

    def __init__(
        self,
        message: str,
        *,
        entity: str | None,
        index: int | None = None,
        field: str | None = None,
        errors: list[Any] | None = None,
        reason: str | None = None,
    ) -> None:
        super().__init__(message)
        self.entity = entity
        self.index = index
        self.field = field
        self.errors = errors if errors is not None else []
        self.reason = reason if reason is not None else message
        """What is wrong, without the where (a report's or reject file's reason)."""


class APIError(BuildingMindsError):
    """A request to the API or the token endpoint failed."""

    def __init__(self, message: str, *, method: str, url: str) -> None:
        super().__init__(message)
        self.method = method
        self.url = url


class APIConnectionError(APIError):
    """No usable response arrived (connection refused or reset, DNS, TLS, protocol error).

    ``maybe_sent`` is False when the request certainly never reached the server
    (connect failed, no free connection) and True when it may have been processed
    (the connection broke after the request was written): a push in that state may
    have created a batch.
    """

    def __init__(self, message: str, *, method: str, url: str, maybe_sent: bool) -> None:
        super().__init__(message, method=method, url=url)
        self.maybe_sent = maybe_sent


class APITimeoutError(APIConnectionError):
    """The request timed out (connect, write, read or waiting for a pooled connection)."""


class APIStatusError(APIError):
    """The server answered with an error status.

    Attributes:
        status_code: the HTTP status.
        message: the server's message, read from ``{"code", "message"}``, ``{"error"}``
            or OAuth ``{"error", "error_description"}`` bodies.
        request_id: the server's request id header, when it sent one.
        retry_after: seconds the server asked to wait (``Retry-After`` in seconds or as
            an HTTP date, ``retry-after-ms``), or None.
        response: the ``httpx2.Response`` (its request's headers hold the token: do not
            log them).
    """

    hint = "check the request and the server's message"

    def __init__(
        self,
        message: str,
        *,
        method: str,
        url: str,
        status_code: int,
        server_message: str,
        request_id: str | None,
        retry_after: float | None,
        response: httpx2.Response | None,
    ) -> None:
        super().__init__(message, method=method, url=url)
        self.status_code = status_code
        self.message = server_message
        self.request_id = request_id
        self.retry_after = retry_after
        self.response = response


class BadRequestError(APIStatusError):
    """400: the server rejected the request (malformed body or query)."""

    hint = "the request was rejected as malformed; fix the records or parameters named above"


class AuthenticationError(APIStatusError):
    """401: the API refused the token even after one refresh and replay."""

    hint = (
        "the API refused a freshly issued token; check that the API key is active, not "
        "expired, and issued for this environment's scope"
    )


class PermissionDeniedError(APIStatusError):
    """403: the API key may not call this API."""

    hint = (
        "the API key is not allowed to call this API; link it under Administration center "
        "> Data connection > API keys > Linked APIs"
    )


class NotFoundError(APIStatusError):
    """404: no such path or batch."""

    hint = "check base_url / environment, the entity name and the batch id"


class MethodNotAllowedError(APIStatusError):
    """405: the path exists but not for this method."""

    hint = "the API only accepts POST for entities and GET for batches"


class PayloadTooLargeError(APIStatusError):
    """413: the request body is larger than the server accepts."""

    hint = "send fewer records per request (chunk_size, max_chunk_bytes)"


class RateLimitError(APIStatusError):
    """429: too many requests; ``retry_after`` says how long to wait."""

    hint = "slow down (rate=) and retry after the time the server asked for"


class InternalServerError(APIStatusError):
    """5xx: the server failed; the request can be retried later."""

    hint = "the service failed; retry later (bulk runs retry with back-off on their own)"


class ServiceUnavailableError(InternalServerError):
    """503: the service is temporarily unavailable."""

    hint = "the service is temporarily unavailable; retry later"


class APIResponseValidationError(APIError):
    """The server answered 2xx with a body the SDK cannot read."""

    @classmethod
    def of(cls, response: httpx2.Response, problem: str) -> APIResponseValidationError:
        """``METHOD url answered STATUS`` followed by ``problem``."""
        request = response.request
        return cls(
            f"{where(request)} answered {response.status_code} {problem}",
            method=request.method,
            url=str(request.url),
        )


class BatchError(BuildingMindsError):
    """A problem with one or more batches (``batch_ids``)."""

    def __init__(self, message: str, *, batch_ids: Sequence[str]) -> None:
        super().__init__(message)
        self.batch_ids = tuple(batch_ids)


class BatchTimeoutError(BatchError, TimeoutError):
    """Batches were still processing at the deadline.

    Waiting stopped; the server's work goes on. ``results`` holds the statuses seen last,
    so that nothing known is lost; wait again with the same batch ids to continue.
    """

    def __init__(
        self, message: str, *, batch_ids: Sequence[str], results: Sequence[BatchResult]
    ) -> None:
        super().__init__(message, batch_ids=batch_ids)
        self.results = tuple(results)


_STATUS_ERRORS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    405: MethodNotAllowedError,
    413: PayloadTooLargeError,
    429: RateLimitError,
    503: ServiceUnavailableError,
}


def _shorten(text: str, limit: int = _MAX_QUOTED) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def where(request: httpx2.Request) -> str:
    """``METHOD url`` of a request, without the query string (it may be long)."""
    return f"{request.method} {request.url.copy_with(query=None)}"


def read_error_body(response: httpx2.Response) -> tuple[str, dict[str, Any]]:
    """The server's message from an error response, and the decoded JSON object (or {}).

    Understands ``{"code", "message"}``, ``{"error": "..."}``, ``{"error": {"code",
    "message"}}`` and OAuth's ``{"error", "error_description"}``; falls back to the text.
    """
    try:
        body: Any = json.loads(response.content) if response.content else None
    except ValueError:
        body = None
    if not isinstance(body, dict):
        text = response.text if response.content else ""
        return _shorten(text) if text.strip() else response.reason_phrase, {}
    error = body.get("error")
    if isinstance(error, dict):
        body = {**body, **error}
        error = None
    parts: list[str] = []
    code = body.get("code")
    if isinstance(code, str | int) and str(code):
        parts.append(str(code))
    for key in ("message", "error_description", "detail", "title"):
        value = body.get(key)
        if isinstance(value, str) and value.strip():
            parts.append(value)
            break
    if isinstance(error, str) and error.strip():
        parts.insert(0, error)
    message = ": ".join(dict.fromkeys(parts)) if parts else _shorten(response.text)
    return _shorten(message), body


def request_id_of(response: httpx2.Response) -> str | None:
    for name in REQUEST_ID_HEADERS:
        if value := response.headers.get(name):
            return str(value)
    return None


def status_error(response: httpx2.Response, *, retry_after: float | None) -> APIStatusError:
    """The exception for an error response, with the server's message and what to do."""
    status = response.status_code
    cls = _STATUS_ERRORS.get(status)
    if cls is None:
        cls = InternalServerError if status >= 500 else APIStatusError
    server_message, _ = read_error_body(response)
    request_id = request_id_of(response)
    if 300 <= status < 400:
        location = response.headers.get("location", "an unknown location")
        server_message = f"redirect to {location} not followed"
        hint = "the SDK never follows redirects; check base_url"
    else:
        hint = cls.hint
    parts = [f"{status} {response.reason_phrase} from {where(response.request)}: {server_message}"]
    if request_id:
        parts.append(f"(request id {request_id})")
    if retry_after is not None:
        parts.append(f"(retry after {retry_after:g} s)")
    message = " ".join(parts) + f". {hint[0].upper()}{hint[1:]}."
    return cls(
        message,
        method=response.request.method,
        url=str(response.request.url),
        status_code=status,
        server_message=server_message,
        request_id=request_id,
        retry_after=retry_after,
        response=response,
    )


def first_error(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The exception a caller should see for a failed task group: the first that is not
    a cancellation (task groups wrap errors; this SDK never lets a group escape)."""
    for exc in group.exceptions:
        if isinstance(exc, BaseExceptionGroup):
            return first_error(exc)
        if not isinstance(exc, anyio.get_cancelled_exc_class()):
            return exc
    return group.exceptions[0]


def _certificate_failure(exc: BaseException) -> str | None:
    """The reason when ``exc`` (or what it wraps) is a failed certificate check."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, ssl.SSLCertVerificationError):
            return cause.verify_message or "certificate verify failed"
        cause = cause.__cause__ or cause.__context__
    text = str(exc)
    return "certificate verify failed" if "CERTIFICATE_VERIFY_FAILED" in text else None


# Errors after which the request certainly did not reach the server.
_NOT_SENT = (
    httpx2.ConnectError,
    httpx2.ConnectTimeout,
    httpx2.PoolTimeout,
    httpx2.UnsupportedProtocol,
)


@contextlib.contextmanager
def map_transport_errors(request: httpx2.Request) -> Iterator[None]:
    """Translate httpx's request errors into this SDK's, chained to the original."""
    try:
        yield
    except httpx2.TimeoutException as exc:
        kind = type(exc).__name__
        raise APITimeoutError(
            f"{kind} on {where(request)}: no answer within the configured timeout; "
            f"raise timeout= or retry later",
            method=request.method,
            url=str(request.url),
            maybe_sent=not isinstance(exc, _NOT_SENT),
        ) from exc
    except httpx2.RequestError as exc:
        untrusted = _certificate_failure(exc)
        if untrusted is not None:
            host = request.url.host
            # Configuration, not a transient failure: never retried.
            raise ConfigurationError(
                f"the TLS certificate of {host} is not trusted ({untrusted}) on "
                f"{where(request)}: not retried. If {host} uses a private CA, point the "
                f"SSL_CERT_FILE environment variable at that CA's certificate (PEM), or pass "
                f"transport=httpx2.AsyncHTTPTransport(verify=an_ssl_context) to AsyncClient; "
                f"check base_url and token_url otherwise"
            ) from exc
        detail = str(exc) or type(exc).__name__
        raise APIConnectionError(
            f"connection failed on {where(request)}: {_shorten(detail)}; check the network "
            f"and base_url, or retry later",
            method=request.method,
            url=str(request.url),
            maybe_sent=not isinstance(exc, _NOT_SENT),
        ) from exc
