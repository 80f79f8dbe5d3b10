"""TLS against a real server on loopback: a certificate the client does not trust."""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import AsyncIterator

import pytest
import trustme

from buildingminds_async import AsyncClient, ClientCredentials, ConfigurationError


@pytest.fixture
async def untrusted_server() -> AsyncIterator[str]:
    """A TLS server on loopback whose certificate is signed by a CA nobody trusts."""
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
