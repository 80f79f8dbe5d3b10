"""Behaviour of the entity models, the registry and the batch response models."""

from __future__ import annotations

import json
import math
import warnings
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import ValidationError

from buildingminds_async.models import (
    Batch,
    BatchStatus,
    Building,
    EnergyRating,
    EntityModel,
    InboundMessage,
    KnownValues,
    Meter,
    OperationalMeasurement,
    Page,
    ResponseModel,
    Site,
    Space,
    UnknownEnumValueWarning,
    entity_for_event_type,
    entity_spec,
    field_enum,
    parse_batch_id,
    status_outcome,
)


def building(**changes: Any) -> dict[str, Any]:
    """A valid building record in wire names, with ``changes`` applied."""
    record = {
        "buildingId": "B-1",
        "name": "Head office",
        "siteId": "S-1",
        "addressIds": ["A-1"],
        "primaryTypeOfBuilding": "Office",
        "typeOfOwnership": "Owner",
        "validFrom": "2024-01-01T00:00:00Z",
        "validUntil": "2099-12-31T00:00:00Z",
    }
    record.update(changes)
    return record


def measurement(**changes: Any) -> dict[str, Any]:
    """A valid operational measurement record in wire names, with ``changes`` applied."""
    record = {
        "operationalMeasurementId": "OM-1",
        "buildingId": "B-1",
        "procuredBy": "Self-procured",
        "purpose": "Lighting",
        "spaceType": "Whole building",
        "subType": "Electricity from grid (green electricity contract)",
        "type": "Energy",
        "validFrom": "2024-01-01T00:00:00Z",
        "validUntil": "2025-01-01T00:00:00Z",
    }
    record.update(changes)
    return record


def errors_of(caught: pytest.ExceptionInfo[ValidationError]) -> list[tuple[str, tuple[Any, ...]]]:
    return [(error["type"], error["loc"]) for error in caught.value.errors()]


# --------------------------------------------------------------------------- input models


def test_populates_by_wire_name_and_by_attribute_name() -> None:
    """A record may use wire names or Python names; both give the same model."""
    by_wire = Building.model_validate(building())
    by_attribute = Building(
        building_id="B-1",
        name="Head office",
        site_id="S-1",
        address_ids=["A-1"],
        primary_type_of_building="Office",
        type_of_ownership="Owner",
        valid_from=datetime(2024, 1, 1, tzinfo=UTC),
        valid_until=datetime(2099, 12, 31, tzinfo=UTC),
    )
    assert by_wire == by_attribute
    assert by_attribute.to_json() == by_wire.to_json()


def test_odd_wire_names_are_kept() -> None:
    """Catalogue spellings such as effectZonesBentilation and coUseArea go out unchanged."""
    space = Space(
        space_id="SP-1",
        name="Lab",
        floor_id="F-1",
        valid_from=date(2024, 1, 1),
        valid_until=date(2025, 1, 1),
        effect_zones_bentilation=12,
        co_use_area=True,
    )
    wire = space.to_wire()
    assert wire["effectZonesBentilation"] == 12
    assert wire["coUseArea"] is True


def test_unknown_field_is_rejected_by_name() -> None:
    """A misspelt field fails validation, and the error names it."""
    with pytest.raises(ValidationError, match="buildingNmae") as caught:
        Building.model_validate(building(buildingNmae="typo"))
    assert errors_of(caught) == [("extra_forbidden", ("buildingNmae",))]


def test_missing_required_field_is_rejected() -> None:
    """A record without a required field fails, naming the field."""
    record = building()
    del record["siteId"]
    with pytest.raises(ValidationError) as caught:
        Building.model_validate(record)
    assert errors_of(caught) == [("missing", ("siteId",))]


