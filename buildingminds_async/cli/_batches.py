"""``buildingminds batches list|show|wait``: what became of pushed records."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections import Counter
from datetime import date
from typing import TYPE_CHECKING, Any

from ..models import Batch, BatchResult, InboundMessage
from ..onboarding._report import shown
from ._onboard import EXIT_FAILED, EXIT_OK, EXIT_TRANSIENT
from ._settings import Parser, load_settings, positive_float, positive_int
from ._term import Term

if TYPE_CHECKING:
    from .. import AsyncClient


def day(text: str) -> str:
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a day as yyyy-mm-dd") from None


def add_batches_parser(
    subcommands: Any, common: list[argparse.ArgumentParser], connection: argparse.ArgumentParser
) -> None:
    batches = subcommands.add_parser(
        "batches",
        help="list batches, show the statuses of one, wait for some",
        description="Batches: what the API did with pushed records.",
    )
    actions = batches.add_subparsers(
        dest="action", metavar="ACTION", required=True, parser_class=Parser
    )
    listing = actions.add_parser(
        "list", parents=[*common, connection], help="list batches, newest filters first"
    )
    listing.add_argument("--created-from", type=day, metavar="DAY", help="yyyy-mm-dd")
    listing.add_argument("--created-to", type=day, metavar="DAY", help="yyyy-mm-dd")
    listing.add_argument("--created-at", type=day, metavar="DAY", help="yyyy-mm-dd")
    listing.add_argument("--limit", type=positive_int, metavar="N", help="at most N batches")
    listing.set_defaults(handler=list_command)

    show = actions.add_parser(
        "show",
        parents=[*common, connection],
        help="statuses of one batch's records, with counts and failures",
    )
    show.add_argument("batch_id", metavar="BATCH_ID")
    show.add_argument("--all", action="store_true", help="list every record, not only failures")
    show.set_defaults(handler=show_command)

    wait = actions.add_parser(
        "wait",
        parents=[*common, connection],
        help="wait until every record of the batches has a final status",
    )
    wait.add_argument("batch_ids", nargs="+", metavar="BATCH_ID")
    wait.add_argument(
        "--timeout", type=positive_float, default=600.0, metavar="S", help="seconds (600)"
    )
    wait.set_defaults(handler=wait_command)


def _client(args: argparse.Namespace) -> AsyncClient:
    return load_settings(args).client()


# -- list ---------------------------------------------------------------------------------


def list_command(args: argparse.Namespace, term: Term) -> int:
    client = _client(args)

    async def run() -> list[Batch]:
        found: list[Batch] = []
        async with client:
            async for batch in client.batches.list(
                created_from=args.created_from,
                created_to=args.created_to,
                created_at=args.created_at,
            ):
                found.append(batch)
                if args.limit is not None and len(found) >= args.limit:
                    break
        return found

    batches = asyncio.run(run())
    if term.json:
        payload = {"count": len(batches), "batches": [_batch_json(b) for b in batches]}
        print(json.dumps(payload), file=sys.stdout, flush=True)
        return EXIT_OK
    rows = [
        [
            b.batch_id,
            b.created_at.isoformat().replace("+00:00", "Z") if b.created_at else "",
            b.entity or "",
            b.status or "",
            f"{b.record_count:,}" if b.record_count is not None else "",
        ]
        for b in batches
    ]
    for line in _table(["BATCH ID", "CREATED", "ENTITY", "STATUS", "RECORDS"], rows):
        term.out(line)
    term.out(f"{len(batches):,} batches")
    return EXIT_OK


def _batch_json(batch: Batch) -> dict[str, Any]:
    data: dict[str, Any] = batch.model_dump(mode="json", by_alias=False)
    return data


# -- show ---------------------------------------------------------------------------------


def show_command(args: argparse.Namespace, term: Term) -> int:
    client = _client(args)

    async def run() -> BatchResult:
        async with client:
            return await client.batches.result(args.batch_id)

    result = asyncio.run(run())
    listed = result.messages if args.all else result.failures
    if term.json:
        payload = _result_json(result)
        payload["messages" if args.all else "failures"] = [_message_json(m) for m in listed]
        print(json.dumps(payload), file=sys.stdout, flush=True)
        return EXIT_OK
    term.out(_result_line(result))
    counts = Counter(m.status for m in result.messages)
    width = max((len(s) for s in counts), default=0)
    for status, n in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        term.out(f"  {status:<{width}}  {n:>8,}")
    if listed:
        term.out("records:" if args.all else "failures:")
        for message in listed:
            term.out("  " + _message_line(message))
    return EXIT_OK


def _result_json(result: BatchResult) -> dict[str, Any]:
    return {
        "batch_id": result.batch_id,
        "total": max(result.total_count, len(result.messages)),
        "done": result.done,
        "completed": result.completed,
        "failed": result.failed,
        "pending": result.pending,
        "blocked": result.blocked,
        "status_counts": dict(result.status_counts),
    }


def _message_json(message: InboundMessage) -> dict[str, Any]:
    return {
        "index": message.index,
        "external_id": message.external_id,
        "entity": message.entity,
        "status": message.status,
        "missing_dependencies": message.missing_dependencies,
        "error": message.error,
    }


def _message_line(message: InboundMessage) -> str:
    where = f"#{message.index}" if message.index is not None else ""
    who = " ".join(p for p in (message.entity, message.external_id, where) if p)
    blocked = " (waiting for a parent record)" if message.missing_dependencies else ""
    error = f": {message.error}" if message.error else ""
    return shown(f"{who or 'record'} {message.status}{blocked}{error}")


def _result_line(result: BatchResult) -> str:
    total = max(result.total_count, len(result.messages))
    state = "done" if result.done else "processing"
    blocked = f", {result.blocked:,} waiting for a parent" if result.blocked else ""
    return (
        f"batch {result.batch_id}: {total:,} records, {state}: {result.completed:,} completed, "
        f"{result.failed:,} failed, {result.pending:,} pending{blocked}"
    )


# -- wait ---------------------------------------------------------------------------------


def wait_command(args: argparse.Namespace, term: Term) -> int:
    from .._errors import BatchTimeoutError

    client = _client(args)
    ids = list(dict.fromkeys(args.batch_ids))

    async def run() -> tuple[list[BatchResult], bool]:
        async with client:
            # An unknown id would be polled until the timeout: check each exists first
            # (raises NotFoundError, exit code 2).
            for batch_id in ids:
                await client.batches.result(batch_id)
            try:
                waited = await client.batches.wait_many(ids, timeout=args.timeout)
                return list(waited.values()), False
            except BatchTimeoutError as exc:
                return list(exc.results), True

    results, timed_out = asyncio.run(run())
    completed = sum(r.completed for r in results)
    failed = sum(r.failed for r in results)
    pending = sum(r.pending for r in results)
    if term.json:
        payload = {
            "batches": [_result_json(r) for r in results],
            "completed": completed,
            "failed": failed,
            "pending": pending,
            "timed_out": timed_out,
        }
        print(json.dumps(payload), file=sys.stdout, flush=True)
    else:
        for result in results:
            term.out(_result_line(result))
            for message in result.failures[:10]:
                term.out("  " + _message_line(message))
            if len(result.failures) > 10:
                term.out(
                    f"  ... and {len(result.failures) - 10:,} more: "
                    f"buildingminds batches show {result.batch_id}"
                )
        if timed_out:
            term.out(
                f"still processing after {args.timeout:g} s: the server keeps working; "
                f"wait again with the same ids"
            )
    if timed_out or pending:
        return EXIT_TRANSIENT
    return EXIT_FAILED if failed else EXIT_OK


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows, strict=False)]
    lines = []
    for row in [header, *rows]:
        lines.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    return lines
