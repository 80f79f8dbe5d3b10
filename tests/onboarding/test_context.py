"""The caller's context (contextvars: a tracing span, a request id) reaches the transport.

Instrumentation such as OpenTelemetry finds its parent span in a context variable: a
request sent from a task other than the caller's (a pool of sender tasks, say) would lose
it. These tests hold the SDK to sending each request in its caller's context, for
``push()``, for many concurrent callers, and for the pushes and polls of ``onboard()``.
"""

from __future__ import annotations

import contextvars
import json

import anyio
import httpx2
import pytest
from onboarding_support import addresses, connected, portfolio

pytestmark = pytest.mark.looptime

PARENT: contextvars.ContextVar[str | None] = contextvars.ContextVar("PARENT", default=None)


async def test_many_concurrent_callers_each_send_in_their_own_context() -> None:
    """64 tasks share one client (8 in flight); each push sees its own caller's value."""
    seen: list[tuple[str, str | None]] = []

    def observe(request: httpx2.Request) -> None:
        if request.method == "POST" and "oauth2" not in request.url.path:
            seen.append((json.loads(request.content)[0]["addressId"], PARENT.get()))

    async with connected(rewrite=observe) as env:

        async def caller(i: int) -> None:
            PARENT.set(f"caller-{i}")
            await env.client.push("address", list(addresses(1, prefix=f"{i}-")))

        async with anyio.create_task_group() as tg:
            for i in range(64):
                tg.start_soon(caller, i)
    assert len(seen) == 64
    assert all(value == f"caller-{record_id.split('-')[0]}" for record_id, value in seen), seen


async def test_onboard_sends_its_pushes_and_polls_in_the_callers_context() -> None:
    """Every request of a bulk run (pushes, status polls) carries the context the run was
    started in, though the run spreads them over tasks of its own."""
    seen: set[tuple[str, str | None]] = set()

    def observe(request: httpx2.Request) -> None:
        if "oauth2" not in request.url.path:
            seen.add((request.method, PARENT.get()))

    async with connected(rewrite=observe, processing_delay=2.0) as env:
        PARENT.set("the-job")
        report = await env.client.onboard(portfolio(2_000), chunk_size=100)
    assert report.ok
    assert seen == {("POST", "the-job"), ("GET", "the-job")}
