"""After a push whose answer was lost: did the server store it?

A connection that breaks after the request was written, a read timeout, or a process
killed mid-request leave a push in doubt. Sending it again is safe (the API upserts by
external id) but it makes the server process the records twice. The API has no
idempotency key, so the batch is looked for instead: among the batches created since
shortly before the push (newest first), one whose inbound messages carry exactly this
chunk's external ids is the push. Only a look-up that was answered and shows no such
batch lets the caller send the chunk again: a look-up that fails (a reset, a timeout, a
5xx) is tried again with back-off, with a retry budget of its own, and when it never gets
through the chunk stays in doubt (``Unresolved``): its records end pending and a resumed
run checks the server first. The look-ups go through ``client.batches`` with the run's
read lane, like every other read of the run.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Collection
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from .._errors import (
    APIResponseValidationError,
    AuthenticationError,
    BuildingMindsError,
    CredentialsError,
)
from .._retry import (
    RetryBudget,
    RetryBudgetSpentError,
    RetryPolicy,
    Sleep,
    is_retryable,
    retry_call,
)
from ..models import Batch, InboundMessage, Page
from ._chunking import Chunk
from ._tally import Tally

if TYPE_CHECKING:
    from ..resources.batches import Batches

logger = logging.getLogger("buildingminds_async.onboarding")

T = TypeVar("T")

# The server's clock may differ from ours; batches created this long before the push
# are still candidates.
CLOCK_SKEW = timedelta(seconds=120)
_PAGE_SIZE = 100
_MAX_PAGES = 5
_MAX_CANDIDATES = 20


LOOKUP_POLICY = RetryPolicy(max_attempts=12, base_delay=0.5, max_delay=15.0)
"""Each read of a look-up is tried up to 12 times (full jitter, at most 15 s apart)."""


class Unresolved(Exception):
    """Whether the server stored a lost push could not be told: the look-up never got
    through. The chunk must not be sent again blindly."""


def _retryable(exc: BaseException) -> bool:
    return is_retryable(exc) or isinstance(exc, APIResponseValidationError)


class Reconciler:
    """Looks lost pushes up on the server, through the run's read lane."""

    def __init__(
        self, batches: Batches, tally: Tally, *, sleep: Sleep, policy: RetryPolicy = LOOKUP_POLICY
    ) -> None:
        self._batches = batches
        self._tally = tally
        self._sleep = sleep
        self._policy = policy
        self._budget = RetryBudget()  # the look-ups' own: failing reads never stop the pushes

    async def find(self, chunk: Chunk, sent_at: datetime) -> str | None:
        """The batch that holds ``chunk`` if the server stored it; None when a look-up was
        answered and shows it did not (the caller may send the chunk again).

        Raises:
            Unresolved: every look-up failed, or the listing was refused: keep the chunk
                in doubt.
            CredentialsError, AuthenticationError: nothing more can be read.
        """
        found = await resolve(
            chunk,
            sent_at=sent_at,
            exclude=self._tally.batch_ids.keys(),
            batches=self._batches,
            sleep=self._sleep,
            policy=self._policy,
            budget=self._budget,
        )
        if found is not None:
            self._tally.reconciled += 1
            logger.info(
                "the lost push of %d %s records was stored as batch %s",
                len(chunk),
                chunk.entity,
                found,
            )
        return found


async def resolve(
    chunk: Chunk,
    *,
    sent_at: datetime,
    exclude: Collection[str],
    batches: Batches,
    sleep: Sleep,
    policy: RetryPolicy = LOOKUP_POLICY,
    budget: RetryBudget | None = None,
) -> str | None:
    """``find_batch`` with each read tried again with back-off: the batch that holds
    ``chunk``, or None when the answered look-up shows none.

    Raises:
        Unresolved: a read never got through (or the listing was refused).
        CredentialsError, AuthenticationError: nothing more can be read.
    """
    reads = _Retrying(batches, policy, sleep, budget or RetryBudget(), chunk)
    try:
        return await find_batch(chunk, sent_at=sent_at, exclude=exclude, batches=reads)
    except (CredentialsError, AuthenticationError):
        raise
    except RetryBudgetSpentError as spent:
        raise Unresolved(
            f"the look-ups' retry budget is spent; last error: {spent.error}"
        ) from spent
    except BuildingMindsError as exc:
        raise Unresolved(str(exc)) from exc


