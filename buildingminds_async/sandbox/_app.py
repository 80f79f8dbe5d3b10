"""The sandbox as an ASGI application: routing, the handlers, and the faults on the wire.

A plain ASGI callable rather than a framework app: the reset fault must break the
connection after the response has started, the slow fault must hold a response while
watching for the client to leave, and the hot path (a push of hundreds of records)
should cost no more than parsing and validating them.

Order of the checks on an entity POST, each answered before the next is tried:
bearer token (401) -> rate limit (429) -> body size (413) -> JSON array (400) ->
record count (413) -> injected fault (5xx, 429 before storing) -> store, Batch ID ->
injected fault after storing (reset, slow) -> 200 ``{"batchId": ...}``.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import parse_qsl, unquote_plus

import anyio

from ._config import API_BASE_PATH, DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT, SandboxConfig
from ._entities import EntityRule, check_records
from ._faults import STATUS_FAULTS, Fault
from ._state import STATUSES, Batch, Message, SandboxState

if TYPE_CHECKING:
    from ._sandbox import Sandbox

__all__ = ["INPROCESS_KEY", "InjectedReset", "SandboxApp"]

logger = logging.getLogger("buildingminds_async.sandbox")

Scope = MutableMapping[str, Any]
AsgiMessage = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[AsgiMessage]]
Send = Callable[[AsgiMessage], Awaitable[None]]

# Scope extension set by the in-process transport: a dict the app writes the fault of
# the request into, so the transport can raise the matching httpx error.
INPROCESS_KEY: Final = "buildingminds_async.sandbox"

_TOKEN_PATH = re.compile(r"^/(?P<tenant>[^/]+)/oauth2/v2\.0/token$")
_INBOUND_PATH = re.compile(rf"^{re.escape(API_BASE_PATH)}/batch/(?P<batch_id>[^/]+)/inbound$")
_ADMIN_ENTITY_PATH = re.compile(r"^/_sandbox/ledger/(?P<what>stored|received)/(?P<entity>[^/]+)$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_UINT = re.compile(r"^\d{1,9}$")
_MAX_FORM_BYTES: Final = 64 * 1024
_MAX_ADMIN_BYTES: Final = 1024 * 1024

_REASONS: Final = {
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


class _ClientGone(Exception):
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


def _loads(body: bytes) -> Any:
    """``json.loads``, with orjson's speed when installed and json's verdict always.

    orjson refuses a few documents json accepts (integers beyond 64 bits, UTF-16 text);
    those, and the invalid ones whose error message json words, go to json.
    """
    try:
        return _fast_loads(body)
    except ValueError:
        return json.loads(body)


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


class _Request:
    """One HTTP exchange: what was asked, and the means to answer it once."""

    __slots__ = ("app", "ctx", "params", "receive", "request_id", "scope", "send", "started")

    def __init__(self, app: SandboxApp, scope: Scope, receive: Receive, send: Send) -> None:
        self.app = app
        self.scope = scope
        self.receive = receive
        self.send = send
        extensions = scope.get("extensions") or {}
        self.ctx: dict[str, Any] | None = extensions.get(INPROCESS_KEY)
        self.params: dict[str, str] = {}
        self.request_id = ""
        self.started = False

    def header(self, name: bytes) -> str | None:
        """A request header by its lowercase name (ASGI servers lowercase header names)."""
        for key, value in self.scope.get("headers", ()):
            if key == name:
                return bytes(value).decode("latin-1")
        return None

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
            raise _ClientGone
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
                raise _ClientGone
        return None if over else b"".join(chunks)

    async def respond(
        self,
        status: int,
        payload: Any,
        headers: tuple[tuple[str, str], ...] = (),
    ) -> None:
        await self.respond_raw(status, _dumps(payload), headers)

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
        if headers:
            raw_headers.extend((k.encode("latin-1"), v.encode("latin-1")) for k, v in headers)
        self.started = True
        self.app.state.response(status)
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
        payload: dict[str, Any] = {"error": _REASONS.get(status, "Error"), "message": message}
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
            holds = self.app.holds.setdefault(threading.get_ident(), set())
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


Handler = Callable[[_Request], Awaitable[None]]


class SandboxApp:
    """The ASGI callable of one sandbox (``sandbox.app``)."""

    def __init__(self, sandbox: Sandbox, state: SandboxState) -> None:
        self.sandbox = sandbox
        self.state = state
        # Cancel scopes of responses held by the slow fault, per server thread, so a
        # server can release them when it stops instead of waiting them out.
        self.holds: dict[int, set[anyio.CancelScope]] = {}
        self._openapi: bytes | None = None
        # Path -> (route template, handler per method).
        self._static: dict[str, tuple[str, dict[str, Handler]]] = {}
        for rule in state.rules.values():
            self._static[API_BASE_PATH + rule.path] = (
                rule.path,
                {"POST": self._push_handler(rule)},
            )
        self._static[API_BASE_PATH + "/batch"] = ("/batch", {"GET": self._list_batches})
        self._static["/openapi.json"] = ("/openapi.json", {"GET": self._openapi_doc})
        self._admin: dict[str, dict[str, Handler]] = {
            "/_sandbox/ledger": {"GET": self._admin_ledger},
            "/_sandbox/ledger/batches": {"GET": self._admin_batches},
            "/_sandbox/config": {"GET": self._admin_config, "POST": self._admin_configure},
            "/_sandbox/faults": {
                "GET": self._admin_faults,
                "POST": self._admin_add_faults,
                "DELETE": self._admin_clear_faults,
            },
            "/_sandbox/revoke-tokens": {"POST": self._admin_revoke},
            "/_sandbox/reset": {"POST": self._admin_reset},
        }

    def release_holds(self) -> None:
        """End the slow responses held in this thread's event loop (server shutdown)."""
        for scope in list(self.holds.pop(threading.get_ident(), ())):
            scope.cancel()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await _lifespan(receive, send)
            return
        if kind != "http":
            return
        req = _Request(self, scope, receive, send)
        try:
            await self._dispatch(req)
        except InjectedReset:
            raise
        except _ClientGone:
            return
        except Exception:
            logger.exception("sandbox: unexpected error on %s %s", scope["method"], scope["path"])
            self.state.count("unexpected_errors")
            if not req.started:
                await req.error(500, "Unexpected error in the sandbox (not an injected fault)")

    async def _dispatch(self, req: _Request) -> None:
        method = req.scope["method"]
        path = req.scope["path"]
        state = self.state
        static = self._static.get(path)
        if static is not None:
            template, handlers = static
        elif match := _INBOUND_PATH.match(path):
            template, handlers = "/batch/{batchId}/inbound", {"GET": self._list_messages}
            req.params["batch_id"] = match["batch_id"]  # ASGI paths arrive decoded
        elif match := _TOKEN_PATH.match(path):
            template, handlers = "/{tenant}/oauth2/v2.0/token", {"POST": self._token}
            req.params["tenant"] = match["tenant"]
        elif path.startswith("/_sandbox/"):
            await self._dispatch_admin(req, method, path)
            return
        else:
            req.request_id = state.request("unmatched", api=False)
            await req.error(404, f"No such endpoint: {path}")
            return
        req.request_id = state.request(f"{method} {template}", api=template != "/openapi.json")
        handler = handlers.get(method)
        if handler is None:
            await _method_not_allowed(req, handlers)
            return
        await handler(req)

    async def _dispatch_admin(self, req: _Request, method: str, path: str) -> None:
        handlers = self._admin.get(path)
        if handlers is None and (match := _ADMIN_ENTITY_PATH.match(path)):
            req.params["what"] = match["what"]
            req.params["entity"] = match["entity"]
            handlers = {"GET": self._admin_entity}
        if handlers is None:
            await req.error(404, f"No such sandbox admin endpoint: {path}")
            return
        handler = handlers.get(method)
        if handler is None:
            await _method_not_allowed(req, handlers)
            return
        await handler(req)

    # -- common checks ----------------------------------------------------------------------

    async def _authenticate(self, req: _Request) -> str | None:
        """The client of a valid bearer token, or None once the 401 is sent."""
        verdict, client_id = self.state.check_token(req.header(b"authorization"))
        if verdict == "ok":
            return client_id
        self.state.count("unauthorized")
        if verdict == "missing":
            message = "Missing bearer token: send 'Authorization: Bearer <access token>'"
            challenge = 'Bearer realm="buildingminds-sandbox"'
        else:
            message = {
                "unknown": "The access token is not valid: request a new token",
                "revoked": "The access token was revoked: request a new token",
                "expired": "The access token has expired: request a new token",
            }[verdict]
            challenge = f'Bearer error="invalid_token", error_description="{message}"'
        await req.error(401, message, headers=(("www-authenticate", challenge),))
        return None

    async def _admit(self, req: _Request, *, push: bool) -> str | None:
        """Token and rate limit; the client id, or None once the refusal is sent."""
        client_id = await self._authenticate(req)
        if client_id is None:
            return None
        retry_after = self.state.take_rate(client_id, push=push)
        if retry_after is not None:
            rate = self.state.config.rate_limit
            await req.error(
                429,
                f"Rate limit of {rate:g} requests per second exceeded: retry after {retry_after} s",
                headers=(("retry-after", str(retry_after)),),
            )
            return None
        return client_id

    async def _status_fault(self, req: _Request, fault: Fault) -> None:
        headers: tuple[tuple[str, str], ...] = ()
        retry_after = fault.retry_after
        if fault.kind == "429" and retry_after is None:
            retry_after = 1
        if retry_after is not None:
            headers = (("retry-after", str(retry_after)),)
        status = int(fault.kind)
        await req.error(status, f"{_REASONS[status]} (injected fault)", headers=headers)

    async def _after_fault(self, req: _Request, fault: Fault | None) -> bool:
        """Apply a reset or slow fault after the work is done; False if nothing to send."""
        if fault is None:
            return True
        if fault.kind == "reset":
            await req.break_connection()
            return True
        if fault.kind == "slow":
            return await req.hold(fault.delay)
        return True

    # -- entity POSTs -----------------------------------------------------------------------

    def _push_handler(self, rule: EntityRule) -> Handler:
        async def handler(req: _Request) -> None:
            await self._push(req, rule)

        return handler

    async def _push(self, req: _Request, rule: EntityRule) -> None:
        state = self.state
        state.count("pushes")
        client_id = await self._admit(req, push=True)
        if client_id is None:
            return
        config = state.config
        body = await req.body(config.max_body_bytes)
        if body is None:
            state.count("too_large")
            await req.error(
                413, f"The body is larger than the limit of {config.max_body_bytes} bytes"
            )
            return
        try:
            records = _loads(body)
        except (ValueError, RecursionError) as exc:
            state.count("bad_requests")
            await req.invalid(f"The body is not valid JSON: {exc}", "body")
            return
        if not isinstance(records, list):
            state.count("bad_requests")
            await req.invalid(
                f"The body must be a JSON array of {rule.name} records, got {_json_kind(records)}",
                "body",
            )
            return
        if not records:
            state.count("bad_requests")
            await req.invalid("The body is an empty array: send at least one record", "body")
            return
        if config.max_records is not None and len(records) > config.max_records:
            state.count("too_large")
            await req.error(
                413,
                f"{len(records)} records in one request; the limit is {config.max_records}",
            )
            return
        fault = state.draw_fault("push")
        if fault is not None and fault.kind in STATUS_FAULTS:
            await self._status_fault(req, fault)
            return
        verdicts = check_records(rule, records)
        batch_id = state.store_batch(rule, records, verdicts, client_id or "")
        if fault is None or await self._after_fault(req, fault):
            # Encoded by hand: a Batch ID is hex digits and dashes.
            await req.respond_raw(200, b'{"batchId":"%s"}' % batch_id.encode())

    # -- batch endpoints --------------------------------------------------------------------

    async def _page(self, req: _Request, query: dict[str, str]) -> tuple[int, int] | None:
        skip, limit = 0, DEFAULT_PAGE_LIMIT
        raw = query.get("skip")
        if raw is not None:
            if not _UINT.match(raw):
                await req.invalid("skip must be an integer >= 0", "skip")
                return None
            skip = int(raw)
        raw = query.get("limit")
        if raw is not None:
            if not _UINT.match(raw) or not 1 <= int(raw) <= MAX_PAGE_LIMIT:
                await req.invalid(f"limit must be an integer from 1 to {MAX_PAGE_LIMIT}", "limit")
                return None
            limit = int(raw)
        return skip, limit

    async def _list_batches(self, req: _Request) -> None:
        if await self._admit(req, push=False) is None:
            return
        query = req.query()
        dates: dict[str, tuple[int, int, int]] = {}
        for name in ("createdFrom", "createdTo", "createdAt"):
            raw = query.get(name)
            if raw is None:
                continue
            parsed = _parse_date(raw)
            if parsed is None:
                await req.invalid(f"{name} must be a date as yyyy-mm-dd, got {raw!r}", name)
                return
            dates[name] = parsed
        page = await self._page(req, query)
        if page is None:
            return
        fault = self.state.draw_fault("batch")
        if fault is not None and fault.kind in STATUS_FAULTS:
            await self._status_fault(req, fault)
            return
        skip, limit = page
        batch_id = query.get("batchId", query.get("id"))
        state = self.state
        with state.lock:
            state.advance()
            if batch_id is not None:
                one = state.batches.get(batch_id)
                candidates: list[Batch] = [one] if one is not None else []
            else:
                candidates = state.batch_order
            if dates:
                candidates = [b for b in candidates if _date_matches(state, b, dates)]
            total = len(candidates)
            data = [self.sandbox.batch_json(b) for b in candidates[skip : skip + limit]]
        if await self._after_fault(req, fault):
            await req.respond(
                200, {"message": f"{total} batch(es) found", "totalCount": total, "data": data}
            )

    async def _list_messages(self, req: _Request) -> None:
        if await self._admit(req, push=False) is None:
            return
        query = req.query()
        status = query.get("status")
        if status is not None and status not in STATUSES:
            await req.invalid(
                f"status must be one of {', '.join(STATUSES)}, got {status!r}", "status"
            )
            return
        missing: bool | None = None
        raw = query.get("missingDependencies")
        if raw is not None:
            if raw.lower() not in ("true", "false"):
                await req.invalid(
                    f"missingDependencies must be true or false, got {raw!r}",
                    "missingDependencies",
                )
                return
            missing = raw.lower() == "true"
        page = await self._page(req, query)
        if page is None:
            return
        fault = self.state.draw_fault("batch")
        if fault is not None and fault.kind in STATUS_FAULTS:
            await self._status_fault(req, fault)
            return
        skip, limit = page
        state = self.state
        batch_id = req.params["batch_id"]
        with state.lock:
            state.advance()
            batch = state.batches.get(batch_id)
            if batch is not None:
                messages: list[Message] = batch.messages
                if status is not None:
                    messages = [m for m in messages if m.status == status]
                if missing is not None:
                    messages = [m for m in messages if bool(m.missing) is missing]
                total = len(messages)
                data = [self.sandbox.message_json(m) for m in messages[skip : skip + limit]]
        if batch is None:
            state.count("not_found")
            await req.error(404, f"Batch {batch_id!r} does not exist")
            return
        if await self._after_fault(req, fault):
            await req.respond(
                200,
                {"message": f"{total} inbound message(s) found", "totalCount": total, "data": data},
            )

    # -- token endpoint ---------------------------------------------------------------------

    async def _token(self, req: _Request) -> None:
        state = self.state
        sandbox = self.sandbox
        state.count("token_requests")
        fault = state.draw_fault("token")
        if fault is not None and fault.kind in STATUS_FAULTS:
            status = int(fault.kind)
            retry_after = fault.retry_after if fault.retry_after is not None else 1
            headers = (("retry-after", str(retry_after)),) if status in (429, 503) else ()
            error = "temporarily_unavailable" if status in (429, 503) else "server_error"
            await self._entra_error(
                req, status, error, 50196 if status == 429 else 90033,
                f"The service is temporarily unavailable (injected HTTP {status}).",
                headers,
            )  # fmt: skip
            return
        tenant = req.params["tenant"]
        if tenant.lower() != sandbox.tenant.lower():
            await self._entra_error(
                req, 400, "invalid_request", 90002,
                f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant "
                f"ID and are signing into the correct cloud.",
            )  # fmt: skip
            return
        body = await req.body(_MAX_FORM_BYTES)
        content_type = (req.header(b"content-type") or "").split(";")[0].strip().lower()
        form: dict[str, str] = {}
        if body is not None and content_type == "application/x-www-form-urlencoded":
            for key, value in parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True):
                form.setdefault(key, value)
        client_id = form.get("client_id")
        client_secret = form.get("client_secret")
        basic = _basic_credentials(req.header(b"authorization"))
        if basic is not None:
            client_id, client_secret = basic
        grant_type = form.get("grant_type")
        if not grant_type:
            await self._missing_parameter(req, "grant_type")
            return
        if grant_type != "client_credentials":
            await self._entra_error(
                req, 400, "unsupported_grant_type", 70003,
                f"The app requested an unsupported grant type '{grant_type}'.",
            )  # fmt: skip
            return
        if not client_id:
            await self._missing_parameter(req, "client_id")
            return
        if client_id != sandbox.client_id:
            await self._entra_error(
                req, 400, "unauthorized_client", 700016,
                f"Application with identifier '{client_id}' was not found in the directory "
                f"'{sandbox.tenant}'.",
            )  # fmt: skip
            return
        scope = form.get("scope")
        if not scope:
            await self._missing_parameter(req, "scope")
            return
        if not scope.endswith("/.default") or " " in scope.strip():
            await self._entra_error(
                req, 400, "invalid_scope", 1002012,
                f"The provided value for scope {scope} is not valid. Client credential flows "
                f"must have a scope value with /.default suffixed to the resource identifier "
                f"(application ID URI).",
            )  # fmt: skip
            return
        resource = scope[: -len("/.default")].rstrip("/")
        if resource != sandbox.scope.rstrip("/"):
            await self._entra_error(
                req, 400, "invalid_resource", 500011,
                f"The resource principal named {resource} was not found in the tenant named "
                f"{sandbox.tenant}.",
            )  # fmt: skip
            return
        if not client_secret:
            await self._entra_error(
                req, 401, "invalid_client", 7000218,
                "The request body must contain the following parameter: 'client_assertion' "
                "or 'client_secret'.",
            )  # fmt: skip
            return
        slot = state.check_secret(client_secret)
        if slot == "wrong":
            await self._entra_error(
                req, 401, "invalid_client", 7000215,
                "Invalid client secret provided. Ensure the secret being sent in the request "
                f"is the client secret value, not the client secret ID, for a secret added to "
                f"app '{client_id}'.",
            )  # fmt: skip
            return
        if slot == "expired":
            await self._entra_error(
                req, 401, "invalid_client", 7000222,
                f"The provided client secret keys for app '{client_id}' are expired. Visit the "
                f"Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, "
                f"or consider using certificate credentials for added security: "
                f"https://aka.ms/certCreds.",
            )  # fmt: skip
            return
        token, lifetime = state.issue_token(client_id)
        if await self._after_fault(req, fault):
            await req.respond(
                200,
                {
                    "token_type": "Bearer",
                    "expires_in": lifetime,
                    "ext_expires_in": lifetime,
                    "access_token": token,
                },
                (("cache-control", "no-store"), ("pragma", "no-cache")),
            )

    async def _missing_parameter(self, req: _Request, name: str) -> None:
        await self._entra_error(
            req, 400, "invalid_request", 900144,
            f"The request body must contain the following parameter: '{name}'.",
        )  # fmt: skip

    async def _entra_error(
        self,
        req: _Request,
        status: int,
        error: str,
        code: int,
        description: str,
        headers: tuple[tuple[str, str], ...] = (),
    ) -> None:
        """An error in Microsoft Entra ID's shape (what a token client must parse)."""
        self.state.count("token_errors")
        trace_id, correlation_id = str(uuid.uuid4()), str(uuid.uuid4())
        stamp = time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(self.state.wall(self.state.now())))
        await req.respond(
            status,
            {
                "error": error,
                "error_description": f"AADSTS{code}: {description} Trace ID: {trace_id} "
                f"Correlation ID: {correlation_id} Timestamp: {stamp}",
                "error_codes": [code],
                "timestamp": stamp,
                "trace_id": trace_id,
                "correlation_id": correlation_id,
                "error_uri": f"https://login.microsoftonline.com/error?code={code}",
            },
            headers,
        )

    # -- OpenAPI ----------------------------------------------------------------------------

    async def _openapi_doc(self, req: _Request) -> None:
        if self._openapi is None:
            from ._openapi import build_openapi

            self._openapi = _dumps(build_openapi(self.sandbox))
        body = self._openapi
        req.started = True
        self.state.response(200)
        await req.send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await req.send({"type": "http.response.body", "body": body})

    # -- admin ------------------------------------------------------------------------------

    async def _admin_ledger(self, req: _Request) -> None:
        await req.respond(200, self.sandbox.ledger.to_json())

    async def _admin_batches(self, req: _Request) -> None:
        await req.respond(200, [b.to_json() for b in self.sandbox.ledger.batches()])

    async def _admin_entity(self, req: _Request) -> None:
        entity = req.params["entity"]
        if entity not in self.state.rules:
            await req.error(404, f"Unknown entity {entity!r}")
            return
        ledger = self.sandbox.ledger
        if req.params["what"] == "stored":
            await req.respond(200, ledger.stored(entity))
        else:
            await req.respond(200, ledger.receive_counts(entity))

    async def _admin_config(self, req: _Request) -> None:
        await req.respond(200, self._config_json())

    def _config_json(self) -> dict[str, Any]:
        out = self.state.config.to_json()
        out["faults"] = [f.to_json() for f in self.sandbox.faults]
        return out

    async def _admin_body(self, req: _Request) -> Any:
        body = await req.body(_MAX_ADMIN_BYTES)
        if body is None:
            raise ValueError("the body is too large")
        if not body.strip():
            return {}
        return json.loads(body)

    async def _admin_configure(self, req: _Request) -> None:
        try:
            data = await self._admin_body(req)
            if not isinstance(data, dict):
                raise ValueError("send a JSON object of settings")
            faults = data.pop("faults", None)
            changes = SandboxConfig.knobs_from_json(data)
            if faults is not None:
                changes["faults"] = [Fault.from_json(f) for f in faults]
            self.sandbox.configure(**changes)
        except (ValueError, TypeError) as exc:
            await req.invalid(str(exc))
            return
        await req.respond(200, self._config_json())

    async def _admin_faults(self, req: _Request) -> None:
        await req.respond(200, [f.to_json() for f in self.sandbox.faults])

    async def _admin_add_faults(self, req: _Request) -> None:
        try:
            data = await self._admin_body(req)
            items = data if isinstance(data, list) else [data]
            faults = [Fault.from_json(item) for item in items]
        except (ValueError, TypeError, AttributeError) as exc:
            await req.invalid(f"send a fault object or an array of them: {exc}")
            return
        self.sandbox.inject(*faults)
        await req.respond(200, [f.to_json() for f in self.sandbox.faults])

    async def _admin_clear_faults(self, req: _Request) -> None:
        self.sandbox.clear_faults()
        await req.respond(200, [])

    async def _admin_revoke(self, req: _Request) -> None:
        await req.respond(200, {"revoked": self.sandbox.revoke_tokens()})

    async def _admin_reset(self, req: _Request) -> None:
        self.sandbox.reset()
        await req.respond(200, {"reset": True})


