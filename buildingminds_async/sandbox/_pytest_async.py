"""The ``buildingminds_client`` fixture, declared for the async plugin that is installed."""

from __future__ import annotations

import types
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from buildingminds_async import AsyncClient
    from buildingminds_async.sandbox import Sandbox


async def _client(buildingminds_sandbox: Sandbox) -> AsyncIterator[AsyncClient]:
    """An AsyncClient talking to the test's sandbox in process, closed at teardown."""
    from buildingminds_async import AsyncClient

    sandbox = buildingminds_sandbox
    async with AsyncClient(
        credentials=sandbox.credentials(),
        base_url=sandbox.base_url,
        transport=sandbox.transport(),
    ) as client:
        yield client


def _plugin(fixture: Any) -> types.ModuleType:
    module = types.ModuleType("buildingminds_async.sandbox._pytest_client")
    module.buildingminds_client = fixture(_client, name="buildingminds_client")  # type: ignore[attr-defined]
    return module


def with_pytest_asyncio() -> types.ModuleType:
    import pytest_asyncio

    return _plugin(pytest_asyncio.fixture)


def with_plain_pytest() -> types.ModuleType:
    return _plugin(pytest.fixture)
