"""The fault matrix: one named test per way the world breaks a bulk run.

Each runs a deterministic fault schedule against the in-process sandbox on the fake clock
and asserts what users are promised: every record stored at most once (the ledger's
receive counts), the report's completed records are the ledger's stored ones, and the
report's counts add up to the input.

Rows covered elsewhere, by name:
- reset after the batch was stored, on pushes and reads, 5% and 20%; stalled answers:
  ``test_onboard.py::test_answers_lost_on_pushes_and_reads_alike_store_nothing_twice``;
- SIGKILL mid-run, then resume (a subprocess):
  ``tests/cli/test_cli_resume.py::test_sigkill_then_rerun_sends_each_record_once``;
- a 400 chunk:
  ``test_onboard.py::test_a_rejected_chunk_fails_its_records_with_the_servers_reason``;
- an orphan child:
  ``test_onboard.py::test_records_whose_parent_never_comes_end_the_run_after_blocked_timeout``;
- a dead service: ``test_onboard.py::test_a_dead_service_spends_the_retry_budget_and_stops``.
"""

from __future__ import annotations

import asyncio
from typing import Any

import anyio
import httpx2
import pytest
from onboarding_support import Env, connected, portfolio

from buildingminds_async import (
    AsyncClient,
    BatchAcceptedEvent,
    ConfigurationError,
    EventHooks,
    OnboardingReport,
)
from buildingminds_async.sandbox import Fault, Sandbox

pytestmark = pytest.mark.looptime

ENTITIES = ("address", "site", "building")


def assert_accounted(env: Env | Sandbox, report: OnboardingReport, total: int) -> None:
    """Nothing twice, the report's completed records are the ledger's, and counts add up."""
    ledger = (env.sandbox if isinstance(env, Env) else env).ledger
    for entity in ENTITIES:
        twice = ledger.duplicates(entity)
        assert not twice, f"{entity} records received twice: {twice}"
    assert report.completed == sum(len(ledger.stored(e)) for e in ENTITIES)
    assert report.submitted == report.completed + report.failed + report.pending
    assert report.submitted + report.invalid == total


async def test_token_endpoint_429_then_503_then_success() -> None:
    """The token endpoint throttles, then fails, then answers: the run goes on with one
    token and stores everything once."""
    faults = [Fault("429", target="token", times=1), Fault("503", target="token", times=1)]
    records = portfolio(500)
    async with connected(faults=faults) as env:
        report = await env.client.onboard(records, chunk_size=100)
        assert env.sandbox.ledger.tokens_issued == 1
        assert_accounted(env, report, len(records))
    assert report.ok


async def test_primary_secret_expired_fails_over_to_the_secondary() -> None:
    """The primary secret has expired: the secondary is used, the run completes."""
    records = portfolio(300)
    async with connected(expired_secrets={"primary"}) as env:
        report = await env.client.onboard(records, chunk_size=100)
        assert env.client.statistics().tokens.slot == "secondary"
        assert_accounted(env, report, len(records))
    assert report.ok


async def test_two_second_tokens_with_eight_pushers_draw_no_401() -> None:
    """Tokens living 2 s, 8 pushers for about 30 s: refreshed ahead of expiry (about one
    per second, at half-life), no request answered 401."""
    records = portfolio(3_000)
    async with connected(token_lifetime=2, rate_limit=10, burst=2) as env:
        report = await env.client.onboard(records, chunk_size=10, concurrency=8, rate=10)
        ledger = env.sandbox.ledger
        issued = ledger.tokens_issued
        assert ledger.responses.get(401, 0) == 0
        assert_accounted(env, report, len(records))
    assert report.ok
    seconds = report.stats.duration
    assert seconds / 1.0 * 0.8 <= issued <= seconds / 1.0 * 1.3 + 2, (issued, seconds)


async def test_a_token_revoked_mid_run_is_replaced_after_one_401() -> None:
    """Every token is revoked after the third batch: the 401 brings a new token and the
    request is replayed; nothing is lost or stored twice."""
    records = portfolio(2_000)
    async with connected() as env:
        accepted = 0

        def revoke_once(event: BatchAcceptedEvent) -> None:
            nonlocal accepted
            accepted += 1
            if accepted == 3:
                env.sandbox.revoke_tokens()

        report = await env.client.onboard(
            records, chunk_size=100, hooks=EventHooks(on_batch_accepted=revoke_once)
        )
        assert env.sandbox.ledger.tokens_issued == 2
        assert env.sandbox.ledger.responses.get(401, 0) >= 1
        assert_accounted(env, report, len(records))
    assert report.ok


async def test_429s_on_30_percent_of_pushes() -> None:
    """Three pushes in ten answered 429 (a storm not tied to any rate): all stored once."""
    records = portfolio(3_000)
    async with connected(faults=[Fault("429", probability=0.3, seed=3)]) as env:
        report = await env.client.onboard(records, chunk_size=100)
        assert_accounted(env, report, len(records))
    assert report.ok
    assert report.stats.rate_limited >= 5


