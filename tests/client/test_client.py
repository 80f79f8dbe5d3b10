"""AsyncClient: configuration, requests and errors, lifecycle, push() and the in-flight cap."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from typing import Any

import httpx2
import pytest
import respx
from client_support import (
    BASE_URL,
    CLIENT_ID,
    PRIMARY,
    SCOPE,
    TOKEN_URL,
    TokenEndpoint,
    loop_time,
    make_credentials,
)

from buildingminds_async import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AsyncClient,
    AuthenticationError,
    BadRequestError,
    BuildingMindsError,
    ConfigurationError,
    InternalServerError,
    MethodNotAllowedError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    RateLimitError,
    RecordValidationError,
    ServiceUnavailableError,
    __version__,
)
from buildingminds_async.models import Address, Building

MakeClient = Callable[..., AsyncClient]
PRODUCTION = "https://api.onbuildingminds.com/api/digitaltwinintegration"
DEVELOPMENT = "https://api.dev.onbuildingminds.com/api/digitaltwinintegration"
BUILDING_URL = f"{BASE_URL}/building"
PAGE = {"message": "ok", "totalCount": 0, "data": []}


def building(building_id: str = "B-1", **changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "buildingId": building_id,
        "name": "Head office",
        "siteId": "S-1",
        "addressIds": ["A-1"],
        "primaryTypeOfBuilding": "Office",
        "typeOfOwnership": "Owner",
        "validFrom": "2024-01-01T00:00:00Z",
        "validUntil": "2099-12-31T00:00:00Z",
    }
    record.update(changes)
    return record


# ------------------------------------------------------------------------ configuration


ENTRA = "https://login.microsoftonline.com/{}/oauth2/v2.0/token"


@pytest.mark.parametrize(
    ("environment", "base_url", "tenant"),
    [
        (None, PRODUCTION, "buildingminds.onmicrosoft.com"),
        ("production", PRODUCTION, "buildingminds.onmicrosoft.com"),
        ("development", DEVELOPMENT, "tstbuildingminds.onmicrosoft.com"),
    ],
)
async def test_environment_presets_choose_the_api_and_the_tenant(
    router: respx.MockRouter, environment: str | None, base_url: str, tenant: str
) -> None:
    """Each preset uses its own API and its tenant's token endpoint; production is the default."""
    token = router.post(ENTRA.format(tenant)).respond(
        200, json={"access_token": "tok", "expires_in": 3600}
    )
    api = router.get(f"{base_url}/batch").respond(200, json=PAGE)
    async with AsyncClient(
        credentials=make_credentials(token_url=None),
        environment=environment,
        transport=httpx2.MockTransport(router.async_handler),
    ) as client:
        assert str(client.base_url) == base_url + "/"
        assert client.environment == (environment or "production")
        await client.request("GET", "/batch")
    assert (token.call_count, api.call_count) == (1, 1)


async def test_unknown_environment_is_refused() -> None:
    """An unknown environment name is a ConfigurationError before anything is sent."""
    with pytest.raises(ConfigurationError, match="unknown environment 'staging'"):
        AsyncClient(credentials=make_credentials(), environment="staging")


@pytest.mark.parametrize("base_url", [BASE_URL, BASE_URL + "/"])
async def test_paths_are_joined_under_the_base_url(
    make_client: MakeClient, router: respx.MockRouter, base_url: str
) -> None:
    """Requests go below the base URL's path, with or without a trailing slash."""
    route = router.get(f"{BASE_URL}/batch").respond(200, json=PAGE)
    async with make_client(base_url=base_url) as client:
        assert client.environment is None
        await client.request("GET", "/batch")
        await client.request("GET", "batch")
    assert route.call_count == 2


