"""The sandbox server writes each answer to its socket in one send."""

from __future__ import annotations

import asyncio
import json
import socket
from typing import Any

import pytest
from sandbox_support import API, Api, address
from uvicorn.server import ServerState

from buildingminds_async.sandbox import Sandbox, SandboxServer
from buildingminds_async.sandbox._server import http_protocol, make_config, server_stack
from buildingminds_async.sandbox._wire import _CoalescingTransport


class _RecordingTransport:
    """The socket side of a transport: what was written, in which calls."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False
        self.aborted = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def is_closing(self) -> bool:
        return self.closed or self.aborted

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True

    def get_write_buffer_size(self) -> int:
        return 0

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 1234) if name == "peername" else default


async def _turn() -> None:
    await asyncio.sleep(0)


async def test_writes_of_one_turn_go_out_in_one_send() -> None:
    raw = _RecordingTransport()
    transport = _CoalescingTransport(raw, asyncio.get_running_loop())  # type: ignore[arg-type]
    transport.write(b"HTTP/1.1 200 OK\r\n\r\n")
    transport.write(bytearray(b"{}"))
    assert raw.writes == []
    assert transport.get_write_buffer_size() == len(b"HTTP/1.1 200 OK\r\n\r\n{}")
    await _turn()
    assert raw.writes == [b"HTTP/1.1 200 OK\r\n\r\n{}"]
    transport.write(b"next")
    await _turn()
    assert raw.writes[-1] == b"next"
    assert transport.get_extra_info("peername") == ("127.0.0.1", 1234)


async def test_close_sends_what_is_held_first_and_abort_drops_it() -> None:
    raw = _RecordingTransport()
    transport = _CoalescingTransport(raw, asyncio.get_running_loop())  # type: ignore[arg-type]
    transport.write(b"headers")
    transport.close()
    assert raw.writes == [b"headers"]
    assert raw.closed
    await _turn()  # the scheduled flush finds nothing left to send
    assert raw.writes == [b"headers"]

    raw = _RecordingTransport()
    transport = _CoalescingTransport(raw, asyncio.get_running_loop())  # type: ignore[arg-type]
    transport.write(b"headers")
    transport.abort()
    await _turn()
    assert raw.writes == []
    assert raw.aborted


async def test_nothing_is_written_to_a_closing_socket() -> None:
    raw = _RecordingTransport()
    transport = _CoalescingTransport(raw, asyncio.get_running_loop())  # type: ignore[arg-type]
    transport.write(b"late")
    raw.closed = True  # the peer went away before the end of the turn
    await _turn()
    assert raw.writes == []


def test_the_server_protocol_is_uvicorns_own() -> None:
    """Only the writing changes: the protocol is a subclass of uvicorn's of that stack."""
    if server_stack()[0] == "httptools":
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as base
    else:
        from uvicorn.protocols.http.h11_impl import H11Protocol as base
    assert issubclass(http_protocol(), base)


async def test_the_server_writes_a_whole_answer_in_one_send() -> None:
    """uvicorn's protocol as the sandbox serves with it: one write per answer, keep-alive."""
    config = make_config(Sandbox().app)
    config.load()
    protocol = config.http_protocol_class(  # type: ignore[call-arg]
        config=config, server_state=ServerState(), app_state={}
    )
    raw = _RecordingTransport()
    protocol.connection_made(raw)  # type: ignore[arg-type]
    for n in (1, 2):
        protocol.data_received(b"GET /openapi.json HTTP/1.1\r\nHost: sandbox\r\n\r\n")
        for _ in range(20):
            await _turn()
        assert len(raw.writes) == n
        head, _, body = raw.writes[-1].partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200")
        assert json.loads(body)["openapi"].startswith("3.")
    assert not raw.closed
    protocol.connection_lost(None)


@pytest.mark.loopback
async def test_a_push_over_the_socket_still_answers(wire: Api) -> None:
    response = await wire.http.post(
        f"{wire.root}{API}/address", json=[address()], headers=await wire.headers()
    )
    assert response.status_code == 200
    assert "batchId" in response.json()


@pytest.mark.loopback
def test_a_client_that_half_closes_still_gets_its_answer(served: SandboxServer) -> None:
    """Request sent, then the client shuts its side (FIN): the answer still arrives."""
    token = served.sandbox.issue_token()
    body = json.dumps([address("A1")]).encode()
    head = (
        f"POST {API}/address HTTP/1.1\r\nHost: sandbox\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    for _ in range(5):
        with socket.create_connection((served.host, served.port), timeout=10) as sock:
            sock.sendall(head + body)
            sock.shutdown(socket.SHUT_WR)
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
        assert b'"batchId"' in answer
