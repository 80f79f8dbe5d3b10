"""``python -m buildingminds_async.sandbox``: options, output and exit codes."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys

import httpx2
import pytest

from buildingminds_async.sandbox import Fault
from buildingminds_async.sandbox._cli import build_parser, main, sandbox_from_args


def test_help_lists_the_knobs(capsys: pytest.CaptureFixture[str]) -> None:
    """--help documents the limits, processing and fault options."""
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for option in ("--rate-limit", "--burst", "--processing-delay", "--max-records",
                   "--max-body-bytes", "--token-lifetime", "--fault-probability",
                   "--fault-seed"):  # fmt: skip
        assert option in out


def test_options_become_settings() -> None:
    """Command-line options map onto the sandbox's settings and seeded faults."""
    args = build_parser().parse_args(
        ["--rate-limit", "20", "--burst", "5", "--processing-delay", "0", "--max-records",
         "0", "--token-lifetime", "60", "--fault-probability", "0.2", "--fault-kind", "500",
         "--fault-kind", "reset", "--fault-seed", "9", "--bad-postcode", "12345"]
    )  # fmt: skip
    sandbox = sandbox_from_args(args)
    config = sandbox.config
    assert (config.rate_limit, config.burst, config.processing_delay) == (20, 5, 0)
    assert (config.max_records, config.token_lifetime) == (None, 60)
    assert config.bad_postcodes == frozenset({"12345"})
    assert sandbox.faults == (
        Fault("500", probability=0.1, seed=9),
        Fault("reset", probability=0.1, seed=10),
    )


def test_invalid_setting_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    """An invalid value exits 2 with a message naming it."""
    assert main(["--burst", "0"]) == 2
    assert "burst must be at least 1" in capsys.readouterr().err


def test_busy_port_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    """A port that cannot be bound exits 2 without a traceback."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["--port", str(port)]) == 2
    assert f"cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err


@pytest.mark.loopback
def test_module_runs_a_server_until_ctrl_c() -> None:
    """python -m ... --port 0 prints URLs, credentials and exports, serves, stops on SIGINT."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "buildingminds_async.sandbox", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        lines = []
        for line in process.stdout:
            lines.append(line.rstrip("\n"))
            if line.startswith("Press Ctrl-C"):
                break
        output = "\n".join(lines)
        exports = dict(re.findall(r"^export (BUILDINGMINDS_\w+)=(\S+)$", output, re.MULTILINE))
        assert set(exports) >= {
            "BUILDINGMINDS_BASE_URL",
            "BUILDINGMINDS_TOKEN_URL",
            "BUILDINGMINDS_CLIENT_ID",
            "BUILDINGMINDS_CLIENT_SECRET",
            "BUILDINGMINDS_SCOPE",
        }
        token = httpx2.post(
            exports["BUILDINGMINDS_TOKEN_URL"],
            data={
                "client_id": exports["BUILDINGMINDS_CLIENT_ID"],
                "client_secret": exports["BUILDINGMINDS_CLIENT_SECRET"],
                "scope": exports["BUILDINGMINDS_SCOPE"] + "/.default",
                "grant_type": "client_credentials",
            },
        ).json()["access_token"]
        listing = httpx2.get(
            exports["BUILDINGMINDS_BASE_URL"] + "/batch",
            headers={"authorization": f"Bearer {token}"},
        )
        assert listing.json()["totalCount"] == 0
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 130
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def test_the_sandbox_process_takes_the_garbage_collector_over() -> None:
    """Standalone, the GC runs only in the once-a-second freezer; a sandbox in a thread of
    the user's process leaves the process's collector alone."""
    code = (
        "import gc\n"
        "from buildingminds_async.sandbox import Sandbox\n"
        "from buildingminds_async.sandbox._server import make_server\n"
        "shared = make_server(Sandbox())\n"
        "print(gc.isenabled(), shared.housekeeping)\n"
        "own = make_server(Sandbox(), own_process=True)\n"
        "print(gc.isenabled(), type(own.housekeeping).__name__)\n"
    )
    done = subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.split() == ["True", "None", "False", "GcFreezer"]
