"""OpenTelemetry (buildingminds_async.otel) with the SDK's in-memory exporter and reader:
the spans of a run nest under the caller's, and the metrics add up to the report."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from onboarding_support import addresses, connected, portfolio
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from buildingminds_async import AsyncClient
from buildingminds_async.otel import instrument
from buildingminds_async.sandbox import Fault, Sandbox

pytestmark = pytest.mark.looptime


class Telemetry:
    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])

    def instrument(self, client: AsyncClient) -> None:
        instrument(client, tracer_provider=self.tracer_provider, meter_provider=self.meter_provider)

    def spans(self, name: str | None = None) -> list[ReadableSpan]:
        spans = self.exporter.get_finished_spans()
        return [s for s in spans if name is None or s.name == name]

    def points(self, metric: str) -> Iterator[Any]:
        data = self.reader.get_metrics_data()
        for resource in data.resource_metrics if data else ():
            for scope in resource.scope_metrics:
                for found in scope.metrics:
                    if found.name == metric:
                        yield from found.data.data_points

    def total(self, metric: str, **attributes: Any) -> int:
        return sum(
            p.value
            for p in self.points(metric)
            if all(p.attributes.get(k) == v for k, v in attributes.items())
        )


def _api_spans(telemetry: Telemetry) -> list[ReadableSpan]:
    """The CLIENT spans of API requests (the token endpoint's left out)."""
    return [
        s
        for s in telemetry.spans()
        if s.kind is SpanKind.CLIENT and "oauth2" not in str(s.attributes["url.full"])
    ]


@pytest.fixture
def telemetry() -> Telemetry:
    return Telemetry()


async def test_a_runs_spans_nest_under_the_callers_span(telemetry: Telemetry) -> None:
    """caller → buildingminds.onboard → push / poll → one CLIENT span per HTTP request."""
    tracer = telemetry.tracer_provider.get_tracer("the-caller")
    records = portfolio(2_000)
    async with connected(processing_delay=1.0) as env:
        telemetry.instrument(env.client)
        with tracer.start_as_current_span("nightly import") as caller:
            report = await env.client.onboard(records, chunk_size=500)
        api_requests = len(env.recorder.api())
    assert report.ok
    (run,) = telemetry.spans("buildingminds.onboard")
    assert run.parent is not None
    assert run.parent.span_id == caller.get_span_context().span_id
    assert run.attributes["buildingminds.records.completed"] == len(records)
    pushes = telemetry.spans("buildingminds.push")
    assert len(pushes) == len(report.batch_ids)
    assert all(p.parent is not None and p.parent.span_id == run.context.span_id for p in pushes)
    assert sorted(p.attributes["buildingminds.batch_id"] for p in pushes) == sorted(
        report.batch_ids
    )
    assert sum(p.attributes["buildingminds.records"] for p in pushes) == len(records)
    assert all(p.attributes["buildingminds.bytes"] > 0 for p in pushes)
    assert all(p.attributes["http.request.resend_count"] == 0 for p in pushes)
    polls = telemetry.spans("buildingminds.poll")
    assert polls
    assert all(p.parent is not None and p.parent.span_id == run.context.span_id for p in polls)
    http = [
        s
        for s in telemetry.spans()
        if s.kind is SpanKind.CLIENT and "oauth2" not in str(s.attributes["url.full"])
    ]
    assert len(http) == api_requests
    parents = {s.context.span_id for s in (*pushes, *polls)}
    assert all(s.parent is not None and s.parent.span_id in parents for s in http)
    assert {s.attributes["http.response.status_code"] for s in http} == {200}
    assert all(s.attributes["server.address"] == "127.0.0.1" for s in http)


async def test_a_push_retried_after_a_503_counts_its_resends(telemetry: Telemetry) -> None:
    async with connected(faults=[Fault("503", times=2)]) as env:
        telemetry.instrument(env.client)
        await env.client.push("address", list(addresses(3)))
    (push,) = telemetry.spans("buildingminds.push")
    assert push.attributes["http.request.resend_count"] == 2
    http = [s for s in _api_spans(telemetry) if s.parent == push.context]
    assert [s.attributes["http.response.status_code"] for s in http] == [503, 503, 200]
    assert telemetry.total("buildingminds.retries", **{"buildingminds.retry.what": "push"}) == 2


async def test_the_metrics_add_up_to_the_report(telemetry: Telemetry) -> None:
    records = portfolio(5_000)
    async with connected(rate_limit=20, processing_delay=2.0) as env:
        telemetry.instrument(env.client)
        report = await env.client.onboard(records, chunk_size=250)
        api_requests = len(env.recorder.api())
    assert report.ok
    completed = telemetry.total(
        "buildingminds.records", **{"buildingminds.record.status": "completed"}
    )
    assert completed == report.completed == len(records)
    assert telemetry.total("buildingminds.rate_limited") == report.stats.rate_limited > 0
    statuses = {
        p.attributes.get("http.response.status_code")
        for p in telemetry.points("buildingminds.requests")
    }
    assert {200, 429} <= statuses
    assert telemetry.total("buildingminds.requests") >= api_requests
    histograms = list(telemetry.points("buildingminds.batch.duration"))  # one per entity
    assert sum(h.count for h in histograms) == len(report.batch_ids)
    assert min(h.min for h in histograms) >= 2.0  # none finishes before the processing delay


@pytest.mark.loopback
@pytest.mark.looptime(False)  # a real server: real time
async def test_the_aiohttp_transport_is_traced_too(telemetry: Telemetry) -> None:
    """The HTTP spans are the client's own: they exist with the aiohttp transport, which the
    global httpx2 instrumentor would not see."""
    sandbox = Sandbox()
    async with (
        sandbox.serve() as server,
        AsyncClient(
            credentials=server.credentials(), base_url=server.base_url, http_backend="aiohttp"
        ) as client,
    ):
        telemetry.instrument(client)
        await client.push("address", list(addresses(2)))
    (push,) = telemetry.spans("buildingminds.push")
    (request,) = [s for s in _api_spans(telemetry) if s.parent == push.context]
    assert request.attributes["http.request.method"] == "POST"
    assert request.attributes["server.port"] == server.port
    assert request.attributes["http.response.status_code"] == 200


async def test_the_look_up_of_a_lost_push_is_traced_under_the_push(telemetry: Telemetry) -> None:
    """A push whose answer was lost: the look-ups that find its batch are children of the
    push span, which ends with the found batch id and no resend."""
    async with connected(faults=[Fault("reset", at=(1,))]) as env:
        telemetry.instrument(env.client)
        batch_id = await env.client.push("address", list(addresses(3)))
        assert env.sandbox.ledger.receive_count("address", "A0") == 1
    (push,) = telemetry.spans("buildingminds.push")
    assert push.attributes["buildingminds.batch_id"] == batch_id
    assert push.attributes["http.request.resend_count"] == 0
    under = [s for s in _api_spans(telemetry) if _descends(s, push, telemetry.spans())]
    methods = [s.attributes["http.request.method"] for s in under]
    assert methods[0] == "POST"
    assert under[0].attributes.get("error.type")  # the lost answer
    assert "GET" in methods[1:]  # the look-up
    assert methods.count("POST") == 1  # not sent again


def _descends(span: ReadableSpan, ancestor: ReadableSpan, spans: list[ReadableSpan]) -> bool:
    by_id = {s.context.span_id: s for s in spans}
    parent = span.parent
    while parent is not None:
        if parent.span_id == ancestor.context.span_id:
            return True
        above = by_id.get(parent.span_id)
        parent = above.parent if above is not None else None
    return False
