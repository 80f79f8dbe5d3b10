"""Shared pieces of the onboarding tests: a sandbox on the loop's clock, a request log.

Most tests run under looptime: the event loop's clock is fake, and the SDK, aiolimiter
and the sandbox all read it, so rate limits, Retry-After pauses and processing delays of
seconds take no real time, and timing is exact.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx2

from buildingminds_async import AsyncClient, ClientCredentials
from buildingminds_async.sandbox import Sandbox

VALID = {"validFrom": "2024-01-01T00:00:00Z", "validUntil": "2030-01-01T00:00:00Z"}


@dataclass(frozen=True, slots=True)
class Exchange:
    """One request as the client sent it, and how it ended."""

    started: float
    ended: float
    method: str
    path: str
    status: int | None
    records: int


@dataclass
class Recorder(httpx2.AsyncBaseTransport):
    """Wraps a transport and logs every exchange with loop timestamps."""

    inner: httpx2.AsyncBaseTransport
    clock: Callable[[], float]
    log: list[Exchange] = field(default_factory=list)
    rewrite: Callable[[httpx2.Request], httpx2.Response | None] | None = None

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        started = self.clock()
        records = request.content.count(b'Id":') if request.method == "POST" else 0
        path = request.url.path.removeprefix("/api/digitaltwinintegration")
        status: int | None = None
        try:
            canned = self.rewrite(request) if self.rewrite else None
            response = canned or await self.inner.handle_async_request(request)
            status = response.status_code
            return response
        finally:
            self.log.append(Exchange(started, self.clock(), request.method, path, status, records))

    async def aclose(self) -> None:
        await self.inner.aclose()

    def pushes(self) -> list[Exchange]:
        return [e for e in self.log if e.method == "POST" and "oauth2" not in e.path]

    def api(self) -> list[Exchange]:
        return [e for e in self.log if "oauth2" not in e.path]


@dataclass
class Env:
    sandbox: Sandbox
    client: AsyncClient
    recorder: Recorder


@asynccontextmanager
async def connected(
    *,
    client_options: dict[str, Any] | None = None,
    rewrite: Callable[[httpx2.Request], httpx2.Response | None] | None = None,
    **knobs: Any,
) -> AsyncIterator[Env]:
    """An in-process sandbox and a client wired to it, both on the loop's clock."""
    loop = asyncio.get_running_loop()
    sandbox = Sandbox(clock=loop.time, sleep=asyncio.sleep, **knobs)
    recorder = Recorder(sandbox.transport(), loop.time, rewrite=rewrite)
    client = AsyncClient(
        credentials=sandbox.credentials(),
        base_url=sandbox.base_url,
        transport=recorder,
        **(client_options or {}),
    )
    async with client:
        yield Env(sandbox, client, recorder)


WRONG_SECRET = "not-the-secret"


def wrong_secret_client(sandbox: Sandbox) -> AsyncClient:
    """A client of ``sandbox`` whose primary (and only) secret the sandbox refuses."""
    credentials = ClientCredentials(
        client_id=sandbox.client_id,
        client_secret=WRONG_SECRET,
        scope=sandbox.scope,
        token_url=sandbox.token_url,
    )
    return AsyncClient(
        credentials=credentials, base_url=sandbox.base_url, transport=sandbox.transport()
    )


def addresses(n: int, *, prefix: str = "A") -> Iterator[dict[str, Any]]:
    for i in range(n):
        yield {
            "eventType": "AddressAdded",
            "addressId": f"{prefix}{i}",
            "city": "Berlin",
            "country": "DE",
            "postalCode": "10115",
        }


def sites(n: int, *, address: str = "A0") -> Iterator[dict[str, Any]]:
    for i in range(n):
        yield {
            "eventType": "SiteAdded",
            "siteId": f"S{i}",
            "name": f"Site {i}",
            "addressIds": [address],
            "type": "Office",
            **VALID,
        }


def buildings(
    n: int, *, site: str = "S0", address: str = "A0", start: int = 0
) -> Iterator[dict[str, Any]]:
    for i in range(start, start + n):
        yield {
            "eventType": "BuildingAdded",
            "buildingId": f"B{i}",
            "name": f"Building {i}",
            "siteId": site,
            "addressIds": [address],
            "primaryTypeOfBuilding": "Office",
            "typeOfOwnership": "Owner",
            **VALID,
        }


def floors(n: int, *, building: str = "B0") -> Iterator[dict[str, Any]]:
    for i in range(n):
        yield {
            "eventType": "FloorAdded",
            "floorId": f"F{i}",
            "name": f"Floor {i}",
            "buildingId": building,
            **VALID,
        }


def portfolio(n_buildings: int) -> list[dict[str, Any]]:
    """One address, one site and ``n_buildings`` buildings on them, parents first."""
    return [*addresses(1), *sites(1), *buildings(n_buildings)]
