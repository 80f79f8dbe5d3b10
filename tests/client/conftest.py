"""Fixtures of the client tests: a respx router as the transport, a scriptable token endpoint."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import httpx2
import pytest
import respx
from client_support import BASE_URL, TOKEN_URL, TokenEndpoint, make_credentials

from buildingminds_async import AsyncClient


@pytest.fixture(autouse=True)
def _no_buildingminds_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The developer's own BUILDINGMINDS_* variables must not leak into the tests."""
    for name in list(os.environ):
        if name.startswith("BUILDINGMINDS_"):
            monkeypatch.delenv(name)


@pytest.fixture
def router() -> respx.MockRouter:
    """The API: tests register routes on it; an unregistered request fails the test."""
    return respx.MockRouter(assert_all_called=False)


@pytest.fixture
def tokens(router: respx.MockRouter) -> TokenEndpoint:
    endpoint = TokenEndpoint()
    router.post(TOKEN_URL).mock(side_effect=endpoint)
    return endpoint


@pytest.fixture
def make_client(router: respx.MockRouter, tokens: TokenEndpoint) -> Callable[..., AsyncClient]:
    """Build an AsyncClient whose transport is the router (use it in ``async with``)."""

    def make(**options: Any) -> AsyncClient:
        options.setdefault("credentials", make_credentials())
        options.setdefault("base_url", BASE_URL)
        options.setdefault("transport", httpx2.MockTransport(router.async_handler))
        return AsyncClient(**options)

    return make
