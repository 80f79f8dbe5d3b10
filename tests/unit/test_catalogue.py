"""Drift check: the models and the registry say what the entity catalogue says.

Every rule is checked by behaviour (what validates, what is rejected, what is sent), so a
catalogue change that the generated code does not follow fails here.
"""

from __future__ import annotations

import json
import re
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from buildingminds_async import models
from buildingminds_async.models import (
    ENTITIES,
    BatchStatus,
    EntityModel,
    UnknownEnumValueWarning,
    field_enum,
    status_outcome,
)

CATALOGUE: dict[str, Any] = json.loads(
    (Path(__file__).parent.parent / "data" / "entities.json").read_text(encoding="utf-8")
)
ENTITY_SPECS: dict[str, dict[str, Any]] = CATALOGUE["entities"]


def pascal(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("-"))


def model_of(entity: str) -> type[EntityModel]:
    model: type[EntityModel] = getattr(models, pascal(entity))
    return model


def catalogue_fields(entity: str) -> list[dict[str, Any]]:
    """The catalogue's fields; for an entity without a schema, the three the SDK declares."""
    spec = ENTITY_SPECS[entity]
    if spec["fields"]:
        fields: list[dict[str, Any]] = spec["fields"]
        return fields
    prefix = pascal(entity)
    return [
        {
            "name": spec["id_field"],
            "type": "string",
            "required": True,
            "minLength": 1,
            "maxLength": 50,
            "enum": [],
        },
        {
            "name": "eventType",
            "type": "string",
            "required": False,
            "inferred": True,
            "enum": [f"{prefix}Added", f"{prefix}Updated", f"{prefix}Deleted"],
        },
        {"name": "extensionData", "type": "object", "required": False, "enum": []},
    ]


def is_date_time(field: dict[str, Any]) -> bool:
    return (field.get("format") or "").startswith("date-time")


def is_strict(field: dict[str, Any]) -> bool:
    return not field.get("inferred", False) and not field.get("enum_partial", False)


def string_limits(field: dict[str, Any]) -> tuple[int | None, int | None]:
    """Length limits of a string (or of each item of a string array)."""
    # operational-measurement extensionData is a string documented with "maximum: 9999".
    return field.get("minLength"), field.get("maxLength", field.get("maximum"))


def valid_value(field: dict[str, Any]) -> Any:
    kind = field["type"]
    if field.get("enum"):
        return [field["enum"][0]] if kind.startswith("array") else field["enum"][0]
    if is_date_time(field):
        return "2024-01-01T00:00:00Z"
    if kind in ("string", "array<string>"):
        text = "x" * (string_limits(field)[0] or 1)
        return [text] if kind.startswith("array") else text
    if kind in ("number", "integer"):
        low, high = field.get("minimum"), field.get("maximum")
        if low is not None:
            return low
        return 0 if high is None or high >= 0 else high
    if kind == "boolean":
        return True
    if kind == "object":
        return {"key": "value"}
    raise AssertionError(f"no sample for type {kind!r}")


def minimal_record(entity: str) -> dict[str, Any]:
    return {f["name"]: valid_value(f) for f in catalogue_fields(entity) if f["required"] is True}


def with_value(entity: str, wire: str, value: Any) -> dict[str, Any]:
    return {**minimal_record(entity), wire: value}


def rejects(entity: str, wire: str, value: Any) -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UnknownEnumValueWarning)
            model_of(entity).model_validate(with_value(entity, wire, value))
    except ValidationError as error:
        return any(e["loc"][:1] == (wire,) for e in error.errors())
    return False


def accepts(entity: str, wire: str, value: Any) -> bool:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnknownEnumValueWarning)
        record = model_of(entity).model_validate(with_value(entity, wire, value))
    return record.to_wire()[wire] == value


def field_params(predicate: Any = lambda entity, field: True) -> list[Any]:
    return [
        pytest.param(entity, field, id=f"{entity}.{field['name']}")
        for entity in ENTITY_SPECS
        for field in catalogue_fields(entity)
        if predicate(entity, field)
    ]


def beyond(bound: int) -> int:
    """A step past ``bound`` that a JSON number (a double) can still tell apart from it."""
    # Past 2**53 neighbouring ints share a double: -1e17 - 1 *is* -1e17 to the server.
    return 1 if abs(bound) < 2**53 else abs(bound) // 2**40


def push_levels() -> dict[str, int]:
    return {
        name: level
        for level, entry in enumerate(CATALOGUE["dependency_order"])
        for name in entry.split("/")
    }


# --------------------------------------------------------------------------- entities


@pytest.mark.parametrize("entity", ENTITY_SPECS)
def test_model_exists_with_entity_and_id_field(entity: str) -> None:
    """Each catalogue entity has a PascalCase model carrying its API name and id field."""
    model = model_of(entity)
    assert issubclass(model, EntityModel)
    assert model.__name__ == pascal(entity)
    assert entity == model.ENTITY
    assert ENTITY_SPECS[entity]["id_field"] == model.ID_FIELD


