"""The streaming readers and the CSV conversion, without a network."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path
from typing import Any

import pytest

from buildingminds_async.cli._readers import (
    InputError,
    ReadPosition,
    entity_from_name,
    iter_json_array,
    plan_inputs,
    read_records,
    sniff,
)
from buildingminds_async.cli._records import Checker, Rejected
from buildingminds_async.models import entity_spec


def _trickle(text: str, step: int = 3) -> Any:
    """A ``read(n)`` that returns at most ``step`` characters at a time."""
    stream = io.StringIO(text)
    return lambda n: stream.read(min(n, step))


def test_json_array_read_in_pieces() -> None:
    """Elements split across reads at every position are parsed whole, numbers included."""
    values = [{"a": 1, "b": "x,]}"}, 12345, [1, 2], "s", None, {"n": -1.5e3}]
    text = " \n[" + ",\n ".join(json.dumps(v) for v in values) + "]\n"
    for step in (1, 2, 3, 7, 64):
        got = list(iter_json_array(_trickle(text, step), "f.json"))
        assert got == list(enumerate(values, start=1)), step


def test_json_array_is_not_loaded_whole() -> None:
    """The reader asks for bounded pieces, so a huge array never sits in memory at once."""
    asked: list[int] = []
    text = "[" + ",".join(json.dumps({"i": i, "pad": "x" * 100}) for i in range(5000)) + "]"
    stream = io.StringIO(text)

    def read(n: int) -> str:
        asked.append(n)
        return stream.read(n)

    count = sum(1 for _ in iter_json_array(read, "big.json"))
    assert count == 5000
    assert max(asked) <= 128 * 1024
    assert len(asked) > 5


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"a": 1}', "expected a JSON array"),
        ('[{"a": 1},\n {"a": 2}', "not closed"),
        ('[{"a": 1}\n {"a": 2}]', "line 2: expected ',' or ']' after record 1"),
        ('[{"a": 1}, {"a": }]', "record 2 is not valid JSON"),
        ("[1] [2]", "unexpected text after the end"),
        ('[{"a": 1}, ' + "[" * 5_000 + "]" * 5_000 + "]", "record 2 is nested too deeply"),
    ],
)
def test_json_array_errors_name_the_line(text: str, message: str) -> None:
    """A malformed array is an InputError saying where."""
    with pytest.raises(InputError, match=message):
        list(iter_json_array(_trickle(text, 4), "f.json"))


def test_empty_array_and_empty_file() -> None:
    """An empty array and an empty file hold no record."""
    assert list(iter_json_array(_trickle("[ ]"), "f.json")) == []
    assert list(iter_json_array(_trickle("  \n"), "f.json")) == []


@pytest.mark.parametrize(
    ("name", "entity"),
    [
        ("buildings.ndjson", "building"),
        ("building.csv", "building"),
        ("rental-units.csv", "rental-unit"),
        ("rental_unit.jsonl", "rental-unit"),
        ("data/Addresses.json.gz", "address"),
        ("buildings.csv.rejects.ndjson", "building"),
        ("portfolio.ndjson", None),
        ("buildings-2024.csv", None),
    ],
)
def test_entity_from_file_name(name: str, entity: str | None) -> None:
    """The file name gives the entity: singular, plural, any separator, reject files too."""
    spec = entity_from_name(name)
    assert (spec.name if spec else None) == entity


def test_sniff() -> None:
    """The first non-blank character tells a JSON array, NDJSON or CSV."""
    assert sniff(b"\xef\xbb\xbf  [") == "json"
    assert sniff(b"\n{") == "ndjson"
    assert sniff(b"addressId,city") == "csv"
    assert sniff(b" \n ") is None


def _read(paths: list[str], **kwargs: Any) -> list[Any]:
    inputs = plan_inputs(paths, entity=kwargs.get("entity"), fmt=kwargs.get("fmt"))
    return list(read_records(inputs, ReadPosition(None)))


def test_a_record_nested_too_deeply_is_one_invalid_record(tmp_path: Path) -> None:
    """NDJSON: a line nested thousands of levels deep is rejected with a reason; the next
    line is read as usual (no RecursionError)."""
    path = tmp_path / "addresses.ndjson"
    deep = '{"addressId": "A1", "x": ' + '{"a": ' * 5_000 + "1" + "}" * 5_000 + "}"
    path.write_text(deep + '\n{"addressId": "A2", "city": "Graz", "country": "AT"}\n')
    checker = Checker(entity_spec("address"))
    results = [checker.check(r) for r in _read([str(path)])]
    first, second = results
    assert isinstance(first, Rejected)
    assert first.line == 1
    assert "nested too deeply" in first.reason
    assert not isinstance(second, Rejected)


def test_ndjson_lines_blank_lines_and_bad_json(tmp_path: Path) -> None:
    """NDJSON: line numbers count blank lines; a line that is not JSON is one invalid record."""
    path = tmp_path / "addresses.ndjson"
    path.write_bytes(
        b'\xef\xbb\xbf{"addressId": "A1", "city": "Graz", "country": "AT"}\n\n'
        b'{"addressId": \n{"addressId": "A3"}\n'
    )
    checker = Checker()
    results = [checker.check(r) for r in _read([str(path)])]
    assert [r.line if isinstance(r, Rejected) else r[1].external_id for r in results] == [
        "A1",
        3,
        4,
    ]
    bad_json, invalid = results[1], results[2]
    assert isinstance(bad_json, Rejected)
    assert bad_json.reason.startswith("not valid JSON: ")
    assert bad_json.record == '{"addressId": '
    assert isinstance(invalid, Rejected)
    assert (invalid.entity, invalid.external_id, invalid.field) == ("address", "A3", "city")


def test_gzip_and_json_array_files(tmp_path: Path) -> None:
    """A .gz file is read decompressed; a .json array and a .json of NDJSON both work."""
    gz = tmp_path / "addresses.ndjson.gz"
    with gzip.open(gz, "wt") as handle:
        handle.write('{"addressId": "A1"}\n{"addressId": "A2"}\n')
    array = tmp_path / "sites.json"
    array.write_text('[{"siteId": "S1"}, {"siteId": "S2"}]')
    lines = tmp_path / "floors.json"
    lines.write_text('{"floorId": "F1"}\n')
    records = _read([str(gz), str(array), str(lines)])
    assert [(r.file.rsplit("/", 1)[-1], r.line) for r in records] == [
        ("addresses.ndjson.gz", 1),
        ("addresses.ndjson.gz", 2),
        ("sites.json", 1),
        ("sites.json", 2),
        ("floors.json", 1),
    ]


def test_csv_rows_lines_and_errors(tmp_path: Path) -> None:
    """CSV: the line a row starts on (quoted newlines included), blank rows skipped."""
    path = tmp_path / "sites.csv"
    path.write_text('siteId,name\nS1,"two\nlines"\n\nS2,x,extra\nS3,\n', encoding="utf-8")
    records = _read([str(path)])
    assert [(r.line, r.data) for r in records] == [
        (2, {"siteId": "S1", "name": "two\nlines"}),
        (5, {"siteId": "S2", "name": "x"}),
        (6, {"siteId": "S3"}),
    ]
    assert records[1].error == "the row has 3 values but the header has 2 columns"


@pytest.mark.parametrize(
    ("content", "message"),
    [("a,,b\n1,2,3\n", "column 2 of the header has no name"), ("a,a\n1,2\n", "repeats a")],
)
def test_bad_csv_header(tmp_path: Path, content: str, message: str) -> None:
    """A header with a blank or repeated column name is an InputError."""
    path = tmp_path / "sites.csv"
    path.write_text(content)
    with pytest.raises(InputError, match=message):
        _read([str(path)])


def test_plan_checks_inputs(tmp_path: Path) -> None:
    """Missing files, directories and a repeated stdin are refused before reading."""
    with pytest.raises(InputError, match="no such file"):
        plan_inputs([str(tmp_path / "x.csv")], entity=None, fmt=None)
    with pytest.raises(InputError, match="is a directory"):
        plan_inputs([str(tmp_path)], entity=None, fmt=None)
    with pytest.raises(InputError, match="only once"):
        plan_inputs(["-", "-"], entity=None, fmt=None)


def test_checker_converts_csv_by_model_type() -> None:
    """CSV cells become the model's types; a cell that does not convert names its field."""
    from buildingminds_async.cli._readers import RawRecord

    checker = Checker()
    building = entity_spec("building")
    row = {
        "buildingId": "B1",
        "name": "Main",
        "siteId": "S1",
        "addressIds": "A1;;A2 ",
        "primaryTypeOfBuilding": "Office",
        "typeOfOwnership": "Owner",
        "airConditioning": "n",
        "parkingSpaces": "seven",
        "validFrom": "2024-01-01",
        "validUntil": "2099-01-01",
    }
    result = checker.check(RawRecord(row, "b.csv", 2, building, csv=True))
    assert isinstance(result, Rejected)
    assert (result.field, result.line, result.external_id) == ("parkingSpaces", 2, "B1")
    assert result.record["addressIds"] == ["A1", "A2"]
    assert result.record["airConditioning"] is False
    assert result.record["parkingSpaces"] == "seven"
    row["parkingSpaces"] = "7"
    checked = checker.check(RawRecord(row, "b.csv", 2, building, csv=True))
    assert not isinstance(checked, Rejected)
    assert checked[1].to_wire()["parkingSpaces"] == 7
