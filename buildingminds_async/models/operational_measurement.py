"""The ``operational-measurement`` entity (``POST /operational-measurement``).

Generated from tests/data/entities.json by scripts/generate_models.py: change the catalogue or
the generator and regenerate; do not edit by hand.
"""

from typing import Annotated, ClassVar

from pydantic import Field

from ._base import EntityModel, ExternalId, NumberRange, WireDateTime
from ._enums import (
    OperationalMeasurementAccuracy,
    OperationalMeasurementCustomerInfoSource,
    OperationalMeasurementEventType,
    OperationalMeasurementLifeCycleAssessment,
    OperationalMeasurementProcuredBy,
    OperationalMeasurementPurpose,
    OperationalMeasurementSpaceType,
    OperationalMeasurementSubType,
    OperationalMeasurementType,
    OperationalMeasurementUnit,
)

__all__ = ["OperationalMeasurement"]


class OperationalMeasurement(EntityModel):
    """An aggregated consumption value of a building (energy, water, waste or fugitive emissions).

    Pushed with ``POST /operational-measurement``; external id ``operationalMeasurementId``.
    Depends on ``Building``. ``eventType`` ``OperationalMeasurementDeleted`` deletes it.

    Not in the (truncated) BuildingMinds docs, taken from IBPDI CDM v2.0: ``spaceType``,
    ``subType``, ``type``, ``unit``, ``validFrom``, ``validUntil``, ``value``.

    Catalogue note: Aggregated consumption (energy/water/waste/fugitives) per building. Fields
    marked * in docs are required. Table truncated inside "purpose".
    """

    ENTITY: ClassVar[str] = "operational-measurement"
    ID_FIELD: ClassVar[str] = "operationalMeasurementId"

    accuracy: OperationalMeasurementAccuracy | None = None
    """Accuracy / derivation of the value.

    BM lists 34 values (IBPDI has only 13, so BM extends IBPDI enums); no mandatory marker in BM
    docs although IBPDI marks it required.
    """

    building_id: ExternalId = Field(alias="buildingId")
    """Building the value belongs to (``building`` external id)."""

    customer_info_source: OperationalMeasurementCustomerInfoSource | None = Field(
        default=None, alias="customerInfoSource"
    )
    """Where the customer got the data.

    Enum list cut off after "Meter" - more values exist.
    """

    data_provider: str | None = Field(
        default=None, alias="dataProvider", min_length=1, max_length=50
    )
    """Name of the data provider."""

    event_type: OperationalMeasurementEventType | None = Field(default=None, alias="eventType")
    """Domain event: add / update / delete the record.

    Docs say to pass the enum to add, update or delete; enum values not visible.
    """

    extension_data: str | None = Field(default=None, alias="extensionData", max_length=9999)
    """Extra metadata.

    Typed "string" with "maximum: 9999" here, unlike the json object elsewhere.
    """

    is_auto_approved: bool | None = Field(default=None, alias="isAutoApproved")
    """Auto-approve the value (skip manual approval).

    Meaning inferred from the platform approval workflow.
    """

    life_cycle_assessment: list[OperationalMeasurementLifeCycleAssessment] | None = Field(
        default=None, alias="lifeCycleAssessment"
    )
    """ISO 14040 life-cycle stage(s).

    Type from BM docs; enum values from IBPDI CDM.
    """

    measurement_date: WireDateTime | None = Field(default=None, alias="measurementDate")
    """Date the measurement was taken."""

    name: str | None = None
    """Free name."""

    operational_measurement_id: str = Field(alias="operationalMeasurementId")
    """External id.

    IBPDI requires exactly 36 chars (GUID); BM docs state no length.
    """

    parent_id: str | None = Field(default=None, alias="parentId")
    """Parent entity (guid or id)."""

    posting_date: WireDateTime | None = Field(default=None, alias="postingDate")
    """Date of posting."""

    procured_by: OperationalMeasurementProcuredBy = Field(alias="procuredBy")
    """GHG-protocol operational control.

    Required per docs (*); enum values from IBPDI CDM.
    """

    purpose: OperationalMeasurementPurpose
    """End use of the consumption.

    Required per docs (*); enum from IBPDI CDM.
    """

    space_type: OperationalMeasurementSpaceType = Field(alias="spaceType")
    """Part of building the value covers."""

    sub_type: OperationalMeasurementSubType = Field(alias="subType")
    """Resource / fuel / waste stream."""

    type: OperationalMeasurementType
    """Energy / Water / Waste / Fugitive."""

    unit: OperationalMeasurementUnit | None = None
    """Unit of the value."""

    valid_from: WireDateTime = Field(alias="validFrom")
    """Start of validity."""

    valid_until: WireDateTime = Field(alias="validUntil")
    """End of validity."""

    value: (
        Annotated[int | float, NumberRange(ge=-100000000000000000, le=100000000000000000)] | None
    ) = None
    """Numeric value."""
