"""`Sandbox`: a local, behavioural emulator of the BuildingMinds ingestion API."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any

import anyio

from ._app import SandboxApp
from ._config import (
    API_BASE_PATH,
    DEFAULT_CLIENT_ID,
    DEFAULT_SCOPE,
    DEFAULT_TENANT,
    SandboxConfig,
)
from ._entities import load_rules
from ._faults import Fault
from ._ledger import Ledger
from ._state import SandboxState

if TYPE_CHECKING:
    import httpx2

    from buildingminds_async import ClientCredentials

    from ._server import SandboxServer

__all__ = ["Sandbox"]

# The SDK refuses plain http:// except for loopback hosts; in process, no port is used.
_INPROCESS_ROOT = "http://127.0.0.1"


class Sandbox:
    """An emulator of the BuildingMinds ingestion API, in process or on a loopback socket.

    ``Sandbox(**knobs)`` takes every `SandboxConfig` field as a keyword (rate limit,
    limits, processing delay, ...), plus:

    Args:
        client_id: the demo client's id.
        scope: the resource (application ID URI) tokens are issued for; clients send it
            with ``/.default`` appended.
        tenant: the tenant in the token URL path.
        faults: faults armed from the start (see `Fault`).
        clock: monotonic seconds; every status change and token expiry follows it, so a
            test advances a fake clock instead of sleeping.
        sleep: how the in-process transport waits (slow answers); pair it with a fake
            clock to wait without sleeping.
        epoch: the wall time (epoch seconds) at the clock's current reading; createdAt
            dates derive from it (default: now).

    Use ``sandbox.transport()`` for an in-process `httpx` transport, ``sandbox.serve()``
    for a real server, ``sandbox.ledger`` to check what happened, ``sandbox.configure()``
    to change knobs while it runs.
    """

    def __init__(
        self,
        *,
        client_id: str = DEFAULT_CLIENT_ID,
        scope: str = DEFAULT_SCOPE,
        tenant: str = DEFAULT_TENANT,
        faults: Iterable[Fault] = (),
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[Any]] = anyio.sleep,
        epoch: float | None = None,
        **knobs: Any,
    ) -> None:
        if not client_id or not scope or not tenant:
            raise ValueError("client_id, scope and tenant must not be empty")
        if scope.endswith("/.default"):
            scope = scope[: -len("/.default")]
        self.client_id = client_id
        self.scope = scope
        self.tenant = tenant
        self.sleep = sleep
        config = SandboxConfig().replace(**knobs)
        self._state = SandboxState(
            rules=load_rules(),
            client_id=client_id,
            config=config,
            faults=tuple(faults),
            clock=clock,
            epoch=epoch,
        )
        self.app = SandboxApp(self._state, controls=self, tenant=tenant, scope=scope)
        self.ledger = Ledger(self._state)

    def __repr__(self) -> str:
        config = self._state.config
        rate = "unlimited" if config.rate_limit is None else f"{config.rate_limit:g}/s"
        return (
            f"<Sandbox client_id={self.client_id!r} rate={rate} "
            f"processing_delay={config.processing_delay:g}s faults={len(self.faults)}>"
        )

    # -- identity -------------------------------------------------------------------------

    @property
    def client_secret(self) -> str:
        """The primary secret of the demo client (a demo value, printed on purpose)."""
        return self._state.config.client_secret

    @property
    def secondary_client_secret(self) -> str | None:
        """The secondary secret of the demo client, or None."""
        return self._state.config.secondary_client_secret

    @property
    def base_url(self) -> str:
        """The API base URL for the in-process transport."""
        return _INPROCESS_ROOT + API_BASE_PATH

    @property
    def token_url(self) -> str:
        """The token URL for the in-process transport."""
        return f"{_INPROCESS_ROOT}/{self.tenant}/oauth2/v2.0/token"

    @property
    def entities(self) -> tuple[str, ...]:
        """The entity names the sandbox accepts, parents first."""
        return tuple(self._state.rules)

    def credentials(self, *, token_url: str | None = None) -> ClientCredentials:
        """The SDK's `ClientCredentials` for the demo client (in-process token URL)."""
        from buildingminds_async import ClientCredentials

        return ClientCredentials(
            client_id=self.client_id,
            client_secret=self.client_secret,
            secondary_client_secret=self.secondary_client_secret,
            scope=self.scope,
            token_url=token_url or self.token_url,
        )

    # -- knobs ----------------------------------------------------------------------------

    @property
    def config(self) -> SandboxConfig:
        """The current settings (a frozen value)."""
        return self._state.config

    def configure(self, *, faults: Iterable[Fault] | None = None, **knobs: Any) -> SandboxConfig:
        """Change settings now (any `SandboxConfig` field); ``faults=`` replaces the faults.

        Raises ValueError naming an unknown or invalid setting; nothing changes then.
        """
        state = self._state
        with state.lock:
            config = state.config.replace(**knobs)
            fault_list = None if faults is None else tuple(faults)
            state.configure(config)
            if fault_list is not None:
                state.faults.clear()
                state.faults.install(fault_list)
            return config

    def inject(self, *faults: Fault) -> None:
        """Arm more faults, after those already armed."""
        with self._state.lock:
            self._state.faults.install(faults)

    def clear_faults(self) -> None:
        """Disarm every fault."""
        with self._state.lock:
            self._state.faults.clear()

    @property
    def faults(self) -> tuple[Fault, ...]:
        """The faults still armed, in draw order."""
        with self._state.lock:
            return self._state.faults.active()

    def issue_token(self) -> str:
        """A valid access token for the demo client, without the token request."""
        token, _ = self._state.issue_token(self.client_id)
        return token

    def revoke_tokens(self) -> int:
        """Revoke every token issued so far (next use: 401); how many were still valid."""
        return self._state.revoke_tokens()

    def reset(self) -> None:
        """Back to the state right after construction: settings, faults, data, counters."""
        self._state.reset()

    # -- access ---------------------------------------------------------------------------

    def transport(self) -> httpx2.AsyncBaseTransport:
        """An in-process httpx transport (use with `base_url` and `token_url`)."""
        from ._transport import SandboxTransport

        return SandboxTransport(self.app, self.sleep)

    def serve(self, *, host: str = "127.0.0.1", port: int = 0) -> SandboxServer:
        """A server on a socket: ``async with sandbox.serve() as server: server.base_url``.

        The server runs uvicorn in a background thread with its own event loop; the same
        object works as a sync context manager (see `serve_in_thread`).
        """
        from ._server import SandboxServer

        return SandboxServer(self, host=host, port=port)

    def serve_in_thread(self, *, host: str = "127.0.0.1", port: int = 0) -> SandboxServer:
        """`serve` for sync callers: ``with sandbox.serve_in_thread() as server: ...``."""
        return self.serve(host=host, port=port)
