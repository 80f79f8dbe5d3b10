"""``buildingminds onboard`` and ``buildingminds validate``.

``onboard`` reads the files lazily (a generator of ``SourceRecord``), validates each
record once, writes invalid ones to the reject file at once, and hands the valid models
to ``client.onboard()`` with a resume journal. At the end the records that failed on the
server join the reject file, and the journal is deleted unless records are still pending.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shlex
import sys
from collections.abc import Generator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal

from .. import Journal, OnboardingReport, SourceRecord
from .._config import DEFAULT_MAX_CHUNK_SIZE
from ..models import EntitySpec
from ..onboarding import Progress, read_in_thread
from ._progress import LocalCounts, ProgressMode, QuietView, make_view
from ._readers import (
    REJECTS_SUFFIX,
    Format,
    InputError,
    InputFile,
    ReadPosition,
    plan_inputs,
    read_records,
)
from ._records import NOTHING_TOLD, Checker, Rejected
from ._rejects import RejectFile
from ._settings import UsageError, load_settings, positive_float
from ._term import Term

if TYPE_CHECKING:
    from .. import AsyncClient, RecordFailure

EXIT_OK: Final = 0
EXIT_FAILED: Final = 1
EXIT_USAGE: Final = 2
EXIT_AUTH: Final = 3
EXIT_TRANSIENT: Final = 4
EXIT_INTERRUPTED: Final = 130

JOURNAL_SUFFIX: Final = ".journal"
_SHOWN_REJECTS: Final = 10
_FINGERPRINT_VERSION: Final = 1


@dataclass(slots=True)
class OnboardPlan:
    """Everything one onboarding run needs besides the client."""

    inputs: list[InputFile]
    entity: EntitySpec | None
    rejects: Path
    journal: Path | None
    chunk_size: int | Literal["auto"]
    concurrency: int
    rate: float | None
    timeout: float
    read_rate: float | None = None
    wait: bool = True
    strict_order: bool = False
    progress: ProgressMode = "auto"
    stats_interval: float = 10.0
    blocked_timeout: float = 300.0
    max_chunk_size: int = DEFAULT_MAX_CHUNK_SIZE

    def fingerprint(self) -> dict[str, Any]:
        """What the journal must match: the inputs (path, size, mtime) and the entity."""
        return {
            "version": _FINGERPRINT_VERSION,
            "inputs": sorted((i.fingerprint() for i in self.inputs), key=lambda f: f["path"]),
            "entity": self.entity.name if self.entity is not None else None,
        }


@dataclass(slots=True)
class OnboardOutcome:
    """The SDK's report, completed with what the CLI found while reading."""

    report: OnboardingReport
    invalid: int
    rejects: RejectFile
    shown: list[Rejected]
    journal: Path | None
    journal_kept: bool
    resumed: bool
    wait: bool
    nothing_told: bool = False
    """The entity of no record could be told: a configuration error (exit 2)."""

    @property
    def total_invalid(self) -> int:
        return self.report.invalid + self.invalid

    def summary(self) -> dict[str, Any]:
        """The ``--json`` object: the contract keys first, then the rest."""
        report = self.report
        out = report.summary()
        out["invalid"] = self.total_invalid
        out["records"] = report.total + self.invalid
        out["resumed"] = report.resumed
        out["rejects"] = str(self.rejects.path) if self.rejects.exists else None
        out["rejects_written"] = self.rejects.written
        out["journal"] = str(self.journal) if self.journal_kept and self.journal else None
        out["batch_ids"] = list(report.batch_ids)
        return out

    def exit_code(self) -> int:
        report = self.report
        if self.nothing_told:
            return EXIT_USAGE
        if report.stopped_reason or report.not_sent or (self.wait and report.pending):
            return EXIT_TRANSIENT
        if report.failed or self.total_invalid:
            return EXIT_FAILED
        return EXIT_OK


async def run_onboard(client: AsyncClient, plan: OnboardPlan, term: Term) -> OnboardOutcome:
    """Onboard ``plan.inputs`` through ``client`` (which this closes) and report."""
    async with client:
        return await _onboard(client, plan, term)


