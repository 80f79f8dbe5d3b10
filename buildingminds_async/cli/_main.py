"""The argument parser, the dispatch to commands, and exceptions -> exit codes."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from .. import __version__
from .._errors import (
    APIConnectionError,
    AuthenticationError,
    BatchTimeoutError,
    BuildingMindsError,
    ConfigurationError,
    CredentialsError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
)
from ..models import EntitySpec, entity_spec
from ._batches import add_batches_parser
from ._onboard import (
    EXIT_AUTH,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_TRANSIENT,
    EXIT_USAGE,
    blocked_timeout_argument,
    files_argument,
    onboard_command,
    rejects_argument,
)
from ._readers import FORMATS, InputError
from ._settings import (
    Parser,
    add_connection_arguments,
    chunk_size,
    load_settings,
    positive_float,
    positive_int,
)
from ._sync import add_sync_parser
from ._term import Term
from ._validate import validate_command

PROG = "buildingminds"

EXIT_CODES_HELP = """\
exit codes:
  0    every record completed
  1    some records failed or were invalid (see the reject file)
  2    usage or configuration error (bad flag, missing file, unknown entity,
       changed input for the journal, missing credentials), or a sync whose
       deletes its guard refuses
  3    authentication failed (client id, secret or scope rejected)
  4    transient, run again to resume (records pending at the deadline, service
       unavailable, retry budget spent)
  130  interrupted (Ctrl-C); the journal keeps the progress
