"""From a raw record to a validated model, or to a reject saying why not.

``validate`` and ``onboard`` both go through `Checker`, and `Checker` through the package's
one validation path (``_validation``), so the CLI and the SDK report the same errors.
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
from typing import Any, Final, Literal

from pydantic import ValidationError

from .._errors import RecordValidationError
from .._validation import external_id_of, resolve_entity, validate_record
from ..models import EntityModel, EntitySpec, entity_spec
from ..onboarding import RecordFailure
from ..onboarding._chunking import RecordRef
from ._readers import RawRecord

Kind = Literal["str", "bool", "int", "number", "dict", "list"]

_TRUE: Final = frozenset({"true", "t", "yes", "y", "1"})
_FALSE: Final = frozenset({"false", "f", "no", "n", "0"})
ARRAY_SEPARATOR: Final = ";"
HOW_TO: Final = (
    "pass --entity, name the file after the entity (buildings.ndjson, rental-units.csv), "
    "or give each record an eventType such as BuildingAdded"
)
NOTHING_TOLD: Final = f"buildingminds: error: the entity of no record could be told: {HOW_TO}"
"""What ``onboard`` and ``validate`` say when ``Checker.nothing_told()`` (exit 2)."""

# The keys of a reject line; a JSON object with these is read back as its `record`.
ENVELOPE_KEYS: Final = ("record", "reason", "status")


Rejected = RecordFailure
"""A record that did not make it: one line of the reject file is ``Rejected.as_dict()``."""


def reject_key(rejected: RecordFailure) -> tuple[str | None, int | None, str]:
    """What makes a reject line unique across a run and its resumptions."""
    return (rejected.file, rejected.line, rejected.status)


def is_envelope(data: Mapping[str, Any]) -> bool:
    """True for a line of a reject file (no entity has these three fields)."""
    return "record" in data and "reason" in data and "status" in data


Checked = tuple[EntitySpec, EntityModel]


_TOO_DEEP = (
    "nested too deeply to read (more than about 1,000 levels of objects or arrays): "
    "no record of the API is; check how the file was produced"
)


class Checker:
    """Validates raw records into models; the entity comes from ``entity`` if given."""

    def __init__(self, entity: EntitySpec | None = None) -> None:
        self._entity = entity
        self._converters: dict[str, dict[str, Callable[[str], Any]]] = {}
        self._index = -1
        self.untold = 0
        """Records whose entity could not be told (no --entity, file name or eventType)."""

    @property
    def checked(self) -> int:
        """Records checked so far."""
        return self._index + 1

    def nothing_told(self) -> bool:
        """True when records were read and the entity of none could be told: the run's
        configuration is at fault, not the records (exit 2, not 1)."""
        return self.checked > 0 and self.untold == self.checked

    def check(self, raw: RawRecord) -> Checked | Rejected:
        self._index += 1
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
            except (ValueError, RecursionError) as exc:  # also UnicodeDecodeError
                text = raw.text.decode("utf-8", "replace").rstrip("\r\n")
                why = _TOO_DEEP if isinstance(exc, RecursionError) else f"not valid JSON: {exc}"
                return self._reject(raw, None, why, text)
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
        try:
            spec = resolve_entity(data, self._entity or hint, how_to=HOW_TO)
        except RecordValidationError as exc:
            self.untold += 1
            return self._reject(raw, None, exc.reason, data, field=exc.field)
        if raw.csv:
            data = self.convert(spec, data)
        try:
            model = validate_record(spec, data)
        except RecordValidationError as exc:
            return self._reject(raw, spec, exc.reason, data, field=exc.field)
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
        ref = RecordRef(self._index, external_id_of(data, spec), raw.file, raw.line)
        return RecordFailure(
            entity=spec.name if spec is not None else None,
            external_id=ref.external_id or None,
            source=ref.source,
            index=ref.index,
            file=raw.file,
            line=raw.line,
            status="Invalid",
            reason=reason,
            field=field,
            record=data,
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
