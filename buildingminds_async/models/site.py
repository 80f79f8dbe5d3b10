"""The ``site`` entity (``POST /site``).

Generated from tests/data/entities.json by scripts/generate_models.py: change the catalogue or
the generator and regenerate; do not edit by hand.
"""

from typing import Any, ClassVar

from pydantic import Field

from ._base import EntityModel, ExternalId, WireDateTime
from ._enums import SiteEventType, SiteType

__all__ = ["Site"]


class Site(EntityModel):
    """A top-level location grouping buildings and lands; it needs an address.

    Pushed with ``POST /site``; external id ``siteId``. Depends on ``Address``. ``eventType``
    ``SiteDeleted`` deletes it.

    Catalogue note: A site referencing unknown address ids stays in status New until the address
    exists.
    """

    ENTITY: ClassVar[str] = "site"
    ID_FIELD: ClassVar[str] = "siteId"

    address_ids: list[ExternalId] = Field(alias="addressIds", min_length=1)
    """Addresses of the site (``address`` external ids)."""

    energy_rating_ids: list[ExternalId] | None = Field(default=None, alias="energyRatingIds")
    """Linked energy ratings (``energy-rating`` external ids)."""

    event_type: SiteEventType | None = Field(default=None, alias="eventType")
    """Domain event: add / update / delete the record.

    Required-ness not stated; upsert vs delete is driven by this value (FAQ).
    """

    extension_data: dict[str, Any] | None = Field(default=None, alias="extensionData")
    """Free-form JSON for custom data."""

    site_code: str | None = Field(default=None, alias="siteCode", min_length=1, max_length=70)
    """Client-specific site code."""

    name: str = Field(min_length=1, max_length=50)
    """Site name.

    BM docs say maxLength 50; IBPDI CDM says 200.
    """

    site_id: ExternalId = Field(alias="siteId")
    """External id of the site."""

    status: str | None = Field(default=None, min_length=1, max_length=50)
    """Free-text status."""

    type: SiteType
    """Site use type.

    "Lodging, Leisure & Recreation" is ONE value containing commas (confirmed by IBPDI CDM
    enum); 11 values.
    """

    valid_from: WireDateTime = Field(alias="validFrom")
    """Start of validity."""

    valid_until: WireDateTime = Field(alias="validUntil")
    """End of validity.

    Format/minLength visible in docs; the mandatory marker is cut off in every copy (IBPDI:
    required).
    """
