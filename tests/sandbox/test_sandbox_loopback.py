"""The sandbox over a real loopback socket, driven by plain httpx (not the SDK)."""

from __future__ import annotations

import datetime as dt
import socket
import threading

import httpx2
import pytest
from sandbox_support import API, Api, FakeClock, address, building, site, token_form

from buildingminds_async.sandbox import Fault, Sandbox, SandboxServer

pytestmark = pytest.mark.loopback


# -- token endpoint -------------------------------------------------------------------------


async def test_token_success(wire: Api) -> None:
    """Valid client credentials get a Bearer token in Entra ID's shape."""
    response = await wire.http.post(wire.token_url, data=token_form(wire.sandbox))
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == body["ext_expires_in"] == 3599
    assert len(body["access_token"]) >= 40
    assert response.headers["cache-control"] == "no-store"
    assert wire.sandbox.ledger.tokens_issued == 1


async def test_token_secondary_secret_and_basic_auth(wire: Api) -> None:
    """The secondary secret is valid too, also sent as HTTP Basic (client_secret_basic)."""
    sandbox = wire.sandbox
    secondary = sandbox.secondary_client_secret
    assert secondary is not None
    response = await wire.http.post(
        wire.token_url, data=token_form(sandbox, client_secret=secondary)
    )
    assert response.status_code == 200
    form = token_form(sandbox)
    del form["client_id"], form["client_secret"]
    response = await wire.http.post(
        wire.token_url, data=form, auth=(sandbox.client_id, sandbox.client_secret)
    )
    assert response.status_code == 200


async def test_a_token_form_over_64_kib_is_refused_with_413(wire: Api) -> None:
    """As the OpenAPI document says: a 413, not a form read as empty (400 grant_type)."""
    form = {**token_form(wire.sandbox), "padding": "x" * 70_000}
    response = await wire.http.post(wire.token_url, data=form)
    assert response.status_code == 413
    assert "64 KiB" in response.json()["error_description"]
    assert wire.sandbox.ledger.tokens_issued == 0


async def test_token_wrong_secret(wire: Api) -> None:
    """A wrong secret is a 401 invalid_client with AADSTS7000215 and no token."""
    response = await wire.http.post(
        wire.token_url, data=token_form(wire.sandbox, client_secret="nope")
    )
    assert response.status_code == 401
    body = response.json()
    assert body["error"] == "invalid_client"
    assert body["error_description"].startswith("AADSTS7000215: Invalid client secret provided.")
    assert body["error_codes"] == [7000215]
    assert "nope" not in response.text
    assert wire.sandbox.ledger.tokens_issued == 0


async def test_token_expired_secret(wire: Api) -> None:
    """A secret configured as expired is a 401 with AADSTS7000222; the other slot works."""
    wire.sandbox.configure(expired_secrets={"primary"})
    response = await wire.http.post(wire.token_url, data=token_form(wire.sandbox))
    assert response.status_code == 401
    assert response.json()["error_codes"] == [7000222]
    secondary = wire.sandbox.secondary_client_secret
    assert secondary is not None
    ok = await wire.http.post(
        wire.token_url, data=token_form(wire.sandbox, client_secret=secondary)
    )
    assert ok.status_code == 200


@pytest.mark.parametrize(
    ("overrides", "status", "error", "code"),
    [
        ({"client_id": "someone-else"}, 400, "unauthorized_client", 700016),
        ({"grant_type": "password"}, 400, "unsupported_grant_type", 70003),
        ({"grant_type": ""}, 400, "invalid_request", 900144),
        ({"scope": "api://buildingminds-sandbox"}, 400, "invalid_scope", 1002012),
        ({"scope": "api://another-api/.default"}, 400, "invalid_resource", 500011),
        ({"client_secret": ""}, 401, "invalid_client", 7000218),
    ],
)
async def test_token_request_errors(
    wire: Api, overrides: dict[str, str], status: int, error: str, code: int
) -> None:
    """Each malformed token request gets the matching Entra ID error and status."""
    response = await wire.http.post(wire.token_url, data=token_form(wire.sandbox, **overrides))
    assert response.status_code == status
    body = response.json()
    assert (body["error"], body["error_codes"]) == (error, [code])