def test_required_array_needs_an_item() -> None:
    """An empty list does not satisfy a required array."""
    with pytest.raises(ValidationError) as caught:
        Building.model_validate(building(addressIds=[]))
    assert errors_of(caught) == [("too_short", ("addressIds",))]


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("name", "x" * 201, "string_too_long"),
        ("name", "", "string_too_short"),
        ("buildingId", "x" * 51, "string_too_long"),
        ("parkingSpaces", 10_000, "less_than_equal"),
        ("parkingSpaces", -1, "greater_than_equal"),
        ("electricVehicleChargingStations", 10_000, "number"),
        ("electricVehicleChargingStations", 9999.5, "number"),
    ],
)
def test_out_of_bounds_values_are_rejected(field: str, value: Any, error: str) -> None:
    """Over-long strings and out-of-range numbers fail with one error on the field."""
    with pytest.raises(ValidationError) as caught:
        Building.model_validate(building(**{field: value}))
    assert errors_of(caught) == [(error, (field,))]


def test_array_item_lengths_are_checked() -> None:
    """Length limits of a string array apply to each of its items."""
    with pytest.raises(ValidationError) as caught:
        Building.model_validate(building(addressIds=["A-1", "x" * 51]))
    assert errors_of(caught) == [("string_too_long", ("addressIds", 1))]


def test_number_error_states_the_range() -> None:
    """A number out of range fails with one message stating the allowed range."""
    with pytest.raises(ValidationError, match="a number from 1 to 9999"):
        Space.model_validate(
            {
                "spaceId": "S",
                "name": "n",
                "floorId": "F",
                "validFrom": "2024-01-01",
                "validUntil": "2025-01-01",
                "effectZonesCooling": 0,
            }
        )


@pytest.mark.parametrize(("value", "wire"), [(4, b"4"), (4.0, b"4.0"), (4.5, b"4.5")])
def test_number_keeps_its_type_on_the_wire(value: float, wire: bytes) -> None:
    """A JSON number keeps int or float as given: 4 is not sent as 4.0."""
    record = Building.model_validate(building(electricVehicleChargingStations=value))
    assert type(record.electric_vehicle_charging_stations) is type(value)
    assert b'"electricVehicleChargingStations":' + wire + b"," in record.to_json()


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_number_rejects_values_json_cannot_carry(value: float) -> None:
    """NaN and infinities are rejected rather than sent as null."""
    with pytest.raises(ValidationError):
        Building.model_validate(building(electricVehicleChargingStations=value))


def test_strict_enum_rejects_an_unknown_value() -> None:
    """An enum read from the docs (site type) rejects a value outside its list."""
    with pytest.raises(ValidationError) as caught:
        Site.model_validate(
            {
                "siteId": "S",
                "name": "n",
                "addressIds": ["A"],
                "type": "Castle",
                "validFrom": "2024-01-01",
                "validUntil": "2025-01-01",
            }
        )
    assert errors_of(caught) == [("literal_error", ("type",))]


def test_lenient_enum_accepts_an_unknown_value_with_a_warning() -> None:
    """An inferred enum keeps an unknown value and warns, naming entity, field and value."""
    with pytest.warns(UnknownEnumValueWarning) as caught:
        record = Building.model_validate(building(primaryHeatingType="Wood stove"))
    assert record.primary_heating_type == "Wood stove"
    assert b'"primaryHeatingType":"Wood stove"' in record.to_json()
    [warning] = caught.list
    assert isinstance(warning.message, UnknownEnumValueWarning)
    assert (warning.message.entity, warning.message.field, warning.message.value) == (
        "building",
        "primaryHeatingType",
        "Wood stove",
    )
    assert "building.primaryHeatingType: 'Wood stove'" in str(warning.message)
    assert warning.filename == __file__


def test_lenient_enum_is_quiet_for_a_known_value() -> None:
    """A known value of a lenient enum passes without a warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        record = Building.model_validate(building(primaryHeatingType="Heat pump"))
    assert record.primary_heating_type == "Heat pump"


def test_unknown_enum_warning_is_a_user_warning() -> None:
    """UnknownEnumValueWarning can be filtered as a UserWarning."""
    assert issubclass(UnknownEnumValueWarning, UserWarning)


def test_lenient_enum_still_checks_length() -> None:
    """An unknown value of a lenient enum must still fit the field's length."""
    with pytest.raises(ValidationError) as caught:
        Building.model_validate(building(primaryHeatingType="x" * 51))
    assert errors_of(caught) == [("string_too_long", ("primaryHeatingType",))]


