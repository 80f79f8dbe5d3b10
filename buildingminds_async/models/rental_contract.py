"""The ``rental-contract`` entity (``POST /rental-contract``).

Generated from tests/data/entities.json by scripts/generate_models.py: change the catalogue or
the generator and regenerate; do not edit by hand.
"""

from typing import ClassVar

from pydantic import Field

from ._base import EntityModel, ExternalId, WireDateTime

__all__ = ["RentalContract"]


class RentalContract(EntityModel):
    """A rental contract over rental units.

    Pushed with ``POST /rental-contract`` (path inferred); external id ``rentalContractId``.
    Depends on ``RentalUnit``.

    No BuildingMinds page documents this entity: its fields are the IBPDI CDM v2.0 structure, a
    best guess.

    Catalogue note: Named in the data-model overview (Rental Unit -> Rental Contract). No field
    table stored; fields are IBPDI CDM only. Link field to rental units unknown (IBPDI uses a
    join table).
    """

    ENTITY: ClassVar[str] = "rental-contract"
    ID_FIELD: ClassVar[str] = "rentalContractId"

    rental_contract_id: ExternalId = Field(alias="rentalContractId")
    """External id of the contract."""

    main_contract_id: ExternalId | None = Field(default=None, alias="mainContractId")
    """Parent/main contract (``rental-contract`` external id).

    Reference target inferred.
    """

    contract_code: str = Field(alias="contractCode", min_length=1, max_length=70)
    """Contract code (e.g. ERP)."""

    contract_type: str | None = Field(
        default=None, alias="contractType", min_length=1, max_length=50
    )
    """Contract type."""

    company_code: str | None = Field(default=None, alias="companyCode", min_length=1, max_length=70)
    """Company code."""

    contract_name: str | None = Field(
        default=None, alias="contractName", min_length=1, max_length=200
    )
    """Contract name."""

    contract_group: str | None = Field(
        default=None, alias="contractGroup", min_length=1, max_length=50
    )
    """Contract group."""

    rent_begin_date: WireDateTime = Field(alias="rentBeginDate")
    """Contract start."""

    rent_end_date: WireDateTime = Field(alias="rentEndDate")
    """Contract end."""

    valid_from: WireDateTime = Field(alias="validFrom")
    """Start of validity."""

    valid_until: WireDateTime = Field(alias="validUntil")
    """End of validity."""

    period_of_notice: str | None = Field(
        default=None, alias="periodOfNotice", min_length=1, max_length=50
    )
    """Notice period."""

    payment_in_advance: bool | None = Field(default=None, alias="paymentInAdvance")
    """Paid in advance."""

    payment_frequency: str = Field(alias="paymentFrequency", min_length=1, max_length=50)
    """Payment frequency."""

    short_term_lease: bool | None = Field(default=None, alias="shortTermLease")
    """Short-term lease."""

    tenant_sector: str | None = Field(
        default=None, alias="tenantSector", min_length=1, max_length=50
    )
    """Tenant business sector."""

    turnover_reporting_interval: str | None = Field(
        default=None, alias="turnoverReportingInterval", min_length=1, max_length=50
    )
    """Turnover reporting interval."""
