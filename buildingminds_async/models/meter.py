"""The ``meter`` entity (``POST /meter``).

Generated from tests/data/entities.json by scripts/generate_models.py: change the catalogue or
the generator and regenerate; do not edit by hand.
"""

from typing import Any, ClassVar

from pydantic import ConfigDict, Field

from ._base import EntityModel, ExternalId
from ._enums import MeterEventType

__all__ = ["Meter"]


class Meter(EntityModel):
    """A meter of a building or a rental unit.

    Pushed with ``POST /meter`` (path inferred); external id ``meterId``. Depends on any one of
    ``Building`` or ``RentalUnit``.

    No schema of this entity is published: only the external id, ``eventType`` and
    ``extensionData`` are declared, and any other field is accepted and sent as given.

    Catalogue note: Named in the overview (Building/Rental Unit -> Meter). No schema found; the
    metering-prerequisites page lists the master data BuildingMinds expects (meter id, metering
    point id such as MPAN/MPRN, connection classification, area coverage, utility type/subtype,
    unit...).
    """

    # No published schema: fields beyond the declared ones are sent as given.
    model_config = ConfigDict(extra="allow")

    ENTITY: ClassVar[str] = "meter"
    ID_FIELD: ClassVar[str] = "meterId"

    meter_id: ExternalId = Field(alias="meterId")
    """External id of the meter."""

    event_type: MeterEventType | None = Field(default=None, alias="eventType")
    """Domain event: add / update / delete the record."""

    extension_data: dict[str, Any] | None = Field(default=None, alias="extensionData")
    """Free-form JSON for custom data."""
