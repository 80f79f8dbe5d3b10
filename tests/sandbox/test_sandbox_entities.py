"""The sandbox checks a whole push at once and still judges each record as the model does."""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from buildingminds_async.models import UnknownEnumValueWarning
from buildingminds_async.sandbox._entities import (
    EntityRule,
    check_record,
    check_records,
    load_rules,
)

CATALOGUE: dict[str, Any] = json.loads(
    (Path(__file__).parent.parent / "data" / "entities.json").read_text(encoding="utf-8")
)["entities"]
RULES = load_rules()


def _sample(field: dict[str, Any]) -> Any:
    kind = field["type"]
    if field.get("enum"):
        value: Any = field["enum"][0]
    elif (field.get("format") or "").startswith("date-time"):
        value = "2024-01-01T00:00:00Z"
    elif "string" in kind:
        value = "x" * (field.get("minLength") or 1)
    elif kind in ("number", "integer"):
        value = field.get("minimum", 0)
    elif kind == "boolean":
        value = True
    else:
        value = {"key": "value"}
    return [value] if kind.startswith("array") else value


def _variants(entity: str) -> list[dict[str, Any]]:
    """A valid record of ``entity``, and records that break it one field at a time."""
    rule = RULES[entity]
    fields = CATALOGUE[entity]["fields"]
    base = {f["name"]: _sample(f) for f in fields if f["required"] is True}
    base[rule.id_field] = "ID-1"
    out = [base, {**base, "eventType": None}, {**base, "notAField": 1}, "not an object"]
    for field in fields:
        name = field["name"]
        out.append({**base, name: _sample(field)})
        out.append({**base, name: None})
        out.append({**base, name: 12345 if "string" in field["type"] else "text"})
        out.append({**base, name: "y" * 10_000})
        out.append({**base, name: ["a", 1]})
        if field.get("enum"):
            out.append({**base, name: "NotAKnownValue"})
    # The Python name instead of the wire name: the SDK's models take both, the API not.
    python_id = re.sub(r"(?<!^)(?=[A-Z])", "_", rule.id_field).lower()
    out.append({**{k: v for k, v in base.items() if k != rule.id_field}, python_id: "ID-1"})
    out.append({k: v for k, v in base.items() if k != rule.id_field})
    return out


def _model_accepts(rule: EntityRule, record: Any) -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UnknownEnumValueWarning)
            rule.model.model_validate(record, by_alias=True, by_name=False)
    except ValidationError:
        return False
    return True


def _list_accepts(rule: EntityRule, records: list[Any]) -> bool:
    assert rule.list_validator is not None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UnknownEnumValueWarning)
            rule.list_validator.validate_python(records)
    except ValidationError:
        return False
    return True


@pytest.mark.parametrize("entity", sorted(RULES))
def test_a_push_passes_whole_exactly_when_each_record_passes_the_model(entity: str) -> None:
    rule = RULES[entity]
    assert rule.list_validator is not None  # every entity takes the one-call path
    variants = _variants(entity)
    for record in variants:
        assert _list_accepts(rule, [record]) == _model_accepts(rule, record), record
    valid = [r for r in variants if _model_accepts(rule, r)]
    assert len(valid) >= 2
    assert _list_accepts(rule, valid)
    assert not _list_accepts(rule, [*valid, variants[-1]])


@pytest.mark.parametrize("entity", sorted(RULES))
def test_verdicts_of_a_push_are_those_of_its_records(entity: str) -> None:
    """Whole-push or record by record, the same verdicts (ids, events, reasons)."""
    rule = RULES[entity]
    variants = _variants(entity)
    valid = [r for r in variants if _model_accepts(rule, r)]
    for records in (valid, variants):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UnknownEnumValueWarning)
            expected = [check_record(rule, r) for r in records]
        assert check_records(rule, records) == expected
    assert any(v.error for v in check_records(rule, variants))
