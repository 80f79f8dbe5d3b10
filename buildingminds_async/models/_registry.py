"""The entity registry: API name, path, model and dependencies of every entity.

``ENTITIES`` is ordered by ``level`` (parents first, REFERENCE.md section 8), so pushing a
mixed portfolio in that order never leaves a child waiting for its parent. The table
between the ``region generated`` markers comes from the catalogue
(``scripts/generate_models.py``); the rest of this module is hand-written.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, Literal

from ._base import EntityModel

# region generated: models
from .address import Address
from .area_measurement import AreaMeasurement
from .building import Building
from .certificate import Certificate
from .energy_rating import EnergyRating
from .floor import Floor
from .land import Land
from .meter import Meter
from .operational_measurement import OperationalMeasurement
from .rental_contract import RentalContract
from .rental_option import RentalOption
from .rental_payment import RentalPayment
from .rental_unit import RentalUnit
from .resource_consumption import ResourceConsumption
from .site import Site
from .space import Space
from .valuation import Valuation

# endregion

__all__ = ["ENTITIES", "EntityName", "EntitySpec", "entity_for_event_type", "entity_spec"]


@dataclass(frozen=True, slots=True)
class EntitySpec:
    """What the SDK knows about one entity of the ingestion API."""

    name: EntityName
    """API name, e.g. ``"rental-unit"``."""
    path: str
    """Path of the push endpoint, e.g. ``"/rental-unit"``."""
    model: type[EntityModel]
    id_field: str
    """Wire name of the external id, e.g. ``"rentalUnitId"``."""
    event_prefix: str
    """Prefix of the ``eventType`` values, e.g. ``"RentalUnit"`` (``RentalUnitAdded``)."""
    event_types: tuple[str, ...]
    """The ``eventType`` values the model knows; empty when it has no ``eventType`` field."""
    parents: tuple[EntityName, ...]
    """Entities this one references and waits for (catalogue ``depends_on``)."""
    depends_mode: Literal["all_of", "any_of"]
    """Whether every parent is needed or any one of them is enough."""
    parent_fields: tuple[tuple[str, EntityName], ...]
    """(wire field, parent entity) pairs: the fields holding the parents' external ids."""
    level: int
    """Position in the push order; entities of one level do not depend on each other."""
    delete_supported: bool | None
    """Whether ``<Entity>Deleted`` is accepted; ``None`` when unknown."""
    documented: bool
    """False when the endpoint is not documented and its path is inferred."""


# region generated: entity table
EntityName = Literal[
    "address",
    "site",
    "building",
    "land",
    "floor",
    "space",
    "rental-unit",
    "area-measurement",
    "operational-measurement",
    "certificate",
    "energy-rating",
    "valuation",
    "rental-contract",
    "rental-payment",
    "rental-option",
    "meter",
    "resource-consumption",
]
"""API name of an entity."""

