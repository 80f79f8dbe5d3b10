"""Incremental sync against the sandbox: only what changed is sent, what vanished deleted.

Each test reads the sandbox's ledger (what it stored, how often it received each record)
and the requests the client sent, not only the report.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx2
import pytest
from onboarding_support import addresses, buildings, connected, floors, sites

from buildingminds_async import ConfigurationError, DeleteGuardError, SourceRecord

pytestmark = pytest.mark.looptime


def export(n_buildings: int = 20, n_floors: int = 5) -> list[dict[str, Any]]:
    """A portfolio as a nightly export would give it: parents and children."""
    return [
        *addresses(2),
        *sites(2),
        *buildings(n_buildings),
        *floors(n_floors),
    ]


def is_building(record: dict[str, Any]) -> bool:
    return str(record.get("eventType", "")).startswith("Building")


def renamed(records: list[dict[str, Any]], external_id: str, name: str) -> list[dict[str, Any]]:
    return [
        {**r, "name": name} if external_id in (r.get("buildingId"), r.get("floorId")) else r
        for r in records
    ]


async def test_a_first_sync_sends_all_and_a_second_with_no_change_sends_nothing(
    tmp_path: Path,
) -> None:
    """The first run adds everything; the same export again is not one push."""
    state = tmp_path / "portfolio.sqlite"
    records = export()
    async with connected() as env:
        first = await env.client.sync(records, state=state)
        assert (first.added, first.updated, first.unchanged) == (len(records), 0, 0)
        assert first.report is not None
        assert first.report.completed == len(records)
        assert first.ok
        pushes_before = len(env.recorder.pushes())

        second = await env.client.sync(records, state=state)

        assert len(env.recorder.pushes()) == pushes_before  # zero pushes
        assert (second.added, second.updated, second.unchanged) == (0, 0, len(records))
        assert second.read == len(records)
        assert env.sandbox.ledger.receive_count("building", "B3") == 1


async def test_key_order_nulls_and_numbers_as_text_are_not_a_change(tmp_path: Path) -> None:
    """Content is compared as the validated model: key order, a field set to null, a
    number as text, another spelling of the same instant do not count as change."""
    state = tmp_path / "s.sqlite"
    records = [{**r, "parkingSpaces": 12} if is_building(r) else r for r in export()]
    reformatted = [
        {
            **dict(reversed(list(r.items()))),
            "parkingSpaces": "12",
            "buildingCode": None,
            "validFrom": "2024-01-01T01:00:00+01:00",
        }
        if is_building(r)
        else r
        for r in records
    ]
    async with connected() as env:
        await env.client.sync(records, state=state)
        again = await env.client.sync(reformatted, state=state)
        changed = await env.client.sync(
            [{**r, "parkingSpaces": 13} for r in reformatted if is_building(r)], state=state
        )
    assert again.unchanged == len(records), again.by_entity
    assert again.added == again.updated == again.invalid == 0
    assert changed.updated == 20  # the comparison does see a real change


async def test_one_changed_field_sends_exactly_that_record_as_updated(tmp_path: Path) -> None:
    """One building renamed: one record sent, as BuildingUpdated, the change listed."""
    state = tmp_path / "s.sqlite"
    records = export()
    changes = tmp_path / "changes.ndjson"
    async with connected() as env:
        await env.client.sync(records, state=state)
        before = len(env.recorder.pushes())
        report = await env.client.sync(
            renamed(records, "B7", "Renamed"), state=state, changes=changes
        )
        assert len(env.recorder.pushes()) == before + 1
        stored = env.sandbox.ledger.record("building", "B7")
        assert stored is not None
        assert stored["name"] == "Renamed"
        assert env.sandbox.ledger.receive_count("building", "B7") == 2
        assert env.sandbox.ledger.receive_count("building", "B6") == 1
    assert (report.updated, report.added, report.unchanged) == (1, 0, len(records) - 1)
    assert report.by_entity["building"]["updated"] == 1
    lines = [json.loads(line) for line in changes.read_text().splitlines()]
    assert lines == [
        {"entity": "building", "external_id": "B7", "event": "updated", "changed": ["name"]}
    ]


async def test_the_updated_record_is_sent_with_the_updated_event(tmp_path: Path) -> None:
    """What goes on the wire is <Entity>Updated for a change, <Entity>Added for a new one."""
    state = tmp_path / "s.sqlite"
    sent: list[dict[str, Any]] = []

    def look(request: Any) -> None:
        if request.method == "POST" and b"buildingId" in request.content:
            sent.extend(json.loads(request.content))

    records = export()
    async with connected(rewrite=look) as env:
        await env.client.sync(records, state=state)
        sent.clear()
        await env.client.sync(
            [*renamed(records, "B1", "New name"), *buildings(1, start=500)], state=state
        )
    assert {(r["buildingId"], r["eventType"]) for r in sent} == {
        ("B1", "BuildingUpdated"),
        ("B500", "BuildingAdded"),
    }


async def test_a_removed_record_is_deleted_with_delete_missing(tmp_path: Path) -> None:
    """A floor gone from the export is sent as FloorDeleted and gone from the platform;
    without delete_missing it stays."""
    state = tmp_path / "s.sqlite"
    records = export()
    without_f2 = [r for r in records if r.get("floorId") != "F2"]
    async with connected() as env:
        await env.client.sync(records, state=state)
        kept = await env.client.sync(without_f2, state=state)
        assert kept.deleted == 0
        assert kept.delete_planned == 0
        assert env.sandbox.ledger.record("floor", "F2") is not None

        report = await env.client.sync(without_f2, state=state, delete_missing=True)

        assert env.sandbox.ledger.record("floor", "F2") is None
        assert env.sandbox.ledger.record("floor", "F1") is not None
        assert (report.deleted, report.delete_planned) == (1, 1)
        assert report.report is not None
        assert report.report.ok
        # Deleted once: the next run has nothing left to delete.
        again = await env.client.sync(without_f2, state=state, delete_missing=True)
        assert again.delete_planned == 0
        assert again.unchanged == len(without_f2)


async def test_children_are_deleted_before_their_parents(tmp_path: Path) -> None:
    """A building and its floors gone: every floor's delete is sent before the building's."""
    state = tmp_path / "s.sqlite"
    records = export(n_buildings=20, n_floors=5)
    kept = [r for r in records if r.get("buildingId") != "B0" and not r.get("floorId")]
    async with connected() as env:
        await env.client.sync(records, state=state)
        start = len(env.recorder.log)
        report = await env.client.sync(
            kept,
            state=state,
            delete_missing=True,
            max_deletes=6,
            delete_entities=["building", "floor"],  # the export holds no floor any more
        )
        posts = [e.path for e in env.recorder.log[start:] if e.method == "POST"]
        posts = [p for p in posts if "oauth2" not in p]
        assert posts == ["/floor", "/building"]
        assert env.sandbox.ledger.record("building", "B0") is None
        assert not env.sandbox.ledger.stored("floor")
    assert report.deleted == 6


async def test_addresses_missing_from_the_export_are_reported_not_sent(tmp_path: Path) -> None:
    """Address records cannot be deleted through the API: counted, never pushed."""
    state = tmp_path / "s.sqlite"
    records = export()
    async with connected() as env:
        await env.client.sync(records, state=state)
        before = len(env.recorder.pushes())
        report = await env.client.sync(
            [r for r in records if r.get("addressId") != "A1"], state=state, delete_missing=True
        )
        assert len(env.recorder.pushes()) == before
        assert env.sandbox.ledger.record("address", "A1") is not None
    assert report.not_deletable == 1
    assert report.deleted == 0


async def test_a_truncated_export_trips_the_delete_guard_and_sends_nothing(
    tmp_path: Path,
) -> None:
    """Half the export missing: refused with a message that says what to do; the state and
    the platform are untouched, and a dry run lists what would have been deleted."""
    state = tmp_path / "s.sqlite"
    records = export(n_buildings=20, n_floors=0)
    truncated = records[: len(records) // 2]
    async with connected() as env:
        await env.client.sync(records, state=state)
        before = len(env.recorder.pushes())
        with pytest.raises(DeleteGuardError) as caught:
            await env.client.sync(truncated, state=state, delete_missing=True)
        assert len(env.recorder.pushes()) == before
        message = str(caught.value)
        assert "would delete 12 of the 22 records" in message  # addresses cannot be deleted
        assert "--max-deletes" in message
        assert "Nothing was sent" in message

        dry = await env.client.sync(
            truncated, state=state, delete_missing=True, dry_run=True, changes=tmp_path / "c"
        )
        assert dry.dry_run
        assert dry.report is None
        assert dry.deleted == 12
        assert dry.deletes_skipped is not None
        assert "12 of the 22" in dry.deletes_skipped
        listed = [json.loads(line) for line in (tmp_path / "c").read_text().splitlines()]
        assert {line["event"] for line in listed} == {"deleted"}
        assert len(listed) == 12
        assert len(env.recorder.pushes()) == before
        # The guard left the state as it was: the full export is unchanged.
        full = await env.client.sync(records, state=state, delete_missing=True)
    assert full.unchanged == len(records)
    assert full.delete_planned == 0


async def test_an_empty_export_never_wipes_the_portfolio(tmp_path: Path) -> None:
    """Zero records read with delete_missing, even with the guard wide open: nothing is
    deleted, and the report says why."""
    state = tmp_path / "s.sqlite"
    async with connected() as env:
        await env.client.sync(export(), state=state)
        report = await env.client.sync(
            [],
            state=state,
            delete_missing=True,
            max_deletes=10_000,
            delete_entities=["site", "building", "floor"],
        )
        assert env.sandbox.ledger.stored("building")
    assert report.delete_planned == 0
    assert report.deletes_skipped is not None
    assert "no valid record" in report.deletes_skipped


async def test_an_export_of_one_entity_deletes_nothing_of_the_others(tmp_path: Path) -> None:
    """The buildings file synced alone with delete_missing: the sites and floors the state
    knows are not 'missing', and the guard counts only what can be deleted."""
    state = tmp_path / "s.sqlite"
    records = export()
    async with connected() as env:
        await env.client.sync(records, state=state)
        only_buildings = [r for r in records if is_building(r) and r["buildingId"] != "B3"]
        report = await env.client.sync(
            only_buildings, state=state, delete_missing=True, max_deletes=1
        )
        assert env.sandbox.ledger.record("building", "B3") is None
        assert env.sandbox.ledger.stored("floor")
        assert env.sandbox.ledger.stored("site")
    assert (report.delete_planned, report.deleted) == (1, 1)


async def test_a_dry_run_sends_nothing_and_changes_nothing(tmp_path: Path) -> None:
    """The plan's counts per entity and event, and no push, no token-bearing request."""
    state = tmp_path / "s.sqlite"
    records = export()
    async with connected() as env:
        await env.client.sync(records, state=state)
        start = len(env.recorder.api())
        dry = await env.client.sync(
            [*renamed(records, "B2", "x"), *buildings(2, start=100)], state=state, dry_run=True
        )
        assert len(env.recorder.api()) == start
        real = await env.client.sync(
            [*renamed(records, "B2", "x"), *buildings(2, start=100)], state=state
        )
    assert dry.by_entity["building"] == {"unchanged": 19, "updated": 1, "added": 2}
    assert (real.updated, real.added) == (dry.updated, dry.added) == (1, 2)


