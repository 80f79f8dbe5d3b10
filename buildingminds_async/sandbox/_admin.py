"""The sandbox's admin endpoints (``/_sandbox/...``): what a test or a person checks and
changes while it runs.

Ledger views (what was stored, received, batched), settings and faults (read, change,
add, clear), token revocation and reset. They act through ``Controls``, the operations
the ``Sandbox`` object offers in Python, so that both ways of changing a sandbox do the
same thing.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

from ._asgi import Handler, Request
from ._config import SandboxConfig
from ._faults import Fault
from ._ledger import Ledger
from ._state import SandboxState

__all__ = ["AdminHandlers", "Controls"]

_MAX_ADMIN_BYTES = 1024 * 1024


class Controls(Protocol):
    """What the admin endpoints change (the ``Sandbox`` facade is one)."""

    @property
    def ledger(self) -> Ledger: ...

    @property
    def faults(self) -> tuple[Fault, ...]: ...

    def configure(self, *, faults: Any = None, **knobs: Any) -> SandboxConfig: ...

    def inject(self, *faults: Fault) -> None: ...

    def clear_faults(self) -> None: ...

    def revoke_tokens(self) -> int: ...

    def reset(self) -> None: ...


class AdminHandlers:
    """The handlers of ``/_sandbox/...``, by path and method."""

    def __init__(self, state: SandboxState, controls: Controls) -> None:
        self.state = state
        self.controls = controls
        self.routes: dict[str, dict[str, Handler]] = {
            "/_sandbox/ledger": {"GET": self.ledger},
            "/_sandbox/ledger/batches": {"GET": self.batches},
            "/_sandbox/config": {"GET": self.config, "POST": self.configure},
            "/_sandbox/faults": {
                "GET": self.faults,
                "POST": self.add_faults,
                "DELETE": self.clear_faults,
            },
            "/_sandbox/revoke-tokens": {"POST": self.revoke},
            "/_sandbox/reset": {"POST": self.reset},
        }

    async def ledger(self, req: Request) -> None:
        await req.respond(200, self.controls.ledger.to_json())

    async def batches(self, req: Request) -> None:
        await req.respond(200, [b.to_json() for b in self.controls.ledger.batches()])

    async def entity(self, req: Request) -> None:
        entity = req.params["entity"]
        if entity not in self.state.rules:
            await req.error(404, f"Unknown entity {entity!r}")
            return
        ledger = self.controls.ledger
        if req.params["what"] == "stored":
            await req.respond(200, ledger.stored(entity))
        else:
            await req.respond(200, ledger.receive_counts(entity))

    async def config(self, req: Request) -> None:
        await req.respond(200, self._config_json())

    def _config_json(self) -> dict[str, Any]:
        out = self.state.config.to_json()
        out["faults"] = [f.to_json() for f in self.controls.faults]
        return out

    async def _body(self, req: Request) -> Any:
        body = await req.body(_MAX_ADMIN_BYTES)
        if body is None:
            raise ValueError("the body is too large")
        if not body.strip():
            return {}
        return json.loads(body)

    async def configure(self, req: Request) -> None:
        try:
            data = await self._body(req)
            if not isinstance(data, dict):
                raise ValueError("send a JSON object of settings")
            faults = data.pop("faults", None)
            changes = SandboxConfig.knobs_from_json(data)
            if faults is not None:
                changes["faults"] = [Fault.from_json(f) for f in faults]
            self.controls.configure(**changes)
        except (ValueError, TypeError) as exc:
            await req.invalid(str(exc))
            return
        await req.respond(200, self._config_json())

    async def faults(self, req: Request) -> None:
        await req.respond(200, [f.to_json() for f in self.controls.faults])

    async def add_faults(self, req: Request) -> None:
        try:
            data = await self._body(req)
            items = data if isinstance(data, list) else [data]
            faults = [Fault.from_json(item) for item in items]
        except (ValueError, TypeError, AttributeError) as exc:
            await req.invalid(f"send a fault object or an array of them: {exc}")
            return
        self.controls.inject(*faults)
        await req.respond(200, [f.to_json() for f in self.controls.faults])

    async def clear_faults(self, req: Request) -> None:
        self.controls.clear_faults()
        await req.respond(200, [])

    async def revoke(self, req: Request) -> None:
        await req.respond(200, {"revoked": self.controls.revoke_tokens()})

    async def reset(self, req: Request) -> None:
        self.controls.reset()
        await req.respond(200, {"reset": True})
