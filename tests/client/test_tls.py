"""TLS against a real server on loopback: a private CA the client trusts when told to
(``SSL_CERT_FILE``, or a transport with an ``ssl.SSLContext``), and refuses otherwise.

httpx2 verifies against the operating system's trust store (not certifi's bundle): these
are the two documented ways to trust a CA it does not hold."""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import AsyncIterator
from typing import Any

import httpx2
import pytest
import trustme

from buildingminds_async import AsyncClient, ClientCredentials, ConfigurationError

_TOKEN = b'{"access_token": "tok-1", "token_type": "Bearer", "expires_in": 3600}'


@pytest.fixture
def ca() -> trustme.CA:
    return trustme.CA()


async def _answer_tokens(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """A token endpoint in a few lines: reads one request, answers a token, closes."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            (
                int(line.split(b":")[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            ),
            0,
        )
        await reader.readexactly(length)
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (len(_TOKEN), _TOKEN)
        )
        await writer.drain()
    finally:
        writer.close()


@pytest.fixture
async def private_ca_server(ca: trustme.CA) -> AsyncIterator[str]:
    """A TLS token endpoint on loopback whose certificate is signed by ``ca``."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost", "127.0.0.1").configure_cert(context)
    server = await asyncio.start_server(_answer_tokens, "127.0.0.1", 0, ssl=context)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield f"https://localhost:{port}"


def _credentials(url: str) -> ClientCredentials:
    return ClientCredentials(
        client_id="client", client_secret="s3cr3t-value", scope="api://x", token_url=f"{url}/token"
    )


async def test_a_private_ca_named_by_ssl_cert_file_is_trusted(
    private_ca_server: str, ca: trustme.CA, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``SSL_CERT_FILE`` pointing at the CA's PEM makes the default transport trust it."""
    pem = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(pem))
    monkeypatch.setenv("SSL_CERT_FILE", str(pem))
    async with AsyncClient(
        credentials=_credentials(private_ca_server), base_url=f"{private_ca_server}/api"
    ) as client:
        await client.authenticate()
        assert client.statistics().tokens.requests == 1


async def test_a_private_ca_in_an_ssl_context_is_trusted(
    private_ca_server: str, ca: trustme.CA, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A transport given an ``ssl.SSLContext`` that trusts the CA works, whatever the
    environment says (``SSL_CERT_FILE`` pointing elsewhere is not read then)."""
    monkeypatch.setenv("SSL_CERT_FILE", "/nonexistent/ca.pem")
    context = ssl.create_default_context()
    ca.configure_trust(context)
    transport = httpx2.AsyncHTTPTransport(verify=context)
    async with AsyncClient(
        credentials=_credentials(private_ca_server),
        base_url=f"{private_ca_server}/api",
        transport=transport,
    ) as client:
        await client.authenticate()
        assert client.statistics().tokens.requests == 1


@pytest.fixture
async def untrusted_server(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[str]:
    """A TLS server on loopback whose certificate is signed by a CA nobody trusts."""
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost", "127.0.0.1").configure_cert(context)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()  # never reached: the client refuses the handshake

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=context)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield f"https://localhost:{port}"


async def test_an_untrusted_certificate_is_a_configuration_error_not_retried(
    untrusted_server: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A certificate of a private CA fails at once (no retries, no "try again later"),
    naming the host and saying how to trust the CA; the secret is not in the message."""
    url = untrusted_server
    caplog.set_level(logging.INFO, logger="buildingminds_async")
    credentials = ClientCredentials(
        client_id="client", client_secret="s3cr3t-value", scope="api://x", token_url=f"{url}/token"
    )
    async with AsyncClient(credentials=credentials, base_url=f"{url}/api") as client:
        with pytest.raises(ConfigurationError) as caught:
            await client.authenticate()
    message = str(caught.value)
    assert "TLS certificate of localhost is not trusted" in message
    assert "SSL_CERT_FILE" in message
    assert "s3cr3t-value" not in message
    assert not [r for r in caplog.records if "retry" in r.getMessage()]  # tried once
