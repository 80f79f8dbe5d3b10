"""The ``area-measurement`` entity (``POST /area-measurement``).

Generated from tests/data/entities.json by scripts/generate_models.py: change the catalogue or
the generator and regenerate; do not edit by hand.
"""

from typing import Annotated, Any, ClassVar

from pydantic import Field

from ._base import EntityModel, ExternalId, NumberRange, WireDateTime
from ._enums import (
    AreaMeasurementAccuracy,
    AreaMeasurementEventType,
    AreaMeasurementStandard,
    AreaMeasurementType,
    AreaMeasurementUnit,
)

__all__ = ["AreaMeasurement"]


class AreaMeasurement(EntityModel):
    """An area figure, by standard and type, of a site, building, floor, space, rental unit or
    land.

    Pushed with ``POST /area-measurement``; external id ``areaMeasurementId``. Depends on any
    one of ``Site``, ``Building``, ``Floor``, ``Space``, ``RentalUnit`` or ``Land``.
    ``eventType`` ``AreaMeasurementDeleted`` deletes it.

    Not in the (truncated) BuildingMinds docs, taken from IBPDI CDM v2.0: ``unit``,
    ``validFrom``, ``validUntil``, ``value``.

    Catalogue note: Table truncated inside the type enum.
    """

    ENTITY: ClassVar[str] = "area-measurement"
    ID_FIELD: ClassVar[str] = "areaMeasurementId"

    accuracy: AreaMeasurementAccuracy | None = None
    """Measurement accuracy."""

    area_measurement_id: ExternalId = Field(alias="areaMeasurementId")
    """External id."""

    bm_estimation: bool = Field(alias="bmEstimation")
    """Value was estimated by BuildingMinds."""

    building_ids: list[ExternalId] | None = Field(default=None, alias="buildingIds")
    """Linked buildings (``building`` external ids)."""

    event_type: AreaMeasurementEventType | None = Field(default=None, alias="eventType")
    """Domain event: add / update / delete the record.

    Required-ness not stated; upsert vs delete is driven by this value (FAQ).
    """

    extension_data: dict[str, Any] | None = Field(default=None, alias="extensionData")
    """Free-form JSON for custom data."""

    floor_ids: list[ExternalId] | None = Field(default=None, alias="floorIds")
    """Linked floors (``floor`` external ids)."""

    land_ids: list[ExternalId] | None = Field(default=None, alias="landIds")
    """Linked lands (``land`` external ids)."""

    rental_unit: list[ExternalId] | None = Field(default=None, alias="rentalUnit")
    """Linked rental units (``rental-unit`` external ids).

    Docs name this field "rentalUnit" (not rentalUnitIds); wire name unconfirmed.
    """

    site_ids: list[ExternalId] | None = Field(default=None, alias="siteIds")
    """Linked sites (``site`` external ids)."""

    space_ids: list[ExternalId] | None = Field(default=None, alias="spaceIds")
    """Linked spaces (``space`` external ids)."""

    standard: AreaMeasurementStandard | None = None
    """Measurement standard.

    Required-ness cut off? BM row shows no "(mandatory)"; IBPDI: required.
    """

    type: AreaMeasurementType | None = None
    """Kind of area.

    BM docs show only the first values (Gross floor area, Construction area, Net room area,
    Circulation ar...); full 41-value list from IBPDI CDM v2.0.
    """

    unit: AreaMeasurementUnit
    """Unit of the value.

    Support KB: sqm or sqft.
    """

    valid_from: WireDateTime = Field(alias="validFrom")
    """Start of validity."""

    valid_until: WireDateTime = Field(alias="validUntil")
    """End of validity."""

    value: Annotated[int | float, NumberRange(le=999999)]
    """Numeric value."""