async def _onboard(client: AsyncClient, plan: OnboardPlan, term: Term) -> OnboardOutcome:
    journal: Journal | None = None
    resumed = False
    if plan.journal is not None:
        resumed = plan.journal.exists() and plan.journal.stat().st_size > 0
        fingerprint = plan.fingerprint()
        if resumed:
            _check_journal(plan.journal, fingerprint)
        journal = await Journal.open(plan.journal, fingerprint=fingerprint)
    rejects = RejectFile(plan.rejects, resume=resumed)
    if rejects.previous is not None:
        term.note(f"note: the reject file of an earlier run is now {rejects.previous}")
    shown: list[Rejected] = []
    total = None if any(i.is_stdin for i in plan.inputs) else sum(i.size or 0 for i in plan.inputs)
    local = LocalCounts(ReadPosition(total))
    checker = Checker(plan.entity)

    def source() -> Generator[SourceRecord, None, None]:
        for raw in read_records(plan.inputs, local.position):
            checked = checker.check(raw)
            if isinstance(checked, Rejected):
                local.invalid += 1
                if rejects.write(checked) and len(shown) < _SHOWN_REJECTS:
                    shown.append(checked)
                continue
            spec, model = checked
            yield SourceRecord(model, file=raw.file, line=raw.line, entity=spec.name)

    # Reading, gunzip and validation are blocking work: they run in a worker thread, a
    # block of records at a time, not on the event loop the pushers and the poller share.
    records = read_in_thread(source())
    if resumed:
        term.note(
            f"resuming from the journal {plan.journal}: records an earlier run settled or "
            f"had accepted are skipped, and its open batches are polled again"
        )
    view = make_view(plan.progress, local, interval=plan.stats_interval)
    term.view = view
    view.start()

    def reject(failure: RecordFailure) -> None:
        # Written as soon as the SDK knows, so a killed run loses no reject line.
        if rejects.write(failure) and len(shown) < _SHOWN_REJECTS:
            shown.append(failure)

    accepted_so_far = 0

    def seen_progress(progress: Progress) -> None:
        nonlocal accepted_so_far
        accepted_so_far = progress.accepted
        view.update(progress)

    try:
        report = await client.onboard(
            records,
            chunk_size=plan.chunk_size,
            max_chunk_size=plan.max_chunk_size,
            concurrency=plan.concurrency,
            rate=plan.rate,
            read_rate=plan.read_rate,
            wait=plan.wait,
            timeout=plan.timeout,
            strict_order=plan.strict_order,
            blocked_timeout=plan.blocked_timeout,
            on_progress=seen_progress,
            on_failure=reject,
            journal=journal,
        )
    except BaseException as exc:
        if isinstance(exc, InputError):
            exc.accepted = accepted_so_far
        if journal is not None and not resumed:
            await journal.aclose()
            info = Journal.inspect(journal.path)
            if info is not None and not info.has_progress:
                journal.path.unlink(missing_ok=True)  # a run refused at the start
        raise
    finally:
        view.stop()
        term.view = QuietView()
        await records.aclose()
        if journal is not None:
            await journal.aclose()  # this function opened it; closing twice is a no-op
        rejects.close()
    kept = False
    if plan.journal is not None:
        if report.pending == 0 and report.stopped_reason is None:
            plan.journal.unlink(missing_ok=True)
        else:
            kept = True
    return OnboardOutcome(
        report=report,
        invalid=local.invalid,
        rejects=rejects,
        shown=shown,
        journal=plan.journal,
        journal_kept=kept,
        resumed=resumed,
        wait=plan.wait,
        nothing_told=checker.nothing_told(),
    )


