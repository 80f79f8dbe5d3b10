"""The suite's secret hygiene catches what it is there for (tests/secret_hygiene.py)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import secret_hygiene

from buildingminds_async import ClientCredentials, ConfigurationError
from buildingminds_async.sandbox import Sandbox


@pytest.fixture
def leaks() -> list[str]:
    """The leaks this test provokes on purpose, taken away before teardown checks them."""
    found: list[str] = []
    yield found
    secret_hygiene.leaks.clear()


async def test_a_sandbox_token_in_a_log_record_is_caught(leaks: list[str]) -> None:
    sandbox = Sandbox()
    token, _ = sandbox._state.issue_token(sandbox.client_id)
    # Handled, not logged: pytest's own capture of a logged record would be caught too.
    record = logging.LogRecord(
        "buildingminds_async.test", logging.DEBUG, "", 0, "sent with %s", (token,), None
    )
    secret_hygiene.LeakHandler().handle(record)
    leaks.extend(secret_hygiene.leaks)
    assert leaks == [
        "log record of buildingminds_async.test holds the secret or token " + token[:3] + "..."
    ]


def test_a_secret_in_an_sdk_error_is_caught(leaks: list[str]) -> None:
    ClientCredentials(client_id="c", client_secret="hush-hush-1", scope="s", token_url="https://x")
    ConfigurationError("the secret is hush-hush-1")
    leaks.extend(secret_hygiene.leaks)
    assert leaks == ["a ConfigurationError holds the secret or token hus..."]


def test_a_secret_in_a_reject_file_is_caught(leaks: list[str], tmp_path: Path) -> None:
    secret_hygiene.remember("hush-hush-2")
    (tmp_path / "in.ndjson.rejects.ndjson").write_text('{"reason": "hush-hush-2"}\n')
    (tmp_path / "secret.txt").write_text("hush-hush-2")  # a file the test wrote: not scanned
    secret_hygiene.scan_files(tmp_path)
    leaks.extend(secret_hygiene.leaks)
    for path in tmp_path.iterdir():
        path.unlink()
    assert leaks == ["the file in.ndjson.rejects.ndjson holds the secret or token hus..."]
