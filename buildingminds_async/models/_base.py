"""Base classes and field types shared by every entity model.

Validation cost matters here: bulk jobs validate millions of records. Every rule that
pydantic-core can check on its own (lengths, ranges, ``Literal`` enums, known values of a
lenient enum) is left to it; Python runs only for date-times (normalised to UTC) and for an
unknown value of a lenient enum (which warns).
"""

from __future__ import annotations

import math
import types
import typing
import warnings
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Any, ClassVar, Final, Literal, NamedTuple

from pydantic import (
    BaseModel,
    ConfigDict,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    StringConstraints,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

__all__ = [
    "EntityModel",
    "ExternalId",
    "KnownValues",
    "LenientEnum",
    "Number",
    "NumberRange",
    "ResponseModel",
    "UnknownEnumValueWarning",
    "WireDateTime",
    "field_enum",
]


class UnknownEnumValueWarning(UserWarning):
    """A lenient enum field received a value outside its known list; the value is kept.

    Lenient enums are the ones inferred from the IBPDI data model or documented with a
    truncated list: the platform knows more values than the catalogue, so an unknown value
    is sent as given and only reported.
    """

    def __init__(self, entity: str, field: str, value: str) -> None:
        self.entity = entity
        self.field = field
        self.value = value
        super().__init__(
            f"{entity}.{field}: {value!r} is not a known value; it is sent as given "
            "because the known list may be incomplete"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.entity, self.field, self.value))


@dataclass(frozen=True, slots=True)
class LenientEnum:
    """``Annotated`` marker: a string field whose known values are not the complete list.

    A known value is matched by pydantic-core alone; any other string (that passes the
    field's length limits) is accepted and reported with an :class:`UnknownEnumValueWarning`
    naming ``entity`` (API name) and ``field`` (wire name).
    """

    entity: str
    field: str
    values: tuple[str, ...]

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        # The string checks (type, lengths) run first, so the union below never fails: a
        # value is either a known one or reaches the warning.
        known_or_reported = core_schema.union_schema(
            [
                core_schema.literal_schema(list(self.values)),
                core_schema.no_info_plain_validator_function(self._report_unknown),
            ],
            mode="left_to_right",
        )
        return core_schema.chain_schema(
            [handler(source), known_or_reported],
            serialization=core_schema.simple_ser_schema("str"),
        )

    def _report_unknown(self, value: str) -> str:
        # stacklevel 3: past this function and the pydantic entry point, to the caller.
        warnings.warn(UnknownEnumValueWarning(self.entity, self.field, value), stacklevel=3)
        return value


@dataclass(frozen=True, slots=True)
class NumberRange:
    """``Annotated`` marker for a JSON "number": an ``int`` or a ``float``, within bounds.

    An int stays an int (``4`` is sent as ``4``, not ``4.0``); NaN and infinities are
    rejected because JSON cannot carry them. pydantic-core checks the bounds of both
    branches, so an out-of-range value costs no Python call; it fails with a single error.
    """

    ge: int | float | None = None
    le: int | float | None = None

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.union_schema(
            [
                core_schema.int_schema(
                    ge=None if self.ge is None else math.ceil(self.ge),
                    le=None if self.le is None else math.floor(self.le),
                ),
                core_schema.float_schema(ge=self.ge, le=self.le, allow_inf_nan=False),
            ],
            custom_error_type="number",
            custom_error_message=f"Input should be {self._describe()}",
        )

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema: JsonSchemaValue = {"type": "number"}
        if self.ge is not None:
            json_schema["minimum"] = self.ge
        if self.le is not None:
            json_schema["maximum"] = self.le
        return json_schema

    def _describe(self) -> str:
        if self.ge is not None and self.le is not None:
            return f"a number from {self.ge} to {self.le}"
        if self.ge is not None:
            return f"a number greater than or equal to {self.ge}"
        if self.le is not None:
            return f"a number less than or equal to {self.le}"
        return "a finite number"


class _WireDateTimeSchema:
    """``Annotated`` marker behind :data:`WireDateTime`."""

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        # The value is normalised when it is validated, so the serialiser of a plain
        # datetime already writes the wire form (an aware UTC datetime prints with "Z").
        return core_schema.no_info_plain_validator_function(
            _to_wire_datetime, serialization=core_schema.simple_ser_schema("datetime")
        )

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {"type": "string", "format": "date-time", "minLength": 20}

    def __repr__(self) -> str:
        return "WireDateTime"


def _to_wire_datetime(value: object) -> datetime:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise PydanticCustomError(
                "wire_datetime_parsing",
                "Input should be an ISO 8601 date-time such as 2024-01-01T00:00:00Z "
                "or a date such as 2024-01-01",
            ) from None
    else:
        # A number is refused rather than read as a Unix timestamp: 1998 meant as a
        # construction year must not become 1970-01-01T00:33:18Z.
        raise PydanticCustomError(
            "wire_datetime_type", "Input should be a datetime, a date or an ISO 8601 string"
        )
    if moment.tzinfo is UTC and not moment.microsecond:
        return moment
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC, microsecond=0)
    try:
        return moment.astimezone(UTC).replace(microsecond=0)
    except OverflowError:
        raise PydanticCustomError(
            "wire_datetime_range",
            "Input is outside the years 1 to 9999 once converted to UTC "
            "(give a date-time between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z)",
        ) from None


