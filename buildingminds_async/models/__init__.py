"""pydantic models of the BuildingMinds ingestion API.

One input model per entity, named after its API path (``rental-unit`` -> ``RentalUnit``),
built from the entity catalogue by ``scripts/generate_models.py``; the registry of entities
(:data:`ENTITIES`, :func:`entity_spec`); and the lenient models of batch responses.

Input models populate by wire name or Python name, reject unknown fields and encode with
``to_json()`` to the wire form. Enums read from the documentation are strict; inferred ones
accept other values with an :class:`UnknownEnumValueWarning`.
"""

from ._base import (
    EntityModel,
    KnownValues,
    ResponseModel,
    UnknownEnumValueWarning,
    field_enum,
)
from ._registry import (
    ENTITIES,
    EntityName,
    EntitySpec,
    entity_for_event_type,
    entity_spec,
)
from .address import Address
from .area_measurement import AreaMeasurement
from .batch import (
    Batch,
    BatchResult,
    BatchStatus,
    InboundMessage,
    Outcome,
    Page,
    parse_batch_id,
    status_outcome,
)
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

__all__ = [
    "ENTITIES",
    "Address",
    "AreaMeasurement",
    "Batch",
    "BatchResult",
    "BatchStatus",
    "Building",
    "Certificate",
    "EnergyRating",
    "EntityModel",
    "EntityName",
    "EntitySpec",
    "Floor",
    "InboundMessage",
    "KnownValues",
    "Land",
    "Meter",
    "OperationalMeasurement",
    "Outcome",
    "Page",
    "RentalContract",
    "RentalOption",
    "RentalPayment",
    "RentalUnit",
    "ResourceConsumption",
    "ResponseModel",
    "Site",
    "Space",
    "UnknownEnumValueWarning",
    "Valuation",
    "entity_for_event_type",
    "entity_spec",
    "field_enum",
    "parse_batch_id",
    "status_outcome",
]
