"""client.onboard() against the in-process sandbox: every record accounted for, once."""

from __future__ import annotations

import asyncio
import itertools
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import anyio
import httpx2
import pytest
from onboarding_support import (
    VALID,
    WRONG_SECRET,
    addresses,
    buildings,
    connected,
    floors,
    portfolio,
    sites,
    wrong_secret_client,
)

from buildingminds_async import (
    APIConnectionError,
    CredentialsError,
    NotFoundError,
    OnboardingReport,
    Progress,
    RecordFailure,
    SourceRecord,
)
from buildingminds_async.onboarding import LAST_ROUND
from buildingminds_async.sandbox import Fault

pytestmark = pytest.mark.looptime


def assert_adds_up(report: OnboardingReport, total: int) -> None:
    assert report.submitted == report.completed + report.failed + report.pending
    assert report.submitted + report.invalid == total


async def test_every_record_is_stored_exactly_once_under_a_rate_limit() -> None:
    """20,000 records through a sandbox limited to 20 requests/s all end Completed, once."""
    records = portfolio(20_000)
    async with connected(rate_limit=20, processing_delay=1.0) as env:
        report = await env.client.onboard(records)
        ledger = env.sandbox.ledger
        stored = ledger.stored("building")
        counts = ledger.receive_counts("building")
        statuses = ledger.status_counts()
    assert report.ok, report
    assert len(stored) == 20_000
    assert set(counts.values()) == {1}
    assert statuses.get("Completed") == len(records) == report.completed
    assert_adds_up(report, len(records))


async def test_steady_state_keeps_under_the_limit_with_few_429s() -> None:
    """Against an unknown limit of R/s, after discovery ≤2% 429s and ≥90% of R accepted."""
    rate = 20
    records = portfolio(12_000)
    async with connected(rate_limit=rate) as env:
        report = await env.client.onboard(records, chunk_size=12, wait=False)
        api = env.recorder.api()
    assert report.pending == len(records)
    assert report.not_sent == 0
    start, end = api[0].started + 10.0, api[-1].started - 2.0
    steady = [e for e in api if start <= e.started < end]
    throttled = sum(1 for e in steady if e.status == 429)
    accepted_rate = (len(steady) - throttled) / (end - start)
    assert end - start > 30
    assert throttled / len(steady) <= 0.02, (throttled, len(steady))
    assert accepted_rate >= 0.9 * rate, accepted_rate


async def test_a_told_rate_is_paced_without_any_429() -> None:
    """With rate= equal to the server's limit, requests are spaced and never throttled."""
    async with connected(rate_limit=10, burst=4) as env:
        report = await env.client.onboard(portfolio(2_000), chunk_size=50, rate=10, wait=False)
        pushes = env.recorder.pushes()
    assert report.stats.rate_limited == 0
    duration = pushes[-1].started - pushes[0].started
    assert len(pushes) / duration == pytest.approx(10, rel=0.1)


async def test_status_polls_do_not_spend_the_push_budget() -> None:
    """The default job (wait=True) with the rate told pushes at that rate: against a server
    that limits pushes only, its batch polls go through their own lane, not the pushes'."""
    rate = 20
    knobs = {"rate_limit": rate, "burst": 5, "rate_limit_scope": "push", "processing_delay": 0.5}
    async with connected(**knobs) as env:
        assert (await env.client.onboard([*addresses(1), *sites(1)])).ok
        before, pushed_before = len(env.recorder.api()), len(env.recorder.pushes())
        report = await env.client.onboard(buildings(8_000), chunk_size=20, rate=rate)
        pushes = env.recorder.pushes()[pushed_before:]
        requests = len(env.recorder.api()) - before
    assert report.ok, report
    assert report.stats.requests == requests  # each request counted once
    assert report.stats.polls == requests - len(pushes) > 0
    assert report.stats.rate_limited == 0
    duration = pushes[-1].started - pushes[0].started
    assert (len(pushes) - 1) / duration >= 0.95 * rate, (len(pushes), duration)


