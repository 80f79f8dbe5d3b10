"""``buildingminds sync``: send only what changed since the last run, optionally delete.

The files are read and checked as ``onboard`` reads them (a worker thread, a block at a
time); the records the CLI refuses are written to the reject file at once and handed to
``sync()`` as failures, so that their ids keep their platform copies from being deleted
as missing. The state file is the run's journal: an interrupted sync is resumed by
running it again.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
from collections.abc import Generator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import DeleteGuardError, RecordFailure, SourceRecord, SyncReport
from ..onboarding import Progress, read_in_thread
from ..onboarding._report import shown as escaped
from ._onboard import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_TRANSIENT,
    EXIT_USAGE,
    blocked_timeout_argument,
    default_rejects,
    files_argument,
    rejects_argument,
)
from ._progress import LocalCounts, QuietView, make_view
from ._readers import InputError, ReadPosition, plan_inputs, read_records
from ._records import Checker, Rejected
from ._rejects import RejectFile
from ._settings import UsageError, load_settings
from ._term import Term

if TYPE_CHECKING:
    from .. import AsyncClient

_SHOWN = 10


def max_deletes(text: str) -> tuple[int | None, float | None]:
    """``--max-deletes N`` (records) or ``P%`` (of the records the state knows)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*%\s*|\s*(\d+)\s*", text)
    if match is None:
        raise argparse.ArgumentTypeError(f"expected N or P%, e.g. 100 or 5%, not {text!r}")
    if match.group(1) is not None:
        share = float(match.group(1)) / 100
        if share > 1:
            raise argparse.ArgumentTypeError(f"{text!r} is more than 100%")
        return None, share
    return int(match.group(2)), None


def add_sync_parser(
    subcommands: Any, parents: list[argparse.ArgumentParser]
) -> argparse.ArgumentParser:
    sync: argparse.ArgumentParser = subcommands.add_parser(
        "sync",
        parents=parents,
        help="push only what changed since the last sync; optionally delete what is gone",
        description="Compare the files with the state of the last sync (--state) and send "
        "new records as Added, changed ones as Updated, nothing for unchanged ones; with "
        "--delete-missing, send Deleted for records the last sync stored that the files no "
        "longer hold (children first, within --max-deletes). --dry-run prints the plan. "
        "Interrupted? Run the same command again: the state file resumes it.",
    )
    files_argument(sync, what="the whole export to sync")
    sync.add_argument(
        "--state",
        required=True,
        metavar="PATH",
        help="the sync state file (SQLite; created by the first run, one per portfolio)",
    )
    deletes = sync.add_argument_group("deletes")
    deletes.add_argument(
        "--delete-missing",
        action="store_true",
        help="delete the records the state knows that the files no longer hold",
    )
    deletes.add_argument(
        "--max-deletes",
        type=max_deletes,
        metavar="N|P%",
        help="refuse a run that would delete more than N records or P%% of those the "
        "state knows (default 10%%)",
    )
    sync.add_argument(
        "--dry-run", action="store_true", help="print the plan; send and change nothing"
    )
    sync.add_argument(
        "--changes", metavar="PATH", help="write each change to PATH, one JSON object a line"
    )
    rejects_argument(sync)
    blocked_timeout_argument(sync)
    sync.set_defaults(handler=sync_command)
    return sync


def sync_command(args: argparse.Namespace, term: Term) -> int:
    settings = load_settings(args)
    inputs = plan_inputs(args.files, entity=args.entity, fmt=args.format)
    state = Path(args.state)
    if any(not i.is_stdin and Path(i.arg).resolve() == state.resolve() for i in inputs):
        raise UsageError(f"--state {state} is one of the inputs; choose another path")
    rejects = Path(args.rejects) if args.rejects else default_rejects(args.files[0])
    client = settings.client()
    try:
        report, written, shown = asyncio.run(
            _run(client, args, settings, inputs, state, rejects, term)
        )
        kept = None if args.dry_run and args.rejects is None else rejects
    except KeyboardInterrupt:
        term.error(
            f"interrupted: the state file {state} keeps what was done; run the same "
            f"command again to resume"
        )
        return EXIT_INTERRUPTED
    except DeleteGuardError as exc:
        term.error(f"buildingminds: error: {exc}")
        return EXIT_USAGE
    except InputError as exc:
        term.error(f"buildingminds: error: {exc}")
        term.error("nothing was sent: the whole export is read before anything is sent")
        return EXIT_USAGE
    if term.json:
        summary = report.summary()
        summary["rejects"] = str(kept) if written and kept is not None else None
        summary["rejects_written"] = written
        print(json.dumps(summary), file=sys.stdout, flush=True)
    _print(report, term, kept, written, shown)
    return _exit_code(report)


