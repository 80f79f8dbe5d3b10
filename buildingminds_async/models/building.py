"""The ``building`` entity (``POST /building``).

Generated from tests/data/entities.json by scripts/generate_models.py: change the catalogue or
the generator and regenerate; do not edit by hand.
"""

from typing import Annotated, Any, ClassVar

from pydantic import Field

from ._base import EntityModel, ExternalId, NumberRange, WireDateTime
from ._enums import (
    BuildingEventType,
    BuildingPrimaryEnergyType,
    BuildingPrimaryHeatingType,
    BuildingPrimaryTypeOfBuilding,
    BuildingSecondaryHeatingType,
    BuildingSecondaryTypeOfBuilding,
    BuildingTenantStructure,
    BuildingTypeOfOwnership,
)

__all__ = ["Building"]


class Building(EntityModel):
    """A building, the core asset: it belongs to a site and has addresses.

    Pushed with ``POST /building``; external id ``buildingId``. Depends on ``Address`` and
    ``Site``. ``eventType`` ``BuildingDeleted`` deletes it.

    Not in the (truncated) BuildingMinds docs, taken from IBPDI CDM v2.0:
    ``monumentProtection``, ``name``, ``parkingSpaces``, ``primaryEnergyType``,
    ``primaryHeatingType``, ``primaryTypeOfBuilding``, ``primaryWaterType``,
    ``secondaryHeatingType``, ``secondaryTypeOfBuilding``, ``selfUse``, ``siteId``, ``status``,
    ``tenantStructure``, ``typeOfOwnership``, ``validFrom``, ``validUntil``,
    ``yearOfLastRefurbishment``.

    Catalogue note: Docs table truncated after eventType. Data-model overview says buildings
    also carry net-zero status and fossil-fuel exposure attributes whose field names are not
    visible (rental unit uses fossilFuelExposure).
    """

    ENTITY: ClassVar[str] = "building"
    ID_FIELD: ClassVar[str] = "buildingId"

    address_ids: list[ExternalId] = Field(alias="addressIds", min_length=1)
    """Addresses of the building (``address`` external ids).

    Prerequisite text says the address id is required for a building; the field table itself
    carries no mandatory marker and types it "string" while describing an array.
    """

    air_conditioning: bool | None = Field(default=None, alias="airConditioning")
    """Has air conditioning."""

    building_code: str | None = Field(
        default=None, alias="buildingCode", min_length=1, max_length=70
    )
    """Client-specific building code."""

    building_id: ExternalId = Field(alias="buildingId")
    """External id of the building."""

    building_permit_date: WireDateTime | None = Field(default=None, alias="buildingPermitDate")
    """Building permit date."""

    certificate_ids: list[ExternalId] | None = Field(default=None, alias="certificateIds")
    """Linked certificates (``certificate`` external ids)."""

    construction_year: WireDateTime | None = Field(default=None, alias="constructionYear")
    """Construction year; if only the year is known use yyyy-01-01T00:00:00Z."""

    electric_vehicle_charging_stations: Annotated[int | float, NumberRange(le=9999)] | None = Field(
        default=None, alias="electricVehicleChargingStations"
    )
    """Count of EV charging points."""

    energy_efficiency_class: str | None = Field(
        default=None, alias="energyEfficiencyClass", min_length=1, max_length=50
    )
    """Energy efficiency class label."""

    energy_rating_ids: list[ExternalId] | None = Field(default=None, alias="energyRatingIds")
    """Linked energy ratings (``energy-rating`` external ids)."""

    event_type: BuildingEventType | None = Field(default=None, alias="eventType")
    """Domain event: add / update / delete the record.

    Field present in docs; enum values cut off, inferred from the <Entity>Added/Updated/Deleted
    pattern.
    """

    extension_data: dict[str, Any] | None = Field(default=None, alias="extensionData")
    """Free-form JSON for custom data."""

    monument_protection: bool | None = Field(default=None, alias="monumentProtection")
    """Listed as protected monument."""

    name: str = Field(min_length=1, max_length=200)
    """Display name."""

    parking_spaces: int | None = Field(default=None, alias="parkingSpaces", ge=0, le=9999)
    """Number of parking places."""

    primary_energy_type: BuildingPrimaryEnergyType | None = Field(
        default=None, alias="primaryEnergyType"
    )
    """Main energy source."""

    primary_heating_type: BuildingPrimaryHeatingType | None = Field(
        default=None, alias="primaryHeatingType"
    )
    """Main heating system."""

    primary_type_of_building: BuildingPrimaryTypeOfBuilding = Field(alias="primaryTypeOfBuilding")
    """Main use type."""

    primary_water_type: str | None = Field(
        default=None, alias="primaryWaterType", min_length=1, max_length=50
    )
    """Main water source."""

    secondary_heating_type: BuildingSecondaryHeatingType | None = Field(
        default=None, alias="secondaryHeatingType"
    )
    """Second heating system."""

    secondary_type_of_building: BuildingSecondaryTypeOfBuilding | None = Field(
        default=None, alias="secondaryTypeOfBuilding"
    )
    """Second use type."""

    self_use: bool | None = Field(default=None, alias="selfUse")
    """Used by owner."""

    site_id: ExternalId = Field(alias="siteId")
    """Owning site (``site`` external id).

    Prerequisite text in BM docs makes a valid siteId mandatory.
    """

    status: str | None = Field(default=None, min_length=1, max_length=50)
    """Free-text status."""

    tenant_structure: BuildingTenantStructure | None = Field(default=None, alias="tenantStructure")
    """Single vs multi tenant."""

    type_of_ownership: BuildingTypeOfOwnership = Field(alias="typeOfOwnership")
    """Owned or leased."""

    valid_from: WireDateTime = Field(alias="validFrom")
    """Start of validity."""

    valid_until: WireDateTime = Field(alias="validUntil")
    """End of validity."""

    year_of_last_refurbishment: WireDateTime | None = Field(
        default=None, alias="yearOfLastRefurbishment"
    )
    """Last refurbishment year."""
