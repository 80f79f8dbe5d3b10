"""Fixtures of the CLI tests: one loopback sandbox per module, the CLI pointed at it by env.

The sandbox processes records at once (``processing_delay=0``), so a run takes what the
SDK's first poll waits (half a second), not what a real service would.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from buildingminds_async.sandbox import Sandbox, SandboxServer


@pytest.fixture(scope="module")
def served_module() -> Iterator[SandboxServer]:
    with Sandbox(processing_delay=0.0).serve_in_thread() as server:
        yield server


@pytest.fixture
def served(served_module: SandboxServer) -> SandboxServer:
    """The module's loopback sandbox, reset to a fresh state."""
    served_module.sandbox.reset()
    return served_module


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No BUILDINGMINDS_* variable, and a fresh working directory (no buildingminds.toml)."""
    for name in list(os.environ):
        if name.startswith("BUILDINGMINDS_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def env(served: SandboxServer, clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> SandboxServer:
    """BUILDINGMINDS_* variables pointing at the loopback sandbox; cwd is a temp directory."""
    sandbox = served.sandbox
    monkeypatch.setenv("BUILDINGMINDS_BASE_URL", served.base_url)
    monkeypatch.setenv("BUILDINGMINDS_TOKEN_URL", served.token_url)
    monkeypatch.setenv("BUILDINGMINDS_CLIENT_ID", sandbox.client_id)
    monkeypatch.setenv("BUILDINGMINDS_CLIENT_SECRET", sandbox.client_secret)
    monkeypatch.setenv("BUILDINGMINDS_SCOPE", sandbox.scope)
    return served
