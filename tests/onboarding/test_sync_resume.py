"""A sync killed at any point and started again ends where an uninterrupted one does.

Hypothesis draws a sequence of exports (buildings renamed, buildings and floors removed,
floors added) and, for each export, the request at which the first attempt is killed.
Two worlds run the same sequence against sandboxes of their own: one syncs each export
once; the other is killed mid-sync (the writes the state store had queued but not yet
written are lost, as when the process dies), then syncs the same export again. After every
export both platforms hold the same records, each received as often in both worlds (the
killed run's pushes were looked up, not re-sent), and both state files agree.

Each example runs on looptime's fake clock in a loop of its own (hypothesis drives a
plain test function), so seconds of polling take no real time.
"""

from __future__ import annotations

import asyncio
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from unittest import mock

import anyio
import httpx2
import looptime
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from onboarding_support import VALID, Env, addresses, connected, sites

from buildingminds_async.sync._store import StateStore

Key = tuple[str, str]

EDITS = st.lists(
    st.tuples(
        st.sampled_from(["rename", "drop-building", "drop-floor", "add-floor"]), st.integers(0, 7)
    ),
    min_size=1,
    max_size=3,
)


def first_export() -> dict[Key, dict[str, Any]]:
    records: dict[Key, dict[str, Any]] = {}
    for record in [*addresses(1), *sites(2)]:
        entity = "address" if "addressId" in record and "siteId" not in record else "site"
        records[(entity, record.get("siteId") or record["addressId"])] = record
    for b in range(6):
        records[("building", f"B{b}")] = {
            "eventType": "BuildingAdded",
            "buildingId": f"B{b}",
            "name": f"Building {b}",
            "siteId": f"S{b % 2}",
            "addressIds": ["A0"],
            "primaryTypeOfBuilding": "Office",
            "typeOfOwnership": "Owner",
            **VALID,
        }
    for f in range(8):
        records[("floor", f"F{f}")] = floor(f, f"B{f % 6}")
    return records


def floor(number: int, building: str) -> dict[str, Any]:
    return {
        "eventType": "FloorAdded",
        "floorId": f"F{number}",
        "name": f"Floor {number}",
        "buildingId": building,
        **VALID,
    }


def edited(
    records: dict[Key, dict[str, Any]], edit: tuple[str, int], step: int
) -> dict[Key, dict[str, Any]]:
    kind, n = edit
    out = dict(records)
    buildings = sorted(k for k in out if k[0] == "building")
    if kind == "rename" and buildings:
        key = buildings[n % len(buildings)]
        out[key] = {**out[key], "name": f"Renamed {step}"}
    elif kind == "drop-building" and buildings:
        gone = buildings[n % len(buildings)][1]
        out = {k: r for k, r in out.items() if k[1] != gone and r.get("buildingId") != gone}
    elif kind == "drop-floor":
        floors = sorted(k for k in out if k[0] == "floor")
        if floors:
            del out[floors[n % len(floors)]]
    elif kind == "add-floor" and buildings:
        number = 100 + step * 10 + n
        out[("floor", f"F{number}")] = floor(number, buildings[n % len(buildings)][1])
    return out


@contextmanager
def dying_store() -> Iterator[None]:
    """The store loses what it had queued when the run is cut, as a killed process would."""
    close = StateStore.aclose

    async def killed(self: StateStore) -> None:
        self._queued.clear()
        await close(self)

    with mock.patch.object(StateStore, "aclose", killed):
        yield


def platform(env: Env) -> dict[str, Any]:
    ledger = env.sandbox.ledger
    return {
        entity: (ledger.stored(entity), ledger.receive_counts(entity))
        for entity in ("address", "site", "building", "floor")
    }


def state_rows(path: Path) -> list[tuple[Any, ...]]:
    with sqlite3.connect(path) as db:
        return db.execute(
            "SELECT entity, external_id, stored_hash, status FROM records ORDER BY 1, 2"
        ).fetchall()


async def both_worlds(exports: list[dict[Key, dict[str, Any]]], cuts: list[int], tmp: Path) -> None:
    holder: dict[str, anyio.CancelScope] = {}
    seen = {"n": 0, "cut": 0}

    def cutter(request: httpx2.Request) -> None:
        if "oauth2" in request.url.path:
            return None
        seen["n"] += 1
        if seen["n"] == seen["cut"] and "scope" in holder:
            holder["scope"].cancel()
        return None

    options: dict[str, Any] = {"delete_missing": True, "max_deletes": 1000, "blocked_timeout": 30}
    async with connected() as calm, connected(rewrite=cutter) as cut:
        client_tenant = {"tenant": "one"}
        for version, (export, at) in enumerate(zip(exports, cuts, strict=True)):
            records = list(export.values())
            await calm.client.sync(records, state=tmp / "calm.sqlite", **options, **client_tenant)
            seen["n"], seen["cut"] = 0, at
            with dying_store(), anyio.CancelScope() as scope:
                holder["scope"] = scope
                await cut.client.sync(records, state=tmp / "cut.sqlite", **options, **client_tenant)
            holder.pop("scope")
            seen["cut"] = 0
            again = await cut.client.sync(
                records, state=tmp / "cut.sqlite", **options, **client_tenant
            )
            assert again.report is not None
            assert again.report.pending == 0, (version, again)
            assert platform(cut) == platform(calm), version
            assert state_rows(tmp / "cut.sqlite") == state_rows(tmp / "calm.sqlite"), version


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(edits=EDITS, cuts=st.lists(st.integers(1, 14), min_size=4, max_size=4))
def test_a_sync_killed_anywhere_and_run_again_converges_to_the_uninterrupted_one(
    edits: list[tuple[str, int]], cuts: list[int]
) -> None:
    exports = [first_export()]
    for step, edit in enumerate(edits):
        exports.append(edited(exports[-1], edit, step))
    loop = looptime.new_event_loop(start=0)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            loop.run_until_complete(both_worlds(exports, cuts[: len(exports)], Path(tmp)))
    finally:
        loop.close()
        asyncio.set_event_loop(None)