"""


def entity_type(text: str) -> EntitySpec:
    try:
        return entity_spec(text)
    except KeyError as exc:
        raise argparse.ArgumentTypeError(str(exc.args[0])) from None


def stats_interval(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if value < 0:
        raise argparse.ArgumentTypeError("the interval must not be negative")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog=PROG,
        description="Onboard real-estate data to the BuildingMinds ingestion API, and check "
        "on it. Try it without an account: buildingminds demo",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")

    common = Parser(add_help=False)
    output = common.add_argument_group("output")
    output.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    output.add_argument("-q", "--quiet", action="store_true", help="print errors only")
    output.add_argument(
        "-v", "--verbose", action="count", default=0, help="log each batch (-vv: each request)"
    )
    connection = Parser(add_help=False)
    add_connection_arguments(connection)
    tuning_parser = Parser(add_help=False)
    tuning = tuning_parser.add_argument_group(
        "tuning (default: BUILDINGMINDS_* variables, the config file, the SDK's defaults)"
    )
    tuning.add_argument(
        "--chunk-size",
        type=chunk_size,
        metavar="auto|N",
        help="records per request: auto (the default: 500, more while the rate limit "
        "binds) or a fixed N",
    )
    tuning.add_argument(
        "--max-chunk-size",
        type=positive_int,
        metavar="N",
        help="most records per request auto grows to (5000)",
    )
    tuning.add_argument(
        "--concurrency", type=positive_int, metavar="N", help="requests in flight (4)"
    )
    tuning.add_argument(
        "--rate",
        type=positive_float,
        metavar="R",
        help="pushes/s the server allows, if known (else learned from 429s)",
    )
    tuning.add_argument(
        "--read-rate",
        type=positive_float,
        metavar="R",
        help="status reads/s, for a server that limits reads too (else learned from 429s)",
    )
    tuning.add_argument(
        "--timeout", type=positive_float, metavar="S", help="deadline of the run, s (3600)"
    )

    subcommands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)

    onboard = subcommands.add_parser(
        "onboard",
        parents=[common, connection, tuning_parser],
        help="push records from files, wait for them, write rejects",
        description="Push every record of the files (parents' files first), wait until each "
        "has a final status, and write the invalid and failed ones to a reject file. "
        "Interrupted? Run the same command again: the journal resumes it.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    files_argument(onboard, what="records to onboard")
    _input_arguments(onboard)
    waiting = onboard.add_argument_group("waiting")
    waiting.add_argument("--no-wait", action="store_true", help="stop once every batch is accepted")
    waiting.add_argument(
        "--strict-order",
        action="store_true",
        help="push a child entity only once its parents' batches finished",
    )
    blocked_timeout_argument(onboard)
    files = onboard.add_argument_group("files")
    rejects_argument(files)
    files.add_argument(
        "--journal", metavar="PATH", help="resume journal (default FIRST_INPUT.journal)"
    )
    files.add_argument(
        "--no-journal", action="store_true", help="do not keep a journal (not resumable)"
    )
    _progress_arguments(onboard)
    onboard.set_defaults(handler=onboard_command)

    validate = subcommands.add_parser(
        "validate",
        parents=[common],
        help="check files offline, exactly as onboard would (no network)",
        description="Validate every record against its entity's model, offline. Exit code 0 "
        "when all are valid, 1 otherwise.",
    )
    files_argument(validate, what="records to check")
    _input_arguments(validate)
    validate.add_argument("--rejects", metavar="PATH", help="also write the invalid records here")
    validate.add_argument(
        "--max-errors",
        type=int,
        default=20,
        metavar="N",
        help="print at most N invalid records (20)",
    )
    validate.set_defaults(handler=validate_command)

    sync = add_sync_parser(subcommands, [common, connection, tuning_parser])
    _input_arguments(sync)
    _progress_arguments(sync)

    add_batches_parser(subcommands, [common], connection)

    config = subcommands.add_parser(
        "config",
        parents=[common, connection, tuning_parser],
        help="show the settings in effect and where each comes from",
    )
    config.set_defaults(handler=config_command)

    subcommands.add_parser(
        "sandbox",
        add_help=False,
        help="run a local emulator of the API (see: buildingminds sandbox --help)",
    )

    from ._demo import add_demo_parser

    add_demo_parser(subcommands, common, _progress_arguments)
    completion = subcommands.add_parser(
        "completion",
        help="print a shell completion script (bash, zsh or tcsh)",
        description="Print a completion script for your shell, e.g. in ~/.bashrc: "
        'eval "$(buildingminds completion bash)"',
    )
    completion.add_argument("shell", choices=["bash", "zsh", "tcsh"])
    completion.set_defaults(handler=completion_command)
    return parser


def completion_command(args: argparse.Namespace, term: Term) -> int:
    try:
        import shtab
    except ImportError:
        term.error(
            "buildingminds: error: shell completion needs shtab: "
            "pip install 'buildingminds-async[cli]'"
        )
        return EXIT_USAGE
    print(shtab.complete(build_parser(), shell=args.shell), file=sys.stdout, flush=True)
    return EXIT_OK


def _input_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("input")
    group.add_argument(
        "--entity",
        type=entity_type,
        metavar="TYPE",
        help="entity of every record (building, rental-unit, ...); default: from the file "
        "name (buildings.csv), else each record's eventType",
    )
    group.add_argument(
        "--format",
        choices=FORMATS,
        help="input format (default: from the extension, else sniffed)",
    )


def _progress_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("progress")
    group.add_argument(
        "--progress",
        choices=["auto", "bar", "lines"],
        default="auto",
        help="a bar on a terminal, stats lines otherwise (auto)",
    )
    group.add_argument(
        "--stats-interval",
        type=stats_interval,
        default=10.0,
        metavar="S",
        help="seconds between stats lines (10; 0: every update)",
    )


def config_command(args: argparse.Namespace, term: Term) -> int:
    settings = load_settings(args)
    described = settings.describe()
    if term.json:
        print(json.dumps(described), file=sys.stdout, flush=True)
        return EXIT_OK
    term.out(f"config file: {described.pop('config_file') or '(none)'}")
    for name, setting in described.items():
        value = setting["value"]
        shown = "" if value is None else str(value)
        source = setting["source"] or "not set"
        term.out(f"  {name:<24} {shown:<40} {source}")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``buildingminds`` command; returns the exit code (never raises for a user error)."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments and arguments[0] == "sandbox":
        return _sandbox(arguments[1:])
    parser = build_parser()
    try:
        args = parser.parse_args(arguments)
    except SystemExit as exc:
        return _status(exc)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    term = Term(
        quiet=getattr(args, "quiet", False),
        json=getattr(args, "json", False),
        verbose=getattr(args, "verbose", 0),
    )
    with term.captured():
        code: int = _run(handler, args, term)
    return code


def _run(handler: Any, args: argparse.Namespace, term: Term) -> int:
    try:
        code: int = handler(args, term)
    except (InputError, ConfigurationError) as exc:
        term.error(f"{PROG}: error: {exc}")
        return EXIT_USAGE
    except (CredentialsError, AuthenticationError, PermissionDeniedError) as exc:
        term.error(f"{PROG}: authentication failed: {exc}")
        return EXIT_AUTH
    except NotFoundError as exc:
        term.error(f"{PROG}: error: {exc}")
        return EXIT_USAGE
    except (APIConnectionError, InternalServerError, RateLimitError, BatchTimeoutError) as exc:
        term.error(f"{PROG}: the service is unavailable, try again later: {exc}")
        return EXIT_TRANSIENT
    except BuildingMindsError as exc:
        term.error(f"{PROG}: error: {exc}")
        return EXIT_FAILED
    except KeyboardInterrupt:
        term.error(f"{PROG}: interrupted")
        return EXIT_INTERRUPTED
    except OSError as exc:
        term.error(f"{PROG}: error: {exc}")
        return EXIT_USAGE
    return code


def _sandbox(argv: list[str]) -> int:
    try:
        from ..sandbox._cli import main as sandbox_main

        return sandbox_main(argv, prog=f"{PROG} sandbox")
    except ImportError as exc:
        if exc.name != "uvicorn":
            raise
        print(
            f"{PROG} sandbox needs the [sandbox] extra: pip install 'buildingminds-async[sandbox]'",
            file=sys.stderr,
        )
        return EXIT_USAGE
    except SystemExit as exc:
        return _status(exc)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


def _status(exc: SystemExit) -> int:
    if exc.code is None:
        return EXIT_OK
    if isinstance(exc.code, int):
        return exc.code
    print(exc.code, file=sys.stderr)
    return EXIT_USAGE
