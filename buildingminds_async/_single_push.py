"""``client.push()`` of one chunk: retried, and a lost answer looked up before a re-send.

A push whose answer was lost after it was sent (a reset, a read timeout) may have been
stored: the server's batches are searched for it first (``resolve``), as ``onboard()``
does. Found, its Batch ID is returned; not found, the chunk is sent again; when the
server cannot be asked, an ``APIConnectionError`` with ``maybe_sent=True`` says so.

With a shared rate backend (Redis), each attempt takes the tenant's next push slot, and
a 429 pauses the tenant's other processes (FastAPI workers each pushing a few records).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from ._errors import APIConnectionError, RateLimitError
from ._retry import RetryPolicy, retry_call
from ._tracing import Attributes
from .onboarding._chunking import Chunk
from .onboarding._reconcile import Unresolved, resolve
from .resources.pushes import BatchId, read_batch_id

if TYPE_CHECKING:
    from ._client import AsyncClient

logger = logging.getLogger("buildingminds_async")


async def push_chunk(
    client: AsyncClient,
    chunk: Chunk,
    path: str,
    *,
    policy: RetryPolicy,
    on_retry: Callable[[BaseException, int, float], None],
) -> BatchId:
    """Push ``chunk`` to ``path`` until accepted; its Batch ID (see the module docstring)."""
    body = chunk.body()
    sent = 0

    backend = client._rate_backend
    shared = backend.lane("push") if backend is not None else None

    async def attempt() -> BatchId:
        nonlocal sent
        sent += 1
        if shared is not None:
            # Other processes of the tenant push too (FastAPI workers): take the tenant's
            # next slot, after any cooldown one of them was told.
            reservation = await shared.reserve(None)
            if reservation.wait > 0:
                await client.sleep(reservation.wait)
        sent_at = datetime.now(UTC)
        try:
            response = await client.request("POST", path, content=body)
        except RateLimitError as exc:
            if shared is not None:
                await shared.throttled(exc.retry_after or 1.0, learn=True)
            raise
        except APIConnectionError as exc:
            if not exc.maybe_sent:
                raise
            try:
                found = await resolve(
                    chunk, sent_at=sent_at, exclude=(), batches=client.batches, sleep=client.sleep
                )
            except Unresolved as unresolved:
                raise _InDoubt(exc, str(unresolved)) from exc
            if found is None:
                raise  # not stored: sent again
            logger.info("the lost push of %d %s records was stored", len(chunk), chunk.entity)
            return BatchId(found)
        return read_batch_id(response)

    attributes: Attributes = {
        "buildingminds.entity": chunk.entity,
        "buildingminds.records": len(chunk),
        "buildingminds.bytes": len(body),
    }
    with client._tracing.span("buildingminds.push", attributes) as span:
        try:
            batch_id = await retry_call(
                attempt, policy=policy, sleep=client.sleep, on_retry=on_retry
            )
        except _InDoubt as doubt:
            raise APIConnectionError(
                f"the push of {len(chunk)} {chunk.entity} records ({chunk.describe()}) may have "
                f"been stored: its answer was lost ({doubt.lost}) and the server could not be "
                f"asked ({doubt.why}); check client.batches.list() before pushing them again",
                method=doubt.lost.method,
                url=doubt.lost.url,
                maybe_sent=True,
            ) from doubt.lost
        finally:
            span.set_attribute("http.request.resend_count", max(sent - 1, 0))
        span.set_attribute("buildingminds.batch_id", batch_id)
        return batch_id


class _InDoubt(Exception):
    """A lost push the server could not be asked about: never retried."""

    def __init__(self, lost: APIConnectionError, why: str) -> None:
        super().__init__(why)
        self.lost = lost
        self.why = why