async def test_one_batch_listing_answers_for_many_open_batches() -> None:
    """Where the batch listing counts records per status (the sandbox's does), the default
    job learns the state of its batches from it: at most one read per two batches, and
    the failures still come with their reasons (those batches are read record by record)."""
    records = [*addresses(1), *sites(1), *buildings(3_000), *buildings(5, site="S-missing")]
    knobs = {"processing_delay": 0.5, "rate_limit": 20, "rate_limit_scope": "push"}
    async with connected(**knobs) as env:
        report = await env.client.onboard(records, chunk_size=20, timeout=60.0)
        api = env.recorder.api()
    reads = [e for e in api if e.method == "GET"]
    assert report.completed == 3_002, report
    assert report.stats.polls == len(reads)
    assert len(reads) <= 0.5 * len(report.batch_ids), (len(reads), len(report.batch_ids))
    assert report.pending == report.blocked == 5  # waiting for a parent, said by the counts


async def test_failed_records_found_through_the_listing_keep_their_reasons() -> None:
    """A batch whose counts show failures is read record by record: each failure has
    the server's reason and its input position."""
    records = [*addresses(40), {**next(addresses(1)), "addressId": "A-bad", "postalCode": "00000"}]
    async with connected(processing_delay=0.5) as env:
        report = await env.client.onboard(records, chunk_size=10)
    assert (report.completed, report.failed) == (40, 1), report
    (failure,) = report.failures
    assert (failure.external_id, failure.status) == ("A-bad", "FailedGeoCoding")
    assert failure.reason


def _listing_answer(kind: str) -> Callable[[httpx2.Request], httpx2.Response | None]:
    """A server whose batch listing does not help: no counts, refused, or failing."""

    def rewrite(request: httpx2.Request) -> httpx2.Response | None:
        if request.method != "GET" or not request.url.path.endswith("/batch"):
            return None
        if kind == "no counts":
            body = {"message": "", "totalCount": 1, "data": [{"batchId": "b-1"}]}
            return httpx2.Response(200, json=body)
        return httpx2.Response(404 if kind == "refused" else 503, json={"error": kind})

    return rewrite


@pytest.mark.parametrize("kind", ["no counts", "refused", "failing"])
async def test_a_listing_that_does_not_help_falls_back_to_reading_each_batch(kind: str) -> None:
    """Batch objects without counts, a listing refused or failing: the run reads each
    batch's messages, about one read per batch, and asks for listings no more."""
    async with connected(processing_delay=0.5, rate_limit=20, rewrite=_listing_answer(kind)) as env:
        report = await env.client.onboard(portfolio(2_000), chunk_size=20)
        api = env.recorder.api()
    listings = [e for e in api if e.method == "GET" and e.path.endswith("/batch")]
    inbound = [e for e in api if e.path.endswith("/inbound")]
    assert report.ok, report
    assert len(listings) <= (1 if kind != "failing" else 3), len(listings)
    # As many as reading each batch costs without a listing (the poller polls a batch a
    # little before batches usually finish, then once more).
    assert len(inbound) <= 2.2 * len(report.batch_ids), (len(inbound), len(report.batch_ids))


async def test_a_throttled_read_does_not_pause_the_pushers() -> None:
    """A 429 on a status poll closes the read lane for its Retry-After; pushes go on."""
    fault = Fault("429", target="batch", at=(2,), retry_after=5)
    async with connected(faults=[fault], processing_delay=0.2) as env:
        report = await env.client.onboard(portfolio(4_000), chunk_size=50, rate=10)
        api = env.recorder.api()
    assert report.ok, report
    throttled_at = next(e.ended for e in api if e.status == 429)
    pushed_during = [
        e for e in api if e.method == "POST" and throttled_at < e.started < throttled_at + 5.0
    ]
    assert len(pushed_during) >= 40, "the pushers waited for the read lane's cooldown"


