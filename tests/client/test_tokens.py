"""The access token: one fetch for many requests, 401 refresh, secret failover, refresh ahead."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

import httpx2
import pytest
import respx
from client_support import (
    BASE_URL,
    CLIENT_ID,
    PRIMARY,
    SECONDARY,
    TOKEN_URL,
    TokenEndpoint,
    bearer,
    loop_time,
    make_credentials,
    oauth_error,
)

from buildingminds_async import (
    APIResponseValidationError,
    AsyncClient,
    AuthenticationError,
    CredentialsError,
    ServiceUnavailableError,
)

MakeClient = Callable[..., AsyncClient]
BATCH_URL = f"{BASE_URL}/batch"
PAGE = {"message": "ok", "totalCount": 0, "data": []}

REJECTED_SECRET = [
    pytest.param(
        401,
        "invalid_client",
        "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent is the "
        "client secret value, not the client secret ID.\r\nTrace ID: 1f2e",
        id="invalid_client",
    ),
    pytest.param(
        400,
        "unauthorized_client",
        "AADSTS7000215: Invalid client secret provided.",
        id="AADSTS7000215",
    ),
    pytest.param(
        400,
        "invalid_request",
        "AADSTS7000222: The provided client secret keys for app '0f1e' are expired.",
        id="AADSTS7000222",
    ),
]


def api_route(router: respx.MockRouter, *responses: httpx2.Response) -> respx.Route:
    """GET /batch answering ``responses`` in turn, then 200 with an empty page."""
    queue = list(responses)

    def answer(request: httpx2.Request) -> httpx2.Response:
        return queue.pop(0) if queue else httpx2.Response(200, json=PAGE)

    return router.get(BATCH_URL).mock(side_effect=answer)


def log_text(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(record.getMessage() for record in caplog.records)


# ------------------------------------------------------------------------ fetch and cache


@pytest.mark.looptime
async def test_concurrent_requests_on_a_cold_client_share_one_token_request(
    make_client: MakeClient, router: respx.MockRouter, tokens: TokenEndpoint
) -> None:
    """50 requests started together on a new client cause exactly one token request."""
    tokens.delay = 0.5
    route = api_route(router)
    async with make_client() as client:
        await asyncio.gather(*(client.request("GET", "/batch") for _ in range(50)))
    assert tokens.count == 1
    assert route.call_count == 50
    assert {bearer(call.request) for call in route.calls} == {"tok-1"}


async def test_the_token_is_cached_and_sent_as_a_bearer(
    make_client: MakeClient, router: respx.MockRouter, tokens: TokenEndpoint
) -> None:
    """Later requests reuse the token; the secret goes in a POST form, never in a URL."""
    route = api_route(router)
    async with make_client() as client:
        for _ in range(5):
            await client.request("GET", "/batch")
    assert tokens.count == 1
    assert [call.request.headers["Authorization"] for call in route.calls] == ["Bearer tok-1"] * 5
    (token_call,) = [call for call in router.calls if call.request.url == TOKEN_URL]
    request = token_call.request
    assert request.method == "POST"
    assert request.url.query == b""
    assert tokens.calls[0].form == {
        "client_id": CLIENT_ID,
        "client_secret": PRIMARY,
        "scope": "api://3c5d-scope/.default",
        "grant_type": "client_credentials",
    }
    for call in route.calls:
        assert PRIMARY not in str(call.request.url)
        assert PRIMARY not in str(call.request.headers)


async def test_no_token_is_fetched_before_the_first_request(
    make_client: MakeClient, tokens: TokenEndpoint
) -> None:
    """Creating, entering and closing a client does not contact the token endpoint."""
    async with make_client():
        pass
    assert tokens.count == 0


async def test_a_token_response_without_a_token_is_an_error(
    make_client: MakeClient, router: respx.MockRouter, tokens: TokenEndpoint
) -> None:
    """A 200 from the token endpoint without access_token raises, naming the endpoint."""
    tokens.responses.append(httpx2.Response(200, json={"token_type": "Bearer"}))
    route = api_route(router)
    async with make_client() as client:
        with pytest.raises(APIResponseValidationError, match="access_token") as caught:
            await client.request("GET", "/batch")
    assert TOKEN_URL in str(caught.value)
    assert route.call_count == 0


# --------------------------------------------------------------------------------- 401


async def test_a_401_causes_one_refresh_and_one_replay(
    make_client: MakeClient, router: respx.MockRouter, tokens: TokenEndpoint
) -> None:
    """After a 401 the client fetches a new token once and replays the request once."""
    route = api_route(router, httpx2.Response(401, json={"message": "token revoked"}))
    async with make_client() as client:
        response = await client.request("GET", "/batch")
    assert response.status_code == 200
    assert tokens.count == 2
    assert [bearer(call.request) for call in route.calls] == ["tok-1", "tok-2"]


async def test_a_second_401_raises_authentication_error(
    make_client: MakeClient, router: respx.MockRouter, tokens: TokenEndpoint
) -> None:
    """A 401 on the replay with a fresh token is final: AuthenticationError, no more tries."""
    route = router.get(BATCH_URL).respond(401, json={"message": "key disabled"})
    async with make_client() as client:
        with pytest.raises(AuthenticationError) as caught:
            await client.request("GET", "/batch")
    assert route.call_count == 2
    assert tokens.count == 2
    error = caught.value
    assert error.status_code == 401
    assert "key disabled" in str(error)
    assert "tok-" not in str(error)


@pytest.mark.looptime
async def test_concurrent_401s_on_one_token_cause_one_refresh(
    make_client: MakeClient, router: respx.MockRouter, tokens: TokenEndpoint
) -> None:
    """Ten requests in flight refused with the same token lead to one new token, not ten."""
    tokens.delay = 0.1
    revoked: set[str] = set()

    async def answer(request: httpx2.Request) -> httpx2.Response:
        await asyncio.sleep(0.2)  # all ten are in flight with the same token
        if bearer(request) in revoked:
            return httpx2.Response(401, json={"message": "token revoked"})
        return httpx2.Response(200, json=PAGE)

    route = router.get(BATCH_URL).mock(side_effect=answer)
    async with make_client() as client:
        await client.request("GET", "/batch")
        revoked.add("tok-1")
        responses = await asyncio.gather(*(client.request("GET", "/batch") for _ in range(10)))
    assert all(response.status_code == 200 for response in responses)
    assert tokens.count == 2
    assert [bearer(call.request) for call in route.calls] == ["tok-1"] * 11 + ["tok-2"] * 10


# ---------------------------------------------------------------------- secret failover


@pytest.mark.parametrize(("status", "error", "description"), REJECTED_SECRET)
async def test_a_rejected_primary_secret_fails_over_to_the_secondary(
    make_client: MakeClient,
    router: respx.MockRouter,
    tokens: TokenEndpoint,
    caplog: pytest.LogCaptureFixture,
    status: int,
    error: str,
    description: str,
) -> None:
    """A refused primary secret is replaced by the secondary; logs name slots, not secrets."""
    caplog.set_level(logging.DEBUG, logger="buildingminds_async")
    tokens.refused[PRIMARY] = oauth_error(status, error, description)
    route = api_route(router)
    credentials = make_credentials(secondary_client_secret=SECONDARY)
    async with make_client(credentials=credentials) as client:
        await client.request("GET", "/batch")
        assert client.statistics().tokens.slot == "secondary"
    assert [call.slot for call in tokens.calls] == ["primary", "secondary"]
    assert [bearer(call.request) for call in route.calls] == ["tok-1"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("primary" in w and "secondary" in w for w in warnings)
    text = log_text(caplog)
    assert PRIMARY not in text
    assert SECONDARY not in text
    assert "tok-1" not in text


async def test_after_failover_the_secondary_secret_is_tried_first(
    make_client: MakeClient, router: respx.MockRouter, tokens: TokenEndpoint
) -> None:
    """Once the primary was refused, later token requests start with the secondary."""
    tokens.refused[PRIMARY] = oauth_error(401, "invalid_client", "AADSTS7000215: Invalid.")
    api_route(router, httpx2.Response(401, json={"message": "expired"}))
    credentials = make_credentials(secondary_client_secret=SECONDARY)
    async with make_client(credentials=credentials) as client:
        await client.request("GET", "/batch")
    assert [call.slot for call in tokens.calls] == ["primary", "secondary", "secondary"]


async def test_both_secrets_rejected_raise_credentials_error_naming_both_slots(
    make_client: MakeClient,
    router: respx.MockRouter,
    tokens: TokenEndpoint,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """With both secrets refused, CredentialsError names both slots and neither value."""
    caplog.set_level(logging.DEBUG, logger="buildingminds_async")
    tokens.refused[PRIMARY] = oauth_error(401, "invalid_client", "AADSTS7000215: Invalid.")
    tokens.refused[SECONDARY] = oauth_error(
        401, "invalid_client", "AADSTS7000222: The provided client secret keys are expired."
    )
    route = api_route(router)
    credentials = make_credentials(secondary_client_secret=SECONDARY)
    async with make_client(credentials=credentials) as client:
        with pytest.raises(CredentialsError) as caught:
            await client.request("GET", "/batch")
    error = caught.value
    message = str(error)
    assert "both client secrets" in message
    assert "primary: AADSTS7000215" in message
    assert "secondary: AADSTS7000222" in message
    assert CLIENT_ID in message
    assert "BUILDINGMINDS_CLIENT_SECRET" in message
    assert error.slot == "secondary"
    assert error.error == "invalid_client"
    assert error.status_code == 401
    for text in (message, repr(error), log_text(caplog)):
        assert PRIMARY not in text
        assert SECONDARY not in text
    assert tokens.count == 2
    assert route.call_count == 0


async def test_a_rejected_sole_secret_names_the_primary_slot(
    make_client: MakeClient, router: respx.MockRouter, tokens: TokenEndpoint
) -> None:
    """Without a secondary secret, a refused primary raises at once, naming that slot."""
    tokens.refused[PRIMARY] = oauth_error(401, "invalid_client", "AADSTS7000215: Invalid.")
    api_route(router)
    async with make_client() as client:
        with pytest.raises(CredentialsError, match="the primary client secret") as caught:
            await client.request("GET", "/batch")
    assert caught.value.slot == "primary"
    assert PRIMARY not in str(caught.value)
    assert tokens.count == 1


async def test_invalid_scope_is_not_a_reason_to_fail_over(
    make_client: MakeClient, router: respx.MockRouter, tokens: TokenEndpoint
) -> None:
    """A refusal that is not about the secret raises CredentialsError without trying the other."""
    tokens.refused[PRIMARY] = oauth_error(
        400, "invalid_scope", "AADSTS70011: The provided value for the input parameter 'scope'."
    )
    route = api_route(router)
    credentials = make_credentials(secondary_client_secret=SECONDARY)
    async with make_client(credentials=credentials) as client:
        with pytest.raises(CredentialsError) as caught:
            await client.request("GET", "/batch")
    error = caught.value
    assert error.slot is None
    assert error.error == "invalid_scope"
    assert "BUILDINGMINDS_SCOPE" in str(error)
    assert "AADSTS70011" in str(error)
    assert [call.slot for call in tokens.calls] == ["primary"]
    assert route.call_count == 0


# ------------------------------------------------------------- token endpoint back-off


@pytest.mark.looptime
async def test_token_endpoint_429_and_503_are_retried_with_back_off(
    make_client: MakeClient, router: respx.MockRouter, tokens: TokenEndpoint
) -> None:
    """A 429 waits its Retry-After, a 503 a jittered back-off; then the token comes."""
    tokens.responses.extend(
        [httpx2.Response(429, headers={"Retry-After": "3"}), httpx2.Response(503)]
    )
    route = api_route(router)
    async with make_client() as client:
        await client.request("GET", "/batch")
    assert tokens.count == 3
    first, second, third = (call.at for call in tokens.calls)
    assert second - first == pytest.approx(3.0)
    assert 0.0 <= third - second <= 1.0
    assert [bearer(call.request) for call in route.calls] == ["tok-1"]


@pytest.mark.looptime
async def test_token_endpoint_network_errors_are_retried(
    make_client: MakeClient, router: respx.MockRouter, tokens: TokenEndpoint
) -> None:
    """A connection failure on the token endpoint is retried like a 503."""

    def refuse() -> httpx2.Response:
        raise httpx2.ConnectError("connection refused")

    tokens.responses.append(refuse)
    api_route(router)
    async with make_client() as client:
        await client.request("GET", "/batch")
    assert tokens.count == 2


@pytest.mark.looptime
async def test_a_token_endpoint_that_stays_down_fails_after_a_few_attempts(
    make_client: MakeClient, router: respx.MockRouter, tokens: TokenEndpoint
) -> None:
    """A token endpoint answering 503 every time is given up after four attempts."""
    tokens.unavailable = (0.0, float("inf"))
    route = api_route(router)
    async with make_client() as client:
        with pytest.raises(ServiceUnavailableError) as caught:
            await client.request("GET", "/batch")
    assert tokens.count == 4
    assert route.call_count == 0
    assert TOKEN_URL in str(caught.value)
    assert PRIMARY not in str(caught.value)


# ----------------------------------------------------------------------- refresh ahead


@pytest.mark.looptime
async def test_the_token_is_refreshed_in_the_background_before_it_expires(
    make_client: MakeClient, router: respx.MockRouter, tokens: TokenEndpoint
) -> None:
    """Over four lifetimes no request waits for a token and none carries an old one."""
    tokens.expires_in = 100.0
    tokens.delay = 2.0
    sent: list[tuple[float, str]] = []

    def answer(request: httpx2.Request) -> httpx2.Response:
        sent.append((loop_time(), bearer(request)))
        return httpx2.Response(200, json=PAGE)

    router.get(BATCH_URL).mock(side_effect=answer)
    waits: list[float] = []
    async with make_client() as client:
        await client.request("GET", "/batch")  # the first request waits for the first token
        for _ in range(400):
            await asyncio.sleep(1.0)
            start = loop_time()
            await client.request("GET", "/batch")
            waits.append(loop_time() - start)
    assert max(waits) == 0.0
    # One refresh per half lifetime or so, not one per request.
    assert 6 <= tokens.count <= 10
    ages = [at - tokens.issued[token] for at, token in sent]
    assert max(ages) < 60.0
    used = {token for _, token in sent}
    assert tokens.count - 1 <= len(used) <= tokens.count  # the newest may not be used yet


@pytest.mark.looptime
async def test_a_failed_early_refresh_keeps_the_valid_token_in_use(
    make_client: MakeClient,
    router: respx.MockRouter,
    tokens: TokenEndpoint,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """While the token endpoint is down, the still-valid token serves every request."""
    caplog.set_level(logging.INFO, logger="buildingminds_async")
    tokens.expires_in = 100.0
    tokens.delay = 1.0  # a request that had to fetch a token would take this long
    tokens.unavailable = (5.0, 70.0)
    sent: list[tuple[float, str]] = []

    def answer(request: httpx2.Request) -> httpx2.Response:
        sent.append((loop_time(), bearer(request)))
        return httpx2.Response(200, json=PAGE)

    router.get(BATCH_URL).mock(side_effect=answer)
    waits: list[float] = []
    async with make_client() as client:
        for _ in range(150):
            start = loop_time()
            await client.request("GET", "/batch")
            waits.append(loop_time() - start)
            await asyncio.sleep(1.0)
        stats = client.statistics().tokens
    assert waits[0] == 1.0  # only the very first request waited for a token
    assert max(waits[1:]) == 0.0
    assert stats.refreshes_failed >= 1
    assert {token for at, token in sent if at < 70.0} == {"tok-1"}
    assert "tok-2" in {token for _, token in sent}
    assert all(at - tokens.issued[token] < 90.0 for at, token in sent)
    assert any(
        "refresh failed" in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records
    )


@pytest.mark.looptime
async def test_a_token_about_to_expire_is_never_sent(
    make_client: MakeClient, router: respx.MockRouter, tokens: TokenEndpoint
) -> None:
    """When no new token can be had, requests fail rather than send an expiring token."""
    tokens.expires_in = 100.0
    tokens.unavailable = (1.0, float("inf"))
    sent: list[float] = []

    def answer(request: httpx2.Request) -> httpx2.Response:
        sent.append(loop_time())
        return httpx2.Response(200, json=PAGE)

    router.get(BATCH_URL).mock(side_effect=answer)
    failures: list[float] = []
    async with make_client() as client:
        while loop_time() < 110.0:
            try:
                await client.request("GET", "/batch")
            except ServiceUnavailableError:
                failures.append(loop_time())
            await asyncio.sleep(1.0)
    assert sent
    assert max(sent) < 100.0 - 10.0  # the last 10% of the lifetime is never used
    assert failures
    assert min(failures) >= 90.0


async def test_a_wall_clock_jump_does_not_expire_the_token(
    make_client: MakeClient,
    router: respx.MockRouter,
    tokens: TokenEndpoint,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Moving the wall clock two hours ahead changes nothing: expiry is on the monotonic clock."""
    api_route(router)
    real_time, real_time_ns = time.time, time.time_ns
    async with make_client() as client:
        await client.request("GET", "/batch")
        monkeypatch.setattr(time, "time", lambda: real_time() + 7200.0)
        monkeypatch.setattr(time, "time_ns", lambda: real_time_ns() + 7200 * 10**9)
        await client.request("GET", "/batch")
        assert client.statistics().tokens.valid_for is not None
        assert client.statistics().tokens.valid_for > 3000.0
    assert tokens.count == 1
