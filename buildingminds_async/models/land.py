"""The ``land`` entity (``POST /land``).

Generated from tests/data/entities.json by scripts/generate_models.py: change the catalogue or
the generator and regenerate; do not edit by hand.
"""

from typing import Any, ClassVar

from pydantic import Field

from ._base import EntityModel, ExternalId, WireDateTime
from ._enums import LandEventType, LandTenantStructure, LandTypeOfOwnership

__all__ = ["Land"]


class Land(EntityModel):
    """A plot of land (possibly partly water) belonging to a site.

    Pushed with ``POST /land``; external id ``landId``. Depends on ``Site``. ``eventType``
    ``LandDeleted`` deletes it.

    Not in the (truncated) BuildingMinds docs, taken from IBPDI CDM v2.0: ``validUntil``,
    ``type``.

    Catalogue note: Docs table truncated at validFrom.
    """

    ENTITY: ClassVar[str] = "land"
    ID_FIELD: ClassVar[str] = "landId"

    address_ids: list[ExternalId] | None = Field(default=None, alias="addressIds")
    """Addresses of the land (``address`` external ids)."""

    event_type: LandEventType | None = Field(default=None, alias="eventType")
    """Domain event: add / update / delete the record.

    Required-ness not stated; upsert vs delete is driven by this value (FAQ).
    """

    extension_data: dict[str, Any] | None = Field(default=None, alias="extensionData")
    """Free-form JSON for custom data."""

    land_code: str | None = Field(default=None, alias="landCode", min_length=1, max_length=70)
    """Client-specific land code."""

    land_coverage: str | None = Field(
        default=None, alias="landCoverage", min_length=1, max_length=50
    )
    """Development level of the plot."""

    land_id: ExternalId = Field(alias="landId")
    """External id of the land."""

    land_parcel_nr: str | None = Field(
        default=None, alias="landParcelNr", min_length=1, max_length=50
    )
    """Registered parcel / zoning number."""

    name: str = Field(min_length=1, max_length=200)
    """Land name (park, garden, parking...)."""

    self_use: bool | None = Field(default=None, alias="selfUse")
    """Self-used or not."""

    site_id: ExternalId = Field(alias="siteId")
    """Owning site (``site`` external id)."""

    status: str | None = Field(default=None, min_length=1, max_length=50)
    """Free-text status."""

    tenant_structure: LandTenantStructure | None = Field(default=None, alias="tenantStructure")
    """Single vs multi tenant."""

    type_of_ownership: LandTypeOfOwnership = Field(alias="typeOfOwnership")
    """Owned or leased."""

    valid_from: WireDateTime = Field(alias="validFrom")
    """Start of validity.

    Row visible but cut off before constraints; required per IBPDI.
    """

    valid_until: WireDateTime = Field(alias="validUntil")
    """End of validity."""

    type: str | None = Field(default=None, min_length=1, max_length=75)
    """Kind / category.

    IBPDI requires a land type; not visible in BM docs.
    """