async def test_a_429_storm_that_outlasts_the_deadline() -> None:
    """Every push answered 429 until the deadline: the run ends at it, every record
    pending and counted, nothing stored."""
    records = portfolio(500)
    async with connected(faults=[Fault("429", probability=1.0)]) as env:
        report = await env.client.onboard(records, chunk_size=100, timeout=60)
        assert_accounted(env, report, len(records))
    assert report.completed == 0
    assert report.pending == len(records)
    assert "deadline" in (report.stopped_reason or "")
    assert 60 <= report.stats.duration <= 61


@pytest.mark.parametrize("target", ["push", "batch"])
@pytest.mark.parametrize("share", [0.1, 0.3])
async def test_503s_on_pushes_and_on_reads(target: str, share: float) -> None:
    """A share of the pushes, or of the status reads, answered 503: retried with back-off,
    every record stored once."""
    records = portfolio(3_000)
    faults = [Fault("503", target=target, probability=share, seed=11)]  # type: ignore[arg-type]
    # Records that take a while to process, so that there are reads to fail.
    async with connected(faults=faults, processing_delay=20.0) as env:
        report = await env.client.onboard(records, chunk_size=100)
        assert_accounted(env, report, len(records))
        assert env.sandbox.ledger.responses.get(503, 0) > 0
    assert report.ok, report


async def test_the_server_down_then_back() -> None:
    """The first 40 requests (pushes and reads) fail: the run waits, then completes."""
    records = portfolio(2_000)
    async with connected(faults=[Fault("503", target="api", times=40)]) as env:
        report = await env.client.onboard(records, chunk_size=100)
        assert_accounted(env, report, len(records))
    assert report.ok, report


class Truncating(httpx2.AsyncBaseTransport):
    """Answers the ``nth`` push after the sandbox stored it, with its body cut short."""

    def __init__(self, inner: httpx2.AsyncBaseTransport, nth: int, body: bytes) -> None:
        self.inner, self.nth, self.body, self.pushes = inner, nth, body, 0

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        response = await self.inner.handle_async_request(request)
        if request.method == "POST" and "oauth2" not in request.url.path:
            self.pushes += 1
            if self.pushes == self.nth:
                await response.aread()
                return httpx2.Response(200, content=self.body, headers=response.headers)
        return response


@pytest.mark.parametrize("body", [b'{"batchId": "3f2c', b"<html>OK</html>"])
async def test_a_truncated_or_non_json_2xx_body(body: bytes) -> None:
    """A push stored by the server, answered 200 with a body that is not a Batch ID: the
    push is looked up instead of being sent again."""
    loop = asyncio.get_running_loop()
    sandbox = Sandbox(clock=loop.time, sleep=asyncio.sleep)
    records = portfolio(500)
    client = AsyncClient(
        credentials=sandbox.credentials(),
        base_url=sandbox.base_url,
        transport=Truncating(sandbox.transport(), 3, body),
    )
    async with client:
        report = await client.onboard(records, chunk_size=100)
    assert_accounted(sandbox, report, len(records))
    assert report.ok, report
    assert report.stats.reconciled == 1


async def test_a_batch_stuck_in_progress_past_the_deadline() -> None:
    """Processing takes longer than the run may: the run ends at its deadline with every
    record pending and counted, having polled, not re-sent."""
    records = portfolio(500)
    async with connected(processing_delay=10_000) as env:
        report = await env.client.onboard(records, chunk_size=100, timeout=120)
        assert_accounted(env, report, len(records))
        assert len(env.recorder.pushes()) == 7  # one per chunk: polled, never re-sent
    assert report.pending == len(records)
    assert report.not_sent == 0
    assert 120 <= report.stats.duration <= 121


async def test_a_redirect_to_another_host_is_never_followed() -> None:
    """Pushes answered 307 to another host: not followed (the token would go with it);
    the records fail with a reason that names the redirect."""

    def redirect(request: httpx2.Request) -> httpx2.Response | None:
        if request.method == "POST" and "oauth2" not in request.url.path:
            return httpx2.Response(307, headers={"Location": "https://elsewhere.example/x"})
        return None

    records = portfolio(200)
    async with connected(rewrite=redirect) as env:
        report = await env.client.onboard(records, chunk_size=100)
        hosts = {e.path for e in env.recorder.log}
        assert_accounted(env, report, len(records))
    assert not any("elsewhere" in h for h in hosts)
    assert report.failed == len(records)
    assert "307" in report.failures[0].reason


def test_plain_http_to_a_host_other_than_loopback_is_refused() -> None:
    """``http://`` anywhere but loopback: refused at construction, nothing sent."""
    with pytest.raises(ConfigurationError, match="https"):
        AsyncClient(base_url="http://api.example.com/api", credentials=Sandbox().credentials())


async def test_cancelling_during_a_back_off_is_prompt() -> None:
    """Every push failing with 503 (the pushers backing off): cancelling the run ends it
    at once and leaves no task behind."""
    records = portfolio(1_000)
    async with connected(faults=[Fault("503", probability=1.0)]) as env:
        await env.client.authenticate()  # the token refresher is the client's, not the run's
        before = len(asyncio.all_tasks())
        loop = asyncio.get_running_loop()
        started = loop.time()
        with anyio.move_on_after(5):
            await env.client.onboard(records, chunk_size=100)
        assert loop.time() - started <= 5.01
        await asyncio.sleep(0)
        assert len(asyncio.all_tasks()) <= before
        twice: dict[str, Any] = env.sandbox.ledger.duplicates("building")
        assert not twice
