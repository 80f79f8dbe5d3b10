"""``buildingminds batches list|show|wait`` against a loopback sandbox."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from cli_support import address, run, write_ndjson

from buildingminds_async.sandbox import SandboxServer

pytestmark = pytest.mark.loopback


@pytest.fixture
def pushed(env: SandboxServer, capsys: pytest.CaptureFixture[str]) -> list[str]:
    """Two batches pushed without waiting: 3 addresses (one fails geocoding), then 2."""
    records = [address(1), address(2, postalCode="00000"), address(3), address(4), address(5)]
    write_ndjson(Path("addresses.ndjson"), records)
    result = run(
        capsys, "onboard", "addresses.ndjson", "--no-wait", "--no-journal", "--chunk-size", "3"
    )
    assert result.code == 0, result.err
    return env.sandbox.ledger.batch_ids()


def test_list(pushed: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """list prints every batch; --json has their ids, entities and record counts."""
    result = run(capsys, "batches", "list")
    assert result.code == 0
    assert all(batch_id in result.out for batch_id in pushed)
    assert result.out.splitlines()[-1] == "2 batches"
    listed = run(capsys, "batches", "list", "--json").json
    assert listed["count"] == 2
    assert {b["batch_id"] for b in listed["batches"]} == set(pushed)
    assert sorted(b["record_count"] for b in listed["batches"]) == [2, 3]
    assert {b["entity"] for b in listed["batches"]} == {"address"}


def test_list_filters_by_day(pushed: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """--created-from/--created-to/--created-at filter by day; a bad day is exit 2."""
    today = datetime.now(UTC).date().isoformat()
    assert run(capsys, "batches", "list", "--json", "--created-at", today).json["count"] == 2
    assert run(capsys, "batches", "list", "--json", "--created-from", today).json["count"] == 2
    assert run(capsys, "batches", "list", "--json", "--created-to", "2001-01-01").json["count"] == 0
    assert run(capsys, "batches", "list", "--json", "--limit", "1").json["count"] == 1
    assert run(capsys, "batches", "list", "--created-at", "yesterday").code == 2


def test_show(pushed: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """show gives the status counts of one batch and its failures."""
    first = pushed[0]
    shown = run(capsys, "batches", "show", first, "--json").json
    assert shown["batch_id"] == first
    assert shown["status_counts"] == {"Completed": 2, "FailedGeoCoding": 1}
    assert (shown["total"], shown["completed"], shown["failed"], shown["done"]) == (3, 2, 1, True)
    (failure,) = shown["failures"]
    assert (failure["external_id"], failure["status"], failure["index"]) == (
        "A2",
        "FailedGeoCoding",
        1,
    )
    text = run(capsys, "batches", "show", first).out
    assert f"batch {first}: 3 records, done: 2 completed, 1 failed, 0 pending" in text
    assert "address A2 #1 FailedGeoCoding: Geocoding failed" in text
    everything = run(capsys, "batches", "show", first, "--all", "--json").json
    assert [m["external_id"] for m in everything["messages"]] == ["A1", "A2", "A3"]


def test_wait(pushed: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """wait: exit 1 when a record failed, 0 when all completed; --json sums them up."""
    failing, clean = pushed
    result = run(capsys, "batches", "wait", failing, clean, "--json", "--timeout", "10")
    assert result.code == 1
    assert (result.json["completed"], result.json["failed"], result.json["pending"]) == (4, 1, 0)
    assert [b["batch_id"] for b in result.json["batches"]] == [failing, clean]
    assert run(capsys, "batches", "wait", clean).code == 0


def test_unknown_batch(env: SandboxServer, capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown batch id is exit 2 at once, for show and for wait."""
    for argv in (["show", "no-such-batch"], ["wait", "no-such-batch", "--timeout", "30"]):
        result = run(capsys, "batches", *argv)
        assert result.code == 2
        assert "no-such-batch" in result.err


def test_batches_wrong_secret(
    env: SandboxServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rejected secret is exit 3 for batch commands too."""
    monkeypatch.setenv("BUILDINGMINDS_CLIENT_SECRET", "wrong")
    assert run(capsys, "batches", "list").code == 3
