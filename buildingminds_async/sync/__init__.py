"""``sync()``: push only what changed since the last run, and delete what disappeared.

```
input ─ Reader: validate ─▶ classify against the state store ─▶ plan (temp tables)
      ─ delete guard ─▶ commit the plan ─▶ onboard(upserts) ─▶ onboard(deletes), children first
```

The whole input is classified before anything is sent: a dry run, the delete guard and
the send read one plan, and an export that cannot be read to its end (a truncated file)
changes nothing. Sending is ``onboard()`` itself, with the state store as its journal,
so the rate gate, retries, look-ups of lost pushes and the poller are those of a bulk run.
The store changes only when a record reaches a final status.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Unpack

import anyio

from .._errors import BuildingMindsError, ConfigurationError
from ..models import entity_spec
from ..onboarding import run_settled
from ..onboarding._options import OnboardOptions, Settings
from ..onboarding._report import OnboardingReport
from ._plan import (
    Counts,
    Reader,
    changes,
    classify,
    commit_plan,
    plan_deletes,
    plan_levels,
    plan_page,
    planned_deletes,
    seen_entities,
    start_plan,
)
from ._report import SyncReport, guard_message, merged
from ._store import StateStore

if TYPE_CHECKING:
    from .._client import AsyncClient

__all__ = ["DeleteGuardError", "SyncOptions", "SyncReport", "sync"]

logger = logging.getLogger("buildingminds_async.sync")

DEFAULT_MAX_DELETE_SHARE = 0.1
"""Share of the known records a run may delete when ``max_deletes`` is not given."""
_BLOCK = 256
_DELETES_SHOWN = 20


class DeleteGuardError(BuildingMindsError):
    """A sync run would delete more records than its guard allows; nothing was sent."""


class SyncOptions(OnboardOptions, total=False):
    """The keyword options of ``sync()``: those of ``onboard()`` (but ``journal``: the
    state file is the journal) and these."""

    tenant: str | None
    """Whose records the state holds (one file can hold several); default: the client's
    base URL and client id."""
    delete_missing: bool
    """Send ``…Deleted`` for the records the platform holds (by the state) that the input
    no longer names (default False)."""
    delete_entities: Sequence[str] | None
    """The entities whose missing records are deleted; default: those the input holds
    records of, so that an export of buildings alone never deletes the floors."""
    max_deletes: int | None
    """Refuse a run that would delete more than this many records."""
    max_delete_share: float
    """Without ``max_deletes``: refuse a run that would delete more than this share of
    the records the state knows (default 0.1)."""
    dry_run: bool
    """Classify and report the plan; send nothing and change nothing."""
    on_plan: Callable[[SyncReport], None] | None
    """Called once with the plan (a ``SyncReport`` whose ``report`` is None) when the
    input has been classified, before anything is sent."""
    changes: str | Path | None
    """Write each change (added, updated with the fields that changed, deleted) to this
    file, one JSON object per line."""


_SYNC_ONLY = frozenset(SyncOptions.__annotations__) - frozenset(OnboardOptions.__annotations__)


async def sync(
    client: AsyncClient,
    records: Iterable[Any] | AsyncIterable[Any],
    *,
    state: str | Path,
    **options: Unpack[SyncOptions],
) -> SyncReport:
    """Send what changed in ``records`` since the last sync into ``state``, and report.

    New records are sent as ``…Added``, changed ones as ``…Updated``, unchanged ones not at
    all; with ``delete_missing``, records known from the last complete run and absent now
    are sent as ``…Deleted`` (children before parents) within the delete guard.

    Raises:
        ConfigurationError: an unknown option, ``journal=`` (the state is the journal), or
            ``delete_missing`` without ``wait``; a state file that cannot be used.
        DeleteGuardError: the deletes the run would send exceed ``max_deletes`` /
            ``max_delete_share``; nothing was sent.
        Per-record problems are never raised; they are in the report.
    """
    onboard_options = {k: v for k, v in options.items() if k not in _SYNC_ONLY}
    if "journal" in onboard_options:
        raise ConfigurationError(
            "sync() keeps its journal in the state file: drop journal= (state= is the journal)"
        )
    try:
        settings = Settings.of(onboard_options)
    except ConfigurationError as exc:
        raise ConfigurationError(str(exc).replace("onboard()", "sync()")) from None
    delete_missing = options.get("delete_missing", False)
    dry_run = options.get("dry_run", False)
    max_deletes = options.get("max_deletes")
    share = options.get("max_delete_share", DEFAULT_MAX_DELETE_SHARE)
    if delete_missing and not settings.wait:
        raise ConfigurationError(
            "delete_missing deletes children before parents, each after the last finished, "
            "so it needs wait=True"
        )
    if (max_deletes is not None and max_deletes < 0) or not 0 <= share <= 1:
        raise ConfigurationError("max_deletes must be >= 0 and max_delete_share in [0, 1]")
    tenant = options.get("tenant") or f"{client.base_url}#{client.credentials.client_id}"
    store = await StateStore.open(state, tenant, read_only=dry_run)
    try:
        return await _sync(
            client,
            records,
            store,
            settings,
            delete_missing=delete_missing,
            dry_run=dry_run,
            max_deletes=max_deletes,
            share=share,
            changes_path=options.get("changes"),
            on_plan=options.get("on_plan"),
            delete_entities=_entities(options.get("delete_entities")),
        )
    finally:
        with anyio.CancelScope(shield=True):
            await store.aclose()


async def _sync(
    client: AsyncClient,
    records: Iterable[Any] | AsyncIterable[Any],
    store: StateStore,
    settings: Settings,
    *,
    delete_missing: bool,
    dry_run: bool,
    max_deletes: int | None,
    share: float,
    changes_path: str | Path | None,
    on_plan: Callable[[SyncReport], None] | None,
    delete_entities: Sequence[str] | None,
) -> SyncReport:
    reports: list[OnboardingReport] = []
    if not dry_run and store.in_doubt():
        # An earlier run's pushes in doubt are looked up first, so that what they stored
        # is known before anything is classified. Its open batches are not waited for
        # here (their children may wait for parents this run sends): the upserts' run
        # polls them beside its own.
        logger.info("sync looks up the pushes an earlier run left in doubt")
        looked_up = await run_settled(
            client, (), dataclasses.replace(settings, wait=False, strict_order=False), journal=store
        )
        reports.append(_requests_only(looked_up))
    await store.call(start_plan, store)
    reader = Reader(settings.entity, settings.on_failure)
    counts = Counts({})
    async for block in _blocks(records):
        decided = [reader.decide(item) for item in block]
        duplicates = await store.call(classify, store, decided, counts, changes_path is not None)
        for record, first in duplicates:
            reader.refuse_duplicate(record, first)
    delete_planned, skipped, refused = 0, None, False
    if delete_missing:
        scope = list(delete_entities) if delete_entities is not None else None
        valid = sum(counts.total(k) for k in ("unchanged", "added", "updated", "in_flight"))
        if counts.invalid_unknown:
            skipped = (
                f"{counts.invalid_unknown:,} invalid record(s) of the input have no readable "
                f"entity or id: a delete of what is missing could delete them; fix them first"
            )
        elif valid == 0:
            # An empty export (or one of invalid records only) never deletes anything,
            # whatever the guard allows: it is far likelier a failed export than a
            # portfolio sold off.
            skipped = "the export holds no valid record, so nothing is deleted"
        else:
            if scope is None:
                scope = await store.call(seen_entities, store)
            delete_planned, known = await store.call(plan_deletes, store, counts, scope)
            refusal = guard_message(delete_planned, known, max_deletes, share)
            if refusal is not None and not dry_run:
                raise DeleteGuardError(
                    f"sync refused: {refusal}. Nothing was sent and the state is unchanged. "
                    f"An export cut short or filtered? Check it, or allow more with "
                    f"--max-deletes N (max_deletes=N); --dry-run lists what would be deleted"
                )
            if refusal is not None:
                skipped, refused = refusal, True
    if changes_path is not None:
        await store.call(_write_changes, store, Path(changes_path))
    plan = SyncReport(
        state=store.path,
        dry_run=dry_run,
        read=reader.position,
        unchanged=counts.total("unchanged"),
        added=counts.total("added"),
        updated=counts.total("updated"),
        deleted=delete_planned if dry_run else 0,
        delete_planned=delete_planned,
        not_deletable=counts.total("not_deletable"),
        invalid=counts.total("invalid"),
        in_flight=counts.total("in_flight"),
        by_entity=counts.by_entity,
        report=None,
        deletes_skipped=skipped,
        delete_in_flight=counts.delete_in_flight,
        deletes_first=tuple(await store.call(planned_deletes, store, _DELETES_SHOWN)),
        refused_by_guard=refused,
    )
    if on_plan is not None:
        on_plan(plan)
    if dry_run:
        return plan
    await store.call(commit_plan, store)
    upserts: OnboardingReport | None = None
    if counts.total("added") + counts.total("updated") + counts.total("invalid") or (
        store.has_open_pushes
    ):
        upserts = await run_settled(client, _planned(store), settings, journal=store)
        reports.append(upserts)
    deleted = 0
    if delete_planned and (upserts is None or _finished(upserts)):
        for level in await store.call(plan_levels, store):
            run = await run_settled(client, _planned(store, level), settings, journal=store)
            reports.append(run)
            deleted += run.completed
            if not _finished(run) or run.failed:
                # Parents whose children could not all be deleted stay: deleting them
                # would leave those children orphaned on the platform.
                skipped = (
                    f"{run.failed + run.pending:,} deletes of level {level} did not complete, "
                    f"so their parents were not deleted (see the failures; run again)"
                )
                break
    elif delete_planned:
        skipped = "the upserts did not all finish, so nothing was deleted (run again)"
    return dataclasses.replace(
        plan, deleted=deleted, report=merged(reports, reader.refused), deletes_skipped=skipped
    )


def _entities(names: Sequence[str] | None) -> list[str] | None:
    """Entity names as the API spells them (``"RentalUnit"`` -> ``"rental-unit"``)."""
    if names is None:
        return None
    if isinstance(names, str):
        names = [names]
    try:
        return [entity_spec(name).name for name in names]
    except KeyError as exc:
        raise ConfigurationError(f"delete_entities: {exc.args[0]}") from None


def _requests_only(report: OnboardingReport) -> OnboardingReport:
    """The look-up run's requests, without its records: the upserts' run counts those."""
    return dataclasses.replace(
        report,
        submitted=0,
        completed=0,
        failed=0,
        invalid=0,
        pending=0,
        not_sent=0,
        blocked=0,
        failures=(),
        batch_ids=(),
    )


def _finished(report: OnboardingReport) -> bool:
    return report.stopped_reason is None and report.pending == 0


async def _blocks(records: Iterable[Any] | AsyncIterable[Any]) -> AsyncIterator[list[Any]]:
    block: list[Any] = []
    if isinstance(records, AsyncIterable):
        async for item in records:
            block.append(item)
            if len(block) >= _BLOCK:
                yield block
                block = []
    else:
        for item in records:
            block.append(item)
            if len(block) >= _BLOCK:
                yield block
                block = []
                await anyio.lowlevel.checkpoint()
    if block:
        yield block


async def _planned(store: StateStore, level: int | None = None) -> AsyncIterator[Any]:
    """The plan's upserts (and invalid records, for the report), or one level's deletes."""
    after = 0
    while True:
        page = await store.call(plan_page, store, after, level)
        if not page:
            return
        for after, record in page:  # noqa: B007 (after: where the next page starts)
            yield record


def _write_changes(store: StateStore, path: Path) -> None:
    with path.open("w", encoding="utf-8") as out:
        for line in changes(store):
            out.write(json.dumps(line, ensure_ascii=False) + "\n")
