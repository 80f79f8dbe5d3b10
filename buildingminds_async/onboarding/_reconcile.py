"""After a push whose answer was lost: did the server store it?

A connection that breaks after the request was written, a read timeout, or a process
killed mid-request leave a push in doubt. Sending it again is safe (the API upserts by
external id) but it makes the server process the records twice. The API has no
idempotency key, so the batch is looked for instead: among the batches created since
shortly before the push (newest first), one whose inbound messages carry exactly this
chunk's external ids is the push. If none is found, or the listing cannot be read, the
caller sends the chunk again. The look-ups go through ``client.batches`` with the run's
read lane, like every other read of the run.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Collection
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from .._errors import (
    APIResponseValidationError,
    AuthenticationError,
    BuildingMindsError,
    CredentialsError,
)
from ._chunking import Chunk
from ._tally import Tally

if TYPE_CHECKING:
    from ..resources.batches import Batches

logger = logging.getLogger("buildingminds_async.onboarding")

# The server's clock may differ from ours; batches created this long before the push
# are still candidates.
CLOCK_SKEW = timedelta(seconds=120)
_PAGE_SIZE = 100
_MAX_PAGES = 5
_MAX_CANDIDATES = 20


class Reconciler:
    """Looks lost pushes up on the server, through the run's read lane."""

    def __init__(self, batches: Batches, tally: Tally) -> None:
        self._batches = batches
        self._tally = tally

    async def find(self, chunk: Chunk, sent_at: datetime) -> str | None:
        """The batch that holds ``chunk`` if the server stored it; None when it did not, or
        when the look-up failed (the caller then sends the chunk again).

        Raises:
            CredentialsError, AuthenticationError: nothing more can be read.
        """
        try:
            found = await find_batch(
                chunk, sent_at=sent_at, exclude=self._tally.batch_ids.keys(), batches=self._batches
            )
        except (CredentialsError, AuthenticationError):
            raise
        except BuildingMindsError as exc:
            logger.info(
                "could not check whether the lost push of %d %s records was stored (%s); "
                "sending it again",
                len(chunk),
                chunk.entity,
                exc,
            )
            return None
        if found is not None:
            self._tally.reconciled += 1
            logger.info(
                "the lost push of %d %s records was stored as batch %s",
                len(chunk),
                chunk.entity,
                found,
            )
        return found


async def find_batch(
    chunk: Chunk,
    *,
    sent_at: datetime,
    exclude: Collection[str],
    batches: Batches,
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
    batch_id: str, expected: int, batches: Batches
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
