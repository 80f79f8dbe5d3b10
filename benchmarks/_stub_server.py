"""A minimal, fast stand-in of the API for client-cost measurements: ``python -m
benchmarks._stub_server PORT_FILE``.

It answers every token request with a token and every other request with
``{"batchId": "<n>"}``, over keep-alive HTTP/1.1, from a bare ``asyncio.Protocol``: no
framework, no validation. The sandbox (uvicorn + h11, validating and storing every push)
costs about a millisecond per request, so it limits the faster clients and hides how
clients behave with many requests in flight; this server is there so that scenario 3
measures the clients. It writes its port to PORT_FILE once it listens.
"""

from __future__ import annotations

import asyncio
import itertools
import sys
from pathlib import Path

_TOKEN = b'{"token_type":"Bearer","expires_in":3599,"access_token":"stub-token"}'
_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
_ids = itertools.count(1)


class _Http(asyncio.Protocol):
    def __init__(self) -> None:
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end].lower()
            length = 0
            at = head.find(b"content-length:")
            if at >= 0:
                stop = head.find(b"\r\n", at)
                length = int(head[at + 15 : stop if stop >= 0 else len(head)])
            total = end + 4 + length
            if len(self.buffer) < total:
                return
            self.buffer = self.buffer[total:]
            request_line = head[: head.find(b"\r\n")]
            token = b"/oauth2/" in request_line
            body = _TOKEN if token else b'{"batchId":"stub-%d"}' % next(_ids)
            if self.transport is not None:
                self.transport.write(_HEAD % len(body) + body)


async def serve(port_file: Path) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_Http, "127.0.0.1", 0, backlog=1024)
    port = server.sockets[0].getsockname()[1]
    await asyncio.to_thread(port_file.write_text, str(port))
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(serve(Path(sys.argv[1])))
    except KeyboardInterrupt:
        sys.exit(0)
