"""The ``energy-rating`` entity (``POST /energy-rating``).

Generated from tests/data/entities.json by scripts/generate_models.py: change the catalogue or
the generator and regenerate; do not edit by hand.
"""

from typing import Any, ClassVar

from pydantic import ConfigDict, Field

from ._base import EntityModel, ExternalId
from ._enums import EnergyRatingEventType

__all__ = ["EnergyRating"]


class EnergyRating(EntityModel):
    """An energy rating, referenced by sites, buildings, floors, spaces and rental units.

    Pushed with ``POST /energy-rating`` (path inferred); external id ``energyRatingId``. Depends
    on ``Building``.

    No schema of this entity is published: only the external id, ``eventType`` and
    ``extensionData`` are declared, and any other field is accepted and sent as given.

    Catalogue note: Named in the overview; site/building/floor/space/rental-unit reference it
    via energyRatingIds. No schema found anywhere (not in IBPDI CDM either).
    """

    # No published schema: fields beyond the declared ones are sent as given.
    model_config = ConfigDict(extra="allow")

    ENTITY: ClassVar[str] = "energy-rating"
    ID_FIELD: ClassVar[str] = "energyRatingId"

    energy_rating_id: ExternalId = Field(alias="energyRatingId")
    """External id of the energy rating."""

    event_type: EnergyRatingEventType | None = Field(default=None, alias="eventType")
    """Domain event: add / update / delete the record."""

    extension_data: dict[str, Any] | None = Field(default=None, alias="extensionData")
    """Free-form JSON for custom data."""
