"""The command surface: help, version, the sandbox and demo commands."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from cli_support import run

from buildingminds_async import __version__


def test_no_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    """No command: the help on stderr and exit 2."""
    result = run(capsys)
    assert result.code == 2
    assert "onboard" in result.err
    assert "exit codes:" in result.err


def test_help_and_version(capsys: pytest.CaptureFixture[str]) -> None:
    """--help exits 0 with the commands and exit codes; --version prints the version."""
    result = run(capsys, "onboard", "--help")
    assert result.code == 0
    for flag in ("--entity", "--chunk-size", "--concurrency", "--rate", "--no-wait", "--json"):
        assert flag in result.out
    assert "130" in result.out
    result = run(capsys, "--version")
    assert (result.code, result.out.strip()) == (0, f"buildingminds {__version__}")


def test_sandbox_command_delegates(capsys: pytest.CaptureFixture[str]) -> None:
    """`buildingminds sandbox` is the sandbox's own command line."""
    result = run(capsys, "sandbox", "--help")
    assert result.code == 0
    assert result.out.startswith("usage: buildingminds sandbox")
    assert "--rate-limit" in result.out
    result = run(capsys, "sandbox", "--rate-limit", "-3", "--port", "0")
    assert result.code == 2


@pytest.mark.loopback
def test_demo_small(clean_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The demo onboards its portfolio into a local sandbox and ends as planned (exit 0)."""
    result = run(
        capsys,
        "demo",
        "--sites",
        "4",
        "--rate-limit",
        "1000",
        "--processing-delay",
        "0",
        "--dir",
        "demo",
        "--json",
    )
    assert result.code == 0, result.err
    summary = result.json
    assert summary["as_expected"] is True
    assert (summary["failed"], summary["invalid"], summary["pending"]) == (1, 3, 0)
    assert summary["completed"] == summary["records"] - 4
    assert summary["sandbox"]["duplicates"] == 0
    assert sum(summary["sandbox"]["stored"].values()) == summary["completed"]
    rejects = Path("demo/rejects.ndjson").read_text().splitlines()
    assert len(rejects) == 4
    assert sorted(p.name for p in Path("demo").iterdir()) == [
        "addresses.ndjson",
        "area-measurements.jsonl",
        "buildings.csv",
        "floors.ndjson",
        "rejects.ndjson",
        "rental-units.csv",
        "sites.csv",
        "spaces.json",
    ]


def test_demo_portfolio_is_deterministic(tmp_path: Path) -> None:
    """The same seed writes the same files."""
    from buildingminds_async.cli._portfolio import generate_portfolio

    first = generate_portfolio(tmp_path / "a", sites=3, seed=1)
    second = generate_portfolio(tmp_path / "b", sites=3, seed=1)
    for a, b in zip(first.files, second.files, strict=True):
        assert a.path.read_bytes() == b.path.read_bytes()


@pytest.mark.parametrize("shell", ["bash", "zsh"])
def test_the_completion_script_knows_the_commands(
    shell: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """``buildingminds completion SHELL`` prints a script naming every command and option
    (bash checks its syntax)."""
    result = run(capsys, "completion", shell)
    assert result.code == 0, result.err
    for word in ("onboard", "sync", "validate", "--delete-missing", "--chunk-size"):
        assert word in result.out
    if shell == "bash":
        script = tmp_path / "completion.sh"
        script.write_text(result.out)
        check = subprocess.run(["bash", "-n", str(script)], check=False)  # noqa: S603, S607
        assert check.returncode == 0
