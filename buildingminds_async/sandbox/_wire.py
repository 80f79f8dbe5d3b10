"""uvicorn's HTTP/1.1 protocol, with each response written to the socket in one send.

uvicorn writes a response's status line and headers as soon as the app sends
``http.response.start``, then the body on ``http.response.body``: two ``send()`` calls,
two TCP segments, for every answer of the sandbox. On loopback the kernel delivers each
segment to the client inside the server's own system call, so the second one costs the
server nearly as much again. Here the protocol's transport holds what is written during
one turn of the event loop and sends it at the end of that turn: the headers and the
body of an answer, made in the same turn, leave in one segment. Nothing else changes:
what is written in a later turn goes out at the end of that turn, and closing the
connection, or the client half-closing its side, sends what is held first (the reset
fault still delivers its headers, then drops the connection; a client that sends its
request then shuts its side still gets the answer).
"""

from __future__ import annotations

import asyncio
from typing import Any

__all__ = ["coalescing_protocol"]


class _CoalescingTransport:
    """A transport whose writes of one event-loop turn go out as one ``write``."""

    __slots__ = ("_held", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: list[bytes] = []

    def write(self, data: bytes | bytearray | memoryview) -> None:
        held = self._held
        if not held:
            self._loop.call_soon(self.flush)
        held.append(bytes(data))

    def writelines(self, lines: Any) -> None:
        self.write(b"".join(lines))

    def flush(self) -> None:
        """Send what is held now (else at the end of this loop turn)."""
        held = self._held
        if not held:
            return
        self._held = []
        if not self._transport.is_closing():
            self._transport.write(held[0] if len(held) == 1 else b"".join(held))

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def abort(self) -> None:
        self._held = []
        self._transport.abort()

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + sum(map(len, self._held))

    def __getattr__(self, name: str) -> Any:
        # Everything else (is_closing, get_extra_info, pause_reading, ...) as it is.
        return getattr(self._transport, name)


def coalescing_protocol(base: type[asyncio.Protocol]) -> type[asyncio.Protocol]:
    """``base`` (a uvicorn HTTP protocol class) writing through `_CoalescingTransport`."""

    class Coalescing(base):  # type: ignore[valid-type,misc]
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            loop = asyncio.get_running_loop()
            self._coalescing = _CoalescingTransport(transport, loop)  # type: ignore[arg-type]
            super().connection_made(self._coalescing)

        def eof_received(self) -> bool | None:
            # The client half-closed: the socket transport closes itself when this
            # returns, behind the wrapper's back. Send what is held (an answer made in
            # this turn) first, as the answer would have been without the wrapper.
            self._coalescing.flush()
            result: bool | None = super().eof_received()
            return result

    Coalescing.__name__ = Coalescing.__qualname__ = f"Coalescing{base.__name__}"
    return Coalescing
