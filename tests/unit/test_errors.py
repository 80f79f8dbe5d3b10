"""Reading error bodies, mapping statuses to exceptions and translating transport errors."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest

from buildingminds_async import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    BuildingMindsError,
    InternalServerError,
    MethodNotAllowedError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    RateLimitError,
    ServiceUnavailableError,
)
from buildingminds_async._errors import map_transport_errors, read_error_body, status_error

TOKEN = "eyJhbGciOiJSUzI1NiJ9.secret-token-value"
URL = "https://api.test.example/api/digitaltwinintegration/building"


def request(method: str = "POST", url: str = URL) -> httpx2.Request:
    return httpx2.Request(method, url, headers={"Authorization": f"Bearer {TOKEN}"})


def response(
    code: int,
    *,
    json: Any = None,
    text: str | None = None,
    headers: dict[str, str] | None = None,
    method: str = "POST",
    url: str = URL,
) -> httpx2.Response:
    if json is not None:
        return httpx2.Response(code, json=json, headers=headers, request=request(method, url))
    return httpx2.Response(code, text=text, headers=headers, request=request(method, url))


# ------------------------------------------------------------------------- read_error_body


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            {"code": "InvalidInput", "message": "buildingId is required"},
            "InvalidInput: buildingId is required",
        ),
        ({"error": "batch store unavailable"}, "batch store unavailable"),
        ({"error": {"code": "Throttled", "message": "slow down"}}, "Throttled: slow down"),
        (
            {"error": "invalid_client", "error_description": "AADSTS7000215: Invalid secret."},
            "invalid_client: AADSTS7000215: Invalid secret.",
        ),
        ({"title": "Not Found", "status": 404}, "Not Found"),
        ({"message": "only a message"}, "only a message"),
        ({"code": "Same", "message": "Same"}, "Same"),
    ],
)
def test_reads_the_message_of_json_error_bodies(body: dict[str, Any], expected: str) -> None:
    """Known JSON error shapes are reduced to one 'code: message' line."""
    message, decoded = read_error_body(response(400, json=body))
    assert message == expected
    assert isinstance(decoded, dict)


def test_returns_the_decoded_body() -> None:
    """The decoded JSON object comes back alongside the message (nested error merged)."""
    _, decoded = read_error_body(response(400, json={"error": {"code": "X", "message": "Y"}}))
    assert decoded["code"] == "X"
    assert decoded["message"] == "Y"


def test_text_body_is_quoted_on_one_line() -> None:
    """A plain-text body is the message, whitespace collapsed."""
    message, decoded = read_error_body(response(502, text="upstream\n  connect error\n"))
    assert message == "upstream connect error"
    assert decoded == {}


def test_long_text_body_is_shortened() -> None:
    """A huge body (an HTML error page) is cut to a few hundred characters."""
    message, _ = read_error_body(response(500, text="<html>" + "x" * 10_000 + "</html>"))
    assert len(message) <= 300
    assert message.endswith("...")


@pytest.mark.parametrize("text", ["", "   "])
def test_empty_body_falls_back_to_the_reason_phrase(text: str) -> None:
    """An empty body gives the status's reason phrase."""
    message, decoded = read_error_body(response(503, text=text))
    assert message == "Service Unavailable"
    assert decoded == {}


def test_json_that_is_not_an_object_is_quoted_as_text() -> None:
    """A JSON array or string body is quoted as text rather than misread."""
    message, decoded = read_error_body(response(400, json=["bad", "things"]))
    assert message == '["bad","things"]'
    assert decoded == {}


# ---------------------------------------------------------------------------- status_error


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (405, MethodNotAllowedError),
        (413, PayloadTooLargeError),
        (429, RateLimitError),
        (500, InternalServerError),
        (502, InternalServerError),
        (503, ServiceUnavailableError),
        (504, InternalServerError),
        (409, APIStatusError),
        (422, APIStatusError),
        (302, APIStatusError),
    ],
)
def test_each_status_has_its_exception_class(code: int, cls: type[APIStatusError]) -> None:
    """Every documented status maps to its class; others to InternalServerError/APIStatusError."""
    error = status_error(response(code, json={"message": "m"}), retry_after=None)
    assert type(error) is cls
    assert isinstance(error, BuildingMindsError)
    assert error.status_code == code