async def test_token_unknown_tenant(wire: Api, served: SandboxServer) -> None:
    """A token URL with another tenant is a 400 (AADSTS90002, tenant not found)."""
    url = f"{served.url}/other.onmicrosoft.com/oauth2/v2.0/token"
    response = await wire.http.post(url, data=token_form(wire.sandbox))
    assert response.status_code == 400
    assert response.json()["error_codes"] == [90002]


@pytest.mark.parametrize(("kind", "status"), [("429", 429), ("503", 503)])
async def test_token_endpoint_faults(wire: Api, kind: str, status: int) -> None:
    """Injected token-endpoint faults answer 429/503 with Retry-After, then tokens flow again."""
    wire.sandbox.inject(Fault(kind, target="token", retry_after=2))  # type: ignore[arg-type]
    response = await wire.http.post(wire.token_url, data=token_form(wire.sandbox))
    assert response.status_code == status
    assert response.headers["retry-after"] == "2"
    assert response.json()["error"] == "temporarily_unavailable"
    again = await wire.http.post(wire.token_url, data=token_form(wire.sandbox))
    assert again.status_code == 200


async def test_short_token_lifetime(wire: Api, module_clock: FakeClock) -> None:
    """token_lifetime sets expires_in; the token is refused once that time has passed."""
    wire.sandbox.configure(token_lifetime=5)
    response = await wire.http.post(wire.token_url, data=token_form(wire.sandbox))
    assert response.json()["expires_in"] == 5
    wire.token = response.json()["access_token"]
    assert (await wire.get("/batch")).status_code == 200
    module_clock.advance(5)
    refused = await wire.get("/batch")
    assert refused.status_code == 401
    assert "expired" in refused.json()["message"]


# -- bearer token on the API ---------------------------------------------------------------


async def test_missing_token(wire: Api) -> None:
    """An API request without a bearer token is a JSON 401 with a Bearer challenge."""
    response = await wire.http.post(f"{wire.root}{API}/address", json=[address()])
    assert response.status_code == 401
    assert response.json()["error"] == "Unauthorized"
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert wire.sandbox.ledger.counters["unauthorized"] == 1
    assert wire.sandbox.ledger.batch_ids() == []


async def test_unknown_token(wire: Api) -> None:
    """A made-up bearer token is a 401 invalid_token."""
    wire.token = "made-up"
    response = await wire.get("/batch")
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


async def test_revoked_token(wire: Api) -> None:
    """After revoke_tokens() a token that looked valid is refused with 401."""
    assert (await wire.get("/batch")).status_code == 200
    assert wire.sandbox.revoke_tokens() == 1
    response = await wire.get("/batch")
    assert response.status_code == 401
    assert "revoked" in response.json()["message"]