async def test_a_failed_record_is_sent_again_next_run(tmp_path: Path) -> None:
    """A record the platform failed (FailedGeoCoding) is not what the platform holds: the
    next run sends it again, and once fixed it completes and is unchanged after."""
    state = tmp_path / "s.sqlite"
    bad = {**next(addresses(1, prefix="X")), "postalCode": "00000"}
    async with connected() as env:
        first = await env.client.sync([*export(), bad], state=state)
        assert first.report is not None
        assert first.report.failed == 1
        second = await env.client.sync([*export(), bad], state=state)
        assert (second.added, second.unchanged) == (1, len(export()))
        assert env.sandbox.ledger.receive_count("address", "X0") == 2
        fixed = await env.client.sync([*export(), {**bad, "postalCode": "10115"}], state=state)
        assert fixed.added == 1
        assert fixed.report is not None
        assert fixed.report.ok
        after = await env.client.sync([*export(), {**bad, "postalCode": "10115"}], state=state)
    assert after.unchanged == len(export()) + 1


async def test_a_record_still_pending_is_polled_again_not_sent_again(tmp_path: Path) -> None:
    """A building whose site exists nowhere stays blocked: the run ends after
    blocked_timeout, and the next one polls its batch again instead of re-sending it."""
    state = tmp_path / "s.sqlite"
    orphan = {**next(buildings(1, start=99)), "siteId": "S-none"}
    async with connected() as env:
        first = await env.client.sync([*export(), orphan], state=state, blocked_timeout=5)
        assert first.report is not None
        assert first.report.pending == 1
        second = await env.client.sync([*export(), orphan], state=state, blocked_timeout=5)
        assert env.sandbox.ledger.receive_count("building", "B99") == 1
    assert (second.in_flight, second.added, second.unchanged) == (1, 0, len(export()))
    assert second.report is not None
    assert second.report.pending == 1


