"""What the sandbox needs to know about each entity, and the one check of a pushed record.

The entity table comes from `buildingminds_async.models.ENTITIES`, the same specs the
SDK validates with, so the sandbox and the client can never disagree on a field rule.
Each record is checked exactly once, when it is pushed; the verdict is revealed later,
when processing reaches it (the real API validates asynchronously too).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, NamedTuple, cast

import pydantic
from pydantic_core import SchemaValidator, core_schema

from buildingminds_async.models import UnknownEnumValueWarning

if TYPE_CHECKING:
    from buildingminds_async.models import EntitySpec

__all__ = ["EntityRule", "RecordVerdict", "check_record", "check_records", "load_rules"]

logger = logging.getLogger("buildingminds_async.sandbox")

_MAX_LISTED_ERRORS: Final = 8


@dataclass(frozen=True, slots=True)
class EntityRule:
    """The processing rules of one entity type."""

    name: str
    path: str
    model: type[pydantic.BaseModel]
    id_field: str
    # Each event name to itself: a message keeps this string, not the one of its push.
    event_types: dict[str, str] = dataclasses.field(compare=False)
    parent_fields: tuple[tuple[str, str], ...]
    any_of: bool
    delete_supported: bool | None
    geocoded: bool
    # The model's field checks over a whole push at once (`_list_validator`).
    list_validator: SchemaValidator | None = dataclasses.field(compare=False)

    @classmethod
    def from_spec(cls, spec: EntitySpec) -> EntityRule:
        return cls(
            name=spec.name,
            path=spec.path,
            model=spec.model,
            list_validator=_list_validator(spec.model),
            id_field=spec.id_field,
            event_types={str(e): str(e) for e in spec.event_types},
            parent_fields=tuple((str(f), str(p)) for f, p in spec.parent_fields),
            any_of=spec.depends_mode == "any_of",
            delete_supported=spec.delete_supported,
            geocoded=spec.name == "address",
        )


def _list_validator(model: type[pydantic.BaseModel]) -> SchemaValidator | None:
    """A validator of a list of ``model`` records that builds no model instances.

    The model's own field checks and config (wire names only): a list passes exactly
    when each record would pass ``model``. Checking a push in one call, without making
    and dropping a model instance per record, takes about a fifth less time. None when
    the model's schema is not plain fields (a model validator, say): then each record
    is checked by the model itself.
    """
    schema: Any = model.__pydantic_core_schema__
    if schema.get("type") != "model" or schema.get("post_init") or schema.get("custom_init"):
        return None
    fields = schema.get("schema")
    if not isinstance(fields, dict) or fields.get("type") != "model-fields":
        return None
    config = cast("core_schema.CoreConfig", dict(schema.get("config") or {}))
    config["validate_by_alias"] = True
    config["validate_by_name"] = False
    return SchemaValidator(core_schema.list_schema(fields), config)


def load_rules() -> dict[str, EntityRule]:
    """The rules of every entity, keyed by API name, in the models' order."""
    from buildingminds_async.models import ENTITIES

    return {name: EntityRule.from_spec(spec) for name, spec in ENTITIES.items()}


class RecordVerdict(NamedTuple):
    """What one pushed record is: its id, its event, and why it will fail (or None)."""

    external_id: str | None
    event_type: str | None
    delete: bool
    error: str | None


# True once `silence_enum_warnings` has ignored the models' warning process-wide.
_silenced = False


def silence_enum_warnings() -> None:
    """Ignore the lenient enums' warning in the whole process (a sandbox process only).

    ``python -m buildingminds_async.sandbox`` validates every push in its main thread;
    this spares it a ``catch_warnings`` per push. Not for a process the sandbox shares.
    """
    global _silenced
    warnings.filterwarnings("ignore", category=UnknownEnumValueWarning)
    _silenced = True


def check_records(rule: EntityRule, records: list[Any]) -> list[RecordVerdict]:
    """Check every record of a push; an unknown value of a lenient enum is accepted.

    The sandbox plays the server, which keeps such values: the models' warning is not
    for its user. It is silenced in the main thread (in-process transport, command
    line), where nothing else can touch the warning filters meanwhile; a server thread
    leaves the process-wide filters alone (see `_model_error` for the "error" filter).
    """
    if _silenced or threading.current_thread() is not threading.main_thread():
        return _check_records(rule, records)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnknownEnumValueWarning)
        return _check_records(rule, records)