# -- pushes -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b'{"addressId": "A1"}', "JSON array"),
        (b"[{", "not valid JSON"),
        (b"[]", "empty array"),
        (b'[{"addressId": "A1", "area": NaN}]', "NaN is not a JSON number"),
        (b'[{"addressId": "A1", "area": -Infinity}]', "-Infinity is not a JSON number"),
    ],
)
async def test_push_body_must_be_a_json_array(wire: Api, body: bytes, fragment: str) -> None:
    """A push body that is no JSON array (or an empty one) is a 400 and stores nothing."""
    response = await wire.http.post(
        f"{wire.root}{API}/address",
        content=body,
        headers={**await wire.headers(), "content-type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["error"] == "Request validation failed"
    assert fragment in response.json()["message"]
    assert wire.sandbox.ledger.batch_ids() == []


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
async def test_a_push_not_sent_as_json_is_refused_with_415(
    wire: Api, content_type: str | None
) -> None:
    """As a strict server: a body not declared application/json is a 415, stores nothing."""
    headers = await wire.headers()
    headers.pop("content-type", None)
    if content_type is not None:
        headers["content-type"] = content_type
    response = await wire.http.post(
        f"{wire.root}{API}/address", content=b'[{"addressId": "A1"}]', headers=headers
    )
    assert response.status_code == 415
    assert "application/json" in response.json()["message"]
    assert wire.sandbox.ledger.batch_ids() == []


async def test_push_returns_batch_id_and_new_messages(wire: Api) -> None:
    """An accepted push answers 200 {"batchId"}; each record is one inbound message, New."""
    wire.sandbox.configure(processing_delay=10)
    response = await wire.push("address", [address("A1"), address("A2")])
    assert response.status_code == 200
    batch_id = response.json()["batchId"]
    assert response.headers["x-request-id"]
    messages = await wire.inbound(batch_id)
    assert [(m["externalId"], m["index"], m["status"]) for m in messages] == [
        ("A1", 0, "New"),
        ("A2", 1, "New"),
    ]
    first = messages[0]
    assert first["batchId"] == batch_id
    assert first["entity"] == "address"
    assert first["missingDependencies"] is False
    assert first["errorMessage"] is None
    assert first["createdAt"].endswith("Z")
    assert len(first["createdAt"]) == 20


async def test_statuses_progress_with_the_clock(wire: Api, module_clock: FakeClock) -> None:
    """A site moves New -> InProgress -> Completed as the clock passes the processing delay."""
    wire.sandbox.configure(processing_delay=10)
    await wire.push_ok("address", [address()])
    module_clock.advance(10)
    batch_id = await wire.push_ok("site", [site()])
    assert await wire.statuses(batch_id) == ["New"]
    module_clock.advance(5)
    assert await wire.statuses(batch_id) == ["InProgress"]
    module_clock.advance(5)
    assert await wire.statuses(batch_id) == ["Completed"]
    batch = (await wire.get("/batch", batchId=batch_id)).json()["data"][0]
    assert batch["status"] == "Completed"
    assert batch["statusCounts"] == {"Completed": 1}


async def test_address_geocoding(wire: Api, module_clock: FakeClock) -> None:
    """Addresses pass GeoCodingSuccessful; a bad postcode ends FailedGeoCoding with a reason."""
    wire.sandbox.configure(processing_delay=9, bad_postcodes={"99999"})
    batch_id = await wire.push_ok(
        "address", [address("A1", postalCode="10115"), address("A2", postalCode="99999")]
    )
    module_clock.advance(6)
    assert await wire.statuses(batch_id) == ["GeoCodingSuccessful", "FailedGeoCoding"]
    module_clock.advance(3)
    messages = await wire.inbound(batch_id)
    assert [m["status"] for m in messages] == ["Completed", "FailedGeoCoding"]
    assert "99999" in messages[1]["errorMessage"]
    assert set(wire.sandbox.ledger.stored("address")) == {"A1"}


async def test_failed_validation_names_the_field(wire: Api) -> None:
    """A record breaking its model is accepted, then ends FailedValidation naming the fields."""
    bad = address("A9", city="x" * 101)
    del bad["country"]
    unknown = address("A8", colour="blue")
    batch_id = await wire.push_ok("address", [address("A1"), bad, unknown, "not a record"])
    messages = await wire.inbound(batch_id)
    assert [m["status"] for m in messages] == [
        "Completed",
        "FailedValidation",
        "FailedValidation",
        "FailedValidation",
    ]
    assert "city" in messages[1]["errorMessage"]
    assert "country" in messages[1]["errorMessage"]
    assert "colour" in messages[2]["errorMessage"]
    assert "not a JSON object" in messages[3]["errorMessage"]
    failed = await wire.inbound(batch_id, status="FailedValidation")
    assert [m["index"] for m in failed] == [1, 2, 3]


async def test_parked_child_released_by_parent(wire: Api) -> None:
    """A building whose parents are missing waits New/missingDependencies, then completes."""
    batch_id = await wire.push_ok("building", [building("B1")])
    [message] = await wire.inbound(batch_id)
    assert (message["status"], message["missingDependencies"]) == ("New", True)
    refs = {(r["entity"], r["externalId"]) for r in message["missingReferences"]}
    assert refs == {("address", "A1"), ("site", "S1")}
    assert len(await wire.inbound(batch_id, missingDependencies="true")) == 1
    assert await wire.inbound(batch_id, missingDependencies="false") == []
    await wire.push_ok("address", [address("A1")])
    [message] = await wire.inbound(batch_id)
    assert (message["status"], message["missingDependencies"]) == ("New", True)
    await wire.push_ok("site", [site("S1")])
    [message] = await wire.inbound(batch_id)
    assert (message["status"], message["missingDependencies"]) == ("Completed", False)
    assert set(wire.sandbox.ledger.stored("building")) == {"B1"}


async def test_upsert_and_delete(wire: Api) -> None:
    """Re-sending an id updates the stored record (fields upserted); ...Deleted removes it."""
    await wire.push_ok("address", [address("A1")])
    await wire.push_ok("site", [site("S1")])
    await wire.push_ok("building", [building("B1", status="planned")])
    await wire.push_ok("building", [building("B1", name="Renamed", eventType="BuildingUpdated")])
    ledger = wire.sandbox.ledger
    stored = ledger.stored("building")
    assert list(stored) == ["B1"]
    assert stored["B1"]["name"] == "Renamed"
    assert stored["B1"]["status"] == "planned"
    assert ledger.receive_count("building", "B1") == 2
    batch_id = await wire.push_ok("building", [building("B1", eventType="BuildingDeleted")])
    assert await wire.statuses(batch_id) == ["Completed"]
    assert ledger.stored("building") == {}
    assert ledger.duplicates("building") == {"B1": 3}


async def test_address_delete_is_not_supported(wire: Api) -> None:
    """AddressDeleted ends FailedValidation; the address stays stored."""
    await wire.push_ok("address", [address("A1")])
    batch_id = await wire.push_ok("address", [address("A1", eventType="AddressDeleted")])
    [message] = await wire.inbound(batch_id)
    assert message["status"] == "FailedValidation"
    assert "AddressDeleted" in message["errorMessage"] or "eventType" in message["errorMessage"]
    assert "A1" in wire.sandbox.ledger.stored("address")


# -- batch listings -------------------------------------------------------------------------


async def test_batch_paging_and_filters(wire: Api, module_clock: FakeClock) -> None:
    """GET /batch pages oldest first and filters by batchId and creation day."""
    first = await wire.push_ok("address", [address("A1")])
    module_clock.advance(86400)
    wire.token = None  # a day later the token has expired
    second = await wire.push_ok("address", [address("A2")])
    third = await wire.push_ok("address", [address("A3"), address("A4")])
    everything = (await wire.get("/batch")).json()
    assert everything["totalCount"] == 3
    assert [b["batchId"] for b in everything["data"]] == [first, second, third]
    assert everything["data"][2]["recordCount"] == 2
    page = (await wire.get("/batch", skip=1, limit=1)).json()
    assert (page["totalCount"], [b["batchId"] for b in page["data"]]) == (3, [second])
    assert [b["batchId"] for b in (await wire.get("/batch", batchId=third)).json()["data"]] == [
        third
    ]
    day1 = everything["data"][0]["createdAt"][:10]
    day2 = everything["data"][1]["createdAt"][:10]
    assert day1 != day2
    assert (await wire.get("/batch", createdAt=day1)).json()["totalCount"] == 1
    assert (await wire.get("/batch", createdFrom=day2)).json()["totalCount"] == 2
    assert (await wire.get("/batch", createdTo=day1)).json()["totalCount"] == 1
    next_day = (dt.date.fromisoformat(day2) + dt.timedelta(days=1)).isoformat()
    assert (await wire.get("/batch", createdFrom=next_day)).json()["totalCount"] == 0


async def test_inbound_paging(wire: Api) -> None:
    """Inbound messages page with skip/limit in push order; totalCount counts all matches."""
    batch_id = await wire.push_ok("address", [address(f"A{i}") for i in range(5)])
    body = (await wire.get(f"/batch/{batch_id}/inbound", skip=3, limit=10)).json()
    assert body["totalCount"] == 5
    assert [m["externalId"] for m in body["data"]] == ["A3", "A4"]
    assert body["message"]


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/batch", {"createdAt": "2026-13-01"}),
        ("/batch", {"createdFrom": "yesterday"}),
        ("/batch", {"limit": "0"}),
        ("/batch", {"limit": "1001"}),
        ("/batch", {"skip": "-1"}),
        ("/batch/{batch_id}/inbound", {"status": "Done"}),
        ("/batch/{batch_id}/inbound", {"missingDependencies": "maybe"}),
    ],
)
async def test_bad_query_values(wire: Api, path: str, params: dict[str, str]) -> None:
    """A bad query value is a 400 "Request validation failed" naming the parameter."""
    batch_id = await wire.push_ok("address", [address()])
    response = await wire.get(path.format(batch_id=batch_id), **params)
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "Request validation failed"
    assert body["details"][0]["parameter"] == next(iter(params))


