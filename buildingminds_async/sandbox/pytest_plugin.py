"""pytest plugin: fixtures that give a test its own BuildingMinds sandbox.

Registered as a ``pytest11`` entry point, so it loads in every pytest run of everyone who
installed the package: this module imports only pytest at import time, and the sandbox
when a fixture is used.

- ``buildingminds_sandbox``: a fresh in-process `Sandbox` (default settings).
- ``buildingminds_sandbox_server``: that sandbox served on ``127.0.0.1`` (a free port)
  by a background thread; ``.base_url``, ``.token_url``, ``.credentials()``.
- ``buildingminds_client``: an ``AsyncClient`` wired to the sandbox in process, closed
  at teardown (needs pytest-asyncio, or anyio's plugin for ``@pytest.mark.anyio`` tests).

Override ``buildingminds_sandbox`` in a conftest to change the settings::

    @pytest.fixture
    def buildingminds_sandbox():
        return Sandbox(rate_limit=5, processing_delay=0.2)
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from buildingminds_async.sandbox import Sandbox, SandboxServer


@pytest.fixture
def buildingminds_sandbox() -> Sandbox:
    """A fresh in-process sandbox."""
    from buildingminds_async.sandbox import Sandbox

    return Sandbox()


@pytest.fixture
def buildingminds_sandbox_server(buildingminds_sandbox: Sandbox) -> Iterator[SandboxServer]:
    """The test's sandbox, served on a loopback port for the duration of the test."""
    with buildingminds_sandbox.serve_in_thread() as server:
        yield server


def pytest_configure(config: pytest.Config) -> None:
    # The async fixture must be declared the way the installed async plugin expects:
    # pytest-asyncio in strict mode only runs fixtures made by its own decorator.
    from buildingminds_async.sandbox import _pytest_async

    if config.pluginmanager.has_plugin("asyncio"):
        plugin = _pytest_async.with_pytest_asyncio()
    else:
        plugin = _pytest_async.with_plain_pytest()
    config.pluginmanager.register(plugin, "buildingminds_sandbox_async")
