"""client.batches: listing, inbound messages, results and waiting for batches to finish."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

import httpx2
import pytest
import respx
from client_support import BASE_URL, loop_time

from buildingminds_async import (
    APIResponseValidationError,
    AsyncClient,
    BatchResult,
    BatchTimeoutError,
    NotFoundError,
    PermissionDeniedError,
)
from buildingminds_async._polling import BatchPoller

MakeClient = Callable[..., AsyncClient]
BATCH_URL = f"{BASE_URL}/batch"


def page(data: list[dict[str, Any]], total: int) -> httpx2.Response:
    return httpx2.Response(200, json={"message": "ok", "totalCount": total, "data": data})


def batches(count: int) -> list[dict[str, Any]]:
    return [
        {"batchId": f"b-{i}", "createdAt": "2026-01-02T03:04:05Z", "status": "Completed"}
        for i in range(count)
    ]


def messages(batch_id: str, *statuses: str) -> list[dict[str, Any]]:
    return [
        {"messageId": f"{batch_id}-m{i}", "batchId": batch_id, "externalId": f"X{i}", "status": s}
        for i, s in enumerate(statuses)
    ]


def paged(items: list[dict[str, Any]]) -> Callable[[httpx2.Request], httpx2.Response]:
    """A listing endpoint serving ``items`` by skip/limit."""

    def answer(request: httpx2.Request) -> httpx2.Response:
        skip = int(request.url.params.get("skip", 0))
        limit = int(request.url.params.get("limit", 100))
        return page(items[skip : skip + limit], len(items))

    return answer


def params_of(route: respx.Route) -> list[dict[str, str]]:
    return [dict(call.request.url.params) for call in route.calls]


class Inbound:
    """GET /batch/{id}/inbound for several batches, each finishing at a set loop time."""

    def __init__(self, finish_at: dict[str, float], records: int = 3) -> None:
        self.finish_at = finish_at
        self.records = records
        self.polls: dict[str, list[float]] = {batch_id: [] for batch_id in finish_at}

    def __call__(self, request: httpx2.Request, batch_id: str) -> httpx2.Response:
        now = loop_time()
        self.polls[batch_id].append(now)
        done = now >= self.finish_at[batch_id]
        statuses = ["Completed"] * self.records if done else ["InProgress"] * self.records
        if done:
            statuses[-1] = "FailedValidation"
        return page(messages(batch_id, *statuses), self.records)

    def install(self, router: respx.MockRouter) -> respx.Route:
        return router.get(url__regex=rf"{BATCH_URL}/(?P<batch_id>[^/]+)/inbound").mock(
            side_effect=self
        )


# ---------------------------------------------------------------------------- list / get


async def test_list_pages_through_skip_and_limit(
    make_client: MakeClient, router: respx.MockRouter
) -> None:
    """list() asks page after page until totalCount items were read, and yields them in order."""
    route = router.get(BATCH_URL).mock(side_effect=paged(batches(5)))
    async with make_client() as client:
        found = [batch async for batch in client.batches.list(page_size=2)]
    assert [batch.batch_id for batch in found] == ["b-0", "b-1", "b-2", "b-3", "b-4"]
    assert [(p["skip"], p["limit"]) for p in params_of(route)] == [
        ("0", "2"),
        ("2", "2"),
        ("4", "2"),
    ]
    assert found[0].created_at == datetime.fromisoformat("2026-01-02T03:04:05+00:00")


async def test_list_passes_date_filters_as_days(
    make_client: MakeClient, router: respx.MockRouter
) -> None:
    """Date filters are sent as yyyy-mm-dd (createdFrom, createdTo, createdAt, batchId)."""
    route = router.get(BATCH_URL).mock(side_effect=paged(batches(1)))
    async with make_client() as client:
        found = [
            batch
            async for batch in client.batches.list(
                created_from=date(2026, 1, 1),
                created_to="2026-02-01",
                created_at=date(2026, 1, 15),
                batch_id="b-0",
            )
        ]
    assert len(found) == 1
    (params,) = params_of(route)
    assert params == {
        "createdFrom": "2026-01-01",
        "createdTo": "2026-02-01",
        "createdAt": "2026-01-15",
        "batchId": "b-0",
        "skip": "0",
        "limit": "100",
    }


async def test_list_sends_a_datetime_filter_as_its_day(
    make_client: MakeClient, router: respx.MockRouter
) -> None:
    """A datetime given as a date filter is sent as its day, yyyy-mm-dd."""
    route = router.get(BATCH_URL).mock(side_effect=paged([]))
    async with make_client() as client:
        async for _ in client.batches.list(created_from=datetime(2026, 1, 1, 10, 30)):
            pass
    assert params_of(route)[0]["createdFrom"] == "2026-01-01"


async def test_list_stops_on_an_empty_page(
    make_client: MakeClient, router: respx.MockRouter
) -> None:
    """A server that reports more than it returns does not make list() loop forever."""
    route = router.get(BATCH_URL).mock(side_effect=[page(batches(2), 10), page([], 10)])
    async with make_client() as client:
        found = [batch async for batch in client.batches.list(page_size=2)]
    assert len(found) == 2
    assert route.call_count == 2


async def test_list_of_nothing_is_one_request(
    make_client: MakeClient, router: respx.MockRouter
) -> None:
    """An empty listing yields nothing after a single request."""
    route = router.get(BATCH_URL).mock(side_effect=paged([]))
    async with make_client() as client:
        assert [batch async for batch in client.batches.list()] == []
    assert route.call_count == 1


async def test_a_body_that_is_not_a_page_is_a_validation_error(
    make_client: MakeClient, router: respx.MockRouter
) -> None:
    """A 200 whose body is not a {message, totalCount, data} page raises, naming the request."""
    router.get(BATCH_URL).respond(200, json={"totalCount": "many", "data": "none"})
    async with make_client() as client:
        with pytest.raises(
            APIResponseValidationError, match=r"not a \{message, totalCount, data\}"
        ):
            async for _ in client.batches.list():
                pass


async def test_messages_passes_status_and_missing_dependencies(
    make_client: MakeClient, router: respx.MockRouter
) -> None:
    """messages() filters by status and missingDependencies and quotes the batch id."""
    route = router.get(f"{BATCH_URL}/a%2Fb/inbound").mock(
        side_effect=paged(messages("a/b", "FailedValidation", "FailedValidation"))
    )
    async with make_client() as client:
        found = [
            m
            async for m in client.batches.messages(
                "a/b", status="FailedValidation", missing_dependencies=True
            )
        ]
        async for _ in client.batches.messages("a/b", missing_dependencies=False):
            pass
    assert [m.status for m in found] == ["FailedValidation", "FailedValidation"]
    assert [m.external_id for m in found] == ["X0", "X1"]
    first, second = params_of(route)
    assert first == {
        "status": "FailedValidation",
        "missingDependencies": "true",
        "skip": "0",
        "limit": "100",
    }
    assert second["missingDependencies"] == "false"
    assert "status" not in second


async def test_get_returns_the_batch(make_client: MakeClient, router: respx.MockRouter) -> None:
    """get() asks for one batch by id and returns it."""
    route = router.get(BATCH_URL).mock(side_effect=[page(batches(3)[2:], 1)])
    async with make_client() as client:
        batch = await client.batches.get("b-2")
    assert batch.batch_id == "b-2"
    assert batch.status == "Completed"
    assert params_of(route) == [{"batchId": "b-2", "limit": "1"}]


async def test_get_of_an_unknown_batch_is_not_found(
    make_client: MakeClient, router: respx.MockRouter
) -> None:
    """get() raises NotFoundError naming the id when the listing does not have it."""
    router.get(BATCH_URL).mock(side_effect=[page([], 0)])
    async with make_client() as client:
        with pytest.raises(NotFoundError, match="batch b-404 not found"):
            await client.batches.get("b-404")


@pytest.mark.looptime
async def test_listings_retry_a_503(make_client: MakeClient, router: respx.MockRouter) -> None:
    """A 503 while listing is retried with back-off, then the listing goes on."""
    route = router.get(BATCH_URL).mock(side_effect=[httpx2.Response(503), page(batches(1), 1)])
    async with make_client() as client:
        found = [batch async for batch in client.batches.list()]
    assert len(found) == 1
    assert route.call_count == 2


# -------------------------------------------------------------------------------- result


async def test_result_reads_every_record_status(
    make_client: MakeClient, router: respx.MockRouter
) -> None:
    """result() reads all inbound messages and counts completed, failed and pending records."""
    statuses = ["Completed"] * 120 + ["FailedValidation"] * 20 + ["InProgress"] * 10
    route = router.get(f"{BATCH_URL}/b-1/inbound").mock(
        side_effect=paged(messages("b-1", *statuses))
    )
    async with make_client() as client:
        result = await client.batches.result("b-1")
        sized = await client.batches.result("b-1", expected=150)
    assert isinstance(result, BatchResult)
    assert (result.completed, result.failed, result.pending) == (120, 20, 10)
    assert result.total_count == 150
    assert not result.done
    assert len(result.failures) == 20
    assert result.status_counts["Completed"] == 120
    assert sized.expected == 150
    # Without a hint pages of 100; with expected=150, one request reads it all.
    assert [p["limit"] for p in params_of(route)] == ["100", "100", "150"]


async def test_a_result_is_done_only_when_every_pushed_record_is_listed(
    make_client: MakeClient, router: respx.MockRouter
) -> None:
    """Records not yet listed by the server count as pending."""
    router.get(f"{BATCH_URL}/b-1/inbound").mock(side_effect=paged(messages("b-1", "Completed")))
    async with make_client() as client:
        result = await client.batches.result("b-1", expected=3)
    assert result.pending == 2
    assert not result.done


# ---------------------------------------------------------------------------------- wait


@pytest.mark.looptime
async def test_wait_on_one_batch_returns_its_result(
    make_client: MakeClient, router: respx.MockRouter
) -> None:
    """wait(id) polls until every record has a final status and returns the BatchResult."""
    inbound = Inbound({"b-1": 5.0})
    inbound.install(router)
    async with make_client() as client:
        result = await client.batches.wait("b-1", timeout=60)
    assert isinstance(result, BatchResult)
    assert result.batch_id == "b-1"
    assert result.done
    assert (result.completed, result.failed, result.pending) == (2, 1, 0)
    assert not result.ok
    assert 5.0 <= loop_time() < 10.0
    assert [m.status for m in result.failures] == ["FailedValidation"]


@pytest.mark.looptime
async def test_wait_many_returns_a_result_per_id_in_the_order_given(
    make_client: MakeClient, router: respx.MockRouter
) -> None:
    """wait_many(ids) maps each id to its result, in the order given, whatever order they
    finish; an id given twice is waited for once."""
    inbound = Inbound({"b-1": 20.0, "b-2": 2.0, "b-3": 8.0})
    inbound.install(router)
    async with make_client() as client:
        results = await client.batches.wait_many(["b-1", "b-2", "b-3", "b-2"], timeout=120)
    assert list(results) == ["b-1", "b-2", "b-3"]
    assert [result.batch_id for result in results.values()] == ["b-1", "b-2", "b-3"]
    assert all(result.done for result in results.values())
    # Each was polled until it finished, and not again afterwards.
    for batch_id, finish in inbound.finish_at.items():
        polls = inbound.polls[batch_id]
        assert polls[-1] >= finish
        assert all(at < finish for at in polls[:-1])


@pytest.mark.looptime
async def test_wait_with_a_list_still_works_but_warns_it_is_deprecated(
    make_client: MakeClient, router: respx.MockRouter
) -> None:
    """wait([ids]) keeps its old answer (a list, one result per id given) and says what to
    use instead."""
    Inbound({"b-1": 4.0, "b-2": 2.0}).install(router)
    async with make_client() as client:
        with pytest.warns(DeprecationWarning, match=r"wait_many\(ids\)"):
            results = await client.batches.wait(["b-1", "b-2", "b-1"], timeout=60)
    assert [result.batch_id for result in results] == ["b-1", "b-2", "b-1"]
    assert all(result.done for result in results)


@pytest.mark.looptime
async def test_wait_raises_batch_timeout_error_at_the_deadline_with_the_last_results(
    make_client: MakeClient, router: respx.MockRouter
) -> None:
    """At the deadline wait_many() raises BatchTimeoutError holding the statuses seen last."""
    inbound = Inbound({"b-done": 1.0, "b-slow": 10_000.0})
    inbound.install(router)
    async with make_client() as client:
        with pytest.raises(BatchTimeoutError) as caught:
            await client.batches.wait_many(["b-done", "b-slow"], timeout=30)
        raised_at = loop_time()
    assert 30.0 <= raised_at < 30.5
    error = caught.value
    assert isinstance(error, TimeoutError)
    assert error.batch_ids == ("b-slow",)
    by_id = {result.batch_id: result for result in error.results}
    assert set(by_id) == {"b-done", "b-slow"}
    assert by_id["b-done"].done
    assert by_id["b-slow"].pending == 3
    assert [m.status for m in by_id["b-slow"].messages] == ["InProgress"] * 3
    assert "b-slow" in str(error)
    assert "wait again" in str(error)


@pytest.mark.looptime
async def test_wait_for_a_batch_never_polled_before_the_deadline(
    make_client: MakeClient, router: respx.MockRouter
) -> None:
    """A deadline shorter than the first poll still raises, with an empty last result."""
    inbound = Inbound({"b-1": 100.0})
    inbound.install(router)
    async with make_client() as client:
        with pytest.raises(BatchTimeoutError) as caught:
            await client.batches.wait("b-1", timeout=0.1)
    (result,) = caught.value.results
    assert result.batch_id == "b-1"
    assert not result.done


@pytest.mark.looptime
async def test_wait_polls_again_with_growing_intervals(
    make_client: MakeClient, router: respx.MockRouter
) -> None:
    """A batch still processing is polled at growing intervals, not at a fixed rate."""
    inbound = Inbound({"b-1": 60.0})
    inbound.install(router)
    async with make_client() as client:
        await client.batches.wait("b-1", timeout=300)
    polls = inbound.polls["b-1"]
    gaps = [b - a for a, b in itertools.pairwise(polls)]
    assert len(polls) <= 12  # not one per second
    growing = gaps[: next((i for i, g in enumerate(gaps) if g >= 15.0), len(gaps))]
    assert len(growing) >= 3
    assert all(b > a for a, b in itertools.pairwise(growing))
    assert max(gaps) <= 15.0 * 1.1 + 1e-6  # capped (plus at most 10% jitter)


@pytest.mark.looptime
async def test_wait_keeps_polling_through_transient_errors(
    make_client: MakeClient, router: respx.MockRouter
) -> None:
    """A failed poll (server errors beyond the client's retries) is rescheduled, not raised."""
    inbound = Inbound({"b-1": 0.0})
    outage = iter([httpx2.Response(500)] * 3)

    def answer(request: httpx2.Request, batch_id: str) -> httpx2.Response:
        return next(outage, None) or inbound(request, batch_id)

    router.get(url__regex=rf"{BATCH_URL}/(?P<batch_id>[^/]+)/inbound").mock(side_effect=answer)
    async with make_client() as client:
        result = await client.batches.wait("b-1", timeout=120)
    assert result.done


@pytest.mark.looptime
async def test_wait_raises_a_permission_error_itself(
    make_client: MakeClient, router: respx.MockRouter
) -> None:
    """A 403 while polling stops the wait with PermissionDeniedError, not an ExceptionGroup."""
    router.get(f"{BATCH_URL}/b-1/inbound").respond(403, json={"message": "API not linked"})
    async with make_client() as client:
        with pytest.raises(PermissionDeniedError, match="API not linked"):
            await client.batches.wait("b-1", timeout=60)


@pytest.mark.looptime
async def test_the_poller_learns_when_batches_usually_finish(
    make_client: MakeClient, router: respx.MockRouter
) -> None:
    """After the first batches, a new batch is first polled about when batches finish."""
    latency = 30.0
    finish_at: dict[str, float] = {}
    inbound = Inbound(finish_at)
    route = inbound.install(router)
    async with make_client() as client:
        poller = BatchPoller(client.batches.result, clock=loop_time, initial_delay=0.5)

        async def watch_next(result: BatchResult | None = None) -> None:
            count = len(finish_at) + 1
            if count > 8:
                poller.close()
                return
            batch_id = f"b-{count}"
            finish_at[batch_id] = loop_time() + latency
            inbound.polls[batch_id] = []
            poller.watch(batch_id, on_done=watch_next)

        await watch_next()
        await poller.run(deadline=loop_time() + 3600)
    first = len(inbound.polls["b-1"])
    later = [len(inbound.polls[f"b-{i}"]) for i in range(3, 9)]
    assert first >= 5  # learning: a fresh poller starts early and backs off
    assert all(polls <= 2 for polls in later), (first, later, inbound.polls)
    assert route.call_count == sum(len(p) for p in inbound.polls.values())
    stats = poller.statistics()
    assert stats.done == 8
    assert stats.typical_latency is not None
    assert latency <= stats.typical_latency < latency * 1.5