def _check_journal(path: Path, fingerprint: dict[str, Any]) -> None:
    """Refuse a journal written for other input, naming the file that changed."""
    info = Journal.inspect(path)
    if info is None:
        return  # Journal.open explains what is wrong with it
    old = info.fingerprint
    if not isinstance(old, dict) or old == fingerprint:
        return
    old_inputs = {str(i.get("path")): i for i in old.get("inputs", []) if isinstance(i, dict)}
    new_inputs = {i["path"]: i for i in fingerprint["inputs"]}
    changes = []
    for name in sorted(set(old_inputs) | set(new_inputs)):
        before, after = old_inputs.get(name), new_inputs.get(name)
        if before is None:
            changes.append(f"{name} was not an input")
        elif after is None:
            changes.append(f"{name} is no longer an input")
        elif before != after:
            what = [k for k in ("size", "mtime_ns", "absolute") if before.get(k) != after.get(k)]
            label = {"size": "size", "mtime_ns": "modification time", "absolute": "location"}
            changes.append(f"{name} changed ({', '.join(label[w] for w in what)})")
    if old.get("entity") != fingerprint["entity"]:
        changes.append(f"--entity was {old.get('entity')}, now {fingerprint['entity']}")
    raise UsageError(
        f"the journal {path} was written for other input: {'; '.join(changes) or 'different'}. "
        f"Resuming would skip the wrong records: delete the journal (or pass --no-journal, "
        f"or --journal NEW_PATH) to start from scratch"
    )


def _reasons(counts: Mapping[str, int]) -> str:
    """`` (2 answer timed out, 1 connection lost)``, or nothing."""
    shown = ", ".join(f"{n:,} {why}" for why, n in sorted(counts.items()) if n)
    return f" ({shown})" if shown else ""


def print_outcome(outcome: OnboardOutcome, term: Term, *, rerun: str) -> None:
    report = outcome.report
    stats = report.stats
    term.out(
        f"{report.total + outcome.invalid:,} records in {stats.duration:.1f} s: "
        f"{report.completed:,} completed, {report.failed:,} failed, "
        f"{outcome.total_invalid:,} invalid, {report.pending:,} pending "
        f"({len(report.batch_ids):,} batches)"
    )
    term.out(
        f"  {stats.requests:,} requests, {stats.retries:,} retries, "
        f"{stats.rate_limited:,} answered 429, {stats.resent:,} chunks re-sent"
        + _reasons(stats.resent_by_reason)
    )
    sizes = stats.chunk_sizes
    if sizes is not None and sizes.changes:
        why = sizes.changes[-1].reason
        term.out(
            f"  records per request: {sizes.smallest:,} to {sizes.largest:,}, "
            f"{sizes.final:,} at the end ({len(sizes.changes)} change(s); last: {why})"
        )
    if outcome.resumed and report.resumed:
        term.out(f"  {report.resumed:,} records were skipped: an earlier run had taken them")
    if report.stopped_reason:
        term.out(f"stopped early: {report.stopped_reason}")
    if not outcome.wait and report.pending:
        term.out(
            f"  not waited for: {report.pending:,} records are processing; "
            f"follow them with: buildingminds batches wait BATCH_ID... (ids: --json)"
        )
    if outcome.rejects.exists:
        lines = outcome.rejects.lines()
        term.out(f"rejects: {lines:,} records in {outcome.rejects.path}")
        for rejected in outcome.shown:
            term.out(f"  {rejected}")
        rest = lines - len(outcome.shown)
        if rest > 0:
            term.out(f"  ... and {rest:,} more")
        term.out(
            f"  fix them in that file, then: buildingminds onboard "
            f"{shlex.quote(str(outcome.rejects.path))}"
        )
    if outcome.journal_kept:
        term.out(
            f"journal: {outcome.journal} keeps the progress; run {rerun} again to pick up "
            f"the {report.pending:,} pending records"
        )
    term.summarise_warnings()


def default_rejects(first_arg: str) -> Path:
    if first_arg == "-":
        return Path("stdin" + REJECTS_SUFFIX)
    return Path(first_arg + REJECTS_SUFFIX)