async def test_unknown_batch_is_404(wire: Api) -> None:
    """The inbound messages of an unknown batch are a JSON 404."""
    response = await wire.get("/batch/no-such-batch/inbound")
    assert response.status_code == 404
    assert "no-such-batch" in response.json()["message"]


async def test_method_not_allowed(wire: Api) -> None:
    """A wrong method is a JSON 405 with an Allow header."""
    response = await wire.http.get(f"{wire.root}{API}/building", headers=await wire.headers())
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"


# -- limits ---------------------------------------------------------------------------------


async def test_rate_limit_429_with_retry_after(wire: Api, module_clock: FakeClock) -> None:
    """Past the token bucket, requests get 429 + integer Retry-After; refilled, they pass."""
    wire.sandbox.configure(rate_limit=0.5, burst=2)
    await wire.headers()
    assert (await wire.get("/batch")).status_code == 200
    assert (await wire.push("address", [address()])).status_code == 200
    limited = await wire.get("/batch")
    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "2"
    assert limited.json()["error"] == "Too Many Requests"
    module_clock.advance(2)
    assert (await wire.get("/batch")).status_code == 200
    assert wire.sandbox.ledger.counters["rate_limited"] == 1


async def test_rate_limit_scope_push(wire: Api) -> None:
    """With rate_limit_scope="push", polling is never limited; pushes are."""
    wire.sandbox.configure(rate_limit=1, burst=1, rate_limit_scope="push")
    for _ in range(3):
        assert (await wire.get("/batch")).status_code == 200
    assert (await wire.push("address", [address()])).status_code == 200
    limited = await wire.push("address", [address()])
    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "1"