async def test_configuration_from_environment_variables(
    router: respx.MockRouter, tokens: TokenEndpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    """AsyncClient() with no arguments reads the BUILDINGMINDS_* variables."""
    monkeypatch.setenv("BUILDINGMINDS_BASE_URL", BASE_URL)
    monkeypatch.setenv("BUILDINGMINDS_TOKEN_URL", TOKEN_URL)
    monkeypatch.setenv("BUILDINGMINDS_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("BUILDINGMINDS_CLIENT_SECRET", PRIMARY)
    monkeypatch.setenv("BUILDINGMINDS_SCOPE", SCOPE)
    route = router.get(f"{BASE_URL}/batch").respond(200, json=PAGE)
    async with AsyncClient(transport=httpx2.MockTransport(router.async_handler)) as client:
        assert str(client.base_url) == BASE_URL + "/"
        assert client.credentials.client_id == CLIENT_ID
        await client.request("GET", "/batch")
    assert route.call_count == 1
    assert tokens.calls[0].form["client_secret"] == PRIMARY
    assert tokens.calls[0].form["scope"] == SCOPE + "/.default"


async def test_environment_variable_selects_the_preset(monkeypatch: pytest.MonkeyPatch) -> None:
    """BUILDINGMINDS_ENVIRONMENT=development selects the development API."""
    monkeypatch.setenv("BUILDINGMINDS_ENVIRONMENT", "development")
    async with AsyncClient(credentials=make_credentials()) as client:
        assert str(client.base_url) == DEVELOPMENT + "/"


async def test_explicit_arguments_win_over_environment_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An explicit environment= is used even when BUILDINGMINDS_BASE_URL is set."""
    monkeypatch.setenv("BUILDINGMINDS_BASE_URL", "https://other.example/api")
    async with AsyncClient(credentials=make_credentials(), environment="development") as client:
        assert str(client.base_url) == DEVELOPMENT + "/"


async def test_missing_credentials_in_the_environment_are_named(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without credentials anywhere, the error names the variables to set."""
    monkeypatch.setenv("BUILDINGMINDS_CLIENT_ID", CLIENT_ID)
    with pytest.raises(ConfigurationError) as caught:
        AsyncClient()
    assert "BUILDINGMINDS_CLIENT_SECRET" in str(caught.value)
    assert "BUILDINGMINDS_SCOPE" in str(caught.value)


def test_plain_http_is_refused_for_a_remote_host() -> None:
    """base_url with http:// to a remote host is refused: the token would travel in clear."""
    with pytest.raises(ConfigurationError, match="plain http://"):
        AsyncClient(credentials=make_credentials(), base_url="http://api.example.com/api")


async def test_plain_http_is_allowed_for_loopback(make_client: MakeClient) -> None:
    """http:// to 127.0.0.1 (the sandbox, a local proxy) is accepted."""
    async with make_client(base_url="http://127.0.0.1:8080/api") as client:
        assert client.base_url.scheme == "http"


@pytest.mark.parametrize(
    "options",
    [
        {"max_in_flight": 0},
        {"max_retries": -1},
        {"http_backend": "curl"},
        {"http_client": httpx2.AsyncClient(), "transport": httpx2.MockTransport(lambda r: None)},  # type: ignore[arg-type,return-value]
    ],
)
async def test_impossible_options_are_refused(options: dict[str, Any]) -> None:
    """Settings that cannot work are ConfigurationErrors at construction."""
    try:
        with pytest.raises(ConfigurationError):
            AsyncClient(credentials=make_credentials(), base_url=BASE_URL, **options)
    finally:
        if "http_client" in options:
            await options["http_client"].aclose()


def test_repr_names_the_client_but_no_secret(make_client: MakeClient) -> None:
    """repr() shows base URL and client id, never a secret."""
    client = make_client(credentials=make_credentials(secondary_client_secret="s2-VALUE"))
    text = repr(client)
    assert BASE_URL in text
    assert CLIENT_ID in text
    assert PRIMARY not in text
    assert "s2-VALUE" not in text


# -------------------------------------------------------------------- request and errors


async def test_a_redirect_is_not_followed(
    make_client: MakeClient, router: respx.MockRouter
) -> None:
    """A 3xx raises an error naming the redirect; the target is never requested."""
    router.get(f"{BASE_URL}/batch").respond(
        302, headers={"Location": "https://login.elsewhere.example/sso"}
    )
    elsewhere = router.get("https://login.elsewhere.example/sso").respond(200, json=PAGE)
    async with make_client() as client:
        with pytest.raises(APIStatusError) as caught:
            await client.request("GET", "/batch")
    assert caught.value.status_code == 302
    assert "redirect to https://login.elsewhere.example/sso not followed" in str(caught.value)
    assert elsewhere.call_count == 0


async def test_user_agent_names_the_sdk_and_its_version(
    make_client: MakeClient, router: respx.MockRouter
) -> None:
    """Every API request carries a User-Agent with the SDK's name and version."""
    route = router.get(f"{BASE_URL}/batch").respond(200, json=PAGE)
    async with make_client() as client:
        await client.request("GET", "/batch")
    user_agent = route.calls[0].request.headers["User-Agent"]
    assert user_agent.startswith(f"buildingminds-async/{__version__} ")
    assert route.calls[0].request.headers["Accept"] == "application/json"


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
    ],
)
async def test_error_statuses_raise_their_class(
    make_client: MakeClient, router: respx.MockRouter, code: int, cls: type[APIStatusError]
) -> None:
    """Each error status raises its class, with message, request id and Retry-After."""
    router.post(BUILDING_URL).respond(
        code,
        json={"code": "E42", "message": "the server says no"},
        headers={"x-request-id": "req-7", "Retry-After": "7"},
    )
    async with make_client() as client:
        with pytest.raises(cls) as caught:
            await client.request("POST", "/building", content=b"[]")
    error = caught.value
    assert type(error) is cls
    assert error.status_code == code
    assert error.message == "E42: the server says no"
    assert error.request_id == "req-7"
    assert error.retry_after == 7.0
    assert error.method == "POST"
    assert error.url == BUILDING_URL
    assert "tok-1" not in str(error)


