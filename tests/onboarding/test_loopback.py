"""onboard() against the sandbox served on a real loopback socket."""

from __future__ import annotations

import pytest
from onboarding_support import portfolio

from buildingminds_async import AsyncClient
from buildingminds_async.sandbox import Fault, Sandbox

pytestmark = pytest.mark.loopback


async def test_twenty_thousand_records_over_loopback_are_stored_once() -> None:
    """Over a real socket and a 50 requests/s limit, every record ends Completed, once."""
    sandbox = Sandbox(rate_limit=50, burst=5)
    records = portfolio(20_000)
    async with (
        sandbox.serve() as server,
        AsyncClient(credentials=server.credentials(), base_url=server.base_url) as client,
    ):
        report = await client.onboard(records)
    ledger = sandbox.ledger
    assert report.ok, report
    assert report.completed == len(records) == ledger.status_counts().get("Completed")
    assert set(ledger.receive_counts("building").values()) == {1}
    assert len(ledger.stored("building")) == 20_000


async def test_a_real_connection_reset_after_storing_is_reconciled() -> None:
    """A connection broken after the push was stored is found on the server, not re-sent."""
    sandbox = Sandbox(faults=[Fault("reset", at=(2,))])
    async with (
        sandbox.serve() as server,
        AsyncClient(credentials=server.credentials(), base_url=server.base_url) as client,
    ):
        report = await client.onboard(portfolio(1_000), chunk_size=250)
    assert report.ok
    assert report.stats.reconciled == 1
    assert set(sandbox.ledger.receive_counts("building").values()) == {1}


@pytest.mark.parametrize("fault", ["reset", "slow"])
async def test_the_aiohttp_backend_runs_the_job_and_reconciles_lost_answers(fault: str) -> None:
    """``http_backend="aiohttp"`` (httpx-aiohttp's httpx2 transport) over a real socket:
    a lost answer is looked up, not re-sent, and every record is stored once."""
    sandbox = Sandbox(faults=[Fault(fault, at=(2,), delay=3.0)])  # slow: past the timeout
    records = portfolio(1_000)
    async with (
        sandbox.serve() as server,
        AsyncClient(
            credentials=server.credentials(),
            base_url=server.base_url,
            http_backend="aiohttp",
            timeout=1.0,
        ) as client,
    ):
        report = await client.onboard(records, chunk_size=250)
    assert report.ok, report
    assert report.completed == len(records)
    assert report.stats.reconciled == 1
    assert set(sandbox.ledger.receive_counts("building").values()) == {1}
