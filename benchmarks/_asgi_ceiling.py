"""The ceiling of scenario 6: ``python -m benchmarks._asgi_ceiling [--port PORT]``.

A raw ASGI app that reads the request body and answers 200 ``{}``, served exactly as
``python -m buildingminds_async.sandbox`` serves the sandbox: the same socket setup,
the same uvicorn settings (`buildingminds_async.sandbox._server.make_config`: httptools
and uvloop when importable) and the same server class. Its requests/s is what the
server stack alone allows on one core; the sandbox cannot go faster. Like the sandbox,
it prints ``... listening on http://HOST:PORT`` first and stops on Ctrl-C (SIGINT).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from buildingminds_async.sandbox._server import (
    _QuickServer,
    bind_socket,
    make_config,
    run_server,
    server_stack,
)

Message = MutableMapping[str, Any]

_HEADERS = [(b"content-type", b"application/json"), (b"content-length", b"2")]


async def app(
    scope: MutableMapping[str, Any],
    receive: Callable[[], Awaitable[Message]],
    send: Callable[[Message], Awaitable[None]],
) -> None:
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": _HEADERS})
    await send({"type": "http.response.body", "body": b"{}"})


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks._asgi_ceiling")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    sock = bind_socket(args.host, args.port)
    try:
        config = make_config(app)
        print(
            f"ASGI ceiling ({server_stack()[0]}, {config.loop}) listening on "
            f"http://{args.host}:{sock.getsockname()[1]}",
            flush=True,
        )
        try:
            run_server(_QuickServer(config), [sock])
        except KeyboardInterrupt:
            return 130
        return 0
    finally:
        sock.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