@pytest.mark.parametrize("entity", ENTITY_SPECS)
def test_wire_names_are_the_catalogue_fields(entity: str) -> None:
    """A model declares exactly the catalogue's fields under their wire names."""
    declared = [info.alias or name for name, info in model_of(entity).model_fields.items()]
    assert declared == [field["name"] for field in catalogue_fields(entity)]


@pytest.mark.parametrize("entity", ENTITY_SPECS)
def test_minimal_record_validates_and_encodes_unchanged(entity: str) -> None:
    """The catalogue's required fields are enough, and they are sent back as given."""
    record = minimal_record(entity)
    assert model_of(entity).model_validate(record).to_wire() == record


@pytest.mark.parametrize(
    ("entity", "field"), field_params(lambda entity, field: field["required"] is True)
)
def test_required_field_is_required(entity: str, field: dict[str, Any]) -> None:
    """A field marked required: true cannot be left out."""
    record = minimal_record(entity)
    del record[field["name"]]
    with pytest.raises(ValidationError) as caught:
        model_of(entity).model_validate(record)
    assert [(e["type"], e["loc"]) for e in caught.value.errors()] == [("missing", (field["name"],))]


@pytest.mark.parametrize(
    ("entity", "field"),
    field_params(
        lambda entity, field: field["required"] is True and field["type"] == "array<string>"
    ),
)
def test_required_array_needs_an_item(entity: str, field: dict[str, Any]) -> None:
    """A required array must hold at least one item."""
    assert rejects(entity, field["name"], [])


@pytest.mark.parametrize(
    ("entity", "field"),
    field_params(
        lambda entity, field: (
            any(string_limits(field))
            and field["type"] in ("string", "array<string>")
            and not is_date_time(field)
            and not (field.get("enum") and is_strict(field))
        )
    ),
)
def test_string_lengths(entity: str, field: dict[str, Any]) -> None:
    """Strings (and items of string arrays) are held to the catalogue's length limits."""
    low, high = string_limits(field)
    wire = field["name"]

    def value(length: int) -> Any:
        return ["x" * length] if field["type"].startswith("array") else "x" * length

    if low is not None:
        assert accepts(entity, wire, value(low))
        if low > 0:
            assert rejects(entity, wire, value(low - 1))
    if high is not None:
        assert accepts(entity, wire, value(high))
        assert rejects(entity, wire, value(high + 1))


@pytest.mark.parametrize(
    ("entity", "field"),
    field_params(
        lambda entity, field: (
            field["type"] in ("number", "integer")
            and (field.get("minimum") is not None or field.get("maximum") is not None)
        )
    ),
)
def test_numeric_ranges(entity: str, field: dict[str, Any]) -> None:
    """Numbers are held to the catalogue's minimum and maximum, inclusive."""
    wire, low, high = field["name"], field.get("minimum"), field.get("maximum")
    if low is not None:
        assert accepts(entity, wire, low)
        assert rejects(entity, wire, low - beyond(low))
    if high is not None:
        assert accepts(entity, wire, high)
        assert rejects(entity, wire, high + beyond(high))
    if field["type"] == "number" and high is not None:
        assert rejects(entity, wire, high + beyond(high) / 2)


@pytest.mark.parametrize(
    ("entity", "field"), field_params(lambda entity, field: field["type"] == "number")
)
def test_number_accepts_int_and_float(entity: str, field: dict[str, Any]) -> None:
    """A "number" takes an int (kept an int on the wire) or a float."""
    wire, sample = field["name"], valid_value(field)
    assert accepts(entity, wire, int(sample))
    assert (
        type(model_of(entity).model_validate(with_value(entity, wire, int(sample))).to_wire()[wire])
        is int
    )
    assert accepts(entity, wire, sample + 0.5 if sample < 0 else sample + 0.25)


@pytest.mark.parametrize(
    ("entity", "field"), field_params(lambda entity, field: field["type"] == "integer")
)
def test_integer_rejects_a_fraction(entity: str, field: dict[str, Any]) -> None:
    """An "integer" field takes no fractional value."""
    assert rejects(entity, field["name"], valid_value(field) + 0.5)


WRONG_TYPE = {
    "string": ["x"],
    "array<string>": "x",
    "number": "many",
    "integer": "many",
    "boolean": "maybe",
    "object": ["x"],
}


@pytest.mark.parametrize(("entity", "field"), field_params())
def test_wire_type(entity: str, field: dict[str, Any]) -> None:
    """A value of the wrong JSON type is rejected and a valid sample is accepted."""
    assert rejects(entity, field["name"], WRONG_TYPE[field["type"]])
    assert accepts(entity, field["name"], valid_value(field))