async def test_a_fixed_window_refuses_until_it_ends(wire: Api, module_clock: FakeClock) -> None:
    """rate_limit x window calls per window from its first call; then 429 until it ends."""
    wire.sandbox.configure(rate_limit=1, rate_limit_window=3)
    await wire.headers()
    for _ in range(3):
        assert (await wire.get("/batch")).status_code == 200
    module_clock.advance(1.2)
    limited = await wire.get("/batch")
    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "2"  # 1.8 s left, whole seconds rounded up
    assert "3 requests per 3 s window" in limited.json()["message"]
    module_clock.advance(1.8)
    assert (await wire.get("/batch")).status_code == 200


@pytest.mark.parametrize(
    ("style", "expected"),
    [
        (
            "ietf",
            {"ratelimit-policy": '"sandbox";q=4;w=10', "ratelimit": '"sandbox";r=3;t=10'},
        ),
        (
            "x-ratelimit",
            {"x-ratelimit-limit": "4", "x-ratelimit-remaining": "3", "x-ratelimit-reset": "10"},
        ),
        ("gateway", {"remaining-calls": "3", "total-calls": "4"}),
    ],
)
async def test_each_family_of_rate_limit_headers_describes_the_window(
    wire: Api, style: str, expected: dict[str, str]
) -> None:
    """Every answer the limiter counted says the quota, 429s included."""
    wire.sandbox.configure(rate_limit=0.4, rate_limit_window=10, rate_limit_headers=style)
    await wire.headers()
    first = await wire.push("address", [address()])
    assert {k: first.headers.get(k) for k in expected} == expected
    for _ in range(3):
        last = await wire.get("/batch")
    assert last.status_code == 200
    refused = await wire.get("/batch")
    assert refused.status_code == 429
    remaining = next(k for k in expected if "remaining" in k or k == "ratelimit")
    assert ("r=0" if remaining == "ratelimit" else "0") in refused.headers[remaining]


