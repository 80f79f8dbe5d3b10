"""Helpers of the sandbox tests: a fake clock, record builders, a plain-httpx API caller."""

from __future__ import annotations

from typing import Any

import httpx2

from buildingminds_async.sandbox import Sandbox

EPOCH = 1_767_225_600.0  # 2026-01-01T00:00:00Z
API = "/api/digitaltwinintegration"


class FakeClock:
    """A monotonic clock that moves only when told; its sleep advances it."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def address(address_id: str = "A1", **fields: Any) -> dict[str, Any]:
    return {"addressId": address_id, "city": "Berlin", "country": "DE", **fields}


def site(
    site_id: str = "S1", address_ids: tuple[str, ...] = ("A1",), **fields: Any
) -> dict[str, Any]:
    return {
        "siteId": site_id,
        "name": f"Site {site_id}",
        "type": "Office",
        "addressIds": list(address_ids),
        "validFrom": "2024-01-01T00:00:00Z",
        "validUntil": "2099-01-01T00:00:00Z",
        **fields,
    }


def building(
    building_id: str = "B1",
    site_id: str = "S1",
    address_ids: tuple[str, ...] = ("A1",),
    **fields: Any,
) -> dict[str, Any]:
    return {
        "buildingId": building_id,
        "name": f"Building {building_id}",
        "siteId": site_id,
        "addressIds": list(address_ids),
        "primaryTypeOfBuilding": "Office",
        "typeOfOwnership": "Owner",
        "validFrom": "2024-01-01T00:00:00Z",
        "validUntil": "2099-01-01T00:00:00Z",
        **fields,
    }


def token_form(sandbox: Sandbox, **overrides: str) -> dict[str, str]:
    form = {
        "client_id": sandbox.client_id,
        "client_secret": sandbox.client_secret,
        "scope": sandbox.scope + "/.default",
        "grant_type": "client_credentials",
    }
    form.update(overrides)
    return form


async def get_token(http: httpx2.AsyncClient, sandbox: Sandbox, token_url: str) -> str:
    response = await http.post(token_url, data=token_form(sandbox))
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


class Api:
    """A plain-httpx caller of one sandbox (no SDK), with a token fetched on first use."""

    def __init__(self, http: httpx2.AsyncClient, sandbox: Sandbox, root: str) -> None:
        self.http = http
        self.sandbox = sandbox
        self.root = root
        self.token: str | None = None

    @property
    def token_url(self) -> str:
        return f"{self.root}/{self.sandbox.tenant}/oauth2/v2.0/token"

    async def headers(self) -> dict[str, str]:
        if self.token is None:
            self.token = await get_token(self.http, self.sandbox, self.token_url)
        return {"authorization": f"Bearer {self.token}"}

    async def push(self, entity: str, records: Any, **kwargs: Any) -> httpx2.Response:
        return await self.http.post(
            f"{self.root}{API}/{entity}", json=records, headers=await self.headers(), **kwargs
        )

    async def push_ok(self, entity: str, records: Any) -> str:
        response = await self.push(entity, records)
        assert response.status_code == 200, response.text
        batch_id: str = response.json()["batchId"]
        return batch_id

    async def get(self, path: str, **params: Any) -> httpx2.Response:
        return await self.http.get(
            f"{self.root}{API}{path}", params=params, headers=await self.headers()
        )

    async def inbound(self, batch_id: str, **params: Any) -> list[dict[str, Any]]:
        response = await self.get(f"/batch/{batch_id}/inbound", **params)
        assert response.status_code == 200, response.text
        data: list[dict[str, Any]] = response.json()["data"]
        return data

    async def statuses(self, batch_id: str) -> list[str]:
        return [m["status"] for m in await self.inbound(batch_id)]