async def test_connection_errors_are_chained(
    make_client: MakeClient, router: respx.MockRouter
) -> None:
    """A refused connection raises APIConnectionError chained to httpx's error."""
    original = httpx2.ConnectError("connection refused")
    router.get(f"{BASE_URL}/batch").mock(side_effect=original)
    async with make_client() as client:
        with pytest.raises(APIConnectionError) as caught:
            await client.request("GET", "/batch")
    assert caught.value.__cause__ is original
    assert caught.value.maybe_sent is False
    assert "GET " + BASE_URL + "/batch" in str(caught.value)


async def test_read_timeouts_are_timeout_errors(
    make_client: MakeClient, router: respx.MockRouter
) -> None:
    """A read timeout raises APITimeoutError; the request may have been processed."""
    router.get(f"{BASE_URL}/batch").mock(side_effect=httpx2.ReadTimeout("slow"))
    async with make_client() as client:
        with pytest.raises(APITimeoutError) as caught:
            await client.request("GET", "/batch")
    assert isinstance(caught.value.__cause__, httpx2.ReadTimeout)
    assert caught.value.maybe_sent is True


async def test_request_does_not_retry(make_client: MakeClient, router: respx.MockRouter) -> None:
    """request() sends once: a 503 is raised, not retried (push and listings retry)."""
    route = router.get(f"{BASE_URL}/batch").respond(503)
    async with make_client() as client:
        with pytest.raises(ServiceUnavailableError):
            await client.request("GET", "/batch")
    assert route.call_count == 1


# ----------------------------------------------------------------------------- lifecycle


async def test_aclose_is_idempotent_and_a_closed_client_refuses_requests(
    make_client: MakeClient, router: respx.MockRouter
) -> None:
    """aclose() twice is fine; afterwards requests and re-entering raise a clear error."""
    route = router.get(f"{BASE_URL}/batch").respond(200, json=PAGE)
    client = make_client()
    async with client:
        await client.request("GET", "/batch")
    assert client.is_closed
    await client.aclose()
    assert client.is_closed
    with pytest.raises(BuildingMindsError, match="closed"):
        await client.request("GET", "/batch")
    with pytest.raises(BuildingMindsError, match="closed"):
        async with client:
            pass
    assert route.call_count == 1


async def test_aclose_stops_the_refresher_and_closes_its_own_pool(
    make_client: MakeClient, router: respx.MockRouter
) -> None:
    """Closing cancels the token refresher and closes the pool the client created."""

    class Transport(httpx2.MockTransport):
        closed = False

        async def aclose(self) -> None:
            self.closed = True

    router.get(f"{BASE_URL}/batch").respond(200, json=PAGE)
    transport = Transport(router.async_handler)
    async with make_client(transport=transport) as client:
        await client.request("GET", "/batch")
        names = {task.get_name() for task in asyncio.all_tasks()}
        assert "buildingminds-token-refresher" in names
        assert not transport.closed
    await asyncio.sleep(0)
    assert "buildingminds-token-refresher" not in {t.get_name() for t in asyncio.all_tasks()}
    assert transport.closed


