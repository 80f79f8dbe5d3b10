"""Event hooks (``EventHooks``): each event told once, counts that match the report, and
a hook that raises never breaks a run."""

from __future__ import annotations

from typing import Any

import pytest
from onboarding_support import addresses, connected, portfolio

from buildingminds_async import (
    BatchAcceptedEvent,
    BatchFinishedEvent,
    EventHooks,
    RateLimitedEvent,
    RequestEvent,
    RetryEvent,
    TokenEvent,
)
from buildingminds_async.sandbox import Fault

pytestmark = pytest.mark.looptime


class Heard:
    """Every event each hook was told, in order."""

    def __init__(self) -> None:
        self.events: dict[str, list[Any]] = {}

    def hooks(self) -> EventHooks:
        return EventHooks(
            on_request=self._heard("request"),
            on_retry=self._heard("retry"),
            on_rate_limited=self._heard("rate_limited"),
            on_token=self._heard("token"),
            on_batch_accepted=self._heard("accepted"),
            on_batch_finished=self._heard("finished"),
        )

    def _heard(self, name: str) -> Any:
        return self.events.setdefault(name, []).append

    def __getitem__(self, name: str) -> list[Any]:
        return self.events.get(name, [])


async def test_a_runs_events_add_up_to_its_report() -> None:
    """Requests, 429s, retries, accepted and finished batches: as many events as the
    report and the server count, with the figures of each batch."""
    heard = Heard()
    records = portfolio(5_000)
    async with connected(
        client_options={"hooks": heard.hooks()},
        rate_limit=20,
        faults=[Fault("503", times=3)],
    ) as env:
        report = await env.client.onboard(records, chunk_size=250)
        api_requests = len(env.recorder.api())
    assert report.ok, report
    requests: list[RequestEvent] = heard["request"]
    assert len([e for e in requests if "oauth2" not in e.path]) == api_requests
    assert all(e.duration >= 0 for e in requests)
    limited: list[RateLimitedEvent] = heard["rate_limited"]
    assert len(limited) == report.stats.rate_limited > 0
    assert {e.status_code for e in requests} >= {200, 429, 503}
    retries: list[RetryEvent] = heard["retry"]
    # Three 503s, and each push the gate repeated after a 429 (rate_limited counts polls too).
    assert [e.what for e in retries] == ["push"] * report.stats.retries
    assert len([e for e in retries if "503" in e.reason]) == 3
    accepted: list[BatchAcceptedEvent] = heard["accepted"]
    assert sorted(e.batch_id for e in accepted) == sorted(report.batch_ids)
    assert sum(e.records for e in accepted) == len(records)
    finished: list[BatchFinishedEvent] = heard["finished"]
    assert {e.batch_id for e in finished} == set(report.batch_ids)
    assert sum(e.completed for e in finished) == report.completed == len(records)
    assert all(e.failed == 0 and e.records == e.completed for e in finished)
    tokens: list[TokenEvent] = heard["token"]
    assert [e.slot for e in tokens] == ["primary"]


async def test_a_runs_own_hooks_hear_its_requests_and_not_the_clients_others() -> None:
    """``onboard(hooks=...)`` is told of that run only; the client's hooks of everything."""
    client_heard, run_heard = Heard(), Heard()
    async with connected(client_options={"hooks": client_heard.hooks()}) as env:
        await env.client.push("address", list(addresses(1, prefix="X")))
        report = await env.client.onboard(addresses(1_000), hooks=run_heard.hooks())
        await env.client.push("address", list(addresses(1, prefix="Y")))
    run_posts = [e for e in run_heard["request"] if e.method == "POST"]
    client_posts = [
        e for e in client_heard["request"] if e.method == "POST" and "oauth2" not in e.path
    ]
    assert len(run_posts) == report.stats.pushes
    assert len(client_posts) == report.stats.pushes + 2
    assert len(run_heard["accepted"]) == len(client_heard["accepted"]) == len(report.batch_ids)


async def test_a_request_without_an_answer_is_told_with_its_error() -> None:
    heard = Heard()
    async with connected(
        client_options={"hooks": heard.hooks()}, faults=[Fault("reset", at=(1,))]
    ) as env:
        report = await env.client.onboard(addresses(100))
    assert report.ok
    unanswered = [e for e in heard["request"] if e.status_code is None]
    assert len(unanswered) == 1
    assert unanswered[0].method == "POST"
    assert unanswered[0].error  # the transport error's type name


async def test_a_hook_that_raises_is_logged_once_and_never_breaks_the_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(event: object) -> None:
        raise RuntimeError("a bug in the caller's hook")

    async with connected(
        client_options={"hooks": EventHooks(on_request=broken, on_batch_finished=broken)}
    ) as env:
        report = await env.client.onboard(portfolio(2_000), chunk_size=100)
    assert report.ok
    logged = [r for r in caplog.records if "hook raised" in r.getMessage()]
    assert sorted(r.getMessage().split()[1] for r in logged) == [
        "on_batch_finished",
        "on_request",
    ]
    assert all(r.exc_info is not None for r in logged)


async def test_a_single_push_tells_its_requests_its_retry_and_the_token() -> None:
    heard = Heard()
    async with connected(
        client_options={"hooks": heard.hooks()}, faults=[Fault("503", times=1)]
    ) as env:
        await env.client.push("address", list(addresses(1)))
    assert [(e.what, e.attempt) for e in heard["retry"]] == [("push", 1)]
    api = [e.status_code for e in heard["request"] if "oauth2" not in e.path]
    assert api == [503, 200]
    assert len(heard["token"]) == 1
    assert heard["token"][0].valid_for > 0
    assert heard["accepted"] == []  # batch events are bulk runs'