async def test_a_bucket_is_described_as_a_one_second_policy(wire: Api) -> None:
    wire.sandbox.configure(rate_limit=20, burst=1, rate_limit_headers="ietf")
    await wire.headers()
    response = await wire.get("/batch")
    assert response.headers["ratelimit-policy"] == '"sandbox";q=20;w=1'
    assert response.headers["ratelimit"] == '"sandbox";r=0;t=1'


async def test_no_rate_limit_headers_unless_asked(wire: Api) -> None:
    wire.sandbox.configure(rate_limit=20, burst=1)
    await wire.headers()
    response = await wire.get("/batch")
    assert not [k for k in response.headers if "ratelimit" in k or "calls" in k]


async def test_413_over_the_limits(wire: Api) -> None:
    """Too many records or too many bytes in one push is a 413; nothing is stored."""
    wire.sandbox.configure(max_records=2, max_body_bytes=4000)
    too_many = await wire.push("address", [address(f"A{i}") for i in range(3)])
    assert too_many.status_code == 413
    assert "limit is 2" in too_many.json()["message"]
    too_big = await wire.push("address", [address("A1", additionalInformation="x" * 5000)])
    assert too_big.status_code == 413
    assert wire.sandbox.ledger.batch_ids() == []
    assert wire.sandbox.ledger.counters["too_large"] == 2


# -- faults ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["500", "502", "503", "504"])
async def test_status_faults_store_nothing(wire: Api, kind: str) -> None:
    """An injected 5xx answers before storing: no batch; the next push is stored."""
    wire.sandbox.inject(Fault(kind))  # type: ignore[arg-type]
    response = await wire.push("address", [address()])
    assert response.status_code == int(kind)
    assert "injected" in response.json()["message"]
    assert wire.sandbox.ledger.batch_ids() == []
    assert (await wire.push("address", [address()])).status_code == 200
    ledger = wire.sandbox.ledger
    assert len(ledger.batch_ids()) == 1
    assert ledger.counters[f"fault_{kind}"] == 1


async def test_reset_after_store(wire: Api) -> None:
    """A reset fault stores the batch, then breaks the connection: a transport error."""
    wire.sandbox.inject(Fault("reset"))
    with pytest.raises(httpx2.RemoteProtocolError):
        await wire.push("address", [address("A1")])
    ledger = wire.sandbox.ledger
    assert len(ledger.batch_ids()) == 1
    assert set(ledger.stored("address")) == {"A1"}
    assert ledger.receive_count("address", "A1") == 1
    assert ledger.counters["fault_reset"] == 1
    assert (await wire.push("address", [address("A2")])).status_code == 200


async def test_slow_response_beyond_client_timeout(wire: Api) -> None:
    """A slow fault stores the batch, then holds the answer past the client's read timeout."""
    wire.sandbox.inject(Fault("slow", delay=30))
    await wire.headers()
    with pytest.raises(httpx2.ReadTimeout):
        await wire.push("address", [address("A1")], timeout=0.05)
    ledger = wire.sandbox.ledger
    assert len(ledger.batch_ids()) == 1
    assert ledger.counters["fault_slow"] == 1
    assert (await wire.push("address", [address("A2")])).status_code == 200


async def test_fault_at_request_number(wire: Api) -> None:
    """Fault(at=(2,)) hits exactly the second push after it is installed."""
    wire.sandbox.inject(Fault("503", at=(2,)))
    codes = [(await wire.push("address", [address(f"A{i}")])).status_code for i in range(4)]
    assert codes == [200, 503, 200, 200]


# -- ledger and admin -----------------------------------------------------------------------


