"""Bounded memory and random-order portfolios: what a million-record job relies on."""

from __future__ import annotations

import gc
import itertools
import json
import random
import tracemalloc
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest
from onboarding_support import VALID, connected

from buildingminds_async import AsyncClient, ClientCredentials, Progress

TOKEN_URL = "https://login.example.test/tenant/oauth2/v2.0/token"
BASE_URL = "https://api.example.test/api"


class CountingApi:
    """A stand-in API that keeps one integer per batch, so that only the SDK's memory grows.

    Pushes get a Batch ID; a batch's inbound messages are all Completed, by index, and the
    batch listing counts them so.
    """

    def __init__(self) -> None:
        self.sizes: dict[str, int] = {}
        self.ids = itertools.count()

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        if request.url.path.endswith("/token"):
            return httpx2.Response(200, json={"access_token": "t", "expires_in": 3600})
        if request.method == "POST":
            batch_id = f"b{next(self.ids)}"
            self.sizes[batch_id] = request.content.count(b'"addressId"')
            return httpx2.Response(200, json={"batchId": batch_id})
        if request.url.path.endswith("/batch"):  # the listing, oldest first, with counts
            skip, limit = int(request.url.params["skip"]), int(request.url.params["limit"])
            listed = [
                {"batchId": f"b{i}", "statusCounts": {"Completed": self.sizes[f"b{i}"]}}
                for i in range(skip, min(skip + limit, len(self.sizes)))
            ]
            body = {"message": "", "totalCount": len(self.sizes), "data": listed}
            return httpx2.Response(200, json=body)
        batch_id = request.url.path.split("/")[-2]
        size = self.sizes[batch_id]
        data = [{"index": i, "status": "Completed"} for i in range(size)]
        return httpx2.Response(200, json={"message": "", "totalCount": size, "data": data})


def addresses(n: int) -> Iterator[dict[str, Any]]:
    for i in range(n):
        yield {
            "eventType": "AddressAdded",
            "addressId": f"A{i:07d}",
            "city": "Berlin",
            "country": "DE",
            "streetName": "Invalidenstraße",
            "houseNumber": str(i % 300),
            "postalCode": "10115",
        }


@pytest.mark.slow
@pytest.mark.timeout(240)  # tracemalloc slows the run about threefold
@pytest.mark.looptime
async def test_memory_stays_bounded_whatever_the_input_size() -> None:
    """Streaming 200,000 records, the last 150,000 need no more memory than the first 50,000."""
    credentials = ClientCredentials(
        client_id="c", client_secret="s", scope="api://x", token_url=TOKEN_URL
    )
    early_peak: list[int] = []

    def checkpoint(progress: Progress) -> None:
        if not early_peak and progress.read >= 50_000:
            early_peak.append(tracemalloc.get_traced_memory()[1])
            tracemalloc.reset_peak()

    async with AsyncClient(
        credentials=credentials, base_url=BASE_URL, transport=httpx2.MockTransport(CountingApi())
    ) as client:
        gc.collect()
        tracemalloc.start()
        try:
            report = await client.onboard(addresses(200_000), on_progress=checkpoint)
            late_peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert report.completed == 200_000
    assert late_peak < 1.25 * early_peak[0], (early_peak, late_peak)
    assert late_peak < 48 * 1024 * 1024


@pytest.mark.looptime
async def test_a_shuffled_portfolio_completes_with_nothing_left_blocked() -> None:
    """Addresses, sites, buildings, floors and spaces in random order all end Completed."""
    rng = random.Random(11)
    records: list[dict[str, Any]] = []
    for a in range(20):
        records.append(
            {"eventType": "AddressAdded", "addressId": f"A{a}", "city": "Köln", "country": "DE"}
        )
    for s in range(20):
        records.append(
            {
                "eventType": "SiteAdded",
                "siteId": f"S{s}",
                "name": f"Site {s}",
                "addressIds": [f"A{s}"],
                "type": "Office",
                **VALID,
            }
        )
        for b in range(5):
            building = f"B{s}-{b}"
            records.append(
                {
                    "eventType": "BuildingAdded",
                    "buildingId": building,
                    "name": building,
                    "siteId": f"S{s}",
                    "addressIds": [f"A{s}"],
                    "primaryTypeOfBuilding": "Office",
                    "typeOfOwnership": "Owner",
                    **VALID,
                }
            )
            for f in range(4):
                floor = f"{building}-F{f}"
                records.append(
                    {
                        "eventType": "FloorAdded",
                        "floorId": floor,
                        "name": floor,
                        "buildingId": building,
                        **VALID,
                    }
                )
                records.extend(
                    {
                        "eventType": "SpaceAdded",
                        "spaceId": f"{floor}-R{r}",
                        "name": f"Room {r}",
                        "floorId": floor,
                        **VALID,
                    }
                    for r in range(3)
                )
    rng.shuffle(records)
    async with connected(processing_delay=1.0) as env:
        report = await env.client.onboard(records, chunk_size=50)
        statuses = env.sandbox.ledger.status_counts()
    assert report.ok, report
    assert report.completed == len(records) == statuses.get("Completed")
    assert report.blocked == 0
    assert json.dumps(statuses) == json.dumps({"Completed": len(records)})
