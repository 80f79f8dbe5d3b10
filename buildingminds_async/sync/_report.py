"""What ``sync()`` hands back: the plan's counts and the report of what was sent."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..onboarding._report import OnboardingReport, RecordFailure, RunStatistics


@dataclass(frozen=True, slots=True)
class SyncReport:
    """The outcome of ``sync()``: what changed since the last run, and how its push went.

    Every input record is counted once: ``read = unchanged + added + updated + in_flight +
    invalid``. ``deleted`` counts the records whose ``…Deleted`` completed (in a dry run:
    those that would be deleted); ``not_deletable`` the missing records of entities the API
    cannot delete (address). ``report`` is the ``OnboardingReport`` of everything sent by
    this run (an earlier run's open pushes taken up, the upserts, the deletes); ``None``
    in a dry run.
    """

    state: Path
    dry_run: bool
    read: int
    unchanged: int
    added: int
    updated: int
    deleted: int
    delete_planned: int
    not_deletable: int
    invalid: int
    in_flight: int
    """Records an earlier run pushed whose batch has no final status yet: not sent again."""
    by_entity: Mapping[str, Mapping[str, int]]
    """The plan's counts per entity: ``unchanged``, ``added``, ``updated``, ``deleted``,
    ``not_deletable``, ``in_flight``, ``invalid``."""
    report: OnboardingReport | None
    deletes_skipped: str | None = None
    """Why missing records were not (all) deleted although ``delete_missing`` was asked."""
    refused_by_guard: bool = False
    """A dry run whose deletes the guard would refuse (the real run raises)."""
    deletes_first: tuple[tuple[str, str], ...] = ()
    """The first (entity, external id) pairs planned for deletion (at most 20; the
    ``changes`` file lists them all)."""
    delete_in_flight: int = 0
    """Deletes an earlier run sent whose batch has no final status yet: this run polls
    them (their outcome is in ``report``), they are not sent again, nor part of ``read``."""

    @property
    def ok(self) -> bool:
        """Everything sent completed and nothing was invalid or skipped."""
        report_ok = self.report is None or self.report.ok
        return report_ok and self.invalid == 0 and self.deletes_skipped is None

    def summary(self) -> dict[str, Any]:
        """The counts as one flat dict (the CLI's ``--json``)."""
        summary: dict[str, Any] = self.report.summary() if self.report is not None else {}
        summary.update(
            dry_run=self.dry_run,
            read=self.read,
            unchanged=self.unchanged,
            added=self.added,
            updated=self.updated,
            deleted=self.deleted,
            delete_planned=self.delete_planned,
            not_deletable=self.not_deletable,
            in_flight=self.in_flight,
            invalid=self.invalid,
            by_entity={entity: dict(counts) for entity, counts in self.by_entity.items()},
            deletes_skipped=self.deletes_skipped,
            delete_in_flight=self.delete_in_flight,
            refused_by_guard=self.refused_by_guard,
        )
        return summary

    def plan_line(self) -> str:
        """The plan in one line: ``1,000 read: 990 unchanged, 7 added, 2 updated, ...``."""
        parts = [
            f"{self.unchanged:,} unchanged",
            f"{self.added:,} added",
            f"{self.updated:,} updated",
            f"{self.delete_planned:,} to delete",
        ]
        for name, value in (
            ("invalid", self.invalid),
            ("still in flight", self.in_flight),
            ("missing but not deletable", self.not_deletable),
        ):
            if value:
                parts.append(f"{value:,} {name}")
        return f"{self.read:,} records read: " + ", ".join(parts)

    def __str__(self) -> str:
        lines = [self.plan_line()]
        if self.deletes_skipped:
            lines.append(f"not deleted: {self.deletes_skipped}")
        if self.report is not None:
            lines.append(str(self.report))
        return "\n".join(lines)


def merged(
    reports: Sequence[OnboardingReport], refused: Sequence[RecordFailure]
) -> OnboardingReport:
    """One report of several runs (taken up, upserts, deletes by level), with the records
    sync refused itself counted invalid."""
    stats = [r.stats for r in reports]
    reasons: Counter[str] = Counter()
    for s in stats:
        reasons.update(s.resent_by_reason)

    def total(name: str) -> Any:
        return sum(getattr(s, name) for s in stats)

    statistics = RunStatistics(
        requests=total("requests"),
        pushes=total("pushes"),
        polls=total("polls"),
        retries=total("retries"),
        resent=total("resent"),
        rate_limited=total("rate_limited"),
        splits=total("splits"),
        reconciled=total("reconciled"),
        duration=float(total("duration")),
        cooldown=float(total("cooldown")),
        final_rate=stats[-1].final_rate if stats else None,
        chunk_sizes=next((s.chunk_sizes for s in stats if s.chunk_sizes is not None), None),
        resent_by_reason=dict(reasons),
    )

    def count(name: str) -> int:
        return sum(getattr(r, name) for r in reports)

    return OnboardingReport(
        submitted=count("submitted"),
        completed=count("completed"),
        failed=count("failed"),
        invalid=count("invalid") + len(refused),
        pending=count("pending"),
        not_sent=count("not_sent"),
        blocked=count("blocked"),
        failures=tuple(refused) + tuple(f for r in reports for f in r.failures),
        batch_ids=tuple(b for r in reports for b in r.batch_ids),
        stats=statistics,
        stopped_reason=next((r.stopped_reason for r in reports if r.stopped_reason), None),
        resumed=count("resumed"),
    )


def guard_message(planned: int, known: int, max_deletes: int | None, share: float) -> str | None:
    """Why deleting ``planned`` of ``known`` records is refused, or None when it is not."""
    if max_deletes is not None and planned > max_deletes:
        return (
            f"the run would delete {planned:,} of the {known:,} records the state knows, "
            f"more than max_deletes={max_deletes:,}"
        )
    if max_deletes is None and known and planned > share * known:
        return (
            f"the run would delete {planned:,} of the {known:,} records the state knows "
            f"({planned / known:.0%}), more than the {share:.0%} max_delete_share allows"
        )
    return None