def make_plan(args: argparse.Namespace, settings: Any) -> OnboardPlan:
    """The plan of ``onboard``'s arguments (raises UsageError / InputError)."""
    fmt: Format | None = args.format
    inputs = plan_inputs(args.files, entity=args.entity, fmt=fmt)
    has_stdin = any(i.is_stdin for i in inputs)
    if args.journal and has_stdin:
        raise UsageError(
            "a journal needs input that can be read again, and stdin cannot: "
            "write it to a file, or drop --journal"
        )
    if args.no_wait and args.strict_order:
        raise UsageError("--strict-order waits for the parents' batches, so it needs waiting")
    journal: Path | None = None
    if not args.no_journal and not has_stdin:
        journal = Path(args.journal) if args.journal else Path(args.files[0] + JOURNAL_SUFFIX)
    rejects = Path(args.rejects) if args.rejects else default_rejects(args.files[0])
    taken = {os.path.abspath(i.arg) for i in inputs if not i.is_stdin}
    for what, path in (("--rejects", rejects), ("--journal", journal)):
        if path is not None and os.path.abspath(path) in taken:
            raise UsageError(f"{what} {path} is one of the inputs; choose another path")
    if journal is not None and os.path.abspath(journal) == os.path.abspath(rejects):
        raise UsageError("--journal and --rejects must be different files")
    return OnboardPlan(
        inputs=inputs,
        entity=args.entity,
        rejects=rejects,
        journal=journal,
        **settings.tuning(),
        wait=not args.no_wait,
        strict_order=args.strict_order,
        progress="none" if args.quiet else args.progress,
        stats_interval=args.stats_interval,
        blocked_timeout=args.blocked_timeout,
    )


def onboard_command(args: argparse.Namespace, term: Term) -> int:
    settings = load_settings(args)
    plan = make_plan(args, settings)
    client = settings.client()
    if args.no_journal:
        stale = Path(args.files[0] + JOURNAL_SUFFIX)
        if args.files[0] != "-" and stale.exists():
            term.note(f"note: --no-journal ignores the journal {stale} of an earlier run")
    try:
        outcome = asyncio.run(run_onboard(client, plan, term))
    except KeyboardInterrupt:
        where = (
            f"the journal {plan.journal} keeps what was done; run the same command again to resume"
            if plan.journal is not None
            else "nothing was journaled (stdin or --no-journal); the API upserts by "
            "external id, so running it again re-sends without creating duplicates"
        )
        term.error(f"interrupted: {where}")
        return EXIT_INTERRUPTED
    except InputError as exc:
        term.error(f"buildingminds: error: {exc}")
        if exc.accepted and (plan.journal is None or not plan.journal.exists()):
            term.error(
                f"{exc.accepted:,} records of the input were already accepted by the API "
                f"before the error; without a journal, running again sends them again (the "
                f"API upserts by external id, so they are not duplicated)"
            )
        if plan.journal is not None and plan.journal.exists():
            term.error(
                f"the journal {plan.journal} keeps what was sent; a fixed file no longer "
                f"matches it: delete it to start over (the API upserts by external id, so "
                f"re-sent records are not duplicated)"
            )
        return EXIT_USAGE
    if term.json:
        print(json.dumps(outcome.summary()), file=sys.stdout, flush=True)
    print_outcome(outcome, term, rerun="the same command")
    if outcome.nothing_told:
        term.error(NOTHING_TOLD)
    return outcome.exit_code()


# -- validate -----------------------------------------------------------------------------


def files_argument(parser: argparse.ArgumentParser, *, what: str) -> None:
    parser.add_argument(
        "files",
        nargs="+",
        metavar="FILE",
        help=f"{what}: NDJSON (.ndjson, .jsonl), a JSON array (.json), CSV (.csv), "
        f"optionally .gz; '-' reads stdin",
    )


def rejects_argument(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    parser.add_argument(
        "--rejects", metavar="PATH", help="reject file (default FIRST_INPUT.rejects.ndjson)"
    )


def blocked_timeout_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--blocked-timeout",
        type=positive_float,
        default=300.0,
        metavar="S",
        help="once all is pushed, stop waiting after S s when only records whose parent "
        "is neither in the files nor on the platform are left (300)",
    )