async def test_a_given_http_client_stays_open(
    router: respx.MockRouter, tokens: TokenEndpoint
) -> None:
    """A caller's httpx2.AsyncClient is used but not closed: it stays the caller's."""
    router.get(f"{BASE_URL}/batch").respond(200, json=PAGE)
    async with httpx2.AsyncClient(transport=httpx2.MockTransport(router.async_handler)) as http:
        async with AsyncClient(
            credentials=make_credentials(), base_url=BASE_URL, http_client=http
        ) as client:
            await client.request("GET", "/batch")
        assert not http.is_closed
        assert (await http.get(f"{BASE_URL}/batch")).status_code == 200


# ------------------------------------------------------------------------------- push()


async def test_push_validates_before_sending(
    make_client: MakeClient, router: respx.MockRouter, tokens: TokenEndpoint
) -> None:
    """An invalid record raises RecordValidationError naming index and field; nothing is sent."""
    route = router.post(BUILDING_URL).respond(200, json={"batchId": "b-1"})
    bad = building("B-2")
    del bad["siteId"]
    async with make_client() as client:
        with pytest.raises(RecordValidationError) as caught:
            await client.push("building", [building("B-1"), bad, building("B-3")])
    error = caught.value
    assert error.index == 1
    assert error.field == "siteId"
    assert error.entity == "building"
    assert "#1" in str(error)
    assert "siteId" in str(error)
    assert route.call_count == 0
    assert tokens.count == 0


async def test_push_refuses_a_model_of_another_entity(
    make_client: MakeClient, router: respx.MockRouter
) -> None:
    """A model of the wrong entity is a validation error, not a silent mix-up."""
    route = router.post(BUILDING_URL).respond(200, json={"batchId": "b-1"})
    address = Address.model_validate({"addressId": "A-1", "city": "Berlin", "country": "DE"})
    async with make_client() as client:
        with pytest.raises(RecordValidationError, match=r"#1 .*not a Building"):
            await client.push("building", [building(), address])
    assert route.call_count == 0


async def test_push_of_nothing_is_refused(make_client: MakeClient) -> None:
    """push() with no records raises rather than sending an empty array."""
    async with make_client() as client:
        with pytest.raises(ValueError, match="at least one"):
            await client.push("building", [])


async def test_push_sends_wire_names_and_utc_date_times(
    make_client: MakeClient, router: respx.MockRouter
) -> None:
    """Records (dicts by attribute name, models) go out in wire names with Z date-times."""
    route = router.post(BUILDING_URL).respond(200, json={"batchId": "batch-42"})
    by_attribute = {
        "building_id": "B-1",
        "name": "Head office",
        "site_id": "S-1",
        "address_ids": ["A-1"],
        "primary_type_of_building": "Office",
        "type_of_ownership": "Owner",
        "valid_from": datetime(2024, 1, 1, 2, 0, 0, tzinfo=timezone(timedelta(hours=2))),
        "valid_until": date(2099, 12, 31),
    }
    model = Building.model_validate(building("B-2"))
    async with make_client() as client:
        batch_id = await client.push(Building, [by_attribute, model])
    assert batch_id == "batch-42"
    request = route.calls[0].request
    assert request.headers["Content-Type"] == "application/json"
    sent = json.loads(request.content)
    assert [record["buildingId"] for record in sent] == ["B-1", "B-2"]
    assert sent[0]["validFrom"] == "2024-01-01T00:00:00Z"
    assert sent[0]["validUntil"] == "2099-12-31T00:00:00Z"
    assert sent[0]["addressIds"] == ["A-1"]
    assert "building_id" not in sent[0]
    assert set(sent[1]) == set(building())  # only the fields given, nothing added


@pytest.mark.looptime
async def test_push_retries_503_and_429_then_returns_the_batch_id(
    make_client: MakeClient, router: respx.MockRouter
) -> None:
    """A 503 and a 429 are retried (the 429 after its Retry-After); the Batch ID comes back."""
    route = router.post(BUILDING_URL).mock(
        side_effect=[
            httpx2.Response(503, text="busy"),
            httpx2.Response(429, headers={"Retry-After": "4"}),
            httpx2.Response(200, json={"batchId": "b-9"}),
        ]
    )
    async with make_client() as client:
        start = loop_time()
        batch_id = await client.push("building", [building()])
        elapsed = loop_time() - start
    assert batch_id == "b-9"
    assert route.call_count == 3
    assert 4.0 <= elapsed <= 4.0 + 0.5  # Retry-After, plus at most the first back-off
    bodies = {call.request.content for call in route.calls}
    assert len(bodies) == 1  # the same body each time


