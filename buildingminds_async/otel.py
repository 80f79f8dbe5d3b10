"""OpenTelemetry for a client (extra ``[otel]``): spans of runs, pushes, polls and requests,
and metrics of requests, 429s, retries, records and batch latency.

```python
from buildingminds_async.otel import instrument

client = AsyncClient()
instrument(client)             # the global tracer and meter providers, or pass your own
```

Spans nest through the caller's context: ``buildingminds.onboard`` (a bulk run) under
whatever span the caller had open, ``buildingminds.push`` (entity, records, bytes, batch
id, ``http.request.resend_count``) and ``buildingminds.poll`` (a status read) under it,
and one CLIENT span per HTTP request under those (``http.request.method``, ``url.full``,
``server.address``, ``server.port``, ``http.response.status_code``, ``error.type``).
The client opens the HTTP spans itself, so they exist with any transport (the default,
``http_backend="aiohttp"``, the sandbox's): do not also install the global httpx2
instrumentor on this client, or requests are traced twice.

Metrics (meter ``buildingminds_async``): ``buildingminds.requests`` (by
``http.response.status_code``, or ``error.type``), ``buildingminds.rate_limited``,
``buildingminds.retries`` (by ``buildingminds.retry.what``), ``buildingminds.records``
(finished records by ``buildingminds.record.status``: completed, failed) and
``buildingminds.batch.duration`` (seconds from a batch's acceptance to its last record's
final status).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

try:
    from opentelemetry import metrics, trace
except ImportError as exc:  # pragma: no cover - exercised without the extra only
    raise ImportError(
        "buildingminds_async.otel needs OpenTelemetry: pip install 'buildingminds-async[otel]'"
    ) from exc

import httpx2

from ._client import AsyncClient
from ._events import (
    BatchAcceptedEvent,
    BatchFinishedEvent,
    EventHooks,
    RateLimitedEvent,
    RequestEvent,
    RetryEvent,
)
from ._tracing import Attributes
from ._version import __version__

__all__ = ["instrument"]

_SCOPE = "buildingminds_async"


def instrument(
    client: AsyncClient,
    *,
    tracer_provider: trace.TracerProvider | None = None,
    meter_provider: metrics.MeterProvider | None = None,
) -> None:
    """Trace and measure everything ``client`` does from now on (see the module docstring)."""
    telemetry = _Telemetry(
        trace.get_tracer(_SCOPE, __version__, tracer_provider=tracer_provider),
        metrics.get_meter(_SCOPE, __version__, meter_provider=meter_provider),
        client.clock,
    )
    client._instrument(telemetry)


class _Telemetry:
    """The ``Tracing`` of an instrumented client: OpenTelemetry spans and instruments."""

    def __init__(
        self, tracer: trace.Tracer, meter: metrics.Meter, clock: Callable[[], float]
    ) -> None:
        self._tracer = tracer
        self._clock = clock
        self._requests = meter.create_counter(
            "buildingminds.requests", unit="{request}", description="HTTP requests by outcome"
        )
        self._rate_limited = meter.create_counter(
            "buildingminds.rate_limited", unit="{response}", description="429 answers"
        )
        self._retries = meter.create_counter(
            "buildingminds.retries", unit="{retry}", description="Requests tried again"
        )
        self._records = meter.create_counter(
            "buildingminds.records", unit="{record}", description="Records by final status"
        )
        self._batch_duration = meter.create_histogram(
            "buildingminds.batch.duration",
            unit="s",
            description="From a batch's acceptance to its last record's final status",
        )
        self._accepted_at: dict[str, float] = {}
        self.hooks: EventHooks | None = EventHooks(
            on_request=self._request,
            on_retry=self._retry,
            on_rate_limited=self._limited,
            on_batch_accepted=self._accepted,
            on_batch_finished=self._finished,
        )

    @contextlib.contextmanager
    def span(self, name: str, attributes: Attributes) -> Iterator[trace.Span]:
        with self._tracer.start_as_current_span(name, attributes=dict(attributes)) as span:
            yield span

    @contextlib.contextmanager
    def http(self, method: str, url: httpx2.URL) -> Iterator[trace.Span]:
        attributes: dict[str, str | int] = {
            "http.request.method": method,
            "url.full": str(url),
            "server.address": url.host,
        }
        if url.port is not None:
            attributes["server.port"] = url.port
        with self._tracer.start_as_current_span(
            method, kind=trace.SpanKind.CLIENT, attributes=attributes
        ) as span:
            yield span

    def _request(self, event: RequestEvent) -> None:
        if event.status_code is not None:
            self._requests.add(1, {"http.response.status_code": event.status_code})
        else:
            self._requests.add(1, {"error.type": event.error or "unknown"})

    def _retry(self, event: RetryEvent) -> None:
        self._retries.add(1, {"buildingminds.retry.what": event.what})

    def _limited(self, event: RateLimitedEvent) -> None:
        self._rate_limited.add(1)

    def _accepted(self, event: BatchAcceptedEvent) -> None:
        self._accepted_at[event.batch_id] = self._clock()

    def _finished(self, event: BatchFinishedEvent) -> None:
        if event.completed:
            self._records.add(event.completed, {"buildingminds.record.status": "completed"})
        if event.failed:
            self._records.add(event.failed, {"buildingminds.record.status": "failed"})
        accepted_at = self._accepted_at.pop(event.batch_id, None)
        if accepted_at is not None:
            self._batch_duration.record(
                self._clock() - accepted_at, {"buildingminds.entity": event.entity}
            )
