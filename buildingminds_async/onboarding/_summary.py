"""Batch summaries: one ``GET /batch`` request tells the state of many open batches.

Reading a batch's inbound messages costs a request per batch (more when it has more
records than a page holds), and under a limit that counts reads the polls spend the push
budget. Where the server's batch objects count their records per status
(``statusCounts``), one listing of the newest batches answers for every open batch it
shows: a batch whose records all succeeded is settled from its counts, one still
processing (or waiting for a parent) is left for later, and only a batch with failures
(whose reasons the report needs) is read record by record.

Where the listing has no counts, or does not show a batch (pushed long before the others,
or other clients pushed many since), or when a listing fails, that batch is read by its
messages as before. A server whose listings do not help (no counts, a listing refused
with a 4xx, or three listings in a row that failed or showed no open batch) is not asked
again during the run.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable, Collection
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Literal

from .._errors import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    AuthenticationError,
    PermissionDeniedError,
)
from .._retry import is_retryable
from ..models import Batch, Outcome, status_outcome

if TYPE_CHECKING:
    from ..resources.batches import Batches

__all__ = ["Summaries", "Verdict", "by_outcome", "verdict"]

logger = logging.getLogger("buildingminds_async")

Verdict = Literal["open", "completed", "read", "unknown"]
"""What a summary says of a batch: still processing; every record succeeded; read its
messages (some failed: the report needs their reasons); the summary cannot tell."""

FRESH = 0.25
"""Seconds a listing answers for every poll that comes due after it was asked for: polls
due within this of each other share one request."""
_GIVE_UP_AFTER = 3
_MIN_LIMIT, _MAX_LIMIT = 100, 1000


def by_outcome(summary: Batch | None) -> Counter[Outcome]:
    """Records of the batch per outcome (success, failure, pending), by its counts."""
    counts: Counter[Outcome] = Counter()
    if summary is not None:
        for status, n in (summary.status_counts or {}).items():
            counts[status_outcome(status)] += n
    return counts


def verdict(summary: Batch | None, expected: int | None) -> Verdict:
    """What ``summary`` says of a batch of ``expected`` records."""
    if summary is None or summary.status_counts is None:
        return "unknown"
    counts = by_outcome(summary)
    listed = counts.total()
    if listed == 0 or (expected is not None and listed < expected):
        return "open"  # not every record has its message yet
    if counts["pending"]:
        return "open"  # waiting for a parent too: its messages would say no more
    if not counts["failure"] and (expected is None or listed == expected):
        return "completed"
    return "read"


class Summaries:
    """The newest page of ``GET /batch``, asked for at most once per ``fresh`` seconds."""

    def __init__(
        self,
        batches: Batches,
        *,
        clock: Callable[[], float],
        fresh: float = FRESH,
        today: date | None = None,
    ) -> None:
        self._batches = batches
        self._clock = clock
        self._fresh = fresh
        # A day early: the server's day may begin in another time zone than UTC.
        self._since = (today or datetime.now(UTC).date()) - timedelta(days=1)
        self._lock = asyncio.Lock()
        self._seen: dict[str, Batch] = {}
        self._asked_at = float("-inf")
        self._total = 0
        self._pushed = 0  # batches accepted since the last listing was asked for
        self._misses = 0
        self.useful = True
        """False once the server's listings proved of no help: poll messages only."""
        self.requests = 0
        """Listings asked for (each one a new ``seen()``)."""

    def pushed(self) -> None:
        """A batch was accepted: the newest page moves on by one."""
        self._pushed += 1

    async def lookup(self, batch_id: str, open_ids: Collection[str]) -> Batch | None:
        """The summary of ``batch_id`` at most ``fresh`` seconds old, or None."""
        if not self.useful:
            return None
        due = self._clock()
        async with self._lock:
            if self.useful and self._asked_at < due - self._fresh:
                await self._list(open_ids)
        return self._seen.get(batch_id) if self.useful else None

    def seen(self) -> dict[str, Batch]:
        """Every batch the last listing showed."""
        return self._seen

    def waiting(self, batch_id: str, records: int) -> int:
        """Records of the batch the last listing said wait for a parent."""
        summary = self._seen.get(batch_id)
        missing = summary.missing_dependencies if summary is not None else None
        if isinstance(missing, bool):
            return records if missing else 0
        return min(missing or 0, records)

    async def _list(self, open_ids: Collection[str]) -> None:
        limit = min(max(_MIN_LIMIT, 2 * len(open_ids) + 10), _MAX_LIMIT)
        pushed = self._pushed
        skip = max(0, self._total + pushed - limit)
        asked_at = self._clock()
        try:
            page = await self._batches.page(created_from=self._since, skip=skip, limit=limit)
        except (AuthenticationError, PermissionDeniedError):
            raise  # the messages would be refused too: the run's business
        except (APIStatusError, APIConnectionError, APIResponseValidationError) as exc:
            if is_retryable(exc):
                self._missed(f"a batch listing failed ({exc})")
            else:
                self._give_up(f"the server does not list batches as expected ({exc})")
            return
        finally:
            self._asked_at = asked_at
        self.requests += 1
        self._pushed -= pushed
        self._total = page.total_count
        self._seen = {b.batch_id: b for b in page.data}
        if page.data and all(b.status_counts is None for b in page.data):
            self._give_up("the server's batch listing has no per-status counts")
        elif not any(one in self._seen for one in open_ids):
            self._missed("the batch listing showed no open batch")
        else:
            self._misses = 0

    def _missed(self, why: str) -> None:
        """A listing that told nothing: the polls of now read messages; three in a row and
        the run reads messages only."""
        self._seen = {}
        self._misses += 1
        if self._misses >= _GIVE_UP_AFTER:
            self._give_up(f"{why}, {self._misses} times in a row")

    def _give_up(self, why: str) -> None:
        logger.info("%s: polling each batch's messages instead", why)
        self.useful = False
        self._seen = {}
