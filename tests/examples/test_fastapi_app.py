"""The example FastAPI app (examples/fastapi_app.py), run with its lifespan, over the sandbox.

Most tests point the app at the sandbox the documented way: the sandbox plugin's
``buildingminds_client`` fixture, and ``app.dependency_overrides[get_client]``. One runs
the app's own lifespan (``AsyncClient()`` from ``BUILDINGMINDS_*``) against the sandbox
served on loopback, as in production.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx2
import pytest
from asgi_lifespan import LifespanManager
from examples_support import BUILDING
from fastapi import FastAPI

from buildingminds_async import AsyncClient
from buildingminds_async.fastapi import client_override, get_client
from buildingminds_async.sandbox import Fault, Sandbox, SandboxServer
from examples import fastapi_app

pytestmark = pytest.mark.looptime


def address(i: int) -> dict[str, Any]:
    return {
        "eventType": "AddressAdded",
        "addressId": f"A-{i}",
        "city": "Berlin",
        "country": "DE",
        "postalCode": "10115",
    }


@pytest.fixture
async def buildingminds_sandbox() -> Sandbox:
    """The plugin's sandbox, on the test loop's (fake) clock, batches taking 2 s."""
    loop = asyncio.get_running_loop()
    return Sandbox(clock=loop.time, sleep=asyncio.sleep, processing_delay=2.0)


@pytest.fixture
async def api(buildingminds_client: AsyncClient) -> AsyncIterator[httpx2.AsyncClient]:
    """The example app over the sandbox (the documented override), its lifespan run."""
    app = fastapi_app.app
    app.dependency_overrides[get_client] = client_override(buildingminds_client)
    try:
        async with (
            LifespanManager(app) as manager,
            httpx2.AsyncClient(
                transport=httpx2.ASGITransport(manager.app), base_url="http://app"
            ) as http,
        ):
            yield http
    finally:
        app.dependency_overrides.clear()


async def test_a_building_is_validated_by_the_sdk_model_and_pushed(
    api: httpx2.AsyncClient, buildingminds_sandbox: Sandbox
) -> None:
    answer = await api.post("/buildings", json=BUILDING)
    assert answer.status_code == 200, answer.text
    batch_id = answer.json()["batch_id"]
    assert buildingminds_sandbox.ledger.batch_ids() == [batch_id]
    assert buildingminds_sandbox.ledger.receive_count("building", "B-1") == 1


async def test_a_building_the_model_refuses_is_a_422_and_nothing_is_sent(
    api: httpx2.AsyncClient, buildingminds_sandbox: Sandbox
) -> None:
    answer = await api.post("/buildings", json={**BUILDING, "typeOfOwnership": 42})
    assert answer.status_code == 422
    assert buildingminds_sandbox.ledger.batch_ids() == []


async def test_an_invalid_record_of_any_entity_is_a_422_naming_its_field(
    api: httpx2.AsyncClient, buildingminds_sandbox: Sandbox
) -> None:
    """A record validated by ``push()`` (not by FastAPI) answers FastAPI's error shape."""
    answer = await api.post("/records/address", json={**address(1), "addressId": "A\n1"})
    assert answer.status_code == 422, answer.text
    (error,) = answer.json()["detail"]
    assert error["loc"] == ["body", "addressId"]
    assert error["type"] == "buildingminds_validation"
    assert buildingminds_sandbox.ledger.batch_ids() == []


async def test_a_batch_status_is_read_until_it_is_done(api: httpx2.AsyncClient) -> None:
    batch_id = (await api.post("/records/address", json=address(1))).json()["batch_id"]
    first = (await api.get(f"/batches/{batch_id}")).json()
    assert first["done"] is False, first
    await asyncio.sleep(2.5)  # the sandbox's processing delay (fake clock)
    last = (await api.get(f"/batches/{batch_id}")).json()
    assert last == {
        "batch_id": batch_id,
        "done": True,
        "completed": 1,
        "failed": 0,
        "pending": 0,
        "statuses": {"Completed": 1},
    }


async def test_a_background_job_reports_progress_while_it_runs_and_its_report_after(
    api: httpx2.AsyncClient, buildingminds_sandbox: Sandbox
) -> None:
    records = [address(i) for i in range(3_000)]
    started = await api.post("/onboarding", json=records)
    assert started.status_code == 202
    job_id = started.json()["job_id"]
    await asyncio.sleep(1.5)
    running = (await api.get(f"/onboarding/{job_id}")).json()
    assert running["state"] == "running"
    assert running["progress"]["accepted"] > 0  # pushed; batches still processing (2 s)
    assert running["progress"]["completed"] == 0
    for _ in range(60):
        await asyncio.sleep(0.5)
        view = (await api.get(f"/onboarding/{job_id}")).json()
        if view["state"] != "running":
            break
    assert view["state"] == "done", view
    assert view["report"]["completed"] == 3_000
    assert set(buildingminds_sandbox.ledger.receive_counts("address").values()) == {1}
    assert (await api.get("/onboarding/no-such-job")).status_code == 404


