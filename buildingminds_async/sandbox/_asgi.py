"""ASGI plumbing of the sandbox: one request and the means to answer it, and the faults
that act on the wire.

``Request`` reads a body (bounded), answers once in JSON, breaks the connection (the
reset fault) or holds the answer while watching for the client to leave (the slow fault).
The handlers (``_api``, ``_token_endpoint``, ``_admin``) answer through it; ``_app``
routes to them.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import parse_qsl

import anyio

from ._faults import Fault

if TYPE_CHECKING:
    from ._state import SandboxState

Scope = MutableMapping[str, Any]
AsgiMessage = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[AsgiMessage]]
Send = Callable[[AsgiMessage], Awaitable[None]]
Holds = dict[int, set[anyio.CancelScope]]
"""Cancel scopes of the answers the slow fault holds, per server thread."""

# Scope extension set by the in-process transport: a dict the app writes the fault of
# the request into, so the transport can raise the matching httpx error.
INPROCESS_KEY: Final = "buildingminds_async.sandbox"

REASONS: Final = {
    400: "Request validation failed",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Payload Too Large",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


class InjectedReset(Exception):
    """Raised inside the server to break a connection on purpose (the reset fault)."""


class ClientGone(Exception):
    """The client disconnected while its request was being read."""


class _UvicornResetFilter(logging.Filter):
    """Drops uvicorn's report of the connections the reset fault breaks on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, InjectedReset)


_filter_lock = threading.Lock()
_filter_installed = False


def silence_injected_resets() -> None:
    """Install (once per process) the filter that keeps injected resets out of the log."""
    global _filter_installed
    with _filter_lock:
        if not _filter_installed:
            logging.getLogger("uvicorn.error").addFilter(_UvicornResetFilter())
            _filter_installed = True


_fast_loads: Callable[[bytes], Any]
try:  # the [sandbox] extra installs orjson: about 3x faster on a push body
    from orjson import loads as _fast_loads
except ImportError:  # pragma: no cover - exercised without the extra
    _fast_loads = json.loads


def loads(body: bytes) -> Any:
    """Strict JSON: ``json.loads``, with orjson's speed when installed and json's verdict
    always, and ``NaN`` / ``Infinity`` refused as the JSON standard does.

    orjson refuses a few documents json accepts (integers beyond 64 bits, UTF-16 text);
    those, and the invalid ones whose error message json words, go to json.
    """
    try:
        return _fast_loads(body)
    except ValueError:
        return json.loads(body, parse_constant=_no_constant)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number (RFC 8259); send a number or null")


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