async def test_invalid_records_are_reported_with_their_line_and_never_deleted(
    tmp_path: Path,
) -> None:
    """An invalid record keeps its file and line in the report, and its platform copy is
    not deleted for being 'missing'."""
    state = tmp_path / "s.sqlite"
    records = export()
    async with connected() as env:
        await env.client.sync(records, state=state)
        source = [
            SourceRecord(
                {**r, "name": 7} if r.get("buildingId") == "B4" else r,
                file="export.ndjson",
                line=n + 1,
                entity=None,
            )
            for n, r in enumerate(records)
        ]
        report = await env.client.sync(source, state=state, delete_missing=True)
        assert env.sandbox.ledger.record("building", "B4") is not None
    assert report.invalid == 1
    assert report.delete_planned == 0
    assert report.report is not None
    (failure,) = report.report.failures
    assert (failure.file, failure.line, failure.external_id) == ("export.ndjson", 9, "B4")


async def test_options_that_cannot_work_are_configuration_errors(tmp_path: Path) -> None:
    async with connected() as env:
        with pytest.raises(ConfigurationError, match="journal"):
            await env.client.sync([], state=tmp_path / "s", journal=tmp_path / "j")
        with pytest.raises(ConfigurationError, match="wait=True"):
            await env.client.sync([], state=tmp_path / "s", delete_missing=True, wait=False)
        with pytest.raises(ConfigurationError, match="sync\\(\\) has no option 'chunksize'"):
            await env.client.sync([], state=tmp_path / "s", chunksize=3)  # type: ignore[call-arg]
        (tmp_path / "not-a-state").write_text("hello, this is not sqlite" * 100)
        with pytest.raises(ConfigurationError, match="not a sync state file"):
            await env.client.sync([], state=tmp_path / "not-a-state")


