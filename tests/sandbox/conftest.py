"""Shared fixtures of the sandbox tests: a fake clock and sandboxes in process or served.

Loopback tests share one module-scoped server (starting uvicorn costs a few ms, stopping
it a tenth of a second) and reset its sandbox before each test.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx2
import pytest
from sandbox_support import EPOCH, Api, FakeClock

from buildingminds_async.sandbox import Sandbox, SandboxServer


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sandbox(clock: FakeClock) -> Sandbox:
    """An in-process sandbox on a fake clock."""
    return Sandbox(clock=clock, sleep=clock.sleep, epoch=EPOCH)


@pytest.fixture
async def api(sandbox: Sandbox) -> AsyncIterator[Api]:
    """Plain httpx through the in-process transport."""
    async with httpx2.AsyncClient(transport=sandbox.transport()) as http:
        yield Api(http, sandbox, "http://127.0.0.1")


# -- one served sandbox per module -------------------------------------------------------


@pytest.fixture(scope="module")
def module_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(scope="module")
def served_module(module_clock: FakeClock) -> Iterator[SandboxServer]:
    sandbox = Sandbox(clock=module_clock, sleep=module_clock.sleep, epoch=EPOCH)
    with sandbox.serve_in_thread() as server:
        yield server


@pytest.fixture
def served(served_module: SandboxServer) -> SandboxServer:
    """The module's loopback server, its sandbox reset to the constructor's state."""
    served_module.sandbox.reset()
    return served_module


@pytest.fixture
async def wire(served: SandboxServer) -> AsyncIterator[Api]:
    """Plain httpx over a real loopback socket."""
    # verify=False: plain http on loopback, and it skips loading the CA bundle (~50 ms).
    async with httpx2.AsyncClient(timeout=5.0, verify=False) as http:
        yield Api(http, served.sandbox, served.url)
