"""The ``rental-option`` entity (``POST /rental-option``).

Generated from tests/data/entities.json by scripts/generate_models.py: change the catalogue or
the generator and regenerate; do not edit by hand.
"""

from typing import ClassVar

from pydantic import Field

from ._base import EntityModel, ExternalId, WireDateTime

__all__ = ["RentalOption"]


class RentalOption(EntityModel):
    """An option granted by a rental contract.

    Pushed with ``POST /rental-option`` (path inferred); external id ``rentalOptionId``. Depends
    on ``RentalContract``.

    No BuildingMinds page documents this entity: its fields are the IBPDI CDM v2.0 structure, a
    best guess.

    Catalogue note: Named in the data-model overview only.
    """

    ENTITY: ClassVar[str] = "rental-option"
    ID_FIELD: ClassVar[str] = "rentalOptionId"

    rental_option_id: ExternalId = Field(alias="rentalOptionId")
    """External id of the option."""

    rental_contract_id: ExternalId = Field(alias="rentalContractId")
    """External id of the contract (``rental-contract`` external id).

    Reference target inferred from the field name.
    """

    type: str = Field(min_length=1, max_length=50)
    """Kind / category."""

    sub_type: str = Field(alias="subType", min_length=1, max_length=50)
    """Resource / fuel / waste stream."""

    valid_from: WireDateTime = Field(alias="validFrom")
    """Start of validity."""

    valid_until: WireDateTime = Field(alias="validUntil")
    """End of validity."""

    document_id: ExternalId | None = Field(default=None, alias="documentId")
    """Linked document.

    Points to an external document/index, no BuildingMinds entity known.
    """