def test_array_of_lenient_enum_warns_per_unknown_item() -> None:
    """lifeCycleAssessment applies the lenient rule to each item."""
    record = measurement(lifeCycleAssessment=["A1", "Z9", "B6"])
    with pytest.warns(UnknownEnumValueWarning) as caught:
        parsed = OperationalMeasurement.model_validate(record)
    assert [getattr(w.message, "value", None) for w in caught.list] == ["Z9"]
    assert parsed.life_cycle_assessment == ["A1", "Z9", "B6"]


def test_field_enum_reads_known_values_and_strictness() -> None:
    """field_enum gives (values, strict) by wire name, None for a non-enum field."""
    assert field_enum(Site, "type") == KnownValues(
        (
            "Education",
            "Health Care",
            "Hotel",
            "Industrial",
            "Lodging, Leisure & Recreation",
            "Mixed Use",
            "Office",
            "Residential",
            "Retail",
            "Technology/Science",
            "Other",
        ),
        strict=True,
    )
    assert field_enum(Building, "typeOfOwnership") == (("Owner", "Tenant"), False)
    known = field_enum(OperationalMeasurement, "lifeCycleAssessment")
    assert known is not None
    assert known.strict is False
    assert "A1" in known.values
    assert field_enum(Building, "name") is None


def test_field_enum_names_the_fields_of_a_model_on_a_typo() -> None:
    """field_enum raises KeyError listing the model's wire names."""
    with pytest.raises(KeyError, match="primaryHeatingType"):
        field_enum(Building, "primaryHeatType")


@pytest.mark.parametrize(
    ("value", "wire"),
    [
        (date(2024, 1, 1), "2024-01-01T00:00:00Z"),
        (datetime(2024, 1, 1, 12, 30, 15, 999_999), "2024-01-01T12:30:15Z"),
        (datetime(2024, 1, 1, 12, 0, tzinfo=timezone(timedelta(hours=2))), "2024-01-01T10:00:00Z"),
        (datetime(2024, 1, 1, tzinfo=UTC), "2024-01-01T00:00:00Z"),
        ("2024-01-01T00:00:00Z", "2024-01-01T00:00:00Z"),
        ("2024-01-01", "2024-01-01T00:00:00Z"),
        ("2024-06-30T23:30:00.250-01:00", "2024-07-01T00:30:00Z"),
    ],
)
def test_date_times_are_sent_as_utc_seconds(value: Any, wire: str) -> None:
    """date, naive or aware datetime and ISO strings all go out as yyyy-mm-ddThh:mm:ssZ."""
    record = Building.model_validate(building(validFrom=value))
    assert isinstance(record.valid_from, datetime)
    assert record.valid_from.utcoffset() == timedelta(0)
    assert record.to_wire()["validFrom"] == wire
    assert f'"validFrom":"{wire}"'.encode() in record.to_json()


@pytest.mark.parametrize("value", ["01/02/2024", "yesterday", 1998, None])
def test_date_time_rejects_other_values(value: Any) -> None:
    """A date-time takes no free text, and no number (1998 is not a Unix timestamp)."""
    with pytest.raises(ValidationError) as caught:
        Building.model_validate(building(validFrom=value))
    assert [loc for _, loc in errors_of(caught)] == [("validFrom",)]


