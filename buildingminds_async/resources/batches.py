"""``client.batches``: list batches, read their inbound messages, wait for them."""

from __future__ import annotations

import builtins
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, TypeVar, overload
from urllib.parse import quote

import httpx2
from pydantic import ConfigDict, TypeAdapter, ValidationError

from .._errors import APIResponseValidationError, BatchTimeoutError, NotFoundError
from .._polling import BatchPoller
from ..models import Batch, BatchResult, InboundMessage, Page

if TYPE_CHECKING:
    from .._client import AsyncClient

__all__ = ["Batches"]

T = TypeVar("T")
Send = Callable[[Callable[[], Awaitable[httpx2.Response]]], Awaitable[httpx2.Response]]
"""How a read is sent: the client's retries by default; a bulk run's rate gate."""

# The API documents no default or maximum for `limit`; 100 keeps responses small and is
# what REFERENCE suggests, 1000 lets one request read a whole default-sized chunk.
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000


class _KnownFieldsOnly(InboundMessage):
    """An inbound message without the fields this SDK does not know: about three times
    cheaper to read, which matters when a bulk run reads one per record per poll."""

    model_config = ConfigDict(extra="ignore")


_BATCH_PAGE: TypeAdapter[Page[Batch]] = TypeAdapter(Page[Batch])
_MESSAGE_PAGE: TypeAdapter[Page[InboundMessage]] = TypeAdapter(Page[InboundMessage])
_KNOWN_FIELDS_PAGE: TypeAdapter[Page[_KnownFieldsOnly]] = TypeAdapter(Page[_KnownFieldsOnly])


def _day(value: date | str) -> str:
    """``yyyy-mm-dd``: the API filters batches by day (a datetime gives its date)."""
    if isinstance(value, datetime):
        value = value.date()
    return value.isoformat() if isinstance(value, date) else value


