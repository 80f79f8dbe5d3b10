"""The ``certificate`` entity (``POST /certificate``).

Generated from tests/data/entities.json by scripts/generate_models.py: change the catalogue or
the generator and regenerate; do not edit by hand.
"""

from typing import ClassVar

from pydantic import Field

from ._base import EntityModel, ExternalId, WireDateTime

__all__ = ["Certificate"]


class Certificate(EntityModel):
    """A sustainability certificate of a building (LEED, BREEAM, DGNB...).

    Pushed with ``POST /certificate`` (path inferred); external id ``certificateId``. Depends on
    ``Building``.

    No BuildingMinds page documents this entity: its fields are the IBPDI CDM v2.0 structure, a
    best guess.

    Catalogue note: Named in the overview; buildings reference it via certificateIds.
    """

    ENTITY: ClassVar[str] = "certificate"
    ID_FIELD: ClassVar[str] = "certificateId"

    certificate_id: ExternalId = Field(alias="certificateId")
    """External id of the certificate."""

    name: str = Field(min_length=1, max_length=200)
    """Display name."""

    type: str = Field(min_length=1, max_length=50)
    """Certificate scheme (LEED, BREEAM, DGNB...)."""

    certificate_value: str = Field(alias="certificateValue", min_length=1, max_length=50)
    """Score / grade."""

    issuing_date: WireDateTime | None = Field(default=None, alias="issuingDate")
    """Issue date."""

    valid_from: WireDateTime = Field(alias="validFrom")
    """Start of validity."""

    valid_until: WireDateTime = Field(alias="validUntil")
    """End of validity."""

    certificate_url: str | None = Field(
        default=None, alias="certificateUrl", min_length=1, max_length=200
    )
    """Link to certificate."""

    document_id: ExternalId | None = Field(default=None, alias="documentId")
    """Linked document.

    Points to an external document/index, no BuildingMinds entity known.
    """
