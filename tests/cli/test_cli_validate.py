"""``buildingminds validate``: offline, no credentials, the same errors as onboard."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx2
import pytest
from cli_support import (
    VALID_FROM,
    VALID_UNTIL,
    address,
    read_rejects,
    run,
    site,
    write_csv,
    write_ndjson,
)

from buildingminds_async.sandbox import SandboxServer


@pytest.fixture
def offline(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No credentials, and any HTTP client would fail the test."""

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("validate must not open an HTTP client")

    monkeypatch.setattr(httpx2.AsyncClient, "__init__", refuse)
    return clean_env


def _files() -> list[str]:
    write_ndjson(
        Path("addresses.ndjson"),
        [address(1), {"addressId": "A2", "country": "DE"}, address(3, postalCode="")],
    )
    write_csv(
        Path("sites.csv"),
        [
            {
                "siteId": "S1",
                "name": "One",
                "type": "Office",
                "addressIds": "A1",
                "validFrom": VALID_FROM,
                "validUntil": VALID_UNTIL,
            },
            {
                "siteId": "S2",
                "name": "Two",
                "type": "Office Park",
                "addressIds": "A1",
                "validFrom": "31.12.2024",
                "validUntil": VALID_UNTIL,
            },
        ],
    )
    return ["addresses.ndjson", "sites.csv"]


def test_validate_offline(offline: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Invalid records: exit 1, each printed with file, line, entity, id and field."""
    result = run(capsys, "validate", *_files())
    assert result.code == 1
    lines = result.out.splitlines()
    assert lines[0].startswith("addresses.ndjson:2: address A2 Invalid: city: Field required")
    assert lines[1].startswith("addresses.ndjson:3: address A3 Invalid: postalCode:")
    assert lines[2].startswith("sites.csv:3: site S2 Invalid: type: Input should be")
    assert "validFrom" in lines[2]
    assert lines[-1] == "5 records in addresses.ndjson, sites.csv: 2 valid, 3 invalid"


def test_validate_json_summary(offline: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--json gives counts per entity and the first errors."""
    result = run(capsys, "validate", *_files(), "--json")
    assert result.code == 1
    summary = result.json
    assert (summary["records"], summary["valid"], summary["invalid"]) == (5, 2, 3)
    assert summary["by_entity"] == {
        "address": {"valid": 1, "invalid": 2},
        "site": {"valid": 1, "invalid": 1},
    }
    assert [(e["file"], e["line"], e["field"]) for e in summary["errors"]] == [
        ("addresses.ndjson", 2, "city"),
        ("addresses.ndjson", 3, "postalCode"),
        ("sites.csv", 3, "type"),
    ]


def test_validate_all_valid(offline: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """All valid: exit 0."""
    write_ndjson(Path("addresses.ndjson"), [address(1), address(2)])
    result = run(capsys, "validate", "addresses.ndjson")
    assert result.code == 0
    assert result.out == "2 records in addresses.ndjson: 2 valid, 0 invalid\n"


def test_validate_malformed_file_exits_2(offline: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A file that is not a JSON array after all is a usage error (exit 2)."""
    Path("addresses.json").write_text('[{"addressId": "A1"} {"addressId": "A2"}]')
    result = run(capsys, "validate", "addresses.json")
    assert result.code == 2
    assert "addresses.json: line 1: expected ',' or ']' after record 1" in result.err


@pytest.mark.loopback
def test_validate_reports_what_onboard_rejects(
    env: SandboxServer, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """validate --rejects writes the same reject lines as onboard does for invalid records."""
    files = _files()
    assert run(capsys, "validate", *files, "--rejects", "checked.ndjson").code == 1
    assert run(capsys, "onboard", *files, "--rejects", "onboarded.ndjson").code == 1
    checked = read_rejects(Path("checked.ndjson"))
    onboarded = [r for r in read_rejects(Path("onboarded.ndjson")) if r["status"] == "Invalid"]
    assert checked == onboarded
    assert len(checked) == 3


def test_format_and_entity_flags(offline: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--format reads a file whatever its name; --entity gives the entity a name cannot."""
    write_ndjson(Path("export.txt"), [address(1)])
    untold = run(capsys, "validate", "export.txt", "--format", "ndjson")
    assert untold.code == 2  # no record's entity could be told: the command is at fault
    assert "pass --entity" in untold.err
    result = run(capsys, "validate", "export.txt", "--format", "ndjson", "--entity", "address")
    assert result.code == 0, result.out


def test_parents_the_input_does_not_hold_are_listed(
    offline: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Sites naming an address that is not in the input: listed with how many records
    name it and the first one's line, before anything is sent; not an error."""
    write_ndjson(Path("addresses.ndjson"), [address(1)])
    write_ndjson(
        Path("sites.ndjson"),
        [site(1), site(2, "A-gone"), site(3, "A-gone"), site(4, "A-other")],
    )
    result = run(capsys, "validate", "addresses.ndjson", "sites.ndjson")
    assert result.code == 0, result.out + result.err
    assert "2 parent record(s) named by the input are not in it" in result.out
    assert "address 'A-gone', named by 2 record(s) (first at sites.ndjson:2)" in result.out
    assert "address 'A-other', named by 1 record(s) (first at sites.ndjson:4)" in result.out
    summary = run(capsys, "validate", "addresses.ndjson", "sites.ndjson", "--json").json
    assert summary["missing_references"] == 2
    assert summary["missing_references_first"][0] == {
        "entity": "address",
        "external_id": "A-gone",
        "records": 2,
        "first": "sites.ndjson:2",
    }


def test_an_input_holding_every_parent_lists_none(
    offline: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_ndjson(Path("addresses.ndjson"), [address(1)])
    write_ndjson(Path("sites.ndjson"), [site(1), site(2)])
    result = run(capsys, "validate", "addresses.ndjson", "sites.ndjson", "--json")
    assert result.json["missing_references"] == 0
    assert "not in it" not in result.err + result.out


def test_ids_given_more_than_once_are_listed(
    offline: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each is sent, and the platform keeps whichever it processes last: a warning with
    the first and last line, not an error."""
    write_ndjson(
        Path("addresses.ndjson"),
        [address(1), address(2), address(1, city="Hamburg"), address(1, city="Bremen")],
    )
    result = run(capsys, "validate", "addresses.ndjson")
    assert result.code == 0, result.out + result.err
    assert "1 id(s) appear more than once" in result.out
    assert (
        "address 'A1', 3 times (first at addresses.ndjson:1, last at addresses.ndjson:4)"
        in result.out
    )
    summary = run(capsys, "validate", "addresses.ndjson", "--json").json
    assert summary["duplicate_ids"] == 1
    assert summary["duplicate_ids_first"][0]["times"] == 3