@pytest.mark.parametrize(("entity", "field"), field_params(lambda entity, field: field.get("enum")))
def test_enum_values_and_strictness(entity: str, field: dict[str, Any]) -> None:
    """Every known value is accepted, readable with field_enum, with the right strictness."""
    model, wire = model_of(entity), field["name"]
    assert field_enum(model, wire) == (tuple(field["enum"]), is_strict(field))
    for known in field["enum"]:
        value = [known] if field["type"].startswith("array") else known
        assert accepts(entity, wire, value)


@pytest.mark.parametrize(("entity", "field"), field_params(lambda entity, field: field.get("enum")))
def test_unknown_enum_value(entity: str, field: dict[str, Any]) -> None:
    """A documented enum rejects an unknown value; an inferred or partial one warns."""
    model, wire = model_of(entity), field["name"]
    value: Any = "Zz"
    if field["type"].startswith("array"):
        value = [value]
    if is_strict(field):
        assert rejects(entity, wire, value)
        return
    with pytest.warns(UnknownEnumValueWarning, match=re.escape(f"{entity}.{wire}: 'Zz'")):
        record = model.model_validate(with_value(entity, wire, value))
    assert record.to_wire()[wire] == value


@pytest.mark.parametrize(
    ("entity", "field"), field_params(lambda entity, field: not field.get("enum"))
)
def test_fields_without_enum_have_no_known_values(entity: str, field: dict[str, Any]) -> None:
    """field_enum reports no known values for a field the catalogue gives none."""
    assert field_enum(model_of(entity), field["name"]) is None


@pytest.mark.parametrize(
    ("entity", "field"), field_params(lambda entity, field: is_date_time(field))
)
def test_date_time_fields(entity: str, field: dict[str, Any]) -> None:
    """A date-time field holds a UTC datetime and is sent as yyyy-mm-ddThh:mm:ssZ."""
    wire = field["name"]
    record = model_of(entity).model_validate(with_value(entity, wire, "2024-03-01"))
    attribute = next(n for n, i in type(record).model_fields.items() if (i.alias or n) == wire)
    assert getattr(record, attribute) == datetime(2024, 3, 1, tzinfo=UTC)
    assert record.to_wire()[wire] == "2024-03-01T00:00:00Z"


def holds_a_plain_date(entity: str, field: dict[str, Any]) -> bool:
    high = string_limits(field)[1]
    return (
        field["type"] == "string"
        and not is_date_time(field)
        and not (field.get("enum") and is_strict(field))
        and (high is None or high >= len("2024-03-01"))
    )


@pytest.mark.parametrize(("entity", "field"), field_params(holds_a_plain_date))
def test_plain_strings_are_not_parsed_as_dates(entity: str, field: dict[str, Any]) -> None:
    """Only catalogue date-time fields turn a date into a date-time; other strings keep it."""
    assert accepts(entity, field["name"], "2024-03-01")


# --------------------------------------------------------------------------- registry


@pytest.mark.parametrize("entity", ENTITY_SPECS)
def test_registry_matches_catalogue(entity: str) -> None:
    """The registry's path, model, dependencies, level and flags come from the catalogue."""
    spec, raw = ENTITIES[entity], ENTITY_SPECS[entity]
    fields = catalogue_fields(entity)
    event_types = next((f["enum"] for f in fields if f["name"] == "eventType"), [])
    assert spec.name == entity
    assert spec.path == raw["path"]
    assert spec.model is model_of(entity)
    assert spec.id_field == raw["id_field"]
    assert spec.event_prefix == pascal(entity)
    assert spec.event_types == tuple(event_types)
    assert spec.parents == tuple(raw["depends_on"])
    assert spec.depends_mode == raw["depends_on_mode"]
    assert spec.parent_fields == tuple(
        (f["name"], f["references"]) for f in fields if f.get("references") in raw["depends_on"]
    )
    assert spec.level == push_levels()[entity]
    assert spec.delete_supported is raw["delete_supported"]
    assert spec.documented is not raw.get("path_inferred", False)


def test_registry_is_in_push_order() -> None:
    """ENTITIES lists every entity once, in the catalogue's dependency order."""
    order = [name for entry in CATALOGUE["dependency_order"] for name in entry.split("/")]
    assert list(ENTITIES) == order
    assert sorted(order) == sorted(ENTITY_SPECS)


def test_parents_come_before_children() -> None:
    """Every parent of an entity sits on a lower level than the entity itself."""
    for spec in ENTITIES.values():
        assert all(ENTITIES[parent].level < spec.level for parent in spec.parents), spec.name


# --------------------------------------------------------------------------- statuses


def test_batch_statuses_are_the_catalogue_ones() -> None:
    """BatchStatus has exactly the catalogue's statuses."""
    assert sorted(BatchStatus) == sorted(CATALOGUE["batch_statuses"])


@pytest.mark.parametrize("status", CATALOGUE["batch_statuses"])
def test_status_outcome_matches_catalogue(status: str) -> None:
    """status_outcome agrees with the outcome the catalogue gives each status."""
    assert status_outcome(status) == CATALOGUE["batch_statuses"][status]["outcome"]