WireDateTime = Annotated[datetime, _WireDateTimeSchema()]
"""A date-time sent as ``yyyy-mm-ddThh:mm:ssZ``.

Accepts a ``datetime`` (naive means UTC; aware is converted to UTC), a ``date`` (midnight
UTC) or an ISO 8601 string; stays a UTC ``datetime`` in Python, truncated to the second.
"""

ID_PATTERN: Final = (
    "^[^\\x00-\\x1f\\x7f\\u202a-\\u202e\\u2066-\\u2069]*"
    "[^\\s\\x00-\\x1f\\x7f\\u202a-\\u202e\\u2066-\\u2069]"
    "[^\\x00-\\x1f\\x7f\\u202a-\\u202e\\u2066-\\u2069]*$"
)
"""An id: no control characters (newline, NUL, escape ...) and no bidirectional override
or isolate (which would show another id than the one stored), and not only spaces."""

ExternalId = Annotated[str, StringConstraints(min_length=1, max_length=50, pattern=ID_PATTERN)]
"""An external id chosen by the client (1 to 50 characters, see ``ID_PATTERN``), e.g.
``buildingId``."""

Number = Annotated[int | float, NumberRange()]
"""A JSON "number" without bounds: an int stays an int on the wire."""


class EntityModel(BaseModel):
    """Base of the input models, one per entity of the ingestion API.

    Fields are populated by wire name (``buildingId``) or Python name (``building_id``);
    unknown fields are rejected, so a typo fails before anything is sent. The encoders send
    only the fields the caller set, under their wire names.
    """

    model_config = ConfigDict(
        extra="forbid",
        validate_by_alias=True,
        validate_by_name=True,
        serialize_by_alias=True,
        validate_assignment=True,
    )

    ENTITY: ClassVar[str]
    """API name of the entity, e.g. ``"rental-unit"``."""
    ID_FIELD: ClassVar[str]
    """Wire name of the external id field, e.g. ``"rentalUnitId"``."""
    _id_attribute: ClassVar[str]

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        if "ID_FIELD" not in cls.__dict__:
            return
        for name, info in cls.model_fields.items():
            if (info.alias or name) == cls.ID_FIELD:
                cls._id_attribute = name
                return
        raise TypeError(f"{cls.__name__}.ID_FIELD {cls.ID_FIELD!r} is not one of its fields")

    @property
    def external_id(self) -> str:
        """The record's external id (the value of its ``ID_FIELD``)."""
        value: str = getattr(self, self._id_attribute)
        return value

    def to_json(self) -> bytes:
        """Compact wire JSON of the fields the caller set, e.g. ``b'{"buildingId":"B1"}'``."""
        return self.__pydantic_serializer__.to_json(self, by_alias=True, exclude_unset=True)

    def to_wire(self) -> dict[str, Any]:
        """The record as a JSON-compatible dict: what :meth:`to_json` encodes."""
        wire: dict[str, Any] = self.__pydantic_serializer__.to_python(
            self, mode="json", by_alias=True, exclude_unset=True
        )
        return wire


class ResponseModel(BaseModel):
    """Base of the models read from server responses.

    Lenient on purpose: a field the server adds is kept (``extra="allow"``), and statuses are
    plain strings, so a new server value never breaks a user.
    """

    model_config = ConfigDict(
        extra="allow",
        validate_by_alias=True,
        validate_by_name=True,
        serialize_by_alias=True,
    )


class KnownValues(NamedTuple):
    """The known values of an enum field and whether other values are rejected."""

    values: tuple[str, ...]
    strict: bool


def field_enum(model: type[BaseModel], wire_name: str) -> KnownValues | None:
    """Known values of the field ``wire_name`` of ``model``; ``None`` if it is no enum.

    ``strict`` is true for a ``Literal`` field (any other value is rejected) and false for a
    :class:`LenientEnum` field (another value is accepted with a warning). For a list field
    the values are those of its items. Raises ``KeyError`` when the field does not exist.
    """
    for name, info in model.model_fields.items():
        if (info.alias or name) == wire_name:
            for marker in info.metadata:
                if isinstance(marker, LenientEnum):
                    return KnownValues(marker.values, strict=False)
            return _known_values(info.annotation)
    fields = ", ".join(info.alias or name for name, info in model.model_fields.items())
    raise KeyError(f"{model.__name__} has no field {wire_name!r}; its fields are: {fields}")


def _known_values(annotation: Any) -> KnownValues | None:
    origin = typing.get_origin(annotation)
    if origin is Literal:
        return KnownValues(typing.get_args(annotation), strict=True)
    if origin is Annotated:
        base, *metadata = typing.get_args(annotation)
        for marker in metadata:
            if isinstance(marker, LenientEnum):
                return KnownValues(marker.values, strict=False)
        return _known_values(base)
    if origin in (typing.Union, types.UnionType, list):
        for argument in typing.get_args(annotation):
            known = _known_values(argument)
            if known is not None:
                return known
    return None
