"""The ``rental-payment`` entity (``POST /rental-payment``).

Generated from tests/data/entities.json by scripts/generate_models.py: change the catalogue or
the generator and regenerate; do not edit by hand.
"""

from typing import Annotated, ClassVar

from pydantic import Field

from ._base import EntityModel, ExternalId, NumberRange, WireDateTime
from ._enums import RentalPaymentCurrency

__all__ = ["RentalPayment"]


class RentalPayment(EntityModel):
    """A payment due under a rental contract.

    Pushed with ``POST /rental-payment`` (path inferred); external id ``rentalPaymentId``.
    Depends on ``RentalContract``.

    No BuildingMinds page documents this entity: its fields are the IBPDI CDM v2.0 structure, a
    best guess.

    Catalogue note: Named in the data-model overview only.
    """

    ENTITY: ClassVar[str] = "rental-payment"
    ID_FIELD: ClassVar[str] = "rentalPaymentId"

    rental_payment_id: ExternalId = Field(alias="rentalPaymentId")
    """External id of the payment."""

    rental_contract_id: ExternalId = Field(alias="rentalContractId")
    """External id of the contract (``rental-contract`` external id).

    Reference target inferred from the field name.
    """

    valid_from: WireDateTime = Field(alias="validFrom")
    """Start of validity."""

    valid_until: WireDateTime = Field(alias="validUntil")
    """End of validity."""

    type: str = Field(min_length=1, max_length=50)
    """Kind / category."""

    currency: RentalPaymentCurrency
    """ISO 4217 currency."""

    value_month: Annotated[int | float, NumberRange(ge=1, le=9999999)] = Field(alias="valueMonth")
    """Amount per month."""

    value_year: Annotated[int | float, NumberRange(ge=1, le=99999999)] | None = Field(
        default=None, alias="valueYear"
    )
    """Amount per year."""

    discount_in_percentage: Annotated[int | float, NumberRange(ge=0, le=100)] | None = Field(
        default=None, alias="discountInPercentage"
    )
    """Discount %."""

    vat_opted: bool | None = Field(default=None, alias="vatOpted")
    """VAT payable."""

    index_id: ExternalId | None = Field(default=None, alias="indexId")
    """Index reference.

    Points to an external document/index, no BuildingMinds entity known.
    """
