"""The ``space`` entity (``POST /space``).

Generated from tests/data/entities.json by scripts/generate_models.py: change the catalogue or
the generator and regenerate; do not edit by hand.
"""

from typing import Annotated, Any, ClassVar

from pydantic import Field

from ._base import EntityModel, ExternalId, NumberRange, WireDateTime
from ._enums import SpaceEventType, SpaceVentilationType

__all__ = ["Space"]


class Space(EntityModel):
    """A bounded area with a function inside a floor: the smallest physical unit.

    Pushed with ``POST /space``; external id ``spaceId``. Depends on ``Floor``. ``eventType``
    ``SpaceDeleted`` deletes it.

    Not in the (truncated) BuildingMinds docs, taken from IBPDI CDM v2.0: ``spaceCode``,
    ``spaceHeight``, ``spaceHeightUsable``, ``spaceId``, ``spaceNumber``, ``spaceVolumeGross``,
    ``spaceVolumeNet``, ``type``, ``validFrom``, ``validUntil``, ``ventilationType``.

    Catalogue note: Docs table truncated at "spaceCo..." (alphabetical order); remaining fields
    inferred from IBPDI CDM.
    """

    ENTITY: ClassVar[str] = "space"
    ID_FIELD: ClassVar[str] = "spaceId"

    climate_cooled: bool | None = Field(default=None, alias="climateCooled")
    """Space is cooled."""

    climate_heated: bool | None = Field(default=None, alias="climateHeated")
    """Space is heated."""

    co_use_area: bool | None = Field(default=None, alias="coUseArea")
    """Shared by several tenants."""

    effect_zones_cooling: Annotated[int | float, NumberRange(ge=1, le=9999)] | None = Field(
        default=None, alias="effectZonesCooling"
    )
    """Cooled area."""

    effect_zones_heating: Annotated[int | float, NumberRange(ge=1, le=9999)] | None = Field(
        default=None, alias="effectZonesHeating"
    )
    """Heated area."""

    effect_zones_bentilation: Annotated[int | float, NumberRange(ge=1, le=9999)] | None = Field(
        default=None, alias="effectZonesBentilation"
    )
    """Ventilated area.

    Spelled "Bentilation" in BM docs (IBPDI: EffectZonesVentilation); real wire name
    unconfirmed.
    """

    energy_rating_ids: list[ExternalId] | None = Field(default=None, alias="energyRatingIds")
    """Linked energy ratings (``energy-rating`` external ids)."""

    event_type: SpaceEventType | None = Field(default=None, alias="eventType")
    """Domain event: add / update / delete the record.

    Required-ness not stated; upsert vs delete is driven by this value (FAQ).
    """

    extension_data: dict[str, Any] | None = Field(default=None, alias="extensionData")
    """Free-form JSON for custom data."""

    floor_id: ExternalId = Field(alias="floorId")
    """Owning floor (``floor`` external id)."""

    maximum_occupancy: Annotated[int | float, NumberRange(ge=1, le=9000)] | None = Field(
        default=None, alias="maximumOccupancy"
    )
    """Max occupants.

    IBPDI: integer 1..99999.
    """

    name: str = Field(min_length=1, max_length=200)
    """Space name."""

    primary_ceiling_material: str | None = Field(
        default=None, alias="primaryCeilingMaterial", min_length=1, max_length=75
    )
    """Ceiling material."""

    primary_floor_material: str | None = Field(
        default=None, alias="primaryFloorMaterial", min_length=1, max_length=75
    )
    """Floor material."""

    primary_wall_material: str | None = Field(
        default=None, alias="primaryWallMaterial", min_length=1, max_length=75
    )
    """Wall material."""

    rentability: bool | None = None
    """Eligible for renting out."""

    space_code: str | None = Field(default=None, alias="spaceCode", min_length=1, max_length=70)
    """Client-specific space code."""

    space_height: Annotated[int | float, NumberRange(ge=2, le=999)] | None = Field(
        default=None, alias="spaceHeight"
    )
    """Room height."""

    space_height_usable: Annotated[int | float, NumberRange(ge=2, le=999)] | None = Field(
        default=None, alias="spaceHeightUsable"
    )
    """Usable height."""

    space_id: ExternalId = Field(alias="spaceId")
    """External id of the space."""

    space_number: Annotated[int | float, NumberRange(le=99999)] | None = Field(
        default=None, alias="spaceNumber"
    )
    """Space number."""

    space_volume_gross: Annotated[int | float, NumberRange(le=999999)] | None = Field(
        default=None, alias="spaceVolumeGross"
    )
    """Gross volume."""

    space_volume_net: Annotated[int | float, NumberRange(le=999999)] | None = Field(
        default=None, alias="spaceVolumeNet"
    )
    """Net volume."""

    type: str | None = Field(default=None, min_length=1, max_length=50)
    """Kind / category.

    IBPDI requires it; BM unknown.
    """

    valid_from: WireDateTime = Field(alias="validFrom")
    """Start of validity."""

    valid_until: WireDateTime = Field(alias="validUntil")
    """End of validity."""

    ventilation_type: SpaceVentilationType | None = Field(default=None, alias="ventilationType")
    """Ventilation system kind."""