def _check_records(rule: EntityRule, records: list[Any]) -> list[RecordVerdict]:
    if _all_pass(rule.list_validator, records):
        # Every record passes the model: only the entity's own rules are left.
        return [_verdict(rule, record, None) for record in records]
    return [check_record(rule, record) for record in records]


def _all_pass(validator: SchemaValidator | None, records: list[Any]) -> bool:
    """Whether ``validator`` takes the whole push; False when there is none, or when it
    raised anything (a failing record, a warning turned error): then each record is
    checked on its own."""
    if validator is None:
        return False
    try:
        validator.validate_python(records)
    except Exception:  # noqa: BLE001 - see the docstring
        return False
    return True


def check_record(rule: EntityRule, record: Any) -> RecordVerdict:
    """Check one record against its entity's rules; never raises."""
    if not isinstance(record, dict):
        kind = "an array" if isinstance(record, list) else type(record).__name__
        if record is None:
            kind = "null"
        return RecordVerdict(
            None, None, False, f"Validation failed: the record is {kind}, not a JSON object"
        )
    return _verdict(rule, record, _model_error(rule.model, record))


def _verdict(rule: EntityRule, record: dict[str, Any], error: str | None) -> RecordVerdict:
    """The verdict on a record, given the model's: the rules the model cannot check."""
    raw_id = record.get(rule.id_field)
    external_id = raw_id if isinstance(raw_id, str) else None
    raw_event = record.get("eventType")
    event_type = rule.event_types.get(raw_event, raw_event) if isinstance(raw_event, str) else None
    delete = event_type is not None and event_type.endswith("Deleted")
    if (
        error is None
        and event_type is not None
        and rule.event_types
        and event_type not in rule.event_types
    ):
        error = (
            f"Validation failed: eventType {event_type!r} is not an event of {rule.name}; "
            f"use one of {', '.join(sorted(rule.event_types))}"
        )
    if error is None and delete and rule.delete_supported is False:
        error = (
            f"Validation failed: {rule.name} records cannot be deleted through the API "
            f"(eventType {event_type!r} is not supported)"
        )
    if (
        error is None
        and rule.any_of
        and rule.parent_fields
        and not delete
        and not _references_any(rule, record)
    ):
        fields = ", ".join(f for f, _ in rule.parent_fields)
        error = f"Validation failed: a {rule.name} must reference at least one of {fields}"
    return RecordVerdict(external_id, event_type, delete, error)


def _references_any(rule: EntityRule, record: Mapping[str, Any]) -> bool:
    return any(record.get(field) for field, _ in rule.parent_fields)


def references(rule: EntityRule, record: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The (parent entity, parent id) pairs a record points to, in field order."""
    out: list[tuple[str, str]] = []
    for field, parent in rule.parent_fields:
        value = record.get(field)
        if value is None:
            continue
        if isinstance(value, str):
            out.append((parent, value))
        elif isinstance(value, list):
            out.extend((parent, v) for v in value if isinstance(v, str))
    return out


def _model_error(model: type[pydantic.BaseModel], record: dict[str, Any]) -> str | None:
    # By wire name only: the SDK's models also accept Python names, the API does not.
    # The validator itself: what model_validate() calls, without its Python wrapper.
    try:
        model.__pydantic_validator__.validate_python(record, by_alias=True, by_name=False)
    except pydantic.ValidationError as exc:
        return format_validation_error(exc)
    except Warning as warning:
        # A warnings filter of "error" (pytest's filterwarnings=error, python -W error)
        # turned a lenient enum's warning into an exception. The sandbox accepts such
        # records as the real API does, so validate again with warnings ignored.
        logger.debug("accepted a record despite %s", warning)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                model.model_validate(record, by_alias=True, by_name=False)
            except pydantic.ValidationError as exc:
                return format_validation_error(exc)
    return None


def format_validation_error(exc: pydantic.ValidationError) -> str:
    """A readable reason naming each field at fault."""
    parts: list[str] = []
    errors = exc.errors(include_url=False, include_context=False, include_input=False)
    for error in errors[:_MAX_LISTED_ERRORS]:
        where = ".".join(str(p) for p in error["loc"]) or "record"
        parts.append(f"{where}: {error['msg']}")
    if len(errors) > _MAX_LISTED_ERRORS:
        parts.append(f"and {len(errors) - _MAX_LISTED_ERRORS} more")
    return "Validation failed: " + "; ".join(parts)