async def _run(
    client: AsyncClient,
    args: argparse.Namespace,
    settings: Any,
    inputs: list[Any],
    state: Path,
    rejects_path: Path,
    term: Term,
) -> tuple[SyncReport, int, list[Rejected]]:
    total = None if any(i.is_stdin for i in inputs) else sum(i.size or 0 for i in inputs)
    local = LocalCounts(ReadPosition(total))
    checker = Checker(args.entity)
    # A dry run changes nothing: it writes a reject file only where one is asked for.
    keep_rejects = not args.dry_run or args.rejects is not None
    rejects: RejectFile | _Counted = (
        RejectFile(rejects_path, resume=False) if keep_rejects else _Counted()
    )
    shown: list[Rejected] = []

    def keep(failure: Rejected) -> None:
        if rejects.write(failure) and len(shown) < _SHOWN:
            shown.append(failure)

    def source() -> Generator[SourceRecord | RecordFailure, None, None]:
        for raw in read_records(inputs, local.position):
            checked = checker.check(raw)
            if isinstance(checked, RecordFailure):
                local.invalid += 1
                keep(checked)
                yield checked  # counted invalid by sync, its id not deleted
                continue
            spec, model = checked
            yield SourceRecord(model, file=raw.file, line=raw.line, entity=spec.name)

    view = make_view("none" if args.quiet else args.progress, local, interval=args.stats_interval)

    def planned(plan: SyncReport) -> None:
        term.note(("would send: " if plan.dry_run else "plan: ") + plan.plan_line())
        if not plan.dry_run:
            term.view = view
            view.label(plan.plan_line())  # the progress says what is being synced
            view.start()

    def progress(seen: Progress) -> None:
        view.update(seen)

    max_n, share = args.max_deletes if args.max_deletes is not None else (None, None)
    options: dict[str, Any] = {}
    if max_n is not None:
        options["max_deletes"] = max_n
    if share is not None:
        options["max_delete_share"] = share
    records = read_in_thread(source())
    try:
        async with client:
            report = await client.sync(
                records,
                state=state,
                delete_missing=args.delete_missing,
                dry_run=args.dry_run,
                changes=args.changes,
                on_plan=planned,
                **settings.tuning(),
                blocked_timeout=args.blocked_timeout,
                on_progress=progress,
                on_failure=keep,
                **options,
            )
    finally:
        view.stop()
        term.view = QuietView()
        await records.aclose()
        rejects.close()
    return report, rejects.written, shown


def _print(
    report: SyncReport, term: Term, rejects: Path | None, written: int, shown: list[Rejected]
) -> None:
    if report.dry_run:
        for entity, counts in sorted(report.by_entity.items()):
            cells = ", ".join(
                f"{n:,} {kind.replace('_', ' ')}" for kind, n in sorted(counts.items())
            )
            term.out(f"  {entity}: {cells}")
        if report.deletes_first:
            term.out(f"would delete ({report.delete_planned:,}):")
            for entity, external_id in report.deletes_first:
                term.out(f"  {entity} {escaped(external_id)}")
            rest = report.delete_planned - len(report.deletes_first)
            if rest > 0:
                term.out(f"  ... and {rest:,} more (--changes PATH lists them all)")
        if report.refused_by_guard:
            term.out(f"a real run would refuse (exit 2): {report.deletes_skipped}")
        elif report.deletes_skipped:
            term.out(f"a real run would not delete: {report.deletes_skipped}")
        term.out("dry run: nothing was sent and the state is unchanged")
    elif report.report is not None:
        sent = report.report
        term.out(
            f"synced in {sent.stats.duration:.1f} s: {report.added:,} added, "
            f"{report.updated:,} updated, {report.deleted:,} deleted, {report.unchanged:,} "
            f"unchanged; {sent.completed:,} completed, {sent.failed:,} failed, "
            f"{report.invalid:,} invalid, {sent.pending:,} pending "
            f"({len(sent.batch_ids):,} batches, {sent.stats.requests:,} requests)"
        )
        if sent.stopped_reason:
            term.out(f"stopped early: {sent.stopped_reason}")
        if report.deletes_skipped:
            term.out(f"not deleted: {report.deletes_skipped}")
        if sent.pending:
            term.out(
                f"  {sent.pending:,} records have no final status yet: run the same command "
                f"again to pick them up (the state file keeps them)"
            )
    if written:
        where = (
            f"in {rejects}" if rejects is not None else "(a dry run: --rejects PATH writes them)"
        )
        term.out(f"rejects: {written:,} records {where}")
        for rejected in shown:
            term.out(f"  {rejected}")
    term.summarise_warnings()


class _Counted:
    """The reject file of a dry run without --rejects: counted, not written."""

    def __init__(self) -> None:
        self.written = 0

    def write(self, rejected: Rejected) -> bool:
        self.written += 1
        return True

    def close(self) -> None:
        return None


def _exit_code(report: SyncReport) -> int:
    if report.refused_by_guard:
        return EXIT_USAGE  # a dry run the real run would refuse exits as that run would
    sent = report.report
    if sent is not None and (sent.stopped_reason or sent.not_sent or sent.pending):
        return EXIT_TRANSIENT
    if report.invalid or (sent is not None and sent.failed):
        return EXIT_FAILED
    return EXIT_OK