@pytest.mark.parametrize(
    ("fault", "status", "retry_after"),
    [
        (Fault("429", times=10, retry_after=7), 503, "7"),
        (Fault("503", times=10), 502, None),
    ],
)
async def test_what_a_caller_sees_when_buildingminds_refuses(
    api: httpx2.AsyncClient,
    buildingminds_sandbox: Sandbox,
    fault: Fault,
    status: int,
    retry_after: str | None,
) -> None:
    """After the client's own retries, a 429 is a 503 with the server's Retry-After and a
    5xx a 502; the body names BuildingMinds' status and request id, not its URL."""
    buildingminds_sandbox.inject(fault)
    answer = await api.post("/records/address", json=address(1))
    assert answer.status_code == status, answer.text
    assert answer.headers.get("retry-after") == retry_after
    body = answer.json()
    assert body["upstream_status"] == int(fault.kind)
    assert body["upstream_request_id"].startswith("sandbox-")
    assert buildingminds_sandbox.base_url not in answer.text
    assert "Bearer" not in answer.text


async def test_refused_credentials_are_a_502_that_names_no_secret() -> None:
    """The token endpoint refusing the app's secret: the caller gets a 502, the secret
    and the token endpoint stay out of the body."""
    sandbox = Sandbox()
    app = fastapi_app.app
    with_wrong_secret = AsyncClient(
        credentials=sandbox.credentials().__class__(
            client_id=sandbox.client_id,
            client_secret="not-the-secret",
            scope="api://sandbox",
            token_url=sandbox.token_url,
        ),
        base_url=sandbox.base_url,
        transport=sandbox.transport(),
    )
    app.dependency_overrides[get_client] = client_override(with_wrong_secret)
    try:
        async with (
            with_wrong_secret,
            LifespanManager(app) as manager,
            httpx2.AsyncClient(
                transport=httpx2.ASGITransport(manager.app), base_url="http://app"
            ) as http,
        ):
            answer = await http.post("/records/address", json=address(1))
    finally:
        app.dependency_overrides.clear()
    assert answer.status_code == 502
    assert answer.json() == {"detail": "BuildingMinds refused this service's credentials"}
    assert "not-the-secret" not in answer.text


@pytest.mark.loopback
@pytest.mark.looptime(False)  # a real server thread: the lifespan's timeouts run real time
async def test_the_apps_own_lifespan_shares_one_client_one_token_across_requests(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No override: the lifespan opens ``AsyncClient()`` from the environment (here the
    sandbox on loopback), gets its token at start-up, and 20 concurrent requests share it."""
    sandbox = Sandbox()
    with sandbox.serve_in_thread() as server:
        _environment_of(server, monkeypatch)
        app: FastAPI = fastapi_app.app
        async with (
            LifespanManager(app) as manager,
            httpx2.AsyncClient(
                transport=httpx2.ASGITransport(manager.app), base_url="http://app"
            ) as http,
        ):
            assert sandbox.ledger.tokens_issued == 1  # at start-up, before any request
            client: AsyncClient = app.state.buildingminds_client
            answers = await asyncio.gather(
                *(http.post("/records/address", json=address(i)) for i in range(20))
            )
            assert [answer.status_code for answer in answers] == [200] * 20
            assert client.statistics().requests == 20  # every push went through this client
            assert client.statistics().tokens.requests == 1
        assert not hasattr(app.state, "buildingminds_client")  # closed at shutdown
    assert sandbox.ledger.tokens_issued == 1
    assert len(sandbox.ledger.batch_ids()) == 20


def _environment_of(server: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> None:
    credentials = server.credentials()
    monkeypatch.setenv("BUILDINGMINDS_CLIENT_ID", credentials.client_id)
    monkeypatch.setenv("BUILDINGMINDS_CLIENT_SECRET", server.sandbox.client_secret)
    monkeypatch.setenv("BUILDINGMINDS_SCOPE", server.sandbox.scope)
    monkeypatch.setenv("BUILDINGMINDS_TOKEN_URL", server.token_url)
    monkeypatch.setenv("BUILDINGMINDS_BASE_URL", server.base_url)
