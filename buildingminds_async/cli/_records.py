"""From a raw record to a validated model, or to a reject saying why not.

``validate`` and ``onboard`` both go through `Checker`, so they report the same errors.
``onboard`` hands the validated models to the SDK (which then does not validate them a
second time) and writes invalid records to the reject file as soon as they are read, so
that they survive an interruption.
"""

from __future__ import annotations

import contextlib
import json
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from pydantic import ValidationError

from .._onboarding import RecordFailure, describe_validation_error
from ..models import EntityModel, EntitySpec, entity_for_event_type, entity_spec
from ._readers import RawRecord

Kind = Literal["str", "bool", "int", "number", "dict", "list"]

_TRUE: Final = frozenset({"true", "t", "yes", "y", "1"})
_FALSE: Final = frozenset({"false", "f", "no", "n", "0"})
ARRAY_SEPARATOR: Final = ";"

# The keys of a reject line; a JSON object with these is read back as its `record`.
ENVELOPE_KEYS: Final = ("record", "reason", "status")


@dataclass(frozen=True, slots=True)
class Rejected:
    """A record that did not make it: one line of the reject file."""

    file: str | None
    line: int | None
    entity: str | None
    external_id: str | None
    status: str
    reason: str
    record: Any
    field: str | None = None
    batch_id: str | None = None

    @classmethod
    def from_failure(cls, failure: RecordFailure) -> Rejected:
        return cls(
            file=failure.file,
            line=failure.line,
            entity=failure.entity,
            external_id=failure.external_id,
            status=failure.status,
            reason=failure.reason,
            record=failure.record,
            field=failure.field,
            batch_id=failure.batch_id,
        )

    @property
    def source(self) -> str:
        if self.file is None:
            return "record"
        return f"{self.file}:{self.line}" if self.line is not None else self.file

    @property
    def key(self) -> tuple[str | None, int | None, str]:
        return (self.file, self.line, self.status)

    def to_json(self) -> dict[str, Any]:
        """The reject line: where, what, why, and the record itself (fix it, feed it back)."""
        return {
            "file": self.file,
            "line": self.line,
            "entity": self.entity,
            "external_id": self.external_id,
            "status": self.status,
            "field": self.field,
            "reason": self.reason,
            "batch_id": self.batch_id,
            "record": self.record,
        }

    def __str__(self) -> str:
        who = f"{self.entity or 'record'} {self.external_id}" if self.external_id else "record"
        if self.entity and not self.external_id:
            who = f"{self.entity} record"
        batch = f" (batch {self.batch_id})" if self.batch_id else ""
        return f"{self.source}: {who} {self.status}: {self.reason}{batch}"


def is_envelope(data: Mapping[str, Any]) -> bool:
    """True for a line of a reject file (no entity has these three fields)."""
    return "record" in data and "reason" in data and "status" in data


Checked = tuple[EntitySpec, EntityModel]


