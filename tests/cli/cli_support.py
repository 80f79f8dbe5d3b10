"""Helpers of the CLI tests: run ``main(argv)``, write input files, build records."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from buildingminds_async.cli import main

VALID_FROM = "2024-01-01T00:00:00Z"
VALID_UNTIL = "2099-01-01T00:00:00Z"

CONTRACT_KEYS = {
    "submitted",
    "completed",
    "failed",
    "invalid",
    "pending",
    "requests",
    "retries",
    "rate_limited",
    "batches",
    "duration_s",
}


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def json(self) -> Any:
        return json.loads(self.out)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> Result:
    """``main(argv)`` with what it printed."""
    capsys.readouterr()
    code = main(list(argv))
    captured = capsys.readouterr()
    return Result(code, captured.out, captured.err)


def address(i: int, **fields: Any) -> dict[str, Any]:
    return {
        "addressId": f"A{i}",
        "city": "Berlin",
        "country": "DE",
        "postalCode": "10115",
        **fields,
    }


def site(i: int, address_id: str = "A1", **fields: Any) -> dict[str, Any]:
    return {
        "siteId": f"S{i}",
        "name": f"Site {i}",
        "type": "Office",
        "addressIds": [address_id],
        "validFrom": VALID_FROM,
        "validUntil": VALID_UNTIL,
        **fields,
    }


def write_ndjson(path: Path, records: Iterable[Any]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def write_json(path: Path, records: Iterable[Any]) -> Path:
    path.write_text(json.dumps(list(records), indent=1), encoding="utf-8")
    return path


def write_csv(path: Path, rows: Iterable[Mapping[str, str]]) -> Path:
    rows = list(rows)
    columns = list(dict.fromkeys(key for row in rows for key in row))
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


def read_rejects(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