@pytest.mark.parametrize("value", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_a_date_time_beyond_the_calendar_in_utc_is_a_validation_error(value: str) -> None:
    """A date-time at the calendar's edge whose offset takes it past year 1 or 9999 is a
    validation error of its field, not an OverflowError."""
    with pytest.raises(ValidationError) as caught:
        Building.model_validate(building(validFrom=value))
    assert errors_of(caught) == [("wire_datetime_range", ("validFrom",))]


@pytest.mark.parametrize(
    "external_id", ["B\n1", "B\x001", "B\x1b[31m", "B\u202e1", "B\u20661", "   ", "\t"]
)
def test_ids_with_control_or_bidi_characters_are_refused(external_id: str) -> None:
    """An id that would split an output line, drive the terminal or show another id than
    the one stored is refused, and so is one made of spaces only."""
    with pytest.raises(ValidationError) as caught:
        Building.model_validate(building(buildingId=external_id))
    assert [loc for _, loc in errors_of(caught)] == [("buildingId",)]


def test_ids_with_inner_spaces_and_letters_of_any_script_are_kept() -> None:
    for external_id in ("B 1", "Gebäude-7", "建物-1", "B\u00a01"):
        assert Building.model_validate(building(buildingId=external_id)).building_id == external_id


def test_assignment_is_validated() -> None:
    """Setting a field validates and normalises it like construction does."""
    record = Building.model_validate(building())
    record.valid_from = datetime(2024, 5, 1, 8, tzinfo=timezone(timedelta(hours=-4)))
    assert record.to_wire()["validFrom"] == "2024-05-01T12:00:00Z"
    with pytest.raises(ValidationError):
        record.name = ""


def test_to_json_sends_only_what_was_set_under_wire_names() -> None:
    """to_json is compact wire JSON of the set fields, and it round-trips."""
    record = Building.model_validate(building(airConditioning=False, parkingSpaces=3))
    encoded = record.to_json()
    assert b" " not in encoded.replace(b"Head office", b"")
    assert json.loads(encoded) == building(airConditioning=False, parkingSpaces=3)
    assert Building.model_validate_json(encoded) == record


def test_to_wire_is_the_decoded_json() -> None:
    """to_wire returns the same JSON-compatible dict that to_json encodes."""
    record = Building.model_validate(building(extensionData={"costCentre": "X1"}))
    assert record.to_wire() == json.loads(record.to_json())


def test_explicit_none_is_sent_as_null() -> None:
    """A field the caller set to None is sent as null; an unset one is left out."""
    wire = Building.model_validate(building(status=None)).to_wire()
    assert wire["status"] is None
    assert "buildingCode" not in wire


def test_external_id_reads_the_id_field() -> None:
    """external_id is the value of the model's ID_FIELD."""
    record = Building.model_validate(building())
    assert (Building.ENTITY, Building.ID_FIELD, record.external_id) == (
        "building",
        "buildingId",
        "B-1",
    )


def test_extension_data_is_free_json() -> None:
    """extensionData takes any JSON object and sends it unchanged."""
    nested = {"a": [1, {"b": None}], "c": "d", "e": 1.5}
    record = Building.model_validate(building(extensionData=nested))
    assert record.to_wire()["extensionData"] == nested


def test_operational_measurement_extension_data_is_a_short_string() -> None:
    """Operational measurement types extensionData as a string of at most 9999 characters."""
    longest = OperationalMeasurement.model_validate(measurement(extensionData="x" * 9999))
    assert longest.to_wire()["extensionData"] == "x" * 9999
    for value in ("x" * 10_000, {"a": 1}):
        with pytest.raises(ValidationError) as caught:
            OperationalMeasurement.model_validate(measurement(extensionData=value))
        assert [loc for _, loc in errors_of(caught)] == [("extensionData",)]


def test_schemaless_entity_accepts_and_sends_extra_fields() -> None:
    """Meter has no published schema: unknown fields are kept and sent as given."""
    meter = Meter.model_validate(
        {"meterId": "M-1", "eventType": "MeterAdded", "meteringPointId": "MPAN-1", "unit": "kWh"}
    )
    assert meter.external_id == "M-1"
    assert json.loads(meter.to_json()) == {
        "meterId": "M-1",
        "eventType": "MeterAdded",
        "meteringPointId": "MPAN-1",
        "unit": "kWh",
    }


def test_schemaless_entity_still_requires_its_id() -> None:
    """A schema-less entity still needs its external id (1 to 50 characters)."""
    with pytest.raises(ValidationError) as caught:
        EnergyRating.model_validate({"rating": "A"})
    assert errors_of(caught) == [("missing", ("energyRatingId",))]
    with pytest.raises(ValidationError):
        EnergyRating.model_validate({"energyRatingId": "x" * 51})


def test_schemaless_entity_event_type_is_lenient() -> None:
    """A schema-less entity warns on an eventType outside <Entity>Added/Updated/Deleted."""
    with pytest.warns(UnknownEnumValueWarning, match="energy-rating.eventType"):
        EnergyRating.model_validate({"energyRatingId": "E-1", "eventType": "EnergyRatingMerged"})


def test_every_entity_model_derives_from_entity_model() -> None:
    """The entity models share EntityModel, the response models ResponseModel."""
    assert issubclass(Meter, EntityModel)
    assert issubclass(InboundMessage, ResponseModel)
    assert not issubclass(InboundMessage, EntityModel)


# --------------------------------------------------------------------------- registry


@pytest.mark.parametrize(
    "name",
    ["rental-unit", "rental_unit", "RentalUnit", "rentalunit", "rental-units", "RENTAL_UNITS"],
)
def test_entity_spec_accepts_every_spelling(name: str) -> None:
    """entity_spec finds an entity by kebab, snake, Pascal or squashed name, or its plural."""
    spec = entity_spec(name)
    assert (spec.name, spec.path, spec.id_field) == ("rental-unit", "/rental-unit", "rentalUnitId")


@pytest.mark.parametrize(
    ("name", "entity"),
    [
        ("addresses", "address"),
        ("buildings", "building"),
        ("resource_consumptions", "resource-consumption"),
    ],
)
def test_entity_spec_accepts_plurals(name: str, entity: str) -> None:
    """Plural names (as in file names) resolve to the entity."""
    assert entity_spec(name).name == entity


@pytest.mark.parametrize("name", ["properties", "rental", "buildingz", ""])
def test_entity_spec_lists_valid_names_on_an_unknown_one(name: str) -> None:
    """An unknown name raises KeyError whose message lists the valid names."""
    with pytest.raises(KeyError, match="valid names: address, site, building") as caught:
        entity_spec(name)
    assert "resource-consumption" in str(caught.value)


@pytest.mark.parametrize(
    ("event_type", "entity"),
    [
        ("BuildingAdded", "building"),
        ("BuildingUpdated", "building"),
        ("BuildingDeleted", "building"),
        ("RentalUnitAdded", "rental-unit"),
        ("AreaMeasurementDeleted", "area-measurement"),
        ("MeterUpdated", "meter"),
        ("AddressAdded", "address"),
    ],
)
def test_entity_for_event_type(event_type: str, entity: str) -> None:
    """An eventType value names its entity."""
    spec = entity_for_event_type(event_type)
    assert spec is not None
    assert spec.name == entity


@pytest.mark.parametrize(
    "event_type", ["AddressDeleted", "RentalAdded", "BuildingMoved", "buildingadded", ""]
)
def test_entity_for_unknown_event_type_is_none(event_type: str) -> None:
    """An eventType no model accepts (Address has no delete) gives None."""
    assert entity_for_event_type(event_type) is None


def test_parent_fields_name_the_references_to_parents() -> None:
    """parent_fields pairs each reference field with the parent entity it points to."""
    assert entity_spec("building").parent_fields == (("addressIds", "address"), ("siteId", "site"))
    assert ("rentalUnit", "rental-unit") in entity_spec("area-measurement").parent_fields


# --------------------------------------------------------------------------- responses


OUTCOMES = {
    BatchStatus.NEW: "pending",
    BatchStatus.IN_PROGRESS: "pending",
    BatchStatus.RETRYING: "pending",
    BatchStatus.RESUBMITTING: "pending",
    BatchStatus.GEO_CODING_SUCCESSFUL: "pending",
    BatchStatus.COMPLETED: "success",
    BatchStatus.PUBLISHED: "success",
    BatchStatus.FAILED: "failure",
    BatchStatus.FAILED_VALIDATION: "failure",
    BatchStatus.FAILED_GEO_CODING: "failure",
    BatchStatus.TRANSFORMATION_FAILED: "failure",
}


@pytest.mark.parametrize("status", list(BatchStatus))
def test_status_outcome_of_every_status(status: BatchStatus) -> None:
    """Completed/Published succeed, the four failures fail, the rest is pending."""
    assert status_outcome(status) == OUTCOMES[status]
    assert status_outcome(str(status.value)) == OUTCOMES[status]


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        ("Archived", "pending"),
        ("", "pending"),
        ("COMPLETED", "success"),
        ("failedvalidation", "failure"),
    ],
)
def test_status_outcome_of_unknown_or_differently_cased_status(status: str, outcome: str) -> None:
    """An unknown status is pending; a known one matches whatever its case."""
    assert status_outcome(status) == outcome


