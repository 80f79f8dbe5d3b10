"""After a push whose answer was lost: did the server store it?

A connection that breaks after the request was written, a read timeout, or a process
killed mid-request leave a push in doubt. Sending it again is safe (the API upserts by
external id) but it makes the server process the records twice. The API has no
idempotency key, so the batch is looked for instead: among the batches created since
shortly before the push (newest first), one whose inbound messages carry exactly this
chunk's external ids is the push. If none is found, or the listing cannot be read, the
caller sends the chunk again.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable, Collection
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from pydantic import TypeAdapter, ValidationError

from ._chunking import Chunk
from .models import Batch, InboundMessage, Page

Request = Callable[[str, dict[str, str | int | bool]], Awaitable[Any]]

_BATCH_PAGE: TypeAdapter[Page[Batch]] = TypeAdapter(Page[Batch])
_MESSAGE_PAGE: TypeAdapter[Page[InboundMessage]] = TypeAdapter(Page[InboundMessage])

# The server's clock may differ from ours; batches created this long before the push
# are still candidates.
CLOCK_SKEW = timedelta(seconds=120)
_PAGE_SIZE = 100
_MAX_PAGES = 5
_MAX_CANDIDATES = 20


async def find_batch(
    chunk: Chunk,
    *,
    sent_at: datetime,
    exclude: Collection[str],
    request: Request,
) -> str | None:
    """The id of the batch that holds exactly ``chunk``'s records, or None.

    ``exclude`` are batch ids already known to belong to other chunks. Raises the
    client's errors when the listing cannot be read.
    """
    since = sent_at - CLOCK_SKEW
    params: dict[str, str | int | bool] = {"createdFrom": since.date().isoformat()}
    try:
        head = _BATCH_PAGE.validate_python(
            await request("/batch", {**params, "skip": 0, "limit": 1})
        )
    except ValidationError:
        return None
    candidates: list[str] = []
    skip = max(head.total_count - _PAGE_SIZE, 0)
    for _ in range(_MAX_PAGES):
        try:
            page = _BATCH_PAGE.validate_python(
                await request("/batch", {**params, "skip": skip, "limit": _PAGE_SIZE})
            )
        except ValidationError:
            return None
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
        seen = await _external_ids(batch_id, len(chunk), request)
        if seen is not None and seen == wanted:
            return batch_id
    return None


async def _external_ids(
    batch_id: str, expected: int, request: Request
) -> Counter[str | None] | None:
    """The external ids of a batch's messages, or None when it cannot be this chunk."""
    path = f"/batch/{quote(batch_id, safe='')}/inbound"
    seen: Counter[str | None] = Counter()
    skip = 0
    while True:
        try:
            page = _MESSAGE_PAGE.validate_python(
                await request(path, {"skip": skip, "limit": max(expected, 1)})
            )
        except ValidationError:
            return None
        if page.total_count != expected:
            return None
        seen.update(message.external_id for message in page.data)
        skip += len(page.data)
        if not page.data or skip >= expected:
            return seen