_SPECS: Final[tuple[EntitySpec, ...]] = (
    EntitySpec(
        name="address",
        path="/address",
        model=Address,
        id_field="addressId",
        event_prefix="Address",
        event_types=("AddressAdded", "AddressUpdated"),
        parents=(),
        depends_mode="all_of",
        parent_fields=(),
        level=0,
        delete_supported=False,
        documented=True,
    ),
    EntitySpec(
        name="site",
        path="/site",
        model=Site,
        id_field="siteId",
        event_prefix="Site",
        event_types=("SiteAdded", "SiteUpdated", "SiteDeleted"),
        parents=("address",),
        depends_mode="all_of",
        parent_fields=(("addressIds", "address"),),
        level=1,
        delete_supported=True,
        documented=True,
    ),
    EntitySpec(
        name="building",
        path="/building",
        model=Building,
        id_field="buildingId",
        event_prefix="Building",
        event_types=("BuildingAdded", "BuildingUpdated", "BuildingDeleted"),
        parents=("address", "site"),
        depends_mode="all_of",
        parent_fields=(("addressIds", "address"), ("siteId", "site")),
        level=2,
        delete_supported=True,
        documented=True,
    ),
    EntitySpec(
        name="land",
        path="/land",
        model=Land,
        id_field="landId",
        event_prefix="Land",
        event_types=("LandAdded", "LandUpdated", "LandDeleted"),
        parents=("site",),
        depends_mode="all_of",
        parent_fields=(("siteId", "site"),),
        level=3,
        delete_supported=True,
        documented=True,
    ),
    EntitySpec(
        name="floor",
        path="/floor",
        model=Floor,
        id_field="floorId",
        event_prefix="Floor",
        event_types=("FloorAdded", "FloorUpdated", "FloorDeleted"),
        parents=("building",),
        depends_mode="all_of",
        parent_fields=(("buildingId", "building"),),
        level=4,
        delete_supported=True,
        documented=True,
    ),
    EntitySpec(
        name="space",
        path="/space",
        model=Space,
        id_field="spaceId",
        event_prefix="Space",
        event_types=("SpaceAdded", "SpaceUpdated", "SpaceDeleted"),
        parents=("floor",),
        depends_mode="all_of",
        parent_fields=(("floorId", "floor"),),
        level=5,
        delete_supported=True,
        documented=True,
    ),
    EntitySpec(
        name="rental-unit",
        path="/rental-unit",
        model=RentalUnit,
        id_field="rentalUnitId",
        event_prefix="RentalUnit",
        event_types=("RentalUnitAdded", "RentalUnitUpdated", "RentalUnitDeleted"),
        parents=("site", "building", "floor", "space", "land"),
        depends_mode="any_of",
        parent_fields=(
            ("buildingIds", "building"),
            ("floorIds", "floor"),
            ("landIds", "land"),
            ("siteIds", "site"),
            ("spaceIds", "space"),
        ),
        level=6,
        delete_supported=True,
        documented=True,
    ),
    EntitySpec(
        name="area-measurement",
        path="/area-measurement",
        model=AreaMeasurement,
        id_field="areaMeasurementId",
        event_prefix="AreaMeasurement",
        event_types=("AreaMeasurementAdded", "AreaMeasurementUpdated", "AreaMeasurementDeleted"),
        parents=("site", "building", "floor", "space", "rental-unit", "land"),
        depends_mode="any_of",
        parent_fields=(
            ("buildingIds", "building"),
            ("floorIds", "floor"),
            ("landIds", "land"),
            ("rentalUnit", "rental-unit"),
            ("siteIds", "site"),
            ("spaceIds", "space"),
        ),
        level=7,
        delete_supported=True,
        documented=True,
    ),
    EntitySpec(
        name="operational-measurement",
        path="/operational-measurement",
        model=OperationalMeasurement,
        id_field="operationalMeasurementId",
        event_prefix="OperationalMeasurement",
        event_types=(
            "OperationalMeasurementAdded",
            "OperationalMeasurementUpdated",
            "OperationalMeasurementDeleted",
        ),
        parents=("building",),
        depends_mode="all_of",
        parent_fields=(("buildingId", "building"),),
        level=8,
        delete_supported=True,
        documented=True,
    ),
    EntitySpec(
        name="certificate",
        path="/certificate",
        model=Certificate,
        id_field="certificateId",
        event_prefix="Certificate",
        event_types=(),
        parents=("building",),
        depends_mode="all_of",
        parent_fields=(),
        level=9,
        delete_supported=None,
        documented=False,
    ),
    EntitySpec(
        name="energy-rating",
        path="/energy-rating",
        model=EnergyRating,
        id_field="energyRatingId",
        event_prefix="EnergyRating",
        event_types=("EnergyRatingAdded", "EnergyRatingUpdated", "EnergyRatingDeleted"),
        parents=("building",),
        depends_mode="all_of",
        parent_fields=(),
        level=9,
        delete_supported=None,
        documented=False,
    ),
    EntitySpec(
        name="valuation",
        path="/valuation",
        model=Valuation,
        id_field="valuationId",
        event_prefix="Valuation",
        event_types=(),
        parents=("building",),
        depends_mode="all_of",
        parent_fields=(),
        level=9,
        delete_supported=None,
        documented=False,
    ),
    EntitySpec(
        name="rental-contract",
        path="/rental-contract",
        model=RentalContract,
        id_field="rentalContractId",
        event_prefix="RentalContract",
        event_types=(),
        parents=("rental-unit",),
        depends_mode="all_of",
        parent_fields=(),
        level=10,
        delete_supported=None,
        documented=False,
    ),
    EntitySpec(
        name="rental-payment",
        path="/rental-payment",
        model=RentalPayment,
        id_field="rentalPaymentId",
        event_prefix="RentalPayment",
        event_types=(),
        parents=("rental-contract",),
        depends_mode="all_of",
        parent_fields=(("rentalContractId", "rental-contract"),),
        level=11,
        delete_supported=None,
        documented=False,
    ),
    EntitySpec(
        name="rental-option",
        path="/rental-option",
        model=RentalOption,
        id_field="rentalOptionId",
        event_prefix="RentalOption",
        event_types=(),
        parents=("rental-contract",),
        depends_mode="all_of",
        parent_fields=(("rentalContractId", "rental-contract"),),
        level=11,
        delete_supported=None,
        documented=False,
    ),
    EntitySpec(
        name="meter",
        path="/meter",
        model=Meter,
        id_field="meterId",
        event_prefix="Meter",
        event_types=("MeterAdded", "MeterUpdated", "MeterDeleted"),
        parents=("building", "rental-unit"),
        depends_mode="any_of",
        parent_fields=(),
        level=12,
        delete_supported=None,
        documented=False,
    ),
    EntitySpec(
        name="resource-consumption",
        path="/resource-consumption",
        model=ResourceConsumption,
        id_field="resourceConsumptionId",
        event_prefix="ResourceConsumption",
        event_types=(
            "ResourceConsumptionAdded",
            "ResourceConsumptionUpdated",
            "ResourceConsumptionDeleted",
        ),
        parents=("meter",),
        depends_mode="all_of",
        parent_fields=(),
        level=13,
        delete_supported=None,
        documented=False,
    ),
)
# endregion