@pytest.mark.parametrize("style", ["ietf", "x-ratelimit"])
async def test_a_rate_stated_in_headers_is_used_without_a_429(style: str) -> None:
    """Rate unknown to the user, stated by the server's headers: the default job paces at
    it from the first answers on, with no probing and no 429, pushes and polls alike."""
    rate = 20
    knobs = {"rate_limit": rate, "burst": 1, "rate_limit_headers": style}
    async with connected(processing_delay=0.5, **knobs) as env:
        report = await env.client.onboard(portfolio(4_000), chunk_size=20)
        api = env.recorder.api()
    assert report.ok, report
    assert report.stats.rate_limited == 0
    # Over the push phase: after it, the last batches settle through a few listings.
    pushes = [e for e in api if e.method == "POST"]
    start, end = pushes[0].started, pushes[-1].started
    during = [e for e in api if start <= e.started <= end]
    assert (len(during) - 1) / (end - start) >= 0.9 * rate, (len(during), end - start)


async def test_a_fixed_window_costs_at_most_two_windows_with_a_429() -> None:
    """200 calls per 10 s, rate unknown, no headers: the first long Retry-After says the
    window's rate, and the job goes on just below it."""
    async with connected(rate_limit=20, rate_limit_window=10, processing_delay=0.5) as env:
        report = await env.client.onboard(portfolio(8_000), chunk_size=10)
        api = env.recorder.api()
    assert report.ok, report
    start = api[0].started
    windows_with_429 = {int((e.started - start) // 10) for e in api if e.status == 429}
    assert len(windows_with_429) <= 2, sorted(windows_with_429)
    accepted = [e for e in api if e.status != 429]
    span = accepted[-1].started - start
    assert len(accepted) >= 0.9 * 20 * span, (len(accepted), span)


async def test_retry_after_pauses_every_pusher_until_the_deadline() -> None:
    """A 429 with Retry-After: 1 stops all pushers: nobody sends before the second is over."""
    async with connected(faults=[Fault("429", at=(3,), retry_after=1)]) as env:
        report = await env.client.onboard(portfolio(3_000), chunk_size=100, concurrency=4)
        pushes = env.recorder.pushes()
    assert report.ok
    assert report.stats.rate_limited == 1
    throttled_at = next(e.ended for e in pushes if e.status == 429)
    later = [e.started for e in pushes if e.started > throttled_at]
    assert later, "the run went on after the 429"
    assert min(later) >= throttled_at + 1.0


async def test_413_splits_the_chunk_and_learns_the_limit() -> None:
    """A server that takes at most 100 records per request gets halves until they fit."""
    async with connected(max_records=100) as env:
        report = await env.client.onboard(portfolio(1_000), chunk_size=500)
        sizes = [b.record_count for b in env.sandbox.ledger.batches()]
    assert report.ok
    assert report.stats.splits >= 1
    assert max(sizes) <= 100
    assert sum(sizes) == 1_002


async def test_5xx_are_retried_and_nothing_is_stored_twice() -> None:
    """503 and 502 answers are retried with back-off; every record is received once."""
    faults = [Fault("503", times=2), Fault("502", at=(4,)), Fault("504", at=(6,))]
    async with connected(faults=faults) as env:
        report = await env.client.onboard(portfolio(2_000), chunk_size=200)
        counts = env.sandbox.ledger.receive_counts("building")
    assert report.ok
    assert report.stats.retries >= 4
    assert set(counts.values()) == {1}


async def test_a_rejected_chunk_fails_its_records_with_the_servers_reason() -> None:
    """A 400 for one request marks its records failed with the message; the run goes on."""

    def reject_floors(request: httpx2.Request) -> httpx2.Response | None:
        if request.method == "POST" and request.url.path.endswith("/floor"):
            body = {"error": "Request validation failed", "detail": "floors are closed today"}
            return httpx2.Response(400, json=body, request=request)
        return None

    records = [*portfolio(10), *floors(5)]
    async with connected(rewrite=reject_floors) as env:
        report = await env.client.onboard(records)
    assert report.completed == 12
    assert report.failed == 5
    assert {f.status for f in report.failures} == {"Rejected"}
    assert all("floors are closed today" in f.reason for f in report.failures)
    assert [f.external_id for f in report.failures] == [f"F{i}" for i in range(5)]
    assert report.failures[0].record["floorId"] == "F0"
    assert_adds_up(report, len(records))


async def test_invalid_records_are_reported_with_position_and_field() -> None:
    """Invalid records are never sent; each names its position, the field and the problem."""
    records: list[Any] = list(portfolio(5))
    records.insert(3, {"eventType": "BuildingAdded", "buildingId": "X1", **VALID})
    records.insert(5, {**next(buildings(1, start=90)), "nmae": "typo"})
    records.insert(6, {**next(sites(1)), "siteId": "S91", "type": "Warehouse"})
    records.append({"buildingId": "X2"})
    async with connected() as env:
        report = await env.client.onboard(records)
        sent = env.sandbox.ledger.stored("building")
    assert report.invalid == 4
    assert report.completed == 7
    by_index = {f.index: f for f in report.failures}
    assert by_index[3].field == "addressIds"
    assert by_index[3].source == "#3"
    assert by_index[5].field == "nmae"
    assert "Extra inputs" in by_index[5].reason
    assert by_index[6].field == "type"
    assert "Office" in by_index[6].reason
    assert "eventType" in by_index[10].reason
    assert not {"X1", "B90"} & set(sent)
    assert "S91" not in env.sandbox.ledger.stored("site")
    assert_adds_up(report, len(records))


async def test_an_id_with_control_characters_is_invalid_with_a_plain_reason() -> None:
    """A newline or escape in an id makes the record invalid before anything is sent; the
    reason says what is wrong without repeating the raw characters."""
    bad = {**next(addresses(1)), "addressId": "A\n\x1b[2J"}
    async with connected() as env:
        report = await env.client.onboard([*addresses(2), bad])
    assert (report.completed, report.invalid) == (2, 1)
    (failure,) = report.failures
    assert failure.field == "addressId"
    assert "control characters" in failure.reason
    assert "\n" not in failure.reason
    assert "\x1b" not in failure.reason
    line = str(failure)  # what the CLI prints
    assert "\n" not in line
    assert "\x1b" not in line
    assert "A\\n\\x1b[2J" in line


async def test_source_records_name_their_file_and_line() -> None:
    """A SourceRecord's file and line are what a failure reports as its source."""
    records = [
        SourceRecord(data=r, file="sites.ndjson", line=i + 1, entity="site")
        for i, r in enumerate([*sites(2), {"siteId": "bad"}])
    ]
    async with connected() as env:
        report = await env.client.onboard(records)
    assert report.invalid == 1
    assert report.failures[0].source == "sites.ndjson:3"


async def test_a_reset_after_the_batch_was_stored_is_found_not_resent() -> None:
    """A push stored by the server whose answer was lost is found again, not re-sent."""
    async with connected(faults=[Fault("reset", at=(2,))]) as env:
        report = await env.client.onboard(portfolio(1_500), chunk_size=250)
        counts = env.sandbox.ledger.receive_counts("building")
    assert report.ok
    assert report.stats.reconciled == 1
    assert report.stats.resent == 0
    assert set(counts.values()) == {1}
    assert len(report.batch_ids) == len(set(report.batch_ids))


async def test_push_after_a_lost_answer_returns_the_stored_batch() -> None:
    """push() whose answer was lost after the server stored it finds that batch and
    returns its id: nothing is stored twice."""
    async with connected(faults=[Fault("reset", at=(1,))]) as env:
        batch_id = await env.client.push("address", addresses(3))
        counts = env.sandbox.ledger.receive_counts("address")
        batches = env.sandbox.ledger.batch_ids()
    assert set(counts.values()) == {1}
    assert list(batches) == [batch_id]


async def test_push_whose_look_up_fails_says_it_may_have_been_stored() -> None:
    """push() never sends blindly again: when the server cannot be asked about a lost
    answer, the error says the records may be stored and what to check."""
    faults = [Fault("reset", at=(1,)), Fault("503", target="batch", probability=1.0)]
    async with connected(faults=faults) as env:
        with pytest.raises(APIConnectionError, match="may have been stored") as caught:
            await env.client.push("address", addresses(3))
        counts = env.sandbox.ledger.receive_counts("address")
        secret = env.sandbox.credentials().secret("primary").get_secret_value()
    assert caught.value.maybe_sent
    assert "'A0' at #0 to 'A2' at #2" in str(caught.value)
    assert "batches.list()" in str(caught.value)
    assert secret not in str(caught.value)
    assert set(counts.values()) == {1}


async def test_a_response_slower_than_the_timeout_is_found_not_resent() -> None:
    """A push stored but answered after the client's read timeout is reconciled."""
    async with connected(
        faults=[Fault("slow", at=(1,), delay=120)], client_options={"timeout": 5.0}
    ) as env:
        report = await env.client.onboard(portfolio(600), chunk_size=300)
        counts = env.sandbox.ledger.receive_counts("building")
    assert report.ok
    assert report.stats.reconciled == 1
    assert set(counts.values()) == {1}


@pytest.mark.parametrize(
    ("kind", "share"), [("reset", 0.05), ("reset", 0.20), ("slow", 0.05), ("slow", 0.20)]
)
async def test_answers_lost_on_pushes_and_reads_alike_store_nothing_twice(
    kind: str, share: float
) -> None:
    """A share of every answer lost after the server did the work (reset, or stalled past
    the read timeout), look-ups of lost pushes included: every record stored once."""
    faults = [Fault(kind, target="api", probability=share, seed=7, delay=120)]
    async with connected(faults=faults, client_options={"timeout": 5.0}) as env:
        report = await env.client.onboard(portfolio(3_000), chunk_size=30, timeout=3_000)
        counts = env.sandbox.ledger.receive_counts("building")
    assert report.ok, report
    assert len(counts) == 3_000
    assert set(counts.values()) == {1}, sum(n > 1 for n in counts.values())
    assert report.stats.reconciled > 0


async def test_a_lost_push_that_cannot_be_looked_up_stays_pending_not_resent(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """When the server cannot be asked whether a lost push was stored, the chunk is not
    sent blindly again: its records end pending, and the warning says to resume."""
    faults = [Fault("reset", at=(2,)), Fault("503", target="batch", probability=1.0)]
    async with connected(faults=faults) as env:
        report = await env.client.onboard(portfolio(300), chunk_size=100, timeout=600)
        counts = env.sandbox.ledger.receive_counts("building")
    assert report.stats.resent == 0
    assert set(counts.values()) == {1}
    assert report.pending >= 100
    assert_adds_up(report, 302)
    assert any("may have been stored" in r.getMessage() for r in caplog.records)


async def test_mixed_input_is_pushed_parents_first() -> None:
    """Children read before their parents are still pushed after them, and complete."""
    records = [*floors(3), *buildings(3), *sites(1), *addresses(1)]
    async with connected() as env:
        report = await env.client.onboard(records)
        order = [b.entity for b in env.sandbox.ledger.batches()]
    assert report.ok
    assert order == ["address", "site", "building", "floor"]


async def test_strict_order_waits_for_the_parents_batches() -> None:
    """In strict order a child entity is pushed only once its parents' batches finished."""
    records = [*addresses(1), *sites(1), *buildings(3)]
    async with connected(processing_delay=5.0) as env:
        report = await env.client.onboard(records, strict_order=True)
        pushes = env.recorder.pushes()
    assert report.ok
    starts = {e.path: e.started for e in pushes}
    assert starts["/site"] >= starts["/address"] + 5.0
    assert starts["/building"] >= starts["/site"] + 5.0


async def test_without_strict_order_children_do_not_wait() -> None:
    """By default children follow their parents at once; the platform parks them."""
    records = [*addresses(1), *sites(1), *buildings(3)]
    async with connected(processing_delay=5.0) as env:
        report = await env.client.onboard(records)
        pushes = env.recorder.pushes()
    assert report.ok
    assert pushes[-1].started - pushes[0].started < 1.0


async def test_the_deadline_leaves_the_rest_pending_and_counted() -> None:
    """At the deadline unfinished records are pending; the counts still add up."""
    records = portfolio(5_000)
    async with connected(rate_limit=2, processing_delay=30.0) as env:
        report = await env.client.onboard(records, chunk_size=100, timeout=10.0)
    assert report.completed + report.failed < len(records)
    assert report.pending > 0
    assert report.not_sent > 0
    assert "deadline" in (report.stopped_reason or "")
    assert not report.ok
    assert_adds_up(report, len(records))


async def test_records_waiting_for_a_missing_parent_are_reported_blocked() -> None:
    """Buildings of a site that never arrives stay pending and are counted as blocked."""
    records = [*addresses(1), *buildings(4, site="S-missing")]
    async with connected() as env:
        report = await env.client.onboard(records, timeout=30.0)
    assert report.completed == 1
    assert report.pending == 4
    assert report.blocked == 4
    assert_adds_up(report, len(records))


async def test_records_whose_parent_never_comes_end_the_run_after_blocked_timeout(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Nothing else left to finish, the run stops waiting for a parent that is neither in
    the input nor on the platform after ``blocked_timeout``, not at the deadline, and says
    why and what to do."""
    records = [*addresses(1), *sites(1), *buildings(50), *buildings(4, site="S-missing")]
    seen: list[int] = []
    async with connected(processing_delay=1.0) as env:
        report = await env.client.onboard(
            records,
            timeout=3_600,
            blocked_timeout=120,
            on_progress=lambda p: seen.append(p.waiting_for_parent),
        )
    # The progress said how many records wait for a parent: the buildings while their
    # site processed, then the 4 whose site never comes, until the run gave up on them.
    assert [n for n in seen if n][-1] == 4
    assert max(seen) > 4
    assert report.completed == 52
    assert (report.pending, report.blocked) == (4, 4)
    assert 120 <= report.stats.duration < 200, report.stats.duration
    assert "parents" in (report.stopped_reason or "")
    assert any("push their parents" in r.getMessage() for r in caplog.records)
    assert_adds_up(report, len(records))


async def test_a_slow_parent_is_waited_for_past_blocked_timeout_while_it_processes() -> None:
    """Children wait for a parent that is still processing: not orphans, the run waits."""
    records = [*addresses(1), *sites(1), *buildings(4)]
    async with connected(processing_delay=200.0) as env:
        report = await env.client.onboard(records, timeout=3_600, blocked_timeout=60)
    assert report.ok, report


async def test_a_dead_service_spends_the_retry_budget_and_stops() -> None:
    """When every push fails the run stops early, sends nothing more, and counts it all."""
    records = portfolio(20_000)
    async with connected(faults=[Fault("503", probability=1.0)]) as env:
        report = await env.client.onboard(records, chunk_size=100)
        pushes = len(env.recorder.pushes())
    assert "retry budget" in (report.stopped_reason or "")
    assert report.completed == 0
    assert report.not_sent == len(records)
    assert pushes < 150
    assert_adds_up(report, len(records))


async def test_a_service_that_dies_mid_run_ends_the_run_long_before_the_deadline() -> None:
    """Pushes and reads fail for good after some batches were accepted: the run stops
    sending, polls the open batches one last bounded round, and ends, counts adding up."""
    records = portfolio(20_000)
    async with connected(processing_delay=30.0, rate_limit=10) as env:

        def die(progress: Progress) -> None:
            if progress.accepted >= 2_000 and not env.sandbox.faults:
                env.sandbox.inject(Fault("503", target="api", probability=1.0))

        started = env.client.clock()
        report = await env.client.onboard(records, chunk_size=100, timeout=3_600, on_progress=die)
        last_push = max(exchange.started for exchange in env.recorder.pushes()) - started
    assert "retry budget" in (report.stopped_reason or "")
    assert report.pending > 0
    # Once the budget is spent no pusher waits out its back-off: the last push is followed
    # by one last round of polls only (LAST_ROUND, 60 s), not by the deadline.
    assert report.stats.duration - last_push < LAST_ROUND + 10, (report.stats.duration, last_push)
    # About a hundred retries of back-off capped at 30 s, shared by four pushers.
    assert report.stats.duration < 600, report.stats.duration
    assert_adds_up(report, len(records))


async def test_pushers_backing_off_stop_waiting_when_the_budget_is_spent() -> None:
    """A run whose retry budget is spent ends without waiting out the other pushers'
    back-off: nothing is sent after the stop, and the last push ends the sending."""
    records = portfolio(4_000)
    async with connected(faults=[Fault("503", probability=1.0)]) as env:
        started = env.client.clock()
        report = await env.client.onboard(records, chunk_size=100, max_retries=50)
        pushes = env.recorder.pushes()
    last_push = max(exchange.started for exchange in pushes) - started
    assert "retry budget" in (report.stopped_reason or "")
    # Without interruption, the three other pushers would sleep up to 30 s more each.
    assert report.stats.duration - last_push < 1.0, (report.stats.duration, last_push)
    assert_adds_up(report, len(records))


async def test_wait_false_returns_once_everything_is_accepted() -> None:
    """wait=False returns after the pushes: records pending, batch ids known, no polling."""
    async with connected(processing_delay=60.0) as env:
        report = await env.client.onboard(portfolio(1_000), wait=False)
        gets = [e for e in env.recorder.api() if e.method == "GET"]
    assert report.pending == 1_002
    assert report.not_sent == 0
    assert len(report.batch_ids) == 4
    assert gets == []


async def test_progress_is_reported_as_the_run_advances() -> None:
    """on_progress sees counts grow, and a last call with the final totals."""
    seen: list[Progress] = []
    async with connected(processing_delay=2.0, rate_limit=5) as env:
        report = await env.client.onboard(portfolio(3_000), chunk_size=200, on_progress=seen.append)
    assert len(seen) > 3
    assert [p.accepted for p in seen] == sorted(p.accepted for p in seen)
    assert seen[-1].finished
    assert seen[-1].completed == report.completed == 3_002
    assert any(0 < p.completed < 3_002 for p in seen)


async def test_progress_keeps_coming_while_nothing_changes() -> None:
    """A long Retry-After pauses every pusher: progress is still reported every second or
    so, so that a stats line or a bar shows the run is alive."""
    seen: list[float] = []
    fault = Fault("429", at=(2,), retry_after=30)
    async with connected(faults=[fault]) as env:
        await env.client.onboard(
            portfolio(300), chunk_size=100, on_progress=lambda p: seen.append(p.elapsed)
        )
    gaps = [b - a for a, b in itertools.pairwise(seen)]
    assert seen[-1] >= 30
    assert max(gaps) <= 1.5, max(gaps)


async def test_async_iterables_are_read_lazily() -> None:
    """An async generator is consumed as the run goes, not all at once."""
    produced = 0

    async def source() -> Any:
        nonlocal produced
        for record in portfolio(5_000):
            produced += 1
            yield record

    progress_at_first_push: list[int] = []
    async with connected() as env:
        original = env.recorder.handle_async_request

        async def spy(request: httpx2.Request) -> httpx2.Response:
            if (
                request.method == "POST"
                and not progress_at_first_push
                and "oauth" not in str(request.url)
            ):
                progress_at_first_push.append(produced)
            return await original(request)

        env.recorder.handle_async_request = spy  # type: ignore[method-assign]
        report = await env.client.onboard(source(), chunk_size=100, concurrency=1)
    assert report.completed == 5_002
    assert progress_at_first_push[0] < 2_000


async def test_wrong_credentials_raise_one_plain_error() -> None:
    """Refused credentials stop the run with CredentialsError, not an ExceptionGroup."""
    async with connected() as env:
        sandbox = env.sandbox
        async with wrong_secret_client(sandbox) as client:
            with pytest.raises(CredentialsError) as caught:
                await client.onboard(portfolio(100))
    assert "primary" in str(caught.value)
    assert WRONG_SECRET not in str(caught.value)
    assert sandbox.ledger.counters.get("pushes", 0) == 0


async def test_cancelling_a_run_is_prompt_and_leaves_no_task_behind() -> None:
    """Cancelling onboard() ends it at once and leaves no task of the run running."""
    loop = asyncio.get_running_loop()
    async with connected(rate_limit=5, processing_delay=10.0) as env:
        before = asyncio.all_tasks()
        task = asyncio.create_task(env.client.onboard(portfolio(20_000), chunk_size=50))
        await asyncio.sleep(5.0)
        cancelled_at = loop.time()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert loop.time() - cancelled_at < 0.01
        await asyncio.sleep(0)
        leftover = {t.get_name() for t in asyncio.all_tasks() - before if not t.done()}
    # The client's token refresher lives as long as the client, not as the run.
    assert leftover <= {"buildingminds-token-refresher"}


async def test_failures_are_handed_over_as_soon_as_they_are_known() -> None:
    """on_failure sees every invalid and failed record, in the order they became known."""
    records = [
        *portfolio(20),
        {"eventType": "BuildingAdded", "buildingId": "X1"},
        {
            "eventType": "AddressAdded",
            "addressId": "A9",
            "city": "x",
            "country": "DE",
            "postalCode": "00000",
        },
    ]
    seen: list[RecordFailure] = []
    async with connected(processing_delay=1.0) as env:
        report = await env.client.onboard(records, on_failure=seen.append)
    assert [f.status for f in seen] == ["Invalid", "FailedGeoCoding"]
    assert seen == list(report.failures)
    assert seen[1].batch_id in report.batch_ids


async def test_a_lenient_enum_value_is_sent_even_when_warnings_are_errors() -> None:
    """Under -W error an unknown value of an inferred enum is still valid and sent."""
    record = {**next(buildings(1)), "primaryTypeOfBuilding": "Lighthouse"}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        async with connected() as env:
            report = await env.client.onboard([*addresses(1), *sites(1), record])
            stored = env.sandbox.ledger.record("building", "B0")
    assert report.ok
    assert stored is not None
    assert stored["primaryTypeOfBuilding"] == "Lighthouse"


async def test_waiting_for_an_unknown_batch_fails_at_once() -> None:
    """batches.wait() on an id the API does not know raises NotFoundError, not a timeout."""
    loop = asyncio.get_running_loop()
    async with connected() as env:
        started = loop.time()
        with pytest.raises(NotFoundError):
            await env.client.batches.wait("no-such-batch", timeout=600)
    assert loop.time() - started < 5


async def test_a_generator_source_is_closed_when_the_run_is_cancelled() -> None:
    """A file-reading generator is closed when the run ends early (cancelled here)."""
    closed = False

    def source() -> Iterator[dict[str, Any]]:
        nonlocal closed
        try:
            yield from portfolio(20_000)
        finally:
            closed = True

    async with connected(rate_limit=5) as env:
        with anyio.CancelScope() as scope:

            def stop(progress: Progress) -> None:
                if progress.accepted:
                    scope.cancel()

            await env.client.onboard(source(), chunk_size=100, on_progress=stop)
    assert scope.cancelled_caught
    assert closed


class LosesBeforeTheServer(httpx2.AsyncBaseTransport):
    """The first push times out and the second loses its connection, neither reaching the
    server: both look-ups find nothing, so both chunks are sent again."""

    def __init__(self, inner: httpx2.AsyncBaseTransport) -> None:
        self._inner = inner
        self._pushes = 0

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        if request.method == "POST" and "oauth2" not in request.url.path:
            self._pushes += 1
            if self._pushes == 1:
                raise httpx2.ReadTimeout("timed out", request=request)
            if self._pushes == 2:
                raise httpx2.RemoteProtocolError("peer closed the connection", request=request)
        return await self._inner.handle_async_request(request)


async def test_resent_chunks_are_counted_by_why_they_were_in_doubt() -> None:
    async with connected() as env:
        env.recorder.inner = LosesBeforeTheServer(env.recorder.inner)
        report = await env.client.onboard(addresses(1_000), chunk_size=500, concurrency=1)
        counts = env.sandbox.ledger.receive_counts("address")
    assert report.ok
    assert set(counts.values()) == {1}
    assert report.stats.resent == 2
    assert report.stats.resent_by_reason == {"answer timed out": 1, "connection lost": 1}
    assert report.summary()["resent_by_reason"] == {"answer timed out": 1, "connection lost": 1}