@pytest.mark.looptime
@pytest.mark.parametrize(
    ("client_retries", "call_retries", "calls"), [(2, None, 3), (4, None, 5), (2, 0, 1)]
)
async def test_push_gives_up_after_max_retries(
    make_client: MakeClient,
    router: respx.MockRouter,
    client_retries: int,
    call_retries: int | None,
    calls: int,
) -> None:
    """A service that stays unavailable is tried 1 + max_retries times, then raised."""
    route = router.post(BUILDING_URL).respond(503, text="down")
    async with make_client(max_retries=client_retries) as client:
        with pytest.raises(ServiceUnavailableError):
            await client.push("building", [building()], max_retries=call_retries)
    assert route.call_count == calls


async def test_push_does_not_retry_a_rejected_request(
    make_client: MakeClient, router: respx.MockRouter
) -> None:
    """A 400 is final: raised after one request."""
    route = router.post(BUILDING_URL).respond(400, json={"message": "bad array"})
    async with make_client() as client:
        with pytest.raises(BadRequestError, match="bad array"):
            await client.push("building", [building()])
    assert route.call_count == 1


async def test_push_without_a_readable_batch_id_says_it_may_have_been_accepted(
    make_client: MakeClient, router: respx.MockRouter
) -> None:
    """A 2xx without a Batch ID raises APIResponseValidationError pointing at batches.list()."""
    router.post(BUILDING_URL).respond(200, json={"unexpected": True})
    async with make_client() as client:
        with pytest.raises(APIResponseValidationError, match=r"batches\.list"):
            await client.push("building", [building()])


# ----------------------------------------------------------------------- in-flight cap


@pytest.mark.looptime
async def test_never_more_than_max_in_flight_requests(
    make_client: MakeClient, router: respx.MockRouter
) -> None:
    """64 concurrent callers never have more than max_in_flight requests out at once."""
    in_flight = 0
    peak = 0
    stats_seen: list[int] = []
    clients: list[AsyncClient] = []

    async def answer(request: httpx2.Request) -> httpx2.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        stats_seen.append(clients[0].statistics().in_flight)
        await asyncio.sleep(0.05)
        in_flight -= 1
        return httpx2.Response(200, json={"batchId": "b"})

    router.post(BUILDING_URL).mock(side_effect=answer)
    async with make_client(max_in_flight=5) as client:
        clients.append(client)
        await asyncio.gather(*(client.push("building", [building()]) for _ in range(64)))
        stats = client.statistics()
    assert peak == 5
    assert max(stats_seen) == 5
    assert loop_time() == pytest.approx(0.05 * 13, abs=1e-3)  # ceil(64 / 5) rounds
    assert (stats.requests, stats.in_flight, stats.max_in_flight) == (64, 0, 5)


@pytest.mark.looptime
async def test_statistics_count_requests_and_tokens(
    make_client: MakeClient, router: respx.MockRouter
) -> None:
    """statistics() counts API requests (replays included) and token requests separately."""
    router.get(f"{BASE_URL}/batch").mock(
        side_effect=[
            httpx2.Response(200, json=PAGE),
            httpx2.Response(401),
            httpx2.Response(200, json=PAGE),
        ]
    )
    async with make_client() as client:
        fresh = client.statistics()
        assert (fresh.requests, fresh.tokens.requests, fresh.tokens.valid_for) == (0, 0, None)
        await client.request("GET", "/batch")
        await asyncio.sleep(100.0)
        await client.request("GET", "/batch")
        stats = client.statistics()
    assert stats.requests == 3
    assert stats.in_flight == 0
    assert stats.max_in_flight == 8
    assert stats.tokens.requests == 2
    assert stats.tokens.slot == "primary"
    assert stats.tokens.refreshes_failed == 0
    assert stats.tokens.valid_for == pytest.approx(3600.0)