ENTITIES: Final[Mapping[str, EntitySpec]] = MappingProxyType({s.name: s for s in _SPECS})
"""Every entity by API name, ordered by level."""


def _normalise(name: str) -> str:
    return name.replace("-", "").replace("_", "").replace(" ", "").lower()


def _plural(key: str) -> str:
    return key + ("es" if key.endswith(("s", "x", "ch", "sh")) else "s")


_BY_NAME: Final[Mapping[str, EntitySpec]] = {
    key: spec for spec in _SPECS for key in (_normalise(spec.name), _plural(_normalise(spec.name)))
}
_BY_EVENT_TYPE: Final[Mapping[str, EntitySpec]] = {
    event_type: spec for spec in _SPECS for event_type in spec.event_types
}


def entity_spec(name: str) -> EntitySpec:
    """The entity called ``name``, in any spelling of its API name or of its plural.

    ``"rental-unit"``, ``"rental_unit"``, ``"RentalUnit"``, ``"rentalunit"`` and
    ``"rental-units"`` all name the rental unit. Raises ``KeyError`` listing the valid names.
    """
    spec = _BY_NAME.get(_normalise(name))
    if spec is None:
        valid = ", ".join(ENTITIES)
        raise KeyError(f"unknown entity {name!r}; valid names: {valid} (or their plurals)")
    return spec


def entity_for_event_type(event_type: str) -> EntitySpec | None:
    """The entity whose model accepts ``event_type`` (``"BuildingAdded"``), else ``None``."""
    return _BY_EVENT_TYPE.get(event_type)
