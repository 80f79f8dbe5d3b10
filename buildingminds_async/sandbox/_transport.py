"""The in-process transport: the sandbox without a socket, faults included.

`httpx2.ASGITransport` runs the app in the caller's task and has no connection to break
and no clock to run out, so the two faults that live on the wire are translated here:
a reset becomes `httpx2.RemoteProtocolError` (after the push was stored, as over a
socket), and a slow answer becomes `httpx2.ReadTimeout` when it is held at least as long
as the request's read timeout. Time passes through the sandbox's injected ``sleep``, so a
test with a fake clock never really waits.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

import httpx2

from ._asgi import INPROCESS_KEY

if TYPE_CHECKING:
    from ._app import SandboxApp
    from ._asgi import Receive, Scope, Send

__all__ = ["SandboxTransport"]

# ASGITransport awaits the app in the caller's task, so a context variable carries the
# per-request fault slot from the transport into the app's scope.
_fault_slot: ContextVar[dict[str, Any] | None] = ContextVar(
    "buildingminds_sandbox_fault_slot", default=None
)


class SandboxTransport(httpx2.AsyncBaseTransport):
    """An `httpx2.AsyncBaseTransport` that serves requests from a sandbox, in process."""

    def __init__(self, app: SandboxApp, sleep: Callable[[float], Awaitable[Any]]) -> None:
        self._sleep = sleep

        async def in_process(scope: Scope, receive: Receive, send: Send) -> None:
            slot = _fault_slot.get()
            if slot is not None:
                scope["extensions"] = {**(scope.get("extensions") or {}), INPROCESS_KEY: slot}
            await app(scope, receive, send)

        self._asgi = httpx2.ASGITransport(app=in_process, client=("127.0.0.1", 50000))

    def __repr__(self) -> str:
        return "<SandboxTransport in-process>"

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        slot: dict[str, Any] = {}
        token = _fault_slot.set(slot)
        try:
            response = await self._asgi.handle_async_request(request)
        finally:
            _fault_slot.reset(token)
        fault = slot.get("fault")
        if fault == "reset":
            await response.aclose()
            raise httpx2.RemoteProtocolError(
                "Server disconnected without sending a complete response "
                "(connection reset by the sandbox after the request was handled)",
                request=request,
            )
        if fault == "slow":
            delay = float(slot.get("delay", 0.0))
            timeout = request.extensions.get("timeout", {}).get("read")
            if timeout is not None and delay >= timeout:
                await self._sleep(timeout)
                await response.aclose()
                raise httpx2.ReadTimeout(
                    "timed out waiting for the response (held by the sandbox's slow fault)",
                    request=request,
                )
            await self._sleep(delay)
        return response

    async def aclose(self) -> None:
        await self._asgi.aclose()
