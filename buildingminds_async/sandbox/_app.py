"""The sandbox as an ASGI application: the router over its handlers.

A plain ASGI callable rather than a framework app: the reset fault must break the
connection after the response has started, the slow fault must hold a response while
watching for the client to leave, and the hot path (a push of hundreds of records)
should cost no more than parsing and validating them.

```
SandboxApp (_app)  routes by path and method, counts requests, catches the unexpected
  ├─ ApiHandlers (_api)              POST /<entity>, GET /batch, GET /batch/{id}/inbound
  ├─ TokenEndpoint (_token_endpoint)  POST /{tenant}/oauth2/v2.0/token (Entra ID)
  ├─ AdminHandlers (_admin)          /_sandbox/... (ledger, config, faults, reset)
  └─ GET /openapi.json (_openapi)
each answering through a Request (_asgi), over the SandboxState (_state)
```
"""

from __future__ import annotations

import logging
import re
import threading

from ._admin import AdminHandlers, Controls
from ._api import ApiHandlers
from ._asgi import (
    INPROCESS_KEY,
    ClientGone,
    Handler,
    Holds,
    InjectedReset,
    Receive,
    Request,
    Scope,
    Send,
    dumps,
    lifespan,
    method_not_allowed,
    silence_injected_resets,
)
from ._config import API_BASE_PATH
from ._state import SandboxState
from ._token_endpoint import TokenEndpoint

__all__ = ["INPROCESS_KEY", "InjectedReset", "SandboxApp", "silence_injected_resets"]

logger = logging.getLogger("buildingminds_async.sandbox")

_TOKEN_PATH = re.compile(r"^/(?P<tenant>[^/]+)/oauth2/v2\.0/token$")
_INBOUND_PATH = re.compile(rf"^{re.escape(API_BASE_PATH)}/batch/(?P<batch_id>[^/]+)/inbound$")
_ADMIN_ENTITY_PATH = re.compile(r"^/_sandbox/ledger/(?P<what>stored|received)/(?P<entity>[^/]+)$")


class SandboxApp:
    """The ASGI callable of one sandbox (``sandbox.app``)."""

    def __init__(self, state: SandboxState, *, controls: Controls, tenant: str, scope: str) -> None:
        self.state = state
        self._tenant = tenant
        self._scope = scope
        # Cancel scopes of responses held by the slow fault, per server thread, so a
        # server can release them when it stops instead of waiting them out.
        self.holds: Holds = {}
        self._openapi: bytes | None = None
        api = ApiHandlers(state)
        self._token = TokenEndpoint(state, tenant=tenant, scope=scope)
        self._admin = AdminHandlers(state, controls)
        # Path -> (route template, handler per method).
        self._static: dict[str, tuple[str, dict[str, Handler]]] = {
            API_BASE_PATH + rule.path: (rule.path, {"POST": api.push_handler(rule)})
            for rule in state.rules.values()
        }
        self._static[API_BASE_PATH + "/batch"] = ("/batch", {"GET": api.list_batches})
        self._static["/openapi.json"] = ("/openapi.json", {"GET": self._openapi_doc})
        self._messages: dict[str, Handler] = {"GET": api.list_messages}

    def release_holds(self) -> None:
        """End the slow responses held in this thread's event loop (server shutdown)."""
        for scope in list(self.holds.pop(threading.get_ident(), ())):
            scope.cancel()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await lifespan(receive, send)
            return
        if kind != "http":
            return
        req = Request(self.state, self.holds, scope, receive, send)
        try:
            await self._dispatch(req)
        except InjectedReset:
            raise
        except ClientGone:
            return
        except Exception:
            logger.exception("sandbox: unexpected error on %s %s", scope["method"], scope["path"])
            self.state.count("unexpected_errors")
            if not req.started:
                await req.error(500, "Unexpected error in the sandbox (not an injected fault)")

    async def _dispatch(self, req: Request) -> None:
        method = req.scope["method"]
        path = req.scope["path"]
        state = self.state
        static = self._static.get(path)
        if static is not None:
            template, handlers = static
        elif match := _INBOUND_PATH.match(path):
            template, handlers = "/batch/{batchId}/inbound", self._messages
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
        handler = handlers.get(method)  # inline, not _handle: the push path is hot
        if handler is None:
            await method_not_allowed(req, handlers)
            return
        await handler(req)

    async def _dispatch_admin(self, req: Request, method: str, path: str) -> None:
        handlers = self._admin.routes.get(path)
        if handlers is None and (match := _ADMIN_ENTITY_PATH.match(path)):
            req.params["what"] = match["what"]
            req.params["entity"] = match["entity"]
            handlers = {"GET": self._admin.entity}
        if handlers is None:
            await req.error(404, f"No such sandbox admin endpoint: {path}")
            return
        await _handle(req, handlers)

    async def _openapi_doc(self, req: Request) -> None:
        if self._openapi is None:
            from ._openapi import build_openapi  # pydantic's schema machinery: on first use

            document = build_openapi(self.state.rules, tenant=self._tenant, scope=self._scope)
            self._openapi = dumps(document)
        await req.respond_raw(200, self._openapi)


async def _handle(req: Request, handlers: dict[str, Handler]) -> None:
    handler = handlers.get(req.scope["method"])
    if handler is None:
        await method_not_allowed(req, handlers)
        return
    await handler(req)
