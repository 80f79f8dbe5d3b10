"""A real ``buildingminds onboard`` process killed mid-run, then run again: nothing re-sent.

The sandbox runs in this process on loopback with a rate limit and a processing delay, so
that a run lasts a couple of seconds; the CLI runs in a child process. These are the only
CLI tests that sleep (polling the journal while the child works).
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_support import address, write_ndjson

from buildingminds_async.sandbox import Sandbox, SandboxServer

pytestmark = [pytest.mark.loopback, pytest.mark.slow]

RECORDS = 600
CHUNK = 30  # 20 pushes, paced at 20/s by --rate: the run lasts about two seconds


@pytest.fixture
def slow_server() -> Iterator[SandboxServer]:
    """A sandbox that allows 50 requests/s and takes 0.5 s to process a record."""
    with Sandbox(rate_limit=50, burst=2, processing_delay=0.5).serve_in_thread() as server:
        yield server


def _env(server: SandboxServer) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BUILDINGMINDS_")}
    env.update(
        BUILDINGMINDS_BASE_URL=server.base_url,
        BUILDINGMINDS_TOKEN_URL=server.token_url,
        BUILDINGMINDS_CLIENT_ID=server.sandbox.client_id,
        BUILDINGMINDS_CLIENT_SECRET=server.sandbox.client_secret,
        BUILDINGMINDS_SCOPE=server.sandbox.scope,
    )
    return env


def _command() -> list[str]:
    return [
        sys.executable,
        "-m",
        "buildingminds_async.cli",
        "onboard",
        "addresses.ndjson",
        "--chunk-size",
        str(CHUNK),
        "--concurrency",
        "2",
        "--rate",
        "20",
        "--json",
        "--quiet",
    ]


def _accepted(journal: Path) -> int:
    try:
        return journal.read_text().count('"e":"accepted"')
    except FileNotFoundError:
        return 0


def _start_and_wait_for(
    journal: Path, cwd: Path, env: dict[str, str], accepted: int
) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(  # noqa: S603 - this interpreter, fixed arguments
        _command(), cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 15
    while _accepted(journal) < accepted:
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            out, err = process.communicate()
            pytest.fail(f"the run ended or stalled before the kill: {out!r} {err!r}")
        time.sleep(0.02)
    return process


def test_sigkill_then_rerun_sends_each_record_once(
    slow_server: SandboxServer, tmp_path: Path
) -> None:
    """SIGKILL mid-run, same command again: every record stored, none received twice."""
    write_ndjson(tmp_path / "addresses.ndjson", [address(i) for i in range(RECORDS)])
    journal = tmp_path / "addresses.ndjson.journal"
    env = _env(slow_server)
    ledger = slow_server.sandbox.ledger

    process = _start_and_wait_for(journal, tmp_path, env, accepted=5)
    process.send_signal(signal.SIGKILL)
    process.communicate()
    assert process.returncode == -signal.SIGKILL
    received_before = sum(ledger.receive_counts("address").values())
    assert 0 < received_before < RECORDS
    assert journal.exists()

    second = subprocess.run(  # noqa: S603 - this interpreter, fixed arguments
        _command(), cwd=tmp_path, env=env, capture_output=True, timeout=60, check=False
    )
    assert second.returncode == 0, second.stderr.decode()
    summary = json.loads(second.stdout)
    assert summary["completed"] == RECORDS
    assert summary["resumed"] >= 5 * CHUNK  # the accepted chunks were skipped, not re-sent
    assert ledger.counters["batches"] == RECORDS // CHUNK  # no accepted chunk twice
    counts = ledger.receive_counts("address")
    assert len(counts) == RECORDS
    assert set(counts.values()) == {1}, ledger.duplicates("address")
    assert len(ledger.stored("address")) == RECORDS
    assert not journal.exists()


def test_ctrl_c_exits_130_and_keeps_the_journal(slow_server: SandboxServer, tmp_path: Path) -> None:
    """SIGINT: exit 130, a message on how to resume, the journal kept; the rerun finishes."""
    write_ndjson(tmp_path / "addresses.ndjson", [address(i) for i in range(RECORDS)])
    journal = tmp_path / "addresses.ndjson.journal"
    env = _env(slow_server)

    process = _start_and_wait_for(journal, tmp_path, env, accepted=3)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=20)
    assert process.returncode == 130, err.decode()
    assert b"run the same command again to resume" in err
    assert journal.exists()

    second = subprocess.run(  # noqa: S603 - this interpreter, fixed arguments
        _command(), cwd=tmp_path, env=env, capture_output=True, timeout=60, check=False
    )
    assert second.returncode == 0, second.stderr.decode()
    assert json.loads(second.stdout)["completed"] == RECORDS
    counts = slow_server.sandbox.ledger.receive_counts("address")
    assert len(counts) == RECORDS
    assert set(counts.values()) == {1}


def _sync_command() -> list[str]:
    command = _command()
    command[command.index("onboard")] = "sync"
    return [*command, "--state", "portfolio.sqlite"]


def _taken(state: Path) -> int:
    """Records of the state file whose push the API accepted (or that completed)."""
    if not state.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{state}?mode=ro", uri=True, timeout=0.1) as db:
            row = db.execute(
                "SELECT (SELECT count(*) FROM records WHERE status = 'completed') + (SELECT "
                "coalesce(sum(json_array_length(ids)), 0) FROM pushes WHERE batch_id IS NOT NULL)"
            ).fetchone()
    except sqlite3.Error:
        return 0  # being created
    return int(row[0])


def test_a_sync_killed_with_sigkill_resumes_from_its_state_file(
    slow_server: SandboxServer, tmp_path: Path
) -> None:
    """SIGKILL mid-sync, the same command again: every record stored and received once
    (pushes in doubt looked up, open batches polled), and a third run sends nothing."""
    write_ndjson(
        tmp_path / "addresses.ndjson",
        [address(i, eventType="AddressAdded") for i in range(RECORDS)],
    )
    state = tmp_path / "portfolio.sqlite"
    env = _env(slow_server)
    ledger = slow_server.sandbox.ledger
    process = subprocess.Popen(  # noqa: S603 - this interpreter, fixed arguments
        _sync_command(), cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 15
    while _taken(state) < 5 * CHUNK:
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            out, err = process.communicate()
            pytest.fail(f"the run ended or stalled before the kill: {out!r} {err!r}")
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.communicate()
    received_before = sum(ledger.receive_counts("address").values())
    assert 0 < received_before < RECORDS

    second = subprocess.run(  # noqa: S603 - this interpreter, fixed arguments
        _sync_command(), cwd=tmp_path, env=env, capture_output=True, timeout=60, check=False
    )
    assert second.returncode == 0, second.stderr.decode()
    summary = json.loads(second.stdout)
    assert summary["in_flight"] + summary["added"] + summary["unchanged"] == RECORDS
    assert summary["pending"] == 0
    counts = ledger.receive_counts("address")
    assert len(counts) == RECORDS
    assert set(counts.values()) == {1}, ledger.duplicates("address")

    third = subprocess.run(  # noqa: S603 - this interpreter, fixed arguments
        _sync_command(), cwd=tmp_path, env=env, capture_output=True, timeout=60, check=False
    )
    assert third.returncode == 0, third.stderr.decode()
    assert json.loads(third.stdout)["unchanged"] == RECORDS
    assert set(ledger.receive_counts("address").values()) == {1}
