"""``buildingminds demo``: the whole job in one command, against a local sandbox.

Starts the sandbox on 127.0.0.1 with a rate limit and a processing delay like a real
service, writes a seeded portfolio into a directory, onboards it (parents first, with
progress, a journal and a reject file) and prints the report.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shlex
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

from ._onboard import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    OnboardPlan,
    print_outcome,
    run_onboard,
)
from ._portfolio import describe, generate_portfolio
from ._readers import plan_inputs
from ._settings import positive_float, positive_int
from ._term import Term

DEMO_SITES: Final = 500
DEMO_RATE_LIMIT: Final = 20.0
DEMO_BURST: Final = 5
DEMO_PROCESSING_DELAY: Final = 0.5


def add_demo_parser(
    subcommands: Any,
    common: argparse.ArgumentParser,
    progress_arguments: Callable[[argparse.ArgumentParser], None],
) -> None:
    demo = subcommands.add_parser(
        "demo",
        parents=[common],
        help="onboard a generated portfolio into a local sandbox (no account needed)",
        description="Start a local emulator of the BuildingMinds API, generate a realistic "
        "portfolio as files and onboard it, with progress and a reject file. Nothing "
        "leaves this machine.",
    )
    demo.add_argument(
        "--sites", type=positive_int, default=DEMO_SITES, metavar="N", help=f"({DEMO_SITES})"
    )
    demo.add_argument("--seed", type=int, default=7, help="seed of the portfolio (7)")
    demo.add_argument(
        "--dir", metavar="PATH", help="where to write the files (default: a new temp directory)"
    )
    sandbox = demo.add_argument_group("sandbox")
    sandbox.add_argument(
        "--rate-limit",
        type=positive_float,
        default=DEMO_RATE_LIMIT,
        metavar="R",
        help=f"requests/s the sandbox allows ({DEMO_RATE_LIMIT:g})",
    )
    sandbox.add_argument(
        "--burst", type=positive_int, default=DEMO_BURST, metavar="N", help=f"({DEMO_BURST})"
    )
    sandbox.add_argument(
        "--processing-delay",
        type=float,
        default=DEMO_PROCESSING_DELAY,
        metavar="S",
        help=f"seconds from push to final status ({DEMO_PROCESSING_DELAY:g})",
    )
    progress_arguments(demo)
    demo.set_defaults(handler=demo_command)


def demo_command(args: argparse.Namespace, term: Term) -> int:
    from .. import AsyncClient
    from ..sandbox import Sandbox

    started = time.monotonic()
    directory = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="buildingminds-demo-"))
    term.out("buildingminds demo: onboarding a generated portfolio into a LOCAL SANDBOX")
    term.out("  (an emulator of the BuildingMinds API on 127.0.0.1, not BuildingMinds itself;")
    term.out("   nothing leaves this machine and no account is needed)")
    term.out()
    portfolio = generate_portfolio(directory, sites=args.sites, seed=args.seed)
    term.out(f"portfolio: {portfolio.records:,} records in {directory}")
    for line in describe(portfolio.files):
        term.out(line)
    term.out(
        f"  with {portfolio.invalid} invalid records (a wrong site type, a building without "
        f"a name, a space 1.6 m high) and an address the sandbox cannot geocode"
    )
    term.out()
    rejects = directory / "rejects.ndjson"
    journal = directory / "demo.journal"
    journal.unlink(missing_ok=True)  # the files were just written again: start afresh
    sandbox = Sandbox(
        rate_limit=args.rate_limit,
        burst=args.burst,
        processing_delay=args.processing_delay,
    )
    with sandbox.serve_in_thread() as server:
        term.out(
            f"sandbox: {server.url} allows {args.rate_limit:g} requests/s (burst {args.burst}) "
            f"and takes {args.processing_delay:g} s to process a record"
        )
        term.out()
        plan = OnboardPlan(
            inputs=plan_inputs([str(f.path) for f in portfolio.files], entity=None, fmt=None),
            entity=None,
            rejects=rejects,
            journal=journal,
            chunk_size="auto",
            concurrency=4,
            rate=None,
            timeout=300.0,
            progress="none" if args.quiet else args.progress,
            stats_interval=args.stats_interval,
        )
        client = AsyncClient(
            credentials=server.credentials(), base_url=server.base_url, trust_env=False
        )
        try:
            outcome = asyncio.run(run_onboard(client, plan, term))
        except KeyboardInterrupt:
            term.error("interrupted")
            return EXIT_INTERRUPTED
        ledger = sandbox.ledger
        stored = {f.entity: len(ledger.stored(f.entity)) for f in portfolio.files}
        duplicates = sum(len(ledger.duplicates(f.entity)) for f in portfolio.files)
        counters = ledger.counters
    report = outcome.report
    elapsed = time.monotonic() - started
    expected = (
        report.failed == portfolio.failing
        and outcome.total_invalid == portfolio.invalid
        and report.pending == 0
    )
    if term.json:
        summary = outcome.summary() | {
            "sandbox": {
                "stored": stored,
                "duplicates": duplicates,
                "rate_limited": counters.get("rate_limited", 0),
            },
            "demo_duration_s": round(elapsed, 3),
            "directory": str(directory),
            "as_expected": expected,
        }
        print(json.dumps(summary), file=sys.stdout, flush=True)
    else:
        term.out("report:")
    print_outcome(outcome, term, rerun="buildingminds demo")
    term.out()
    term.out(
        f"the sandbox stored {sum(stored.values()):,} records "
        f"({', '.join(f'{n:,} {e}' for e, n in stored.items())}); "
        f"{duplicates} ids arrived twice; it answered {counters.get('rate_limited', 0):,} "
        f"requests with 429, which the client absorbed"
    )
    term.out(f"demo finished in {elapsed:.1f} s (local sandbox, not BuildingMinds)")
    term.out()
    where = shlex.quote(str(directory))
    term.out("try it yourself:")
    term.out(f"  buildingminds validate {where}/sites.csv       # offline, no account needed")
    term.out(
        "  buildingminds sandbox                     # in another terminal; export what it prints"
    )
    term.out(f"  buildingminds onboard {where}/addresses.ndjson {where}/sites.csv")
    if not expected:
        term.error(
            "the demo did not end as expected (see above): please report it with this output"
        )
        return EXIT_FAILED
    return EXIT_OK