async def test_a_duplicate_id_is_refused_with_where_it_first_was(tmp_path: Path) -> None:
    """The same building twice in one export: the first is sent, the second reported
    invalid naming the first's line, and the next runs neither re-send nor crash on it."""
    state = tmp_path / "s.sqlite"
    records = export()
    twice = [*records, {**next(buildings(1, start=2)), "name": "Another B2"}]
    source = [SourceRecord(r, file="export.ndjson", line=n + 1) for n, r in enumerate(twice)]
    async with connected() as env:
        first = await env.client.sync(source, state=state)
        assert env.sandbox.ledger.receive_count("building", "B2") == 1
        stored = env.sandbox.ledger.record("building", "B2")
        assert stored is not None
        assert stored["name"] == "Building 2"
        again = await env.client.sync(source, state=state)
        assert env.sandbox.ledger.receive_count("building", "B2") == 1
        fewer = [r for r in records if r.get("buildingId") not in ("B1", "B2")]
        deleted = await env.client.sync(fewer, state=state, delete_missing=True, max_deletes=5)
    assert first.invalid == 1
    assert first.report is not None
    (failure,) = first.report.failures
    assert (failure.line, failure.external_id) == (len(twice), "B2")
    assert f"export.ndjson:{records.index(next(buildings(1, start=2))) + 1}" in failure.reason
    assert (again.unchanged, again.invalid) == (len(records), 1)
    assert deleted.deleted == 2


async def test_an_older_push_that_completes_late_is_not_taken_for_the_newer_one(
    tmp_path: Path,
) -> None:
    """A1 pushed (its batch left open), then changed and pushed again, the new version
    failing: the state holds what the platform holds (the old version), so the next run
    sends the new one again instead of calling it unchanged."""
    state = tmp_path / "s.sqlite"
    good = next(addresses(1, prefix="Z"))
    bad = {**good, "postalCode": "00000"}  # ends FailedGeoCoding
    async with connected(processing_delay=5.0) as env:
        await env.client.sync([good], state=state, wait=False)
        second = await env.client.sync([bad], state=state)
        assert second.report is not None
        assert second.report.failed == 1
        third = await env.client.sync([bad], state=state)
    assert (third.unchanged, third.updated) == (0, 1)


async def test_parents_stay_when_their_childrens_deletes_fail(tmp_path: Path) -> None:
    """The floors' deletes are refused (400): their building is not deleted after them,
    which would leave them orphaned; the report says why."""
    state = tmp_path / "s.sqlite"

    def refuse_floor_deletes(request: httpx2.Request) -> httpx2.Response | None:
        if request.method == "POST" and b"FloorDeleted" in request.content:
            return httpx2.Response(400, json={"message": "floors cannot be deleted today"})
        return None

    records = export(n_buildings=20, n_floors=5)
    kept = [r for r in records if r.get("buildingId") != "B0" and not r.get("floorId")]
    async with connected(rewrite=refuse_floor_deletes) as env:
        await env.client.sync(records, state=state)
        report = await env.client.sync(
            kept,
            state=state,
            delete_missing=True,
            max_deletes=10,
            delete_entities=["building", "floor"],
        )
        assert env.sandbox.ledger.record("building", "B0") is not None
    assert report.deleted == 0
    assert report.deletes_skipped is not None
    assert "parents were not deleted" in report.deletes_skipped


async def test_two_syncs_of_one_state_file_at_once_are_refused(tmp_path: Path) -> None:
    """A second sync while one runs: a configuration error saying what to do, not a second
    copy of every change."""
    state = tmp_path / "s.sqlite"
    async with connected(processing_delay=2.0) as env:
        running = asyncio.create_task(env.client.sync(export(), state=state))
        await asyncio.sleep(0.5)
        with pytest.raises(ConfigurationError, match="another sync is using"):
            await env.client.sync(export(), state=state)
        first = await running
    assert first.report is not None
    assert first.report.ok
