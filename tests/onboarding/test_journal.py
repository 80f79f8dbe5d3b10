"""The resume journal: an interrupted run, started again, re-sends nothing accepted."""

from __future__ import annotations

import asyncio
from pathlib import Path

import anyio
import pytest
from onboarding_support import connected, portfolio, wrong_secret_client

from buildingminds_async import (
    ConfigurationError,
    CredentialsError,
    Journal,
    Progress,
)
from buildingminds_async.sandbox import Fault

pytestmark = pytest.mark.looptime


async def test_a_cancelled_run_resumes_without_sending_anything_twice(tmp_path: Path) -> None:
    """Cancel mid-run, run again with the journal: each record is received exactly once."""
    journal = tmp_path / "run.journal"
    records = portfolio(6_000)
    async with connected(rate_limit=10, processing_delay=3.0) as env:
        with anyio.CancelScope() as scope:

            def stop_midway(progress: Progress) -> None:
                if progress.accepted >= 2_000:
                    scope.cancel()

            await env.client.onboard(
                records, chunk_size=200, journal=journal, on_progress=stop_midway
            )
        assert scope.cancelled_caught
        first_batches = len(env.sandbox.ledger.batch_ids())
        assert 0 < first_batches < 31

        report = await env.client.onboard(records, chunk_size=200, journal=journal)
        counts = env.sandbox.ledger.receive_counts("building")
    assert report.ok, report
    assert report.resumed > 0
    assert report.total == len(records)
    assert len(counts) == 6_000
    assert set(counts.values()) == {1}


async def test_pending_batches_are_polled_again_not_pushed_again(tmp_path: Path) -> None:
    """Records still processing at the deadline are completed by the next run's polls."""
    journal = tmp_path / "run.journal"
    records = portfolio(1_000)
    async with connected(processing_delay=100.0) as env:
        first = await env.client.onboard(records, journal=journal, timeout=20.0)
        assert first.pending == 1_002
        assert first.not_sent == 0
        pushes = env.sandbox.ledger.counters["pushes"]
        await asyncio.sleep(200.0)
        second = await env.client.onboard(records, journal=journal)
        assert env.sandbox.ledger.counters["pushes"] == pushes
    assert second.ok
    assert second.completed == 1_002
    assert second.stats.pushes == 0


async def test_a_push_left_in_doubt_is_checked_by_the_next_run_not_resent(
    tmp_path: Path,
) -> None:
    """A lost push the server could not be asked about stays pending in doubt; the next
    run with the journal finds it on the server and sends it no more."""
    journal = tmp_path / "run.journal"
    records = portfolio(300)
    faults = [Fault("reset", at=(2,)), Fault("503", target="batch", probability=1.0)]
    async with connected(faults=faults) as env:
        first = await env.client.onboard(records, chunk_size=100, journal=journal, timeout=300)
        assert first.stats.resent == 0
        assert first.pending == len(records)
        env.sandbox.clear_faults()
        second = await env.client.onboard(records, chunk_size=100, journal=journal)
        counts = env.sandbox.ledger.receive_counts("building")
    assert second.ok, second
    assert second.stats.reconciled == 1
    assert second.stats.resent == 0
    assert second.stats.pushes == 0
    assert len(counts) == 300
    assert set(counts.values()) == {1}


async def test_a_finished_run_counts_from_the_journal(tmp_path: Path) -> None:
    """Running a finished job again sends nothing and reports the earlier outcome."""
    journal = tmp_path / "run.journal"
    records = [*portfolio(300), {"eventType": "BuildingAdded", "buildingId": "bad"}]
    async with connected() as env:
        first = await env.client.onboard(records, journal=journal)
        again = await env.client.onboard(records, journal=journal)
    assert (first.completed, first.invalid) == (302, 1)
    assert (again.completed, again.invalid) == (302, 1)
    assert again.stats.requests == 0
    assert again.total == len(records)


async def test_the_journal_never_holds_a_secret_or_a_token(tmp_path: Path) -> None:
    """The journal file holds positions, ids and batch ids, never credentials."""
    journal = tmp_path / "run.journal"
    async with connected() as env:
        await env.client.onboard(portfolio(50), journal=journal)
        token = env.sandbox.issue_token()
        secret = env.sandbox.client_secret
    text = journal.read_text()
    assert secret not in text
    assert token not in text
    assert "B49" in text or '"ranges"' in text


async def test_a_journal_of_another_input_is_refused(tmp_path: Path) -> None:
    """Opening a journal with a different input fingerprint fails with a clear error."""
    path = tmp_path / "run.journal"
    first = await Journal.open(path, fingerprint={"files": ["a.csv"], "size": 10})
    await first.aclose()
    with pytest.raises(ConfigurationError, match="different input"):
        await Journal.open(path, fingerprint={"files": ["a.csv"], "size": 11})


async def test_a_torn_last_line_is_ignored(tmp_path: Path) -> None:
    """A journal whose last line was cut by a crash still opens, without that line."""
    path = tmp_path / "run.journal"
    async with connected() as env:
        await env.client.onboard(portfolio(20), journal=path)
    with path.open("a") as handle:
        handle.write('{"e":"intent","id":"x-1","enti')
    reopened = await Journal.open(path)
    assert reopened.carried_counts()["completed"] == 22
    assert reopened.in_doubt() == []
    await reopened.aclose()


async def test_a_run_refused_by_the_token_endpoint_leaves_nothing_in_doubt(
    tmp_path: Path,
) -> None:
    """Credentials refused before anything was sent: the journal holds no in-doubt push."""
    path = tmp_path / "run.journal"
    async with connected() as env, wrong_secret_client(env.sandbox) as client:
        with pytest.raises(CredentialsError):
            await client.onboard(portfolio(100), journal=path)
    reopened = await Journal.open(path)
    assert reopened.in_doubt() == []
    await reopened.aclose()