def test_message_says_what_where_and_what_to_do() -> None:
    """str() has status, method, URL, server message, request id, retry-after and a hint."""
    error = status_error(
        response(
            429,
            json={"code": "TooManyRequests", "message": "quota exceeded"},
            headers={"x-request-id": "req-42"},
        ),
        retry_after=2.5,
    )
    message = str(error)
    assert "429 Too Many Requests" in message
    assert f"POST {URL}" in message
    assert "TooManyRequests: quota exceeded" in message
    assert "request id req-42" in message
    assert "retry after 2.5 s" in message
    assert RateLimitError.hint in message.lower()
    assert (error.request_id, error.retry_after) == ("req-42", 2.5)
    assert error.message == "TooManyRequests: quota exceeded"
    assert (error.method, error.url) == ("POST", URL)


@pytest.mark.parametrize("header", ["x-request-id", "x-ms-request-id", "apim-request-id"])
def test_request_id_is_read_from_the_usual_headers(header: str) -> None:
    """The request id comes from whichever common request-id header the server sent."""
    error = status_error(response(500, text="", headers={header: "rid-1"}), retry_after=None)
    assert error.request_id == "rid-1"
    assert "(request id rid-1)" in str(error)


def test_message_never_contains_the_token_or_query() -> None:
    """Neither the Authorization header's token nor the query string appear in the message."""
    error = status_error(
        response(
            400,
            json={"message": "bad"},
            method="GET",
            url=URL.replace("building", "batch") + "?skip=0&limit=100",
        ),
        retry_after=None,
    )
    assert TOKEN not in str(error)
    assert "Bearer" not in str(error)
    assert "limit=100" not in str(error)
    assert "GET https://api.test.example/api/digitaltwinintegration/batch" in str(error)
    assert TOKEN not in repr(error)


def test_a_redirect_is_named_and_not_followed() -> None:
    """A 3xx error names where it pointed and says redirects are never followed."""
    error = status_error(
        response(302, text="", headers={"location": "https://elsewhere.example/login"}),
        retry_after=None,
    )
    message = str(error)
    assert "302" in message
    assert "redirect to https://elsewhere.example/login not followed" in message
    assert "never follows redirects" in message
    assert "base_url" in message


# -------------------------------------------------------------------- map_transport_errors


def raise_inside(exc: Exception) -> pytest.ExceptionInfo[BaseException]:
    with pytest.raises(BuildingMindsError) as caught, map_transport_errors(exc.request):  # type: ignore[attr-defined]
        raise exc
    return caught


@pytest.mark.parametrize("exc_type", [httpx2.ConnectError, httpx2.UnsupportedProtocol])
def test_errors_before_sending_are_connection_errors_not_sent(
    exc_type: type[httpx2.RequestError],
) -> None:
    """A failure to connect becomes APIConnectionError(maybe_sent=False), chained."""
    original = exc_type("connection refused", request=request())
    caught = raise_inside(original)
    error = caught.value
    assert type(error) is APIConnectionError
    assert error.maybe_sent is False
    assert error.__cause__ is original
    assert (error.method, error.url) == ("POST", URL)
    assert f"POST {URL}" in str(error)
    assert "connection refused" in str(error)


@pytest.mark.parametrize(
    "exc_type", [httpx2.ReadError, httpx2.RemoteProtocolError, httpx2.WriteError]
)
def test_errors_after_sending_may_have_been_processed(exc_type: type[httpx2.RequestError]) -> None:
    """A broken connection after the request was written means it may have been processed."""
    original = exc_type("connection reset", request=request())
    error = raise_inside(original).value
    assert type(error) is APIConnectionError
    assert error.maybe_sent is True
    assert error.__cause__ is original


@pytest.mark.parametrize(
    ("exc_type", "maybe_sent"),
    [
        (httpx2.ConnectTimeout, False),
        (httpx2.PoolTimeout, False),
        (httpx2.ReadTimeout, True),
        (httpx2.WriteTimeout, True),
    ],
)
def test_timeouts_are_timeout_errors(
    exc_type: type[httpx2.TimeoutException], maybe_sent: bool
) -> None:
    """Every httpx timeout becomes APITimeoutError, sent or not depending on the phase."""
    original = exc_type("timed out", request=request())
    error = raise_inside(original).value
    assert type(error) is APITimeoutError
    assert isinstance(error, APIConnectionError)
    assert error.maybe_sent is maybe_sent
    assert error.__cause__ is original
    assert exc_type.__name__ in str(error)
    assert "timeout" in str(error)


def test_other_exceptions_pass_through_untouched() -> None:
    """Exceptions that are not httpx request errors are not translated."""
    with pytest.raises(KeyError), map_transport_errors(request()):
        raise KeyError("not a transport problem")
