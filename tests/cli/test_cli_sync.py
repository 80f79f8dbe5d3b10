"""``buildingminds sync`` against a loopback sandbox: the nightly export, again and again."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_support import address, read_rejects, run, site, write_csv, write_ndjson

from buildingminds_async.sandbox import SandboxServer

pytestmark = pytest.mark.loopback


def export(n: int = 10) -> list[dict[str, object]]:
    return [address(i, eventType="AddressAdded") for i in range(1, n + 1)]


def test_a_second_sync_of_the_same_export_sends_nothing(
    env: SandboxServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """First run: all added (exit 0); the same file again: all unchanged, not one push."""
    write_ndjson(Path("addresses.ndjson"), export())
    first = run(capsys, "sync", "addresses.ndjson", "--state", "p.sqlite", "--json")
    assert first.code == 0, first.err
    assert (first.json["added"], first.json["completed"]) == (10, 10)
    pushes = env.sandbox.ledger.requests_per_path
    second = run(capsys, "sync", "addresses.ndjson", "--state", "p.sqlite", "--json")
    assert second.code == 0, second.err
    summary = second.json
    assert (summary["unchanged"], summary["added"], summary["updated"]) == (10, 0, 0)
    assert summary["submitted"] == 0
    assert env.sandbox.ledger.requests_per_path == pushes


def test_csv_and_json_of_the_same_records_are_not_a_change(
    env: SandboxServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """The export moved from NDJSON to CSV, same content: nothing to send."""
    write_ndjson(Path("addresses.ndjson"), [address(1), address(2)])
    write_ndjson(Path("sites.ndjson"), [site(1), site(2, address_id="A2")])
    assert run(capsys, "sync", "addresses.ndjson", "sites.ndjson", "--state", "s").code == 0
    write_csv(Path("addresses.csv"), [{k: str(v) for k, v in address(i).items()} for i in (1, 2)])
    rows = []
    for record in (site(1), site(2, address_id="A2")):
        rows.append({k: ";".join(v) if isinstance(v, list) else str(v) for k, v in record.items()})
    write_csv(Path("sites.csv"), rows)
    again = run(capsys, "sync", "addresses.csv", "sites.csv", "--state", "s", "--json")
    assert again.code == 0, again.err
    assert (again.json["unchanged"], again.json["added"], again.json["updated"]) == (4, 0, 0)


def test_the_dry_run_prints_the_plan_and_the_delete_guard_stops_a_truncated_export(
    env: SandboxServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """A shortened export with --delete-missing: the dry run lists the deletes and exits 0;
    the real run refuses (exit 2) saying why and what to do, and sends nothing."""
    write_ndjson(Path("sites.ndjson"), [site(i) for i in range(1, 11)])
    write_ndjson(Path("addresses.ndjson"), [address(1)])
    assert run(capsys, "sync", "addresses.ndjson", "sites.ndjson", "--state", "s").code == 0
    write_ndjson(Path("sites.ndjson"), [site(i) for i in range(1, 4)])
    dry = run(
        capsys,
        "sync",
        "addresses.ndjson",
        "sites.ndjson",
        "--state",
        "s",
        "--delete-missing",
        "--dry-run",
        "--changes",
        "plan.ndjson",
    )
    assert dry.code == 2, dry.err  # as the real run will exit
    assert "site: 7 deleted, 3 unchanged" in dry.out
    assert "would delete (7):\n  site S10\n" in dry.out
    assert "a real run would refuse (exit 2)" in dry.out
    assert not Path("addresses.ndjson.rejects.ndjson").exists()
    assert len(Path("plan.ndjson").read_text().splitlines()) == 7
    before = env.sandbox.ledger.requests_per_path
    refused = run(
        capsys, "sync", "addresses.ndjson", "sites.ndjson", "--state", "s", "--delete-missing"
    )
    assert refused.code == 2
    assert "would delete 7 of the 10 records" in refused.err
    assert "--max-deletes" in refused.err
    assert env.sandbox.ledger.requests_per_path == before
    allowed = run(
        capsys,
        "sync",
        "addresses.ndjson",
        "sites.ndjson",
        "--state",
        "s",
        "--delete-missing",
        "--max-deletes",
        "70%",
        "--json",
    )
    assert allowed.code == 0, allowed.err
    assert allowed.json["deleted"] == 7
    assert sorted(env.sandbox.ledger.stored("site")) == ["S1", "S2", "S3"]


def test_invalid_rows_go_to_the_reject_file_and_are_not_deleted(
    env: SandboxServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """A record that became invalid: rejected with its line (exit 1), and its platform
    copy is not deleted as missing."""
    write_ndjson(Path("addresses.ndjson"), export(5))
    assert run(capsys, "sync", "addresses.ndjson", "--state", "s").code == 0
    records = export(5)
    records[2] = {**records[2], "country": 17}
    write_ndjson(Path("addresses.ndjson"), records)
    result = run(capsys, "sync", "addresses.ndjson", "--state", "s", "--delete-missing", "--json")
    assert result.code == 1
    assert (result.json["invalid"], result.json["delete_planned"]) == (1, 0)
    (rejected,) = read_rejects(Path("addresses.ndjson.rejects.ndjson"))
    assert (rejected["line"], rejected["external_id"]) == (3, "A3")
    assert "A3" in env.sandbox.ledger.stored("address")


def test_a_bad_max_deletes_is_a_usage_error(
    env: SandboxServer, capsys: pytest.CaptureFixture[str]
) -> None:
    write_ndjson(Path("addresses.ndjson"), export(1))
    result = run(capsys, "sync", "addresses.ndjson", "--state", "s", "--max-deletes", "lots")
    assert result.code == 2
    assert "expected N or P%" in result.err


def test_the_progress_lines_say_what_is_being_synced(
    env: SandboxServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """Off a terminal, each stats line of a sync carries its plan: how many records are
    unchanged, added, updated, to delete."""
    write_ndjson(Path("addresses.ndjson"), export(4))
    assert run(capsys, "sync", "addresses.ndjson", "--state", "s").code == 0
    write_ndjson(Path("addresses.ndjson"), [*export(4), address(9, eventType="AddressAdded")])
    result = run(
        capsys,
        "sync",
        "addresses.ndjson",
        "--state",
        "s",
        "--progress",
        "lines",
        "--stats-interval",
        "0",
    )
    assert result.code == 0, result.err
    lines = [line for line in result.err.splitlines() if "completed" in line]
    assert lines
    assert all("5 records read: 4 unchanged, 1 added, 0 updated" in line for line in lines)
