"""The ``address`` entity (``POST /address``).

Generated from tests/data/entities.json by scripts/generate_models.py: change the catalogue or
the generator and regenerate; do not edit by hand.
"""

from typing import Any, ClassVar

from pydantic import Field

from ._base import EntityModel, ExternalId
from ._enums import AddressCountry, AddressEventType

__all__ = ["Address"]


class Address(EntityModel):
    """A postal location; sites, buildings, lands and rental units point to it.

    Pushed with ``POST /address``; external id ``addressId``. It cannot be deleted through the
    API.

    Not in the (truncated) BuildingMinds docs, taken from IBPDI CDM v2.0: ``district``,
    ``houseNumber``, ``postalCode``, ``stateProvincePrefecture``, ``streetName``, ``type``.

    Catalogue note: Docs field table truncated after the country enum in all stored copies;
    later fields are inferred from IBPDI CDM. FAQ: Address supports only Add/Update (no delete).
    """

    ENTITY: ClassVar[str] = "address"
    ID_FIELD: ClassVar[str] = "addressId"

    additional_information: str | None = Field(
        default=None, alias="additionalInformation", min_length=1, max_length=500
    )
    """Extra location detail (building part, door no.)."""

    address_id: ExternalId = Field(alias="addressId")
    """External id of the address (from source system or chosen by client)."""

    apartment_or_unit: str | None = Field(
        default=None, alias="apartmentOrUnit", min_length=1, max_length=50
    )
    """Unit / apartment number."""

    city: str = Field(min_length=1, max_length=100)
    """City, town, village or locality."""

    country: AddressCountry
    """Country code.

    First 226 codes (AF..TN, in this order) read from BM docs; the last 23 (TR..AX) and the
    mandatory flag are taken from IBPDI CDM v2.0 because every stored copy of the page is cut
    off inside this enum.
    """

    district: str | None = Field(default=None, min_length=1, max_length=50)
    """District / borough."""

    event_type: AddressEventType | None = Field(default=None, alias="eventType")
    """Domain event: add / update / delete the record.

    Values inferred from the <Entity>Added/Updated pattern and the FAQ statement that Address
    has only Add/Update.
    """

    extension_data: dict[str, Any] | None = Field(default=None, alias="extensionData")
    """Free-form JSON for custom data."""

    house_number: str | None = Field(default=None, alias="houseNumber", min_length=1, max_length=50)
    """House number."""

    postal_code: str | None = Field(default=None, alias="postalCode", min_length=1, max_length=15)
    """Postcode."""

    state_province_prefecture: str | None = Field(
        default=None, alias="stateProvincePrefecture", min_length=1, max_length=50
    )
    """State, province or prefecture."""

    street_name: str | None = Field(default=None, alias="streetName", min_length=1, max_length=150)
    """Street."""

    type: str | None = Field(default=None, min_length=1, max_length=70)
    """Kind / category.

    IBPDI marks it required (e.g. "Postal address"); whether BM requires it is unknown.
    """
