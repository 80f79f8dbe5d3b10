"""What ``buildingminds validate`` says about an input as a whole: the parents its records
name and it does not hold, and the ids it holds more than once.

A building names its site, a site its addresses. A parent that is neither in the input
nor already on the platform keeps its children waiting ("blocked") until a run gives
up on them; listed before anything is sent, the user can add it or check the platform.
An id given twice is sent twice, and the platform (it upserts by id) keeps whichever it
processes last: usually an export's mistake, worth seeing before the push.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import cache

from ..models import EntityModel, EntitySpec, entity_spec


@dataclass(frozen=True, slots=True)
class MissingReference:
    """A parent the input's records point to and do not hold."""

    entity: str
    external_id: str
    records: int
    """How many records point to it."""
    first: str
    """``file:line`` of the first of them."""

    def __str__(self) -> str:
        return (
            f"{self.entity} {self.external_id!r}, named by {self.records:,} record(s) "
            f"(first at {self.first})"
        )

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class DuplicateId:
    """An id the input holds more than once."""

    entity: str
    external_id: str
    times: int
    first: str
    last: str

    def __str__(self) -> str:
        return (
            f"{self.entity} {self.external_id!r}, {self.times:,} times "
            f"(first at {self.first}, last at {self.last})"
        )

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


class References:
    """Collects the ids an input holds and the parent ids its records name."""

    def __init__(self) -> None:
        self._held: dict[tuple[str, str], str] = {}
        """Each id held, with the source of its first record."""
        self._again: dict[tuple[str, str], list[int | str]] = {}
        self._named: dict[tuple[str, str], list[int | str]] = {}

    def add(self, spec: EntitySpec, model: EntityModel, source: str) -> None:
        key = (spec.name, model.external_id)
        if key in self._held:
            again = self._again.setdefault(key, [1, source])
            again[0], again[1] = int(again[0]) + 1, source
        else:
            self._held[key] = source
        for attribute, parent in _parent_attributes(spec.name):
            value = getattr(model, attribute, None)
            for parent_id in value if isinstance(value, list) else (value,):
                if not isinstance(parent_id, str) or not parent_id:
                    continue
                seen = self._named.get((parent, parent_id))
                if seen is None:
                    self._named[(parent, parent_id)] = [1, source]
                else:
                    seen[0] = int(seen[0]) + 1

    def missing(self) -> list[MissingReference]:
        """The parents named and not held, parents' entities first, then by id."""
        out = [
            MissingReference(entity, external_id, int(count), str(first))
            for (entity, external_id), (count, first) in self._named.items()
            if (entity, external_id) not in self._held
        ]
        out.sort(key=lambda m: (entity_spec(m.entity).level, m.entity, m.external_id))
        return out

    def duplicates(self) -> list[DuplicateId]:
        """The ids held more than once, in the order their second record came."""
        return [
            DuplicateId(
                entity, external_id, int(times), self._held[(entity, external_id)], str(last)
            )
            for (entity, external_id), (times, last) in self._again.items()
        ]


@cache
def _parent_attributes(entity: str) -> tuple[tuple[str, str], ...]:
    """(model attribute, parent entity) of each field that holds a parent's id."""
    spec = entity_spec(entity)
    by_alias = {field.alias or name: name for name, field in spec.model.model_fields.items()}
    return tuple(
        (by_alias[wire], parent) for wire, parent in spec.parent_fields if wire in by_alias
    )
