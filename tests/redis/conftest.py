"""A real redis-server on loopback for the shared-budget tests, started on a free port.

The Makefile installs Debian's redis-server when it is missing; without one these tests
fail saying what to install (they are never skipped: CI must run them).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass
class RedisServer:
    port: int
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_redis(directory: Path) -> RedisServer:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail(
            "redis-server is not installed: the shared-budget tests need a real one "
            "(Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis; "
            "`make test` installs it with apt-get when it can)"
        )
    port = free_port()
    process = subprocess.Popen(  # noqa: S603 - the server binary, fixed arguments
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(directory),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(16).startswith(b"+PONG"):
                    return RedisServer(port, process)
        except OSError:
            time.sleep(0.02)
    process.kill()
    pytest.fail(f"redis-server did not answer on port {port} within 10 s")


@pytest.fixture(scope="session")
def redis_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = start_redis(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_session: RedisServer) -> str:
    """The session's redis-server, emptied for this test."""
    with socket.create_connection(("127.0.0.1", redis_session.port), timeout=2) as sock:
        sock.sendall(b"FLUSHALL\r\n")
        assert sock.recv(16).startswith(b"+OK")
    return redis_session.url


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of this test alone (to be killed mid-run)."""
    server = start_redis(tmp_path)
    yield server
    server.stop()