class Request:
    """One HTTP exchange: what was asked, and the means to answer it once."""

    __slots__ = (
        "ctx", "extra_headers", "holds", "params", "receive", "request_id", "scope", "send",
        "started", "state",
    )  # fmt: skip

    def __init__(
        self, state: SandboxState, holds: Holds, scope: Scope, receive: Receive, send: Send
    ) -> None:
        self.state = state
        self.holds = holds
        self.scope = scope
        self.receive = receive
        self.send = send
        extensions = scope.get("extensions") or {}
        self.ctx: dict[str, Any] | None = extensions.get(INPROCESS_KEY)
        self.params: dict[str, str] = {}
        self.request_id = ""
        self.started = False
        self.extra_headers: tuple[tuple[str, str], ...] = ()
        """Sent with whatever answer follows (the rate limiter's headers)."""

    def header(self, name: bytes) -> str | None:
        """A request header by its lowercase name (ASGI servers lowercase header names)."""
        for key, value in self.scope.get("headers", ()):
            if key == name:
                return bytes(value).decode("latin-1")
        return None

    def media_type(self) -> str:
        """The Content-Type without its parameters, lowercase ("" when there is none)."""
        return (self.header(b"content-type") or "").split(";")[0].strip().lower()

    def query(self) -> dict[str, str]:
        """The query parameters (the first value of a repeated one)."""
        raw = self.scope.get("query_string", b"").decode("latin-1")
        out: dict[str, str] = {}
        for key, value in parse_qsl(raw, keep_blank_values=True):
            out.setdefault(key, value)
        return out

    async def body(self, limit: int | None) -> bytes | None:
        """The whole body, or None when it is longer than ``limit`` (then drained)."""
        message = await self.receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        if not message.get("more_body", False):  # the usual case: the body in one message
            body = message.get("body", b"")
            if limit is not None and len(body) > limit:
                return None
            return body if type(body) is bytes else bytes(body)
        return await self._body_chunks(message, limit)

    async def _body_chunks(self, message: AsgiMessage, limit: int | None) -> bytes | None:
        """`body` when it comes in several messages, from the first one."""
        chunks: list[bytes] = []
        size = 0
        over = False
        while True:
            chunk = message.get("body", b"")
            if not over:
                size += len(chunk)
                if limit is not None and size > limit:
                    over = True
                    chunks.clear()
                else:
                    chunks.append(chunk)
            if not message.get("more_body", False):
                break
            message = await self.receive()
            if message["type"] == "http.disconnect":
                raise ClientGone
        return None if over else b"".join(chunks)

    async def respond(
        self,
        status: int,
        payload: Any,
        headers: tuple[tuple[str, str], ...] = (),
    ) -> None:
        await self.respond_raw(status, dumps(payload), headers)

    async def respond_raw(
        self, status: int, body: bytes, headers: tuple[tuple[str, str], ...] = ()
    ) -> None:
        """`respond` with a body already encoded as JSON."""
        raw_headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]
        if self.request_id:
            raw_headers.append((b"x-request-id", self.request_id.encode()))
        for k, v in (*self.extra_headers, *headers):
            raw_headers.append((k.encode("latin-1"), v.encode("latin-1")))
        self.started = True
        self.state.response(status)
        await self.send({"type": "http.response.start", "status": status, "headers": raw_headers})
        await self.send({"type": "http.response.body", "body": body})

    async def error(
        self,
        status: int,
        message: str,
        *,
        details: list[dict[str, str]] | None = None,
        headers: tuple[tuple[str, str], ...] = (),
    ) -> None:
        payload: dict[str, Any] = {"error": REASONS.get(status, "Error"), "message": message}
        if details:
            payload["details"] = details
        await self.respond(status, payload, headers)

    async def invalid(self, message: str, parameter: str | None = None) -> None:
        details = [{"parameter": parameter, "message": message}] if parameter else None
        await self.error(400, message, details=details)

    async def break_connection(self) -> None:
        """The reset fault: over a socket, send headers then drop the connection.

        In process, only note it: the transport raises the httpx error a client would
        see, after the app has answered normally.
        """
        if self.ctx is not None:
            self.ctx["fault"] = "reset"
            return
        self.started = True
        await self.send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", b"1024"),
                ],
            }
        )
        raise InjectedReset("connection reset by the sandbox (injected fault)")

    async def hold(self, delay: float) -> bool:
        """The slow fault: wait ``delay`` before answering; False when the client left."""
        if self.ctx is not None:
            self.ctx["fault"] = "slow"
            self.ctx["delay"] = delay
            return True
        with anyio.CancelScope() as scope:
            holds = self.holds.setdefault(threading.get_ident(), set())
            holds.add(scope)
            try:
                with anyio.move_on_after(delay):
                    while True:
                        message = await self.receive()
                        if message["type"] == "http.disconnect":
                            return False
            finally:
                holds.discard(scope)
        return True


Handler = Callable[[Request], Awaitable[None]]


async def status_fault(req: Request, fault: Fault) -> None:
    """Answer with the injected status (a 429 with ``Retry-After: 1`` unless told)."""
    headers: tuple[tuple[str, str], ...] = ()
    retry_after = fault.retry_after
    if fault.kind == "429" and retry_after is None:
        retry_after = 1
    if retry_after is not None:
        headers = (("retry-after", str(retry_after)),)
    status = int(fault.kind)
    await req.error(status, f"{REASONS[status]} (injected fault)", headers=headers)


async def after_fault(req: Request, fault: Fault | None) -> bool:
    """Apply a reset or slow fault after the work is done; False if nothing to send."""
    if fault is None:
        return True
    if fault.kind == "reset":
        await req.break_connection()
        return True
    if fault.kind == "slow":
        return await req.hold(fault.delay)
    return True


async def method_not_allowed(req: Request, handlers: dict[str, Handler]) -> None:
    allowed = ", ".join(sorted(handlers))
    await req.error(
        405,
        f"Method {req.scope['method']} is not allowed on {req.scope['path']}; use {allowed}",
        headers=(("allow", allowed),),
    )


async def lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
