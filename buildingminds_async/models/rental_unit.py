"""The ``rental-unit`` entity (``POST /rental-unit``).

Generated from tests/data/entities.json by scripts/generate_models.py: change the catalogue or
the generator and regenerate; do not edit by hand.
"""

from typing import Any, ClassVar

from pydantic import Field

from ._base import EntityModel, ExternalId, WireDateTime
from ._enums import RentalUnitEventType, RentalUnitFossilFuelExposure

__all__ = ["RentalUnit"]


class RentalUnit(EntityModel):
    """The part of a structure let to a third party.

    Pushed with ``POST /rental-unit``; external id ``rentalUnitId``. Depends on any one of
    ``Site``, ``Building``, ``Floor``, ``Space`` or ``Land``. ``eventType``
    ``RentalUnitDeleted`` deletes it.

    Not in the (truncated) BuildingMinds docs, taken from IBPDI CDM v2.0: ``usageType``,
    ``vacancy``, ``validFrom``, ``validUntil``.

    Catalogue note: Must be linked to at least one of
    siteIds/buildingIds/floorIds/spaceIds/landIds, otherwise it stays New. Table truncated at
    "usag...".
    """

    ENTITY: ClassVar[str] = "rental-unit"
    ID_FIELD: ClassVar[str] = "rentalUnitId"

    address_ids: list[ExternalId] | None = Field(default=None, alias="addressIds")
    """Addresses (``address`` external ids)."""

    building_ids: list[ExternalId] | None = Field(default=None, alias="buildingIds")
    """Linked buildings (``building`` external ids)."""

    energy_rating_ids: list[ExternalId] | None = Field(default=None, alias="energyRatingIds")
    """Linked energy ratings (``energy-rating`` external ids)."""

    event_type: RentalUnitEventType | None = Field(default=None, alias="eventType")
    """Domain event: add / update / delete the record.

    Required-ness not stated; upsert vs delete is driven by this value (FAQ).
    """

    extension_data: dict[str, Any] | None = Field(default=None, alias="extensionData")
    """Free-form JSON for custom data."""

    floor_ids: list[ExternalId] | None = Field(default=None, alias="floorIds")
    """Linked floors (``floor`` external ids)."""

    fossil_fuel_exposure: RentalUnitFossilFuelExposure | None = Field(
        default=None, alias="fossilFuelExposure"
    )
    """Fossil fuel exposure category."""

    land_ids: list[ExternalId] | None = Field(default=None, alias="landIds")
    """Linked lands (``land`` external ids)."""

    name: str = Field(min_length=1, max_length=200)
    """Rental unit name."""

    rental_unit_code: str | None = Field(
        default=None, alias="rentalUnitCode", min_length=1, max_length=70
    )
    """Client-specific code."""

    rental_unit_id: ExternalId = Field(alias="rentalUnitId")
    """External id of the rental unit."""

    rented_out: bool | None = Field(default=None, alias="rentedOut")
    """Currently rented out."""

    site_ids: list[ExternalId] | None = Field(default=None, alias="siteIds")
    """Linked sites (``site`` external ids)."""

    space_ids: list[ExternalId] | None = Field(default=None, alias="spaceIds")
    """Linked spaces (``space`` external ids)."""

    usage_type: str | None = Field(default=None, alias="usageType", min_length=1, max_length=200)
    """Usage of the unit.

    "usag..." visible at the cut-off point.
    """

    vacancy: bool | None = None
    """Currently vacant."""

    valid_from: WireDateTime = Field(alias="validFrom")
    """Start of validity."""

    valid_until: WireDateTime = Field(alias="validUntil")
    """End of validity."""
