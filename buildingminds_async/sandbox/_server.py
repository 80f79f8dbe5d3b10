"""Serving a sandbox on a real socket: uvicorn in a thread with its own event loop.

The thread owns its loop, so the server works the same from sync code, from an async
test whose fixture setup and teardown run in different tasks, and next to a client on
the caller's loop. The socket is bound before the thread starts, so ``port=0`` gives a
free port that is known at once.

uvicorn parses HTTP with httptools and runs on uvloop when both are importable (the
``[sandbox]`` extra installs them; uvloop does not exist on Windows), which about
doubles the requests per second of one core; otherwise it falls back to h11 and the
standard asyncio loop, with the same behaviour. Either protocol writes each answer to
the socket in one send (`_wire`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import ipaddress
import socket
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final

import anyio
import uvicorn

from ._asgi import silence_injected_resets
from ._config import API_BASE_PATH
from ._entities import silence_enum_warnings
from ._wire import coalescing_protocol

if TYPE_CHECKING:
    from buildingminds_async import ClientCredentials

    from ._sandbox import Sandbox

__all__ = ["SandboxServer"]

_START_TIMEOUT: Final = 10.0
_STOP_TIMEOUT: Final = 10.0


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0: any free port)."""
    try:
        family = socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET
    except ValueError:
        family = socket.AF_INET
    # proto=IPPROTO_TCP matters: asyncio sets TCP_NODELAY on accepted connections only
    # when the listening socket says so, and without it every response whose headers and
    # body are written separately waits ~40 ms for a delayed ACK (Nagle's algorithm).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(1024)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


def url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


@functools.cache
def server_stack() -> tuple[str, str]:
    """uvicorn's ``(http, loop)``: httptools and uvloop when importable, else h11, asyncio."""
    try:
        import httptools  # noqa: F401

        http = "httptools"
    except ImportError:
        http = "h11"
    try:
        import uvloop  # noqa: F401

        loop = "uvloop"
    except ImportError:
        loop = "asyncio"
    return http, loop


