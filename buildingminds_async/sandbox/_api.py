"""The API's handlers: entity pushes and the two batch endpoints.

Order of the checks on an entity POST, each answered before the next is tried:
bearer token (401) -> rate limit (429) -> body size (413) -> JSON array (400) ->
record count (413) -> injected fault (5xx, 429 before storing) -> store, Batch ID ->
injected fault after storing (reset, slow) -> 200 ``{"batchId": ...}``.

The handlers work on the ``SandboxState`` alone; ``_app`` routes requests to them.
"""

from __future__ import annotations

import datetime
import re
import time
from typing import Any

from ._asgi import Handler, Request, after_fault, loads, status_fault
from ._config import DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT
from ._entities import EntityRule, check_records
from ._faults import STATUS_FAULTS, Fault
from ._ledger import batch_json, message_json
from ._state import STATUSES, Batch, Message, SandboxState

__all__ = ["ApiHandlers"]

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_UINT = re.compile(r"^\d{1,9}$")


class ApiHandlers:
    """``POST /<entity>``, ``GET /batch`` and ``GET /batch/{batchId}/inbound``."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state

    async def _authenticate(self, req: Request) -> str | None:
        """The client of a valid bearer token, or None once the 401 is sent."""
        verdict, client_id = self.state.check_token(req.header(b"authorization"))
        if verdict == "ok":
            return client_id
        self.state.count("unauthorized")
        if verdict == "missing":
            message = "Missing bearer token: send 'Authorization: Bearer <access token>'"
            challenge = 'Bearer realm="buildingminds-sandbox"'
        else:
            message = {
                "unknown": "The access token is not valid: request a new token",
                "revoked": "The access token was revoked: request a new token",
                "expired": "The access token has expired: request a new token",
            }[verdict]
            challenge = f'Bearer error="invalid_token", error_description="{message}"'
        await req.error(401, message, headers=(("www-authenticate", challenge),))
        return None

    async def _admit(self, req: Request, *, push: bool) -> str | None:
        """Token and rate limit; the client id, or None once the refusal is sent."""
        client_id = await self._authenticate(req)
        if client_id is None:
            return None
        verdict = self.state.take_rate(client_id, push=push)
        if verdict is not None:
            config = self.state.config
            headers = verdict.headers(config.rate_limit_headers)
            if verdict.retry_after is not None:
                per = (
                    "second"
                    if config.rate_limit_window is None
                    else f"{config.rate_limit_window:g} s window"
                )
                await req.error(
                    429,
                    f"Rate limit of {verdict.limit:g} requests per {per} exceeded: "
                    f"retry after {verdict.retry_after} s",
                    headers=headers,
                )
                return None
            req.extra_headers = headers
        return client_id

    # -- entity POSTs -----------------------------------------------------------------------

    def push_handler(self, rule: EntityRule) -> Handler:
        async def handler(req: Request) -> None:
            await self._push(req, rule)

        return handler

    async def _push(self, req: Request, rule: EntityRule) -> None:
        state = self.state
        state.count("pushes")
        client_id = await self._admit(req, push=True)
        if client_id is None:
            return
        config = state.config
        media_type = req.media_type()
        if media_type != "application/json":
            state.count("bad_requests")
            await req.body(config.max_body_bytes)  # drained, not read
            await req.error(
                415,
                f"The body must be sent as Content-Type: application/json, got "
                f"{media_type or 'none'!r}",
            )
            return
        body = await req.body(config.max_body_bytes)
        if body is None:
            state.count("too_large")
            await req.error(
                413, f"The body is larger than the limit of {config.max_body_bytes} bytes"
            )
            return
        try:
            records = loads(body)
        except (ValueError, RecursionError) as exc:
            state.count("bad_requests")
            await req.invalid(f"The body is not valid JSON: {exc}", "body")
            return
        if not isinstance(records, list):
            state.count("bad_requests")
            await req.invalid(
                f"The body must be a JSON array of {rule.name} records, got {_json_kind(records)}",
                "body",
            )
            return
        if not records:
            state.count("bad_requests")
            await req.invalid("The body is an empty array: send at least one record", "body")
            return
        if config.max_records is not None and len(records) > config.max_records:
            state.count("too_large")
            await req.error(
                413,
                f"{len(records)} records in one request; the limit is {config.max_records}",
            )
            return
        fault = state.draw_fault("push")
        if fault is not None and fault.kind in STATUS_FAULTS:
            await status_fault(req, fault)
            return
        verdicts = check_records(rule, records)
        batch_id = state.store_batch(rule, records, verdicts, client_id or "")
        if fault is None or await after_fault(req, fault):
            # Encoded by hand: a Batch ID is hex digits and dashes.
            await req.respond_raw(200, b'{"batchId":"%s"}' % batch_id.encode())

    # -- batch endpoints --------------------------------------------------------------------

    async def _page(self, req: Request, query: dict[str, str]) -> tuple[int, int] | None:
        skip, limit = 0, DEFAULT_PAGE_LIMIT
        raw = query.get("skip")
        if raw is not None:
            if not _UINT.match(raw):
                await req.invalid("skip must be an integer >= 0", "skip")
                return None
            skip = int(raw)
        raw = query.get("limit")
        if raw is not None:
            if not _UINT.match(raw) or not 1 <= int(raw) <= MAX_PAGE_LIMIT:
                await req.invalid(f"limit must be an integer from 1 to {MAX_PAGE_LIMIT}", "limit")
                return None
            limit = int(raw)
        return skip, limit

    async def _read_page(
        self, req: Request, query: dict[str, str]
    ) -> tuple[int, int, Fault | None] | None:
        """The page asked for and the fault drawn for this read; None once answered (a
        bad page parameter, an injected status)."""
        page = await self._page(req, query)
        if page is None:
            return None
        fault = self.state.draw_fault("batch")
        if fault is not None and fault.kind in STATUS_FAULTS:
            await status_fault(req, fault)
            return None
        return (*page, fault)

    async def list_batches(self, req: Request) -> None:
        if await self._admit(req, push=False) is None:
            return
        query = req.query()
        dates: dict[str, tuple[int, int, int]] = {}
        for name in ("createdFrom", "createdTo", "createdAt"):
            raw = query.get(name)
            if raw is None:
                continue
            parsed = _parse_date(raw)
            if parsed is None:
                await req.invalid(f"{name} must be a date as yyyy-mm-dd, got {raw!r}", name)
                return
            dates[name] = parsed
        read = await self._read_page(req, query)
        if read is None:
            return
        skip, limit, fault = read
        batch_id = query.get("batchId", query.get("id"))
        state = self.state
        with state.lock:
            state.advance()
            if batch_id is not None:
                one = state.batches.get(batch_id)
                candidates: list[Batch] = [one] if one is not None else []
            else:
                candidates = state.batch_order
            if dates:
                candidates = [b for b in candidates if _date_matches(state, b, dates)]
            total = len(candidates)
            data = [batch_json(state, b) for b in candidates[skip : skip + limit]]
        if await after_fault(req, fault):
            await req.respond(
                200, {"message": f"{total} batch(es) found", "totalCount": total, "data": data}
            )

    async def list_messages(self, req: Request) -> None:
        if await self._admit(req, push=False) is None:
            return
        query = req.query()
        status = query.get("status")
        if status is not None and status not in STATUSES:
            await req.invalid(
                f"status must be one of {', '.join(STATUSES)}, got {status!r}", "status"
            )
            return
        missing: bool | None = None
        raw = query.get("missingDependencies")
        if raw is not None:
            if raw.lower() not in ("true", "false"):
                await req.invalid(
                    f"missingDependencies must be true or false, got {raw!r}",
                    "missingDependencies",
                )
                return
            missing = raw.lower() == "true"
        read = await self._read_page(req, query)
        if read is None:
            return
        skip, limit, fault = read
        state = self.state
        batch_id = req.params["batch_id"]
        with state.lock:
            state.advance()
            batch = state.batches.get(batch_id)
            if batch is not None:
                messages: list[Message] = batch.messages
                if status is not None:
                    messages = [m for m in messages if m.status == status]
                if missing is not None:
                    messages = [m for m in messages if bool(m.missing) is missing]
                total = len(messages)
                data = [message_json(state, m) for m in messages[skip : skip + limit]]
        if batch is None:
            state.count("not_found")
            await req.error(404, f"Batch {batch_id!r} does not exist")
            return
        if await after_fault(req, fault):
            await req.respond(
                200,
                {"message": f"{total} inbound message(s) found", "totalCount": total, "data": data},
            )


def _json_kind(value: Any) -> str:
    if isinstance(value, dict):
        return "an object"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return "a string"
    return "a number"


def _parse_date(raw: str) -> tuple[int, int, int] | None:
    if not _DATE.match(raw):
        return None
    year, month, day = int(raw[:4]), int(raw[5:7]), int(raw[8:10])
    try:
        datetime.date(year, month, day)
    except ValueError:
        return None
    return year, month, day


def _date_matches(
    state: SandboxState, batch: Batch, dates: dict[str, tuple[int, int, int]]
) -> bool:
    day = tuple(time.gmtime(state.wall(batch.created))[:3])
    if "createdAt" in dates and day != dates["createdAt"]:
        return False
    if "createdFrom" in dates and day < dates["createdFrom"]:
        return False
    return not ("createdTo" in dates and day > dates["createdTo"])
