"""The ``floor`` entity (``POST /floor``).

Generated from tests/data/entities.json by scripts/generate_models.py: change the catalogue or
the generator and regenerate; do not edit by hand.
"""

from typing import Any, ClassVar

from pydantic import Field

from ._base import EntityModel, ExternalId, WireDateTime
from ._enums import FloorEventType

__all__ = ["Floor"]


class Floor(EntityModel):
    """A storey of a building, grouping its spaces.

    Pushed with ``POST /floor``; external id ``floorId``. Depends on ``Building``. ``eventType``
    ``FloorDeleted`` deletes it.

    Catalogue note: Field table fully visible. Sample body in docs is a JSON array of floor
    objects.
    """

    ENTITY: ClassVar[str] = "floor"
    ID_FIELD: ClassVar[str] = "floorId"

    building_id: ExternalId = Field(alias="buildingId")
    """Owning building (``building`` external id)."""

    energy_rating_ids: list[ExternalId] | None = Field(default=None, alias="energyRatingIds")
    """Linked energy ratings (``energy-rating`` external ids)."""

    event_type: FloorEventType | None = Field(default=None, alias="eventType")
    """Domain event: add / update / delete the record.

    Required-ness not stated; upsert vs delete is driven by this value (FAQ).
    """

    extension_data: dict[str, Any] | None = Field(default=None, alias="extensionData")
    """Free-form JSON for custom data."""

    floor_code: str | None = Field(default=None, alias="floorCode", min_length=1, max_length=70)
    """Client-specific floor code."""

    floor_id: ExternalId = Field(alias="floorId")
    """External id of the floor."""

    floor_number: str | None = Field(default=None, alias="floorNumber")
    """Storey number.

    BM docs type "string" with no constraint; IBPDI: integer -300..300 and required.
    """

    name: str = Field(min_length=1, max_length=200)
    """Floor name.

    Docs description text is copy-pasted from Land ("Name of Land").
    """

    valid_from: WireDateTime = Field(alias="validFrom")
    """Start of validity."""

    valid_until: WireDateTime = Field(alias="validUntil")
    """End of validity."""

    work_area_ids: list[ExternalId] | None = Field(default=None, alias="workAreaIds")
    """Linked work areas (``work-area`` external ids).

    WorkArea entity has no documented BM endpoint.
    """