@functools.cache
def http_protocol() -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol class of `server_stack`, writing each answer in one send."""
    base: type[asyncio.Protocol]
    if server_stack()[0] == "httptools":
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

        base = HttpToolsProtocol
    else:
        from uvicorn.protocols.http.h11_impl import H11Protocol

        base = H11Protocol
    return coalescing_protocol(base)


def make_config(app: Any, *, log_level: str = "warning") -> uvicorn.Config:
    """The uvicorn settings of a sandbox: quiet, no lifespan, fastest parser available."""
    silence_injected_resets()
    loop = server_stack()[1]
    return uvicorn.Config(
        app,
        lifespan="off",
        http=http_protocol(),
        loop=loop,
        ws="none",
        log_config=None,
        log_level=log_level,
        access_log=False,
        server_header=False,
        proxy_headers=False,  # no proxy to trust: one middleware less per request
        timeout_graceful_shutdown=2,
        timeout_keep_alive=30,
    )


def make_server(
    sandbox: Sandbox, *, log_level: str = "warning", own_process: bool = False
) -> _QuickServer:
    """A uvicorn server for ``sandbox.app`` (`make_config`), fast to stop.

    ``own_process``: the process serves this sandbox and nothing else (``buildingminds
    sandbox``), so the server may take the garbage collector over (`GcFreezer`, and no
    automatic collection) and ignore the models' lenient-enum warning process-wide
    (`silence_enum_warnings`).
    """
    app = sandbox.app
    housekeeping = None
    if own_process:
        silence_enum_warnings()
        housekeeping = GcFreezer(sandbox)
        # The freezer's collection once a second is the only one: the automatic collector
        # would traverse each young object once or twice more before it is frozen.
        gc.disable()
    return _QuickServer(
        make_config(app, log_level=log_level), app.release_holds, housekeeping=housekeeping
    )


class GcFreezer:
    """Keeps the garbage collector off the sandbox's stored data, once a second.

    A sandbox keeps every batch, message and record it receives, a few container objects
    per record that live until a reset. CPython's collector traverses each of them again
    and again as the heap grows: at a few thousand pushes a second that took a quarter of
    the process's time. Once a second, this collects the young generations and moves the
    survivors to the permanent generation (`gc.freeze`), where the collector no longer
    looks. Frozen objects are still freed by reference counting; after a reset, it
    unfreezes everything and collects once, so the dropped data is reclaimed. In the
    sandbox's own process the automatic collector is off (`make_server`): this is the
    only collection, and it reclaims the cyclic garbage of the last second. The
    collector's share of the process went from about 5.5% to 3%, for one pause of about
    30 ms a second under full load (p99 latency 36 ms instead of 27 in scenario 6).
    """

    def __init__(self, sandbox: Sandbox) -> None:
        self._state = sandbox._state
        self._resets = self._state.resets

    def __call__(self) -> None:
        resets = self._state.resets
        if resets != self._resets:
            self._resets = resets
            gc.unfreeze()
            gc.collect()
        gc.collect(1)
        gc.freeze()


def run_server(server: uvicorn.Server, sockets: list[socket.socket]) -> None:
    """Serve on ``sockets`` until the server stops, in an event loop of the config's kind.

    Like ``asyncio.run`` (Ctrl-C in the main thread raises KeyboardInterrupt once the
    server has stopped), with uvloop's loop when the config asks for it.
    """
    factory: Callable[[], asyncio.AbstractEventLoop] | None = None
    if server.config.loop == "uvloop":
        import uvloop

        factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(server.serve(sockets=sockets))


class _QuickServer(uvicorn.Server):
    """A uvicorn server that notices ``should_exit`` at once instead of every 0.1 s."""

    def __init__(
        self,
        config: uvicorn.Config,
        release: Callable[[], None] | None = None,
        *,
        housekeeping: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(config)
        self.release = release
        self.housekeeping = housekeeping  # called about once a second, in the loop
        self.ready = threading.Event()
        self.loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        self.loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        await super().startup(sockets=sockets)
        self.ready.set()

    async def main_loop(self) -> None:
        wake = self._wake
        if wake is None:  # startup() did not run: nothing to serve
            return
        counter = 0
        should_exit = await self.on_tick(counter)
        while not should_exit:
            # on_tick refreshes the Date header every 10 ticks: one wait = 10 ticks.
            counter = (counter + 10) % 864000
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), 1.0)
            if self.housekeeping is not None:
                self.housekeeping()
            should_exit = await self.on_tick(counter)

    def request_stop(self) -> None:
        """Ask the server to stop (from any thread): end held answers, wake the loop."""
        self.should_exit = True
        loop = self.loop
        if loop is None or loop.is_closed():
            return

        def wake() -> None:
            if self.release is not None:
                self.release()
            if self._wake is not None:
                self._wake.set()

        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            loop.call_soon_threadsafe(wake)


class SandboxServer:
    """A sandbox served on a loopback socket by a background thread.

    Use it as ``async with sandbox.serve() as server:`` or ``with sandbox.serve_in_thread()
    as server:``; ``start()``/``stop()`` (and ``astart()``/``astop()``) do the same by hand.
    """

    def __init__(self, sandbox: Sandbox, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.sandbox = sandbox
        self.host = host
        self._requested_port = port
        self._sock: socket.socket | None = None
        self._server: _QuickServer | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self.port = port

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<SandboxServer {self.url} {state}>"

    # -- addresses ------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The root URL, e.g. ``http://127.0.0.1:8080``."""
        return f"http://{url_host(self.host)}:{self.port}"

    @property
    def base_url(self) -> str:
        """The API base URL (the SDK's ``base_url``)."""
        return self.url + API_BASE_PATH

    @property
    def token_url(self) -> str:
        """The token endpoint (the SDK's ``token_url``)."""
        return f"{self.url}/{self.sandbox.tenant}/oauth2/v2.0/token"

    @property
    def openapi_url(self) -> str:
        return self.url + "/openapi.json"

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def credentials(self) -> ClientCredentials:
        """The SDK's `ClientCredentials` for this server (demo client and secrets)."""
        return self.sandbox.credentials(token_url=self.token_url)

    # -- lifecycle ------------------------------------------------------------------------

    def _launch(self) -> threading.Event:
        if self._thread is not None:
            raise RuntimeError("this sandbox server was already started")
        self._sock = bind_socket(self.host, self._requested_port)
        self.port = self._sock.getsockname()[1]
        self._server = make_server(self.sandbox)
        sock = self._sock
        server = self._server

        def run() -> None:
            try:
                run_server(server, [sock])
            except BaseException as exc:  # noqa: BLE001 - reported to the caller by start()
                self._error = exc
            finally:
                server.ready.set()

        self._thread = threading.Thread(
            target=run, name=f"buildingminds-sandbox:{self.port}", daemon=True
        )
        self._thread.start()
        ready: threading.Event = server.ready
        return ready

    def _check_started(self) -> None:
        if self._error is not None or not self.running:
            error = self._error
            self._cleanup()
            raise RuntimeError(f"the sandbox server on {self.url} failed to start") from error

    def _cleanup(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def start(self) -> SandboxServer:
        """Start serving and return once the socket accepts requests."""
        ready = self._launch()
        if not ready.wait(_START_TIMEOUT):
            self.stop()
            raise RuntimeError(f"the sandbox server on {self.url} did not start in time")
        self._check_started()
        return self

    def stop(self) -> None:
        """Stop serving: end held answers, close connections, join the thread."""
        thread = self._thread
        if thread is None:
            return
        if self._server is not None:
            self._server.request_stop()
        thread.join(_STOP_TIMEOUT)
        self._finish(thread)

    async def astart(self) -> SandboxServer:
        """`start()` without blocking the caller's event loop."""
        ready = self._launch()
        deadline = time.monotonic() + _START_TIMEOUT
        while not ready.is_set():
            if time.monotonic() > deadline:
                await self.astop()
                raise RuntimeError(f"the sandbox server on {self.url} did not start in time")
            await anyio.sleep(0.002)
        self._check_started()
        return self

    async def astop(self) -> None:
        """`stop()` without blocking the caller's event loop."""
        thread = self._thread
        if thread is None:
            return
        if self._server is not None:
            self._server.request_stop()
        deadline = time.monotonic() + _STOP_TIMEOUT
        # A thread cannot set an event of the caller's loop portably: poll briefly.
        while thread.is_alive() and time.monotonic() < deadline:  # noqa: ASYNC110
            await anyio.sleep(0.005)
        thread.join(0.1)
        self._finish(thread)

    def _finish(self, thread: threading.Thread) -> None:
        self._cleanup()
        if thread.is_alive():
            raise RuntimeError(f"the sandbox server on {self.url} did not stop in time")
        self._thread = None

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> SandboxServer:
        return await self.astart()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.astop()