class Batches:
    """Batch endpoints of the API (``GET /batch``, ``GET /batch/{batchId}/inbound``)."""

    def __init__(self, client: AsyncClient, *, send: Send | None = None) -> None:
        self._client = client
        self._send = send

    async def _get_page(
        self,
        path: str,
        params: dict[str, str | int | bool],
        adapter: TypeAdapter[Page[T]],
        max_retries: int | None = None,
    ) -> Page[T]:
        client = self._client

        def call() -> Awaitable[httpx2.Response]:
            return client.request("GET", path, params=params)

        with client._tracing.span("buildingminds.poll", {"buildingminds.path": path}):
            if self._send is not None:
                response = await self._send(call)
            else:
                response = await client.call_with_retries(call, max_retries=max_retries)
            return _parse(response, adapter)

    async def page(
        self,
        *,
        created_from: date | str | None = None,
        skip: int = 0,
        limit: int = DEFAULT_PAGE_SIZE,
    ) -> Page[Batch]:
        """One page of ``GET /batch`` (oldest first; ``total_count`` tells where the newest are)."""
        params: dict[str, str | int | bool] = {"skip": skip, "limit": limit}
        if created_from is not None:
            params["createdFrom"] = _day(created_from)
        return await self._get_page("/batch", params, _BATCH_PAGE)

    async def messages_page(
        self, batch_id: str, *, skip: int = 0, limit: int = DEFAULT_PAGE_SIZE
    ) -> Page[InboundMessage]:
        """One page of a batch's inbound messages (``GET /batch/{batchId}/inbound``)."""
        params: dict[str, str | int | bool] = {"skip": skip, "limit": limit}
        return await self._get_page(_inbound_path(batch_id), params, _MESSAGE_PAGE)

    async def list(
        self,
        *,
        batch_id: str | None = None,
        created_from: date | str | None = None,
        created_to: date | str | None = None,
        created_at: date | str | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> AsyncIterator[Batch]:
        """Every batch matching the filters, fetched page by page (days are ``yyyy-mm-dd``)."""
        params: dict[str, str | int | bool] = {}
        if batch_id is not None:
            params["batchId"] = batch_id
        if created_from is not None:
            params["createdFrom"] = _day(created_from)
        if created_to is not None:
            params["createdTo"] = _day(created_to)
        if created_at is not None:
            params["createdAt"] = _day(created_at)
        async for item in self._pages("/batch", params, _BATCH_PAGE, page_size):
            yield item

    async def get(self, batch_id: str) -> Batch:
        """One batch by id.

        Raises:
            NotFoundError: no batch has this id.
        """
        page = await self._get_page("/batch", {"batchId": batch_id, "limit": 1}, _BATCH_PAGE)
        for batch in page.data:
            if batch.batch_id == batch_id:
                return batch
        raise NotFoundError(
            f"batch {batch_id} not found by GET /batch; check the id and the environment",
            method="GET",
            url=str(self._client.base_url.join("batch")),
            status_code=404,
            server_message="not found",
            request_id=None,
            retry_after=None,
            response=None,
        )

    async def messages(
        self,
        batch_id: str,
        *,
        status: str | None = None,
        missing_dependencies: bool | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> AsyncIterator[InboundMessage]:
        """The inbound messages (one per pushed record) of a batch, optionally filtered."""
        params: dict[str, str | int | bool] = {}
        if status is not None:
            params["status"] = status
        if missing_dependencies is not None:
            params["missingDependencies"] = missing_dependencies
        async for item in self._pages(_inbound_path(batch_id), params, _MESSAGE_PAGE, page_size):
            yield item

    async def result(
        self,
        batch_id: str,
        expected: int | None = None,
        *,
        max_retries: int | None = None,
        keep_unknown_fields: bool = True,
    ) -> BatchResult:
        """One reading of every record status of a batch (as few requests as paging allows).

        ``expected`` is the number of records pushed, when known: the batch is not
        ``done`` before the server lists that many. ``max_retries`` overrides the client's
        (bulk runs pass 0: their rate gate handles 429s for every request).
        ``keep_unknown_fields=False`` drops the message fields this SDK does not know,
        which makes reading a page about three times cheaper (bulk runs do).
        """
        page_size = min(max(expected or DEFAULT_PAGE_SIZE, DEFAULT_PAGE_SIZE), MAX_PAGE_SIZE)
        messages: builtins.list[InboundMessage] = []
        total = 0
        adapter: TypeAdapter[Page[Any]] = (
            _MESSAGE_PAGE if keep_unknown_fields else _KNOWN_FIELDS_PAGE
        )
        pages = self._page_iter(_inbound_path(batch_id), {}, adapter, page_size, max_retries)
        async for page in pages:
            messages.extend(page.data)
            total = page.total_count
        return BatchResult(batch_id, tuple(messages), total, expected)

    # A str is also a Sequence[str]; the str overload comes first and wins.
    @overload
    async def wait(  # type: ignore[overload-overlap]
        self, batch_id: str, *, timeout: float = ...
    ) -> BatchResult: ...

    @overload
    async def wait(
        self, batch_id: Sequence[str], *, timeout: float = ...
    ) -> builtins.list[BatchResult]: ...

    async def wait(
        self, batch_id: str | Sequence[str], *, timeout: float = 600.0
    ) -> BatchResult | builtins.list[BatchResult]:
        """Wait until every record of the batch has a final status; return its statuses.

        Cancelling the wait does not cancel the server's processing. For several batches
        use ``wait_many()`` (passing a list here still works but is deprecated).

        Raises:
            BatchTimeoutError: the batch was still processing after ``timeout`` seconds;
                its ``results`` hold the statuses seen last.
            NotFoundError: the API knows no batch with this id.
        """
        if isinstance(batch_id, str):
            return (await self.wait_many([batch_id], timeout=timeout))[batch_id]
        warnings.warn(
            "batches.wait() with a list of ids is deprecated and will be removed before 1.0: "
            "use batches.wait_many(ids), which returns {batch_id: BatchResult}",
            DeprecationWarning,
            stacklevel=2,
        )
        ids = builtins.list(batch_id)
        results = await self.wait_many(ids, timeout=timeout)
        return [results[one] for one in ids]

    async def wait_many(
        self, batch_ids: Iterable[str], *, timeout: float = 600.0
    ) -> dict[str, BatchResult]:
        """Wait until every record of every batch has a final status.

        Returns ``{batch_id: BatchResult}`` in the order the ids were given (duplicates
        once). All batches are watched by one polling loop with capped, adaptive back-off.

        Raises:
            BatchTimeoutError: some batch was still processing after ``timeout`` seconds;
                its ``results`` hold the statuses seen last, of every batch.
            NotFoundError: the API knows no batch with one of the ids.
        """
        ids = builtins.list(dict.fromkeys(batch_ids))
        results: dict[str, BatchResult] = {}

        async def record(result: BatchResult) -> None:
            results[result.batch_id] = result

        clock = self._client.clock
        # The ids come from the caller: an unknown one is an error, not a batch to wait for.
        poller = BatchPoller(self.result, clock=clock, fatal=(NotFoundError,))
        for one in ids:
            poller.watch(one, on_done=record)
        poller.close()
        await poller.run(deadline=clock() + timeout)
        open_ = poller.open_results()
        if open_:
            last = [r or BatchResult(bid, (), 0) for bid, r in open_]
            pending = ", ".join(bid for bid, _ in open_[:5]) + (" ..." if len(open_) > 5 else "")
            raise BatchTimeoutError(
                f"{len(open_)} of {len(ids)} batch(es) still processing after {timeout:g} s "
                f"({pending}); the server keeps working: wait again with the same ids",
                batch_ids=[bid for bid, _ in open_],
                results=[*results.values(), *last],
            )
        return {one: results[one] for one in ids}

    async def _page_iter(
        self,
        path: str,
        params: dict[str, str | int | bool],
        adapter: TypeAdapter[Page[T]],
        page_size: int,
        max_retries: int | None = None,
    ) -> AsyncIterator[Page[T]]:
        skip = 0
        while True:
            page = await self._get_page(
                path, {**params, "skip": skip, "limit": page_size}, adapter, max_retries
            )
            yield page
            skip += len(page.data)
            if not page.data or skip >= page.total_count:
                return

    async def _pages(
        self,
        path: str,
        params: dict[str, str | int | bool],
        adapter: TypeAdapter[Page[T]],
        page_size: int,
    ) -> AsyncIterator[T]:
        async for page in self._page_iter(path, params, adapter, page_size):
            for item in page.data:
                yield item


def _inbound_path(batch_id: str) -> str:
    return f"/batch/{quote(batch_id, safe='')}/inbound"


def _parse(response: httpx2.Response, adapter: TypeAdapter[Page[T]]) -> Page[T]:
    try:
        return adapter.validate_json(response.content)
    except ValidationError as exc:
        raise APIResponseValidationError.of(
            response,
            f"with a body that is not a {{message, totalCount, data}} page "
            f"({exc.error_count()} problem(s), first: {_first_error(exc)})",
        ) from exc


def _first_error(exc: ValidationError) -> Any:
    error = exc.errors()[0]
    return f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}"