class Checker:
    """Validates raw records into models; the entity comes from ``entity`` if given."""

    def __init__(self, entity: EntitySpec | None = None) -> None:
        self._entity = entity
        self._converters: dict[str, dict[str, Callable[[str], Any]]] = {}

    def check(self, raw: RawRecord) -> Checked | Rejected:
        if raw.text is not None:
            spec = self._entity or raw.entity
            if spec is not None and b'"record"' not in raw.text:
                # The fast path: pydantic parses and validates the JSON in one go (about
                # 4x faster than json.loads + model_validate). Errors take the slow path
                # below, so that they read the same whatever the input format.
                try:
                    return spec, spec.model.model_validate_json(raw.text)
                except ValidationError:
                    pass
            try:
                data = json.loads(raw.text)
            except ValueError as exc:  # also UnicodeDecodeError
                text = raw.text.decode("utf-8", "replace").rstrip("\r\n")
                return self._reject(raw, None, f"not valid JSON: {exc}", text)
            # A direct construction: dataclasses.replace costs 10x as much, per record.
            raw = RawRecord(data, raw.file, raw.line, raw.entity, raw.csv, raw.error)
        data = raw.data
        hint = raw.entity
        if isinstance(data, dict) and not raw.csv and is_envelope(data):
            named = data.get("entity")
            data = data["record"]
            if isinstance(named, str):
                with contextlib.suppress(KeyError):
                    hint = entity_spec(named)
        if raw.error is not None:
            return self._reject(raw, None, raw.error, data)
        if not isinstance(data, dict):
            kind = "null" if data is None else type(data).__name__
            kind = {"list": "an array", "str": "a string", "dict": "an object"}.get(kind, kind)
            return self._reject(raw, hint, f"expected a JSON object (a record), found {kind}", data)
        spec = self._entity or hint
        if spec is None:
            event_type = data.get("eventType")
            if isinstance(event_type, str):
                spec = entity_for_event_type(event_type)
                if spec is None:
                    return self._reject(
                        raw,
                        None,
                        f"eventType {event_type!r} names no known entity; use e.g. "
                        f"BuildingAdded, SiteUpdated, FloorDeleted",
                        data,
                        field="eventType",
                    )
            else:
                return self._reject(
                    raw,
                    None,
                    "cannot tell which entity this record is: pass --entity, name the file "
                    "after the entity (buildings.ndjson, rental-units.csv), or give each "
                    "record an eventType such as BuildingAdded",
                    data,
                )
        if raw.csv:
            data = self.convert(spec, data)
        try:
            model = spec.model.model_validate(data)
        except ValidationError as exc:
            field_, message = describe_validation_error(exc)
            return self._reject(raw, spec, message, data, field=field_)
        return spec, model

    def _reject(
        self,
        raw: RawRecord,
        spec: EntitySpec | None,
        reason: str,
        data: Any,
        *,
        field: str | None = None,
    ) -> Rejected:
        external_id = None
        if spec is not None and isinstance(data, dict):
            value = data.get(spec.id_field)
            external_id = value if isinstance(value, str) and value else None
        return Rejected(
            file=raw.file,
            line=raw.line,
            entity=spec.name if spec is not None else None,
            external_id=external_id,
            status="Invalid",
            reason=reason,
            record=data,
            field=field,
        )

    def convert(self, spec: EntitySpec, row: Mapping[str, str]) -> dict[str, Any]:
        """CSV cells to the types of ``spec``'s model; a cell that does not convert stays
        a string, so that validation names the field at fault."""
        converters = self._converters.get(spec.name)
        if converters is None:
            converters = self._converters[spec.name] = _converters(spec.model)
        out: dict[str, Any] = {}
        for column, cell in row.items():
            convert = converters.get(column)
            out[column] = convert(cell) if convert is not None else cell
        return out


def _converters(model: type[EntityModel]) -> dict[str, Callable[[str], Any]]:
    out: dict[str, Callable[[str], Any]] = {}
    for name, info in model.model_fields.items():
        kind, item = _kind(info.annotation)
        if kind == "str":
            continue
        convert = _list_of(_CONVERT[item]) if kind == "list" else _CONVERT[kind]
        out[name] = convert
        if info.alias:
            out[info.alias] = convert
    return out


def _kind(annotation: Any) -> tuple[Kind, Kind]:
    """(kind of the field, kind of its items when it is a list)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _kind(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if set(args) == {int, float}:
            return "number", "str"
        if len(args) == 1:
            return _kind(args[0])
        return "str", "str"
    if origin is list:
        items = typing.get_args(annotation)
        return "list", (_kind(items[0])[0] if items else "str")
    if origin is dict or annotation is dict:
        return "dict", "str"
    if annotation is bool:
        return "bool", "str"
    if annotation is int:
        return "int", "str"
    if annotation is float:
        return "number", "str"
    return "str", "str"


def _to_bool(cell: str) -> Any:
    folded = cell.strip().lower()
    if folded in _TRUE:
        return True
    if folded in _FALSE:
        return False
    return cell


def _to_int(cell: str) -> Any:
    try:
        return int(cell.strip())
    except ValueError:
        return cell


def _to_number(cell: str) -> Any:
    text = cell.strip()
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return cell


def _to_dict(cell: str) -> Any:
    try:
        return json.loads(cell)
    except ValueError:
        return cell


def _list_of(convert: Callable[[str], Any]) -> Callable[[str], Any]:
    def split(cell: str) -> list[Any]:
        return [convert(part.strip()) for part in cell.split(ARRAY_SEPARATOR) if part.strip()]

    return split


def _keep(cell: str) -> Any:
    return cell


_CONVERT: Final[dict[Kind, Callable[[str], Any]]] = {
    "str": _keep,
    "bool": _to_bool,
    "int": _to_int,
    "number": _to_number,
    "dict": _to_dict,
    "list": _keep,
}
