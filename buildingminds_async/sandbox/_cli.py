"""``python -m buildingminds_async.sandbox``: run a sandbox in the foreground.

`main(argv)` is shared with the ``buildingminds sandbox`` command. Exit codes: 0 after
``--help``, 2 on a usage error or a port that cannot be bound, 130 when stopped with
Ctrl-C (the normal way to stop it).
"""

from __future__ import annotations

import argparse
import shlex
import sys
from typing import Any, TextIO, get_args

from ._config import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_SCOPE,
    DEFAULT_SECONDARY_CLIENT_SECRET,
    DEFAULT_TENANT,
)
from ._faults import Fault, FaultKind, FaultTarget

__all__ = ["build_parser", "main", "sandbox_from_args"]

# The command line is for humans watching a demo: records visibly move through statuses.
CLI_PROCESSING_DELAY = 1.0


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog or "python -m buildingminds_async.sandbox",
        description="Run a local emulator of the BuildingMinds ingestion API.",
    )
    add_arguments(parser)
    return parser


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The sandbox options, for this command and ``buildingminds sandbox``."""
    net = parser.add_argument_group("server")
    net.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    net.add_argument("--port", type=int, default=8080, help="port (8080; 0 = any free port)")
    net.add_argument(
        "--log-level",
        default="warning",
        choices=["critical", "error", "warning", "info", "debug"],
        help="uvicorn log level (warning)",
    )
    ident = parser.add_argument_group("demo credentials")
    ident.add_argument("--client-id", default=DEFAULT_CLIENT_ID)
    ident.add_argument("--client-secret", default=DEFAULT_CLIENT_SECRET)
    ident.add_argument(
        "--secondary-client-secret",
        default=DEFAULT_SECONDARY_CLIENT_SECRET,
        help="second valid secret, for rotation ('' for none)",
    )
    ident.add_argument("--scope", default=DEFAULT_SCOPE, help="resource, without /.default")
    ident.add_argument("--tenant", default=DEFAULT_TENANT)
    ident.add_argument(
        "--token-lifetime", type=int, default=3599, help="expires_in of tokens, seconds (3599)"
    )
    limits = parser.add_argument_group("limits")
    limits.add_argument(
        "--rate-limit", type=float, default=None, help="requests/s per client (default: none)"
    )
    limits.add_argument("--burst", type=int, default=1, help="token bucket capacity (1)")
    limits.add_argument(
        "--rate-limit-window",
        type=float,
        default=None,
        metavar="SECONDS",
        help="a fixed window of SECONDS (rate x SECONDS calls each) instead of a token bucket",
    )
    limits.add_argument(
        "--rate-limit-headers",
        choices=["ietf", "x-ratelimit", "gateway"],
        default=None,
        help="add this family of rate-limit headers to every limited answer (none)",
    )
    limits.add_argument(
        "--rate-limit-scope",
        choices=["all", "push"],
        default="all",
        help="limit all API requests or only pushes (all)",
    )
    limits.add_argument(
        "--max-records", type=int, default=1000, help="records per push, 413 above (1000; 0 = none)"
    )
    limits.add_argument(
        "--max-body-bytes",
        type=int,
        default=4 * 1024 * 1024,
        help="push body size, 413 above (4 MiB; 0 = none)",
    )
    processing = parser.add_argument_group("processing")
    processing.add_argument(
        "--processing-delay",
        type=float,
        default=CLI_PROCESSING_DELAY,
        help=f"seconds from push to final status ({CLI_PROCESSING_DELAY:g})",
    )
    processing.add_argument(
        "--bad-postcode",
        action="append",
        default=None,
        help="postal code whose addresses fail geocoding (repeatable; default 00000)",
    )
    processing.add_argument("--failed-probability", type=float, default=0.0)
    processing.add_argument("--transformation-failed-probability", type=float, default=0.0)
    processing.add_argument("--retrying-probability", type=float, default=0.0)
    faults = parser.add_argument_group("faults")
    faults.add_argument(
        "--fault-probability",
        type=float,
        default=0.0,
        help="chance of an injected fault per targeted request (0)",
    )
    faults.add_argument(
        "--fault-kind",
        action="append",
        choices=list(get_args(FaultKind)),
        default=None,
        help="kind of injected fault (repeatable; default 503)",
    )
    faults.add_argument(
        "--fault-target",
        choices=list(get_args(FaultTarget)),
        default="push",
        help="requests the faults hit (push)",
    )
    faults.add_argument("--fault-seed", type=int, default=0, help="seed of the fault draws (0)")
    faults.add_argument(
        "--slow-delay", type=float, default=90.0, help="seconds a slow fault holds an answer (90)"
    )


def sandbox_from_args(args: argparse.Namespace) -> Any:
    """The `Sandbox` the parsed options describe."""
    from ._sandbox import Sandbox

    faults: list[Fault] = []
    if args.fault_probability > 0:
        kinds = args.fault_kind or ["503"]
        # Split the probability evenly; each kind draws from its own seeded generator.
        share = args.fault_probability / len(kinds)
        faults = [
            Fault(
                kind=kind,
                target=args.fault_target,
                probability=share,
                seed=args.fault_seed + i,
                delay=args.slow_delay,
            )
            for i, kind in enumerate(kinds)
        ]
    knobs: dict[str, Any] = {
        "client_secret": args.client_secret,
        "secondary_client_secret": args.secondary_client_secret or None,
        "token_lifetime": args.token_lifetime,
        "rate_limit": args.rate_limit,
        "burst": args.burst,
        "rate_limit_scope": args.rate_limit_scope,
        "rate_limit_window": args.rate_limit_window,
        "rate_limit_headers": args.rate_limit_headers,
        "max_records": args.max_records or None,
        "max_body_bytes": args.max_body_bytes or None,
        "processing_delay": args.processing_delay,
        "failed_probability": args.failed_probability,
        "transformation_failed_probability": args.transformation_failed_probability,
        "retrying_probability": args.retrying_probability,
    }
    if args.bad_postcode is not None:
        knobs["bad_postcodes"] = frozenset(args.bad_postcode)
    return Sandbox(
        client_id=args.client_id,
        scope=args.scope,
        tenant=args.tenant,
        faults=faults,
        **knobs,
    )


def describe(sandbox: Any, url: str, out: TextIO) -> None:
    """Print where the sandbox listens, its credentials and the export lines."""
    from ._config import API_BASE_PATH

    base_url = url + API_BASE_PATH
    token_url = f"{url}/{sandbox.tenant}/oauth2/v2.0/token"
    config = sandbox.config
    rate = "none"
    if config.rate_limit is not None:
        window = config.rate_limit_window
        kind = (
            f"{config.rate_limit:g} req/s (burst {config.burst}, "
            if window is None
            else f"{config.rate_limit * window:g} req per {window:g} s window ("
        )
        rate = (
            f"{kind}scope {config.rate_limit_scope}, headers {config.rate_limit_headers or 'none'})"
        )
    lines = [
        f"BuildingMinds sandbox listening on {url}",
        f"  base URL        {base_url}",
        f"  token URL       {token_url}",
        f"  client id       {sandbox.client_id}",
        f"  client secret   {sandbox.client_secret}",
        f"  secondary       {sandbox.secondary_client_secret or '(none)'}",
        f"  scope           {sandbox.scope}",
        f"  OpenAPI         {url}/openapi.json",
        f"  ledger          {url}/_sandbox/ledger",
        f"  rate limit      {rate}",
        f"  limits          {config.max_records or 'no'} records, "
        f"{config.max_body_bytes or 'no'} bytes per push",
        f"  processing      {config.processing_delay:g} s per record, "
        f"token lifetime {config.token_lifetime} s",
        f"  faults          {', '.join(_fault_text(f) for f in sandbox.faults) or 'none'}",
        "",
        "Point the SDK or the CLI at it:",
        "",
    ]
    env = {
        "BUILDINGMINDS_BASE_URL": base_url,
        "BUILDINGMINDS_TOKEN_URL": token_url,
        "BUILDINGMINDS_CLIENT_ID": sandbox.client_id,
        "BUILDINGMINDS_CLIENT_SECRET": sandbox.client_secret,
        "BUILDINGMINDS_SCOPE": sandbox.scope,
    }
    if sandbox.secondary_client_secret:
        env["BUILDINGMINDS_CLIENT_SECRET_SECONDARY"] = sandbox.secondary_client_secret
    lines.extend(f"export {name}={shlex.quote(value)}" for name, value in env.items())
    lines.extend(["", "Press Ctrl-C to stop."])
    out.write("\n".join(lines) + "\n")
    out.flush()


def _fault_text(fault: Fault) -> str:
    return f"{fault.kind} on {fault.probability:.1%} of {fault.target} requests"


def main(argv: list[str] | None = None, *, prog: str | None = None) -> int:
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    try:
        sandbox = sandbox_from_args(args)
    except ValueError as exc:
        parser.print_usage(sys.stderr)
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return run(sandbox, host=args.host, port=args.port, log_level=args.log_level)


def run(sandbox: Any, *, host: str, port: int, log_level: str = "warning") -> int:
    """Serve ``sandbox`` in the foreground until Ctrl-C."""
    from ._server import bind_socket, make_server, run_server, url_host

    try:
        sock = bind_socket(host, port)
    except OSError as exc:
        print(f"error: cannot listen on {host}:{port}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    try:
        url = f"http://{url_host(host)}:{sock.getsockname()[1]}"
        server = make_server(sandbox, log_level=log_level, own_process=True)
        describe(sandbox, url, sys.stdout)
        try:
            run_server(server, [sock])
        except KeyboardInterrupt:
            print("sandbox stopped", file=sys.stderr)
            return 130
        return 0
    finally:
        sock.close()
