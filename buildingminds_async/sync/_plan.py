"""What a sync run sends: each input record classified against the state store.

A record's identity is (entity, external id); its content is the canonical JSON of its
validated model (keys sorted, no whitespace, fields set to null left out, the ``eventType``
left out): key order, spacing, CSV or JSON, a number written ``"12"`` or ``12`` do not
count as change. The plan is kept in temporary tables of the store's connection (nothing
of it reaches the state file until the run commits it), so that a dry run, the delete
guard and the send all read one plan, and the plan never has to fit in memory.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .._errors import RecordValidationError
from .._validation import EntityResolver, external_id_of, validate_record
from ..models import EntityModel, EntitySpec, UnknownEnumValueWarning, entity_spec
from ..onboarding._chunking import RecordRef
from ..onboarding._intake import as_plain
from ..onboarding._report import FailureCallback, RecordFailure, SourceRecord
from ._store import StateStore

EVENTS = ("added", "updated", "deleted")
_PAGE = 1000

_PLAN_TABLE = """
CREATE TEMP TABLE IF NOT EXISTS plan (
    seq INTEGER PRIMARY KEY,
    entity TEXT,
    level INTEGER NOT NULL DEFAULT 0,
    external_id TEXT,
    event TEXT NOT NULL,
    hash BLOB,
    body BLOB,
    sent_event TEXT,
    file TEXT,
    line INTEGER,
    input_index INTEGER,
    changed TEXT
);
"""


_NO_EVENT = {"event_type"}


def canonical(wire: Mapping[str, Any]) -> bytes:
    """The content of a record given as JSON values: sorted keys, no nulls, no eventType."""
    content = {k: v for k, v in wire.items() if v is not None and k != "eventType"}
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def content_of(model: EntityModel) -> bytes:
    """The content of a validated record, as hashed.

    pydantic writes a model's fields in their declared order whatever the input's key
    order, so its JSON without nulls and ``eventType`` is canonical, and costs a couple of
    microseconds; a record with a free-form dict (``extensionData``) is written with
    sorted keys instead, so that the dict's key order does not count either.
    """
    if getattr(model, "extension_data", None):
        return canonical(model.to_wire())
    content: bytes = model.__pydantic_serializer__.to_json(
        model, by_alias=True, exclude_none=True, exclude=_NO_EVENT
    )
    return content


def digest_of(content: bytes) -> bytes:
    return hashlib.blake2b(content, digest_size=16).digest()


def with_event(body: bytes, event: str | None) -> bytes:
    """``body`` (a record's JSON without ``eventType``) with ``event`` as its eventType."""
    if event is None:
        return body
    head = b'{"eventType":' + json.dumps(event).encode()
    return head + b"}" if body == b"{}" else head + b"," + body[1:]


def event_type(spec: EntitySpec, event: str) -> str | None:
    """The ``eventType`` of ``event`` (added, updated, deleted) for ``spec``; None when the
    entity has no such event (no ``eventType`` field: the push is an upsert)."""
    name = f"{spec.event_prefix}{event.capitalize()}"
    if name in spec.event_types:
        return name
    if event == "updated" and f"{spec.event_prefix}Added" in spec.event_types:
        return f"{spec.event_prefix}Added"  # the API upserts by external id
    return None


def deletable(spec: EntitySpec) -> bool:
    return spec.delete_supported is not False and event_type(spec, "deleted") is not None


@dataclass(frozen=True, slots=True)
class Decided:
    """One input record, read and validated on the loop, to be classified in the store."""

    index: int
    entity: str | None
    level: int
    external_id: str
    digest: bytes | None
    """The hash of the record's content; None when it is invalid."""
    body: bytes | None
    """The record's JSON as the caller set it, without ``eventType``."""
    raw: Any
    file: str | None
    line: int | None
    refused: bool = False
    """Valid, but not for sync (a ``…Deleted`` in an export): counted invalid, not sent."""


class Reader:
    """Validates input records for the classifier (on the loop, as the intake does)."""

    def __init__(self, entity: str | None, on_failure: FailureCallback | None = None) -> None:
        self._entity = entity
        self._on_failure = on_failure
        self._resolve = EntityResolver()
        self.position = 0
        self.refused: list[RecordFailure] = []
        """The records sync refuses itself (reported as invalid with the run's)."""

    def refuse_duplicate(self, record: Decided, first: str) -> None:
        """A record whose id the input held before: refused, reported as invalid."""
        source = RecordRef(record.index, record.external_id, record.file, record.line).source
        failure = RecordFailure(
            record.entity,
            record.external_id,
            source,
            record.index,
            record.file,
            record.line,
            "Invalid",
            f"external id {record.external_id!r} was already in the input at {first}; sync "
            f"sends the first and refuses the others: keep one record per id in the export",
            record=record.raw if not isinstance(record.raw, EntityModel) else None,
        )
        self.refused.append(failure)
        if self._on_failure is not None:
            self._on_failure(failure)

    def decide(self, item: Any) -> Decided:
        index = self.position
        self.position += 1
        if isinstance(item, RecordFailure):
            # A record the caller's reader refused (the CLI's): reported as it is, and its
            # id, when it has one, keeps its platform copy from being deleted as missing.
            self.refused.append(item)
            return Decided(
                index,
                item.entity,
                0,
                item.external_id or "",
                None,
                None,
                None,
                item.file,
                item.line,
                True,
            )
        if isinstance(item, SourceRecord):
            data, file, line, entity = item.data, item.file, item.line, item.entity
        else:
            data, file, line, entity = item, None, None, None
        spec: EntitySpec | None = None
        try:
            spec = self._resolve(data, entity or self._entity)
            model = validate_record(spec, data, index, quiet_enums=True)
        except RecordValidationError:
            name = spec.name if spec is not None else None
            level = spec.level if spec is not None else 0
            external_id = external_id_of(data, spec)
            return Decided(index, name, level, external_id, None, None, data, file, line)
        event = getattr(model, "event_type", None)
        if event is not None and str(getattr(event, "value", event)).endswith("Deleted"):
            wire = model.to_wire()
            # sync() decides what is deleted; a Deleted record in an export is a mistake.
            ref = RecordRef(index, model.external_id, file, line)
            failure = RecordFailure(
                spec.name,
                model.external_id,
                ref.source,
                index,
                file,
                line,
                "Invalid",
                f"eventType {wire['eventType']} in a sync input: sync decides what is "
                f"deleted; remove the record from the export and sync with delete_missing",
                field="eventType",
                record=wire,
            )
            self.refused.append(failure)
            if self._on_failure is not None:
                self._on_failure(failure)
            return Decided(
                index, spec.name, spec.level, model.external_id, None, None, data, file, line, True
            )
        body = model.__pydantic_serializer__.to_json(
            model, by_alias=True, exclude_unset=True, exclude=_NO_EVENT
        )
        digest = digest_of(content_of(model))
        return Decided(
            index, spec.name, spec.level, model.external_id, digest, body, data, file, line
        )


@dataclass(slots=True)
class Counts:
    """What the classifier saw, per entity: unchanged, added, updated, in flight, invalid."""

    by_entity: dict[str, dict[str, int]]
    delete_in_flight: int = 0
    """Deletes an earlier run sent whose batch has no final status yet (not input)."""
    invalid_unknown: int = 0
    """Invalid records whose entity or external id could not be read: a delete of what is
    missing could hit them, so a run with any does not delete."""

    def add(self, entity: str | None, kind: str, n: int = 1) -> None:
        counts = self.by_entity.setdefault(entity or "unknown", {})
        counts[kind] = counts.get(kind, 0) + n

    def total(self, kind: str) -> int:
        return sum(counts.get(kind, 0) for counts in self.by_entity.values())


def start_plan(store: StateStore) -> None:
    """The plan's tables, and the records of the pushes earlier runs left open (in doubt,
    or accepted and not seen finish): those are in flight, not to be sent again."""
    store.execute(_PLAN_TABLE)
    store.execute(
        "CREATE TEMP TABLE IF NOT EXISTS in_flight (entity TEXT NOT NULL, external_id TEXT "
        "NOT NULL, PRIMARY KEY (entity, external_id)) WITHOUT ROWID"
    )
    store.execute(
        "INSERT OR IGNORE INTO in_flight (entity, external_id) SELECT p.entity, j.value "
        "FROM pushes p, json_each(p.ids) j WHERE p.tenant = ?",
        (store.tenant,),
    )


def classify(
    store: StateStore, block: Sequence[Decided], counts: Counts, list_changes: bool
) -> list[tuple[Decided, str]]:
    """Classify ``block`` against the stored rows and add what is to be sent to the plan.

    Returns the records whose id the input already held, each with where it first was:
    the first one is sent, these are refused (the platform keeps whichever it processes
    last, and the state could not tell which that is).
    """
    rows: list[tuple[Any, ...]] = []
    duplicates: list[tuple[Decided, str]] = []
    for record in block:
        if record.external_id and record.entity is not None:
            source = RecordRef(record.index, record.external_id, record.file, record.line).source
            seen = store.execute(_SEEN, (record.entity, record.external_id, source))
            if seen.rowcount == 0:
                first = store.execute(_FIRST_SEEN, (record.entity, record.external_id))
                duplicates.append((record, str(first.fetchone()[0])))
                counts.add(record.entity, "invalid")
                continue
        if record.digest is None or record.body is None:
            if not record.external_id or record.entity is None:
                counts.invalid_unknown += 1
            counts.add(record.entity, "invalid")
            if not record.refused:
                rows.append(_plan_row(record, "invalid", None, _raw_json(record.raw), None, None))
            continue
        digest = record.digest
        row = store.execute(_LOOKUP, (store.tenant, record.entity, record.external_id)).fetchone()
        stored_body = None
        if row is not None:
            stored_hash, stored_body, sent_hash, in_flight = row
            if in_flight and sent_hash == digest:
                counts.add(record.entity, "in_flight")  # an earlier run's push, still open
                continue
            if not in_flight and stored_hash == digest:
                counts.add(record.entity, "unchanged")
                continue
            event = "updated" if stored_hash is not None else "added"
        else:
            event = "added"
        counts.add(record.entity, event)
        changed = None
        if list_changes and event == "updated" and stored_body is not None:
            changed = json.dumps(_changed_fields(stored_body, record.body))
        assert record.entity is not None  # noqa: S101 (valid records have one)
        sent_event = event_type(entity_spec(record.entity), event)
        body = with_event(record.body, sent_event)
        rows.append(_plan_row(record, event, digest, body, changed, sent_event))
    store.executemany(_INSERT_PLAN, rows)
    return duplicates


_SEEN = "INSERT OR IGNORE INTO seen (entity, external_id, source) VALUES (?, ?, ?)"
_FIRST_SEEN = "SELECT source FROM seen WHERE entity = ? AND external_id = ?"
_IN_FLIGHT = (
    "status NOT IN ('completed', 'failed', 'deleted') AND EXISTS (SELECT 1 FROM in_flight f "
    "WHERE f.entity = r.entity AND f.external_id = r.external_id)"
)
_LOOKUP = (
    f"SELECT stored_hash, stored_body, sent_hash, {_IN_FLIGHT} FROM records r "  # noqa: S608
    "WHERE tenant = ? AND entity = ? AND external_id = ?"
)


def seen_entities(store: StateStore) -> list[str]:
    """The entities the input held records of (valid or not)."""
    return [str(row[0]) for row in store.execute("SELECT DISTINCT entity FROM seen")]


def plan_deletes(store: StateStore, counts: Counts, scope: Sequence[str]) -> tuple[int, int]:
    """Add to the plan a ``…Deleted`` for each record of the ``scope`` entities the
    platform holds that the input did not name: (records planned, deletable records known).

    Entities whose records cannot be deleted (address) are counted ``not_deletable``, not
    planned, and do not count as known; an earlier run's delete still open is counted
    ``delete_in_flight``. The rows are read a page at a time.
    """
    deletable_scope = [e for e in scope if deletable(entity_spec(e))]
    marks = ", ".join("?" * len(scope)) or "NULL"
    known = 0
    if deletable_scope:
        known = store.execute(
            "SELECT count(*) FROM records WHERE tenant = ? AND stored_hash IS NOT NULL "  # noqa: S608
            f"AND entity IN ({', '.join('?' * len(deletable_scope))})",
            (store.tenant, *deletable_scope),
        ).fetchone()[0]
    missing = store.execute(
        f"SELECT entity, external_id, stored_body, {_IN_FLIGHT}, sent_event "  # noqa: S608
        "FROM records r WHERE tenant = ? AND stored_hash IS NOT NULL "
        f"AND entity IN ({marks}) AND NOT EXISTS (SELECT 1 FROM seen s "
        "WHERE s.entity = r.entity AND s.external_id = r.external_id) "
        "ORDER BY entity, external_id",
        (store.tenant, *scope),
    )
    planned = 0
    while page := missing.fetchmany(_PAGE):
        rows = []
        for entity, external_id, stored_body, in_flight, sent_event in page:
            if in_flight and str(sent_event).endswith("Deleted"):
                counts.delete_in_flight += 1  # an earlier run's delete, still open
                continue
            spec = entity_spec(entity)
            if not deletable(spec):
                counts.add(entity, "not_deletable")
                continue
            body = _without_event(stored_body)
            record = Decided(-1, entity, spec.level, external_id, None, body, None, None, None)
            sent_event = event_type(spec, "deleted")
            rows.append(
                _plan_row(record, "deleted", None, with_event(body, sent_event), None, sent_event)
            )
            counts.add(entity, "deleted")
            planned += 1
        store.executemany(_INSERT_PLAN, rows)
    return planned, int(known)


def commit_plan(store: StateStore) -> None:
    """Write the plan's pushes into the state file as ``planned``: from here on a push of
    them is journaled, and a completed one becomes what the platform holds."""
    store.execute(
        "INSERT INTO records (tenant, entity, external_id, sent_hash, sent_body, sent_event, "
        "status, updated_at) SELECT ?, entity, external_id, hash, body, sent_event, "
        "'planned', datetime('now') FROM plan "
        "WHERE event IN ('added', 'updated', 'deleted') ORDER BY seq "
        "ON CONFLICT (tenant, entity, external_id) DO UPDATE SET "
        "sent_hash = excluded.sent_hash, sent_body = excluded.sent_body, "
        "sent_event = excluded.sent_event, status = 'planned', updated_at = excluded.updated_at",
        (store.tenant,),
    )


def planned_deletes(store: StateStore, limit: int) -> list[tuple[str, str]]:
    """The first ``limit`` (entity, external id) pairs planned for deletion."""
    rows = store.execute(
        "SELECT entity, external_id FROM plan WHERE event = 'deleted' ORDER BY seq LIMIT ?",
        (limit,),
    )
    return [(str(entity), str(external_id)) for entity, external_id in rows]


def plan_levels(store: StateStore) -> list[int]:
    """The entity levels of the planned deletes, children (highest level) first."""
    rows = store.execute(
        "SELECT DISTINCT level FROM plan WHERE event = 'deleted' ORDER BY level DESC"
    ).fetchall()
    return [int(row[0]) for row in rows]


def plan_page(store: StateStore, after: int, level: int | None) -> list[tuple[int, SourceRecord]]:
    """The next page of the plan after ``seq``, as records for ``onboard()``: the upserts
    (and invalid records, for the report), or with ``level`` that level's deletes."""
    parameters: tuple[Any, ...]
    if level is not None:
        where, parameters = "event = 'deleted' AND level = ?", (level, after, _PAGE)
    else:
        where, parameters = "event IN ('added', 'updated', 'invalid')", (after, _PAGE)
    rows = store.execute(
        f"SELECT seq, entity, event, body, file, line, input_index FROM plan WHERE {where} "  # noqa: S608
        "AND seq > ? ORDER BY seq LIMIT ?",
        parameters,
    ).fetchall()
    return [
        (seq, SourceRecord(_record(entity, event, body), file, line, entity, index=index))
        for seq, entity, event, body, file, line, index in rows
    ]


def _record(entity: str | None, event: str, body: bytes) -> Any:
    """A planned record as a model (validated once more from its JSON, in the store's
    thread, which spares the loop the intake's validation), an invalid one as given."""
    if event != "invalid" and entity is not None:
        try:
            return entity_spec(entity).model.model_validate_json(body)
        except (ValueError, UnknownEnumValueWarning):
            pass  # the intake validates it and says what is wrong
    return json.loads(body)


def changes(store: StateStore) -> Iterator[dict[str, Any]]:
    """The plan's changes as audit lines (``--changes``), in input order."""
    rows = store.execute(
        "SELECT entity, external_id, event, file, line, changed FROM plan "
        "WHERE event IN ('added', 'updated', 'deleted') ORDER BY seq"
    )
    for entity, external_id, event, file, line, changed in rows:
        line_of: dict[str, Any] = {"entity": entity, "external_id": external_id, "event": event}
        if file is not None:
            line_of.update(file=file, line=line)
        if changed is not None:
            line_of["changed"] = json.loads(changed)
        yield line_of


_INSERT_PLAN = (
    "INSERT INTO plan (entity, level, external_id, event, hash, body, sent_event, "
    "file, line, input_index, changed) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def _plan_row(
    record: Decided,
    event: str,
    digest: bytes | None,
    body: bytes,
    changed: str | None,
    sent_event: str | None,
) -> tuple[Any, ...]:
    return (
        record.entity,
        record.level,
        record.external_id,
        event,
        digest,
        body,
        sent_event,
        record.file,
        record.line,
        record.index if record.index >= 0 else None,
        changed,
    )


def _without_event(body: bytes) -> bytes:
    record = json.loads(body)
    record.pop("eventType", None)
    return json.dumps(record, separators=(",", ":"), ensure_ascii=False).encode()


def _raw_json(raw: Any) -> bytes:
    """An invalid record as JSON, to hand on so that ``onboard()`` reports it."""
    return json.dumps(as_plain(raw), default=str, ensure_ascii=False).encode()


def _changed_fields(old: bytes, new: bytes) -> list[str]:
    """The fields whose content differs between two records' JSON."""
    old_content = json.loads(canonical(json.loads(old)))
    new_content = json.loads(canonical(json.loads(new)))
    return sorted(
        k for k in set(old_content) | set(new_content) if old_content.get(k) != new_content.get(k)
    )
