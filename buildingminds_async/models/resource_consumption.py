"""The ``resource-consumption`` entity (``POST /resource-consumption``).

Generated from tests/data/entities.json by scripts/generate_models.py: change the catalogue or
the generator and regenerate; do not edit by hand.
"""

from typing import Any, ClassVar

from pydantic import ConfigDict, Field

from ._base import EntityModel, ExternalId
from ._enums import ResourceConsumptionEventType

__all__ = ["ResourceConsumption"]


class ResourceConsumption(EntityModel):
    """Raw readings of a meter.

    Pushed with ``POST /resource-consumption`` (path inferred); external id
    ``resourceConsumptionId``. Depends on ``Meter``.

    No schema of this entity is published: only the external id, ``eventType`` and
    ``extensionData`` are declared, and any other field is accepted and sent as given.

    Catalogue note: Named in the overview as raw meter readings. No schema found.
    """

    # No published schema: fields beyond the declared ones are sent as given.
    model_config = ConfigDict(extra="allow")

    ENTITY: ClassVar[str] = "resource-consumption"
    ID_FIELD: ClassVar[str] = "resourceConsumptionId"

    resource_consumption_id: ExternalId = Field(alias="resourceConsumptionId")
    """External id of the resource consumption."""

    event_type: ResourceConsumptionEventType | None = Field(default=None, alias="eventType")
    """Domain event: add / update / delete the record."""

    extension_data: dict[str, Any] | None = Field(default=None, alias="extensionData")
    """Free-form JSON for custom data."""