async def _method_not_allowed(req: _Request, handlers: dict[str, Handler]) -> None:
    allowed = ", ".join(sorted(handlers))
    await req.error(
        405,
        f"Method {req.scope['method']} is not allowed on {req.scope['path']}; use {allowed}",
        headers=(("allow", allowed),),
    )


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def _json_kind(value: Any) -> str:
    if isinstance(value, dict):
        return "an object"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return "a string"
    return "a number"


def _parse_date(raw: str) -> tuple[int, int, int] | None:
    if not _DATE.match(raw):
        return None
    year, month, day = int(raw[:4]), int(raw[5:7]), int(raw[8:10])
    try:
        datetime.date(year, month, day)
    except ValueError:
        return None
    return year, month, day


def _date_matches(
    state: SandboxState, batch: Batch, dates: dict[str, tuple[int, int, int]]
) -> bool:
    day = tuple(time.gmtime(state.wall(batch.created))[:3])
    if "createdAt" in dates and day != dates["createdAt"]:
        return False
    if "createdFrom" in dates and day < dates["createdFrom"]:
        return False
    return not ("createdTo" in dates and day > dates["createdTo"])


def _basic_credentials(authorization: str | None) -> tuple[str, str] | None:
    """client_secret_basic: the client id and secret from an HTTP Basic header."""
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    if not sep:
        return None
    return unquote_plus(user), unquote_plus(password)
