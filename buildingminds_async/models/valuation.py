"""The ``valuation`` entity (``POST /valuation``).

Generated from tests/data/entities.json by scripts/generate_models.py: change the catalogue or
the generator and regenerate; do not edit by hand.
"""

from typing import Annotated, ClassVar

from pydantic import Field

from ._base import EntityModel, ExternalId, Number, NumberRange, WireDateTime

__all__ = ["Valuation"]


class Valuation(EntityModel):
    """A valuation of a building.

    Pushed with ``POST /valuation`` (path inferred); external id ``valuationId``. Depends on
    ``Building``.

    No BuildingMinds page documents this entity: its fields are the IBPDI CDM v2.0 structure, a
    best guess.

    Catalogue note: Named in the overview only.
    """

    ENTITY: ClassVar[str] = "valuation"
    ID_FIELD: ClassVar[str] = "valuationId"

    valuation_id: ExternalId = Field(alias="valuationId")
    """External id of the valuation."""

    previous_valuation_id: ExternalId | None = Field(default=None, alias="previousValuationId")
    """Previous valuation (``valuation`` external id).

    Reference target inferred.
    """

    name: str = Field(min_length=1, max_length=200)
    """Display name."""

    type: str = Field(min_length=1, max_length=75)
    """Valuation type."""

    valid_from: WireDateTime = Field(alias="validFrom")
    """Start of validity."""

    valid_until: WireDateTime = Field(alias="validUntil")
    """End of validity."""

    description: str | None = Field(default=None, min_length=1, max_length=200)
    """Description."""

    text: str | None = Field(default=None, min_length=1, max_length=200)
    """Free text."""

    keywords: str | None = Field(default=None, min_length=1, max_length=200)
    """Keywords."""

    url: str | None = Field(default=None, min_length=1, max_length=200)
    """Link."""

    jurisdiction_type: str | None = Field(
        default=None, alias="jurisdictionType", min_length=1, max_length=50
    )
    """Jurisdiction type."""

    professional_standard: str | None = Field(
        default=None, alias="professionalStandard", min_length=1, max_length=50
    )
    """Valuation standard."""

    accounting_standard: str | None = Field(
        default=None, alias="accountingStandard", min_length=1, max_length=50
    )
    """Accounting standard."""

    jurisdiction_standard: str | None = Field(
        default=None, alias="jurisdictionStandard", min_length=1, max_length=50
    )
    """Jurisdiction standard."""

    value: Annotated[int | float, NumberRange(ge=-999999999999, le=999999999999)]
    """Numeric value."""

    unit: str = Field(min_length=1, max_length=50)
    """Unit of the value."""

    assumptions: str | None = Field(default=None, min_length=1, max_length=200)
    """Assumptions."""

    special_assumptions: str | None = Field(
        default=None, alias="specialAssumptions", min_length=1, max_length=200
    )
    """Special assumptions."""

    constrains: str | None = Field(default=None, min_length=1, max_length=50)
    """Constraints (sic)."""

    approach: str | None = Field(default=None, min_length=1, max_length=50)
    """Valuation approach."""

    maintenance_backlog: bool | None = Field(default=None, alias="maintenanceBacklog")
    """Maintenance backlog exists."""

    single_tenant: bool | None = Field(default=None, alias="singleTenant")
    """Single-tenant building."""

    discount_rate: Annotated[int | float, NumberRange(ge=0, le=100)] | None = Field(
        default=None, alias="discountRate"
    )
    """Discount rate %."""

    discount_premiums: Annotated[int | float, NumberRange(ge=0, le=100)] | None = Field(
        default=None, alias="discountPremiums"
    )
    """Discount premiums %."""

    uncertainty: str | None = Field(default=None, min_length=1, max_length=50)
    """Uncertainty level."""

    liquidity: Number | None = None
    """Cash amount."""

    space_efficiency: str | None = Field(
        default=None, alias="spaceEfficiency", min_length=1, max_length=50
    )
    """Space efficiency."""

    energy_efficiency: str | None = Field(
        default=None, alias="energyEfficiency", min_length=1, max_length=50
    )
    """Energy efficiency class."""

    document_id: ExternalId | None = Field(default=None, alias="documentId")
    """Linked document.

    Points to an external document/index, no BuildingMinds entity known.
    """