@pytest.mark.parametrize(
    "payload",
    [{"batchId": "b-1"}, {"id": "b-1"}, {"BatchId": "b-1"}, {"batch_id": "b-1"}, "b-1", " b-1\n"],
)
def test_parse_batch_id_variants(payload: object) -> None:
    """The Batch ID is read from batchId, id, BatchId, batch_id or a bare JSON string."""
    assert parse_batch_id(payload) == "b-1"


@pytest.mark.parametrize("payload", [{}, {"batchId": ""}, {"status": "ok"}, None, [], "", 17])
def test_parse_batch_id_rejects_other_payloads(payload: object) -> None:
    """Anything else raises ValueError saying what was received."""
    with pytest.raises(ValueError, match="Batch ID") as caught:
        parse_batch_id(payload)
    assert repr(payload) in str(caught.value)


def test_parse_batch_id_error_is_short() -> None:
    """The error quotes a shortened form of a large payload."""
    with pytest.raises(ValueError, match=r"received \{'data': \[0, 1, 2") as caught:
        parse_batch_id({"message": "x" * 10_000, "data": list(range(1000))})
    assert len(str(caught.value)) < 300


def test_batch_accepts_tolerant_names_and_extra_fields() -> None:
    """Batch reads id/count spellings, keeps unknown fields and sends wire names."""
    batch = Batch.model_validate(
        {"id": "b-1", "totalCount": 3, "createdAt": "2024-01-01T00:00:00Z", "owner": "me"}
    )
    assert (batch.batch_id, batch.record_count, batch.model_extra) == ("b-1", 3, {"owner": "me"})
    assert batch.created_at == datetime(2024, 1, 1, tzinfo=UTC)
    assert batch.model_dump(exclude_none=True)["batchId"] == "b-1"


