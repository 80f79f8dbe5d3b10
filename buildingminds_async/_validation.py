"""From a raw record to a validated model: the one validation path of the package.

``push()``, the onboarding intake and the CLI's ``validate``/``onboard`` all tell a
record's entity and check it here, so that the same record gets the same error wherever
it is checked. Pure and synchronous.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping
from typing import Any, Final

from pydantic import ValidationError

from ._errors import RecordValidationError
from .models import (
    EntityModel,
    EntitySpec,
    UnknownEnumValueWarning,
    entity_for_event_type,
    entity_spec,
)
from .models._base import ID_PATTERN

logger = logging.getLogger("buildingminds_async.onboarding")

HOW_TO_NAME_THE_ENTITY: Final = "pass entity=..., or give it an eventType such as BuildingAdded"
"""How a caller of the SDK names a record's entity (the CLI says it its own way)."""


def describe_validation_error(exc: ValidationError, *, limit: int = 3) -> tuple[str | None, str]:
    """(first field at fault, a one-line message naming up to ``limit`` problems)."""
    errors = exc.errors(include_url=False, include_input=False)
    parts = []
    for error in errors[:limit]:
        where = _field_of(error)
        msg = _ID_MESSAGE if error.get("ctx", {}).get("pattern") == ID_PATTERN else error["msg"]
        parts.append(f"{where}: {msg}" if where else str(msg))
    more = f" (+{len(errors) - limit} more)" if len(errors) > limit else ""
    return (_field_of(errors[0]) if errors else None), "; ".join(parts) + more


_ID_MESSAGE: Final = (
    "an id must not contain control characters (newline, tab, NUL, escape) or "
    "bidirectional formatting characters, nor be only spaces"
)


def _field_of(error: Mapping[str, Any]) -> str | None:
    loc = error.get("loc") or ()
    return ".".join(str(part) for part in loc) or None


def known_entity(name: str) -> EntitySpec:
    """The entity called ``name`` (any spelling); an unknown name is a RecordValidationError."""
    try:
        return entity_spec(name)
    except KeyError as exc:
        raise RecordValidationError(str(exc.args[0]), entity=None) from None


def resolve_entity(
    data: Any, entity: str | EntitySpec | None, *, how_to: str = HOW_TO_NAME_THE_ENTITY
) -> EntitySpec:
    """The entity of one record: ``entity``, else the model's, else the ``eventType``.

    Raises:
        RecordValidationError: the entity cannot be told, or ``entity`` contradicts the
            model; ``how_to`` ends the message (how the caller names an entity).
    """
    named = known_entity(entity) if isinstance(entity, str) else entity
    if isinstance(data, EntityModel):
        spec = entity_spec(data.ENTITY)
        if named is not None and named.name != spec.name:
            raise RecordValidationError(
                f"the record is a {type(data).__name__} but the entity given is {named.name!r}",
                entity=spec.name,
            )
        return spec
    if named is not None:
        return named
    event_type = data.get("eventType") if isinstance(data, Mapping) else None
    if isinstance(event_type, str):
        found = entity_for_event_type(event_type)
        if found is not None:
            return found
        raise RecordValidationError(
            f"eventType {event_type!r} names no known entity; use e.g. BuildingAdded, "
            f"SiteUpdated, FloorDeleted",
            entity=None,
            field="eventType",
        )
    raise RecordValidationError(f"cannot tell which entity this record is: {how_to}", entity=None)


class EntityResolver:
    """``resolve_entity`` with its look-ups cached: a bulk run resolves millions of records
    of a handful of kinds."""

    def __init__(self, *, how_to: str = HOW_TO_NAME_THE_ENTITY) -> None:
        self._how_to = how_to
        self._by_key: dict[tuple[bool, str], EntitySpec] = {}
        self._by_model: dict[tuple[type[EntityModel], str | None], EntitySpec] = {}

    def __call__(self, data: Any, entity: str | None) -> EntitySpec:
        if isinstance(data, EntityModel):
            # A model names its entity; ``entity`` must agree (checked once per pair).
            model_key = (type(data), entity)
            if (spec := self._by_model.get(model_key)) is None:
                spec = self._by_model[model_key] = resolve_entity(data, entity, how_to=self._how_to)
            return spec
        key = (
            entity
            if entity is not None
            else data.get("eventType")
            if isinstance(data, Mapping)
            else None
        )
        if isinstance(key, str) and (spec := self._by_key.get((entity is None, key))) is not None:
            return spec
        spec = resolve_entity(data, entity, how_to=self._how_to)
        if isinstance(key, str):
            self._by_key[(entity is None, key)] = spec
        return spec


def validate_record(
    spec: EntitySpec, record: Any, index: int | None = None, *, quiet_enums: bool = False
) -> EntityModel:
    """``record`` (a model, or a dict with wire or attribute names) as a model of ``spec``.

    ``quiet_enums``: a value outside a lenient enum's known list is valid and sent as
    given; bulk runs log it instead of warning (under ``-W error`` a warning would refuse
    a valid record).

    Raises:
        RecordValidationError: naming the entity, the position and the field at fault.
    """
    if isinstance(record, spec.model):
        return record
    at = f" #{index}" if index is not None else ""
    if isinstance(record, EntityModel):
        raise RecordValidationError(
            f"record{at} is a {type(record).__name__}, not a {spec.model.__name__}",
            entity=spec.name,
            index=index,
        )
    try:
        if not quiet_enums:
            return spec.model.model_validate(record)
        try:
            return spec.model.model_validate(record)
        except UnknownEnumValueWarning as warning:
            logger.warning("%s", warning)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UnknownEnumValueWarning)
                return spec.model.model_validate(record)
    except ValidationError as exc:
        field_, message = describe_validation_error(exc)
        raise RecordValidationError(
            f"{spec.name} record{at} is invalid: {message}",
            entity=spec.name,
            index=index,
            field=field_,
            errors=exc.errors(include_url=False),
            reason=message,
        ) from None


def external_id_of(data: Any, spec: EntitySpec | None) -> str:
    """The external id of a record, read leniently (it may have failed validation)."""
    if isinstance(data, EntityModel):
        return data.external_id
    if spec is None or not isinstance(data, Mapping):
        return ""
    value = data.get(spec.id_field)
    if value is None:
        value = data.get(_snake(spec.id_field))
    return value if isinstance(value, str) else ""


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name)
