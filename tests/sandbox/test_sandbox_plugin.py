"""The pytest plugin's fixtures, as a user of the package would use them."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import httpx2
import pytest

from buildingminds_async.sandbox import Sandbox, SandboxServer

# Plugins this test does not need and that cost seconds to load in a fresh process.
FAST = ("-p", "no:schemathesis", "-p", "no:hypothesispytest")


async def test_client_fixture(buildingminds_client: Any, buildingminds_sandbox: Sandbox) -> None:
    """buildingminds_client is an SDK client wired to the sandbox in process."""
    record = {"addressId": "A1", "city": "Berlin", "country": "DE"}
    batch_id = await buildingminds_client.push("address", [record])
    result = await buildingminds_client.batches.wait(batch_id, timeout=5)
    assert result.done
    assert set(buildingminds_sandbox.ledger.stored("address")) == {"A1"}


def test_sandbox_fixture(buildingminds_sandbox: Sandbox) -> None:
    """buildingminds_sandbox is a fresh in-process sandbox with default settings."""
    assert buildingminds_sandbox.ledger.batch_ids() == []
    assert buildingminds_sandbox.config.rate_limit is None


@pytest.mark.loopback
async def test_server_fixture(buildingminds_sandbox_server: SandboxServer) -> None:
    """buildingminds_sandbox_server serves that sandbox on a loopback port."""
    server = buildingminds_sandbox_server
    assert server.base_url.startswith("http://127.0.0.1:")
    async with httpx2.AsyncClient() as http:
        response = await http.get(server.url + "/openapi.json")
    assert response.status_code == 200
    assert server.sandbox.ledger.requests_per_path == {"GET /openapi.json": 1}


def test_plugin_imports_nothing_optional() -> None:
    """Loading the plugin module imports neither the sandbox, uvicorn nor starlette."""
    code = textwrap.dedent(
        """
        import sys
        import buildingminds_async.sandbox.pytest_plugin
        heavy = {"uvicorn", "starlette", "buildingminds_async.sandbox._sandbox",
                 "buildingminds_async.sandbox._app"}
        print(sorted(heavy & set(sys.modules)))
        """
    )
    out = subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=30
    )
    assert out.stdout.strip() == "[]"


def test_plugin_in_a_strict_mode_project(tmp_path: Path) -> None:
    """In a project using pytest-asyncio strict mode, all three fixtures work."""
    (tmp_path / "pytest.ini").write_text(
        "[pytest]\nasyncio_mode = strict\nasyncio_default_fixture_loop_scope = function\n"
        "filterwarnings = error\n",
        encoding="utf-8",
    )
    (tmp_path / "test_user.py").write_text(
        textwrap.dedent(
            """
            import pytest

            @pytest.mark.asyncio
            async def test_client(buildingminds_client):
                batch_id = await buildingminds_client.push(
                    "address", [{"addressId": "A1", "city": "Berlin", "country": "DE"}]
                )
                assert batch_id

            def test_sandbox(buildingminds_sandbox):
                assert buildingminds_sandbox.entities[0] == "address"

            def test_server(buildingminds_sandbox_server):
                assert buildingminds_sandbox_server.port > 0
            """
        ),
        encoding="utf-8",
    )
    out = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *FAST, str(tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "3 passed" in out.stdout