class _Retrying:
    """The two reads of a look-up, each tried again with back-off when it fails: a look-up
    makes a few reads, and at 20% of answers lost one of them nearly always fails."""

    def __init__(
        self, batches: Batches, policy: RetryPolicy, sleep: Sleep, budget: RetryBudget, chunk: Chunk
    ) -> None:
        self._batches = batches
        self._policy = policy
        self._sleep = sleep
        self._budget = budget
        self._chunk = chunk

    async def page(self, **params: Any) -> Page[Batch]:
        return await self._retry(partial(self._batches.page, **params))

    async def messages_page(self, batch_id: str, **params: Any) -> Page[InboundMessage]:
        return await self._retry(partial(self._batches.messages_page, batch_id, **params))

    async def _retry(self, read: Callable[[], Awaitable[T]]) -> T:
        return await retry_call(
            read,
            policy=self._policy,
            sleep=self._sleep,
            retryable=_retryable,
            budget=self._budget,
            on_retry=self._retrying,
        )

    def _retrying(self, exc: BaseException, attempt: int, delay: float) -> None:
        logger.info(
            "could not check whether the lost push of %d %s records was stored (%s); "
            "reading again in %.1f s",
            len(self._chunk),
            self._chunk.entity,
            exc,
            delay,
        )


class _Reads(Protocol):
    async def page(self, **params: Any) -> Page[Batch]: ...

    async def messages_page(self, batch_id: str, **params: Any) -> Page[InboundMessage]: ...


async def find_batch(
    chunk: Chunk,
    *,
    sent_at: datetime,
    exclude: Collection[str],
    batches: _Reads,
) -> str | None:
    """The id of the batch that holds exactly ``chunk``'s records, or None.

    ``exclude`` are batch ids already known to belong to other chunks. Raises the
    client's errors when the listing cannot be read.
    """
    since = sent_at - CLOCK_SKEW
    created_from = since.date()
    head = await batches.page(created_from=created_from, skip=0, limit=1)
    candidates: list[str] = []
    skip = max(head.total_count - _PAGE_SIZE, 0)
    for _ in range(_MAX_PAGES):
        page = await batches.page(created_from=created_from, skip=skip, limit=_PAGE_SIZE)
        all_older = bool(page.data)
        for batch in reversed(page.data):
            created = batch.created_at
            if created is not None and created.tzinfo is not None and created < since:
                continue
            all_older = False
            if batch.batch_id in exclude:
                continue
            if batch.entity is not None and batch.entity != chunk.entity:
                continue
            if batch.record_count is not None and batch.record_count != len(chunk):
                continue
            candidates.append(batch.batch_id)
        if all_older or skip == 0 or len(candidates) >= _MAX_CANDIDATES:
            break
        skip = max(skip - _PAGE_SIZE, 0)
    wanted = Counter(ref.external_id for ref in chunk.refs)
    for batch_id in candidates[:_MAX_CANDIDATES]:
        try:
            seen = await _external_ids(batch_id, len(chunk), batches)
        except APIResponseValidationError:
            continue  # an unreadable batch cannot be shown to be this chunk
        if seen is not None and seen == wanted:
            return batch_id
    return None


async def _external_ids(
    batch_id: str, expected: int, batches: _Reads
) -> Counter[str | None] | None:
    """The external ids of a batch's messages, or None when it cannot be this chunk."""
    seen: Counter[str | None] = Counter()
    skip = 0
    while True:
        page = await batches.messages_page(batch_id, skip=skip, limit=max(expected, 1))
        if page.total_count != expected:
            return None
        seen.update(message.external_id for message in page.data)
        skip += len(page.data)
        if not page.data or skip >= expected:
            return seen