async def test_ledger_counts(wire: Api) -> None:
    """The ledger counts requests per path, responses, tokens, batches and records."""
    await wire.push_ok("address", [address("A1"), address("A2")])
    await wire.push_ok("address", [address("A2")])
    await wire.get("/batch")
    ledger = wire.sandbox.ledger
    assert ledger.requests_per_path == {
        "POST /{tenant}/oauth2/v2.0/token": 1,
        "POST /address": 2,
        "GET /batch": 1,
    }
    assert ledger.responses == {200: 4}
    counters = ledger.counters
    assert (counters["batches"], counters["records"], counters["tokens_issued"]) == (2, 3, 1)
    assert ledger.receive_counts("address") == {"A1": 1, "A2": 2}
    assert ledger.status_counts("address") == {"Completed": 3}
    assert ledger.pending() == 0
    [first, _] = ledger.batches()
    assert first.record_count == 2
    assert first.status == "Completed"
    assert [m.external_id for m in ledger.messages(first.batch_id)] == ["A1", "A2"]


async def test_admin_endpoints(wire: Api) -> None:
    """/_sandbox/ exposes the ledger and changes config, faults, tokens and state."""
    root = f"{wire.root}/_sandbox"
    await wire.push_ok("address", [address("A1")])
    ledger = (await wire.http.get(f"{root}/ledger")).json()
    assert ledger["stored"] == {"address": 1}
    assert ledger["batches"] == 1
    stored = (await wire.http.get(f"{root}/ledger/stored/address")).json()
    assert stored["A1"]["city"] == "Berlin"
    assert (await wire.http.get(f"{root}/ledger/received/address")).json() == {"A1": 1}
    assert len((await wire.http.get(f"{root}/ledger/batches")).json()) == 1
    config = (await wire.http.post(f"{root}/config", json={"rateLimit": 5, "burst": 3})).json()
    assert (config["rateLimit"], config["burst"]) == (5, 3)
    assert wire.sandbox.config.rate_limit == 5
    bad = await wire.http.post(f"{root}/config", json={"burst": 0})
    assert bad.status_code == 400
    faults = (await wire.http.post(f"{root}/faults", json={"kind": "503", "times": 2})).json()
    assert faults == [{"kind": "503", "target": "push", "times": 2}]
    assert (await wire.push("address", [address()])).status_code == 503
    assert (await wire.http.delete(f"{root}/faults")).json() == []
    assert (await wire.http.post(f"{root}/revoke-tokens")).json() == {"revoked": 1}
    assert (await wire.get("/batch")).status_code == 401
    assert (await wire.http.post(f"{root}/reset")).status_code == 200
    assert wire.sandbox.ledger.batch_ids() == []
    assert wire.sandbox.config.rate_limit is None


async def test_openapi_is_served(wire: Api) -> None:
    """GET /openapi.json describes every entity POST, the batch endpoints and the token."""
    document = (await wire.http.get(f"{wire.root}/openapi.json")).json()
    paths = document["paths"]
    for entity in wire.sandbox.entities:
        assert f"{API}/{entity}" in paths
    assert f"{API}/batch" in paths
    assert f"{API}/batch/{{batchId}}/inbound" in paths
    assert f"/{wire.sandbox.tenant}/oauth2/v2.0/token" in paths
    assert document["components"]["securitySchemes"]["bearer"]["type"] == "oauth2"


async def test_serve_starts_and_stops_cleanly() -> None:
    """async with sandbox.serve() serves at once and leaves no thread or socket behind."""
    sandbox = Sandbox()
    async with sandbox.serve() as server:
        assert server.running
        async with httpx2.AsyncClient() as http:
            response = await http.get(server.openapi_url)
        assert response.status_code == 200
        names = {t.name for t in threading.enumerate()}
        assert f"buildingminds-sandbox:{server.port}" in names
    assert not server.running
    assert f"buildingminds-sandbox:{server.port}" not in {t.name for t in threading.enumerate()}
    with socket.socket() as again:  # the port is free again
        again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        again.bind(("127.0.0.1", server.port))