@pytest.mark.parametrize(
    "raw",
    [
        {
            "messageId": "m",
            "batchId": "b",
            "entity": "building",
            "externalId": "B-1",
            "index": 2,
            "errorMessage": "bad",
        },
        {
            "id": "m",
            "batchId": "b",
            "entityType": "building",
            "entityId": "B-1",
            "position": 2,
            "error": "bad",
        },
        {
            "id": "m",
            "batchId": "b",
            "entityType": "building",
            "recordId": "B-1",
            "position": 2,
            "reason": "bad",
        },
        {
            "id": "m",
            "batchId": "b",
            "entity": "building",
            "externalId": "B-1",
            "index": 2,
            "statusMessage": "bad",
        },
    ],
)
def test_inbound_message_accepts_tolerant_names(raw: dict[str, Any]) -> None:
    """InboundMessage reads the likely spellings of each of its fields."""
    message = InboundMessage.model_validate({**raw, "status": "FailedValidation"})
    assert (message.message_id, message.batch_id, message.entity, message.external_id) == (
        "m",
        "b",
        "building",
        "B-1",
    )
    assert (message.index, message.error, message.outcome) == (2, "bad", "failure")


def test_inbound_message_keeps_unknown_status_and_fields() -> None:
    """A status or field the SDK does not know never makes a response fail."""
    message = InboundMessage.model_validate(
        {"status": "Quarantined", "missingDependencies": True, "tenant": "t-1"}
    )
    assert (message.status, message.outcome, message.missing_dependencies) == (
        "Quarantined",
        "pending",
        True,
    )
    assert message.model_extra == {"tenant": "t-1"}


def test_inbound_message_needs_a_status() -> None:
    """The status is the one field an inbound message must carry."""
    with pytest.raises(ValidationError):
        InboundMessage.model_validate({"id": "m"})


def test_page_envelope() -> None:
    """Page[T] parses the {message, totalCount, data} envelope, keeping extra fields."""
    page = Page[InboundMessage].model_validate(
        {"message": "ok", "totalCount": 7, "data": [{"status": "New"}], "next": "cursor"}
    )
    assert (page.message, page.total_count, page.model_extra) == ("ok", 7, {"next": "cursor"})
    assert [m.status for m in page.data] == ["New"]
    empty = Page[Batch].model_validate({})
    assert (empty.message, empty.total_count, empty.data) == (None, 0, [])
