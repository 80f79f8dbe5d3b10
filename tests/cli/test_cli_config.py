"""Settings: flags over BUILDINGMINDS_* variables over buildingminds.toml; secrets kept apart."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_support import address, run, write_ndjson

from buildingminds_async.sandbox import SandboxServer

# Nothing listens on the discard port: a run that used this URL would fail to connect.
NOWHERE = "http://127.0.0.1:9/api/digitaltwinintegration"


def _toml(path: Path, **values: object) -> Path:
    lines = [f"{k} = {v!r}" if isinstance(v, str) else f"{k} = {v}" for k, v in values.items()]
    path.write_text("\n".join(lines).replace("'", '"') + "\n")
    return path


def test_tuning_precedence(
    clean_env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """For each setting a flag wins over the variable, which wins over the file."""
    _toml(Path("buildingminds.toml"), chunk_size=9, concurrency=3, rate=5, client_id="from-file")
    monkeypatch.setenv("BUILDINGMINDS_CHUNK_SIZE", "8")
    monkeypatch.setenv("BUILDINGMINDS_CONCURRENCY", "2")
    monkeypatch.setenv("BUILDINGMINDS_READ_RATE", "3")
    result = run(capsys, "config", "--json", "--chunk-size", "7")
    assert result.code == 0, result.err
    settings = result.json
    assert settings["config_file"] == "buildingminds.toml"
    assert settings["chunk_size"] == {"value": 7, "source": "--chunk-size"}
    assert settings["concurrency"] == {"value": 2, "source": "BUILDINGMINDS_CONCURRENCY"}
    assert settings["rate"] == {"value": 5.0, "source": "buildingminds.toml"}
    assert settings["read_rate"] == {"value": 3.0, "source": "BUILDINGMINDS_READ_RATE"}
    assert settings["client_id"] == {"value": "from-file", "source": "buildingminds.toml"}
    assert settings["timeout"]["source"] == "default"
    assert settings["client_secret"] == {"value": None, "source": None}


@pytest.mark.loopback
def test_connection_flag_over_env_over_file(
    env: SandboxServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The run goes where the flag says, else the variable, else the file."""
    write_ndjson(Path("addresses.ndjson"), [address(1)])
    argv = ["onboard", "addresses.ndjson", "--no-journal", "--quiet"]
    _toml(Path("buildingminds.toml"), base_url=NOWHERE)
    assert run(capsys, *argv).code == 0  # the variable beats the file
    monkeypatch.setenv("BUILDINGMINDS_BASE_URL", NOWHERE)
    assert run(capsys, *argv, "--base-url", env.base_url).code == 0  # the flag beats both
    monkeypatch.delenv("BUILDINGMINDS_BASE_URL")
    _toml(Path("buildingminds.toml"), base_url=env.base_url)
    assert run(capsys, *argv).code == 0  # the file alone
    assert env.sandbox.ledger.receive_count("address", "A1") == 3


@pytest.mark.loopback
def test_everything_from_a_config_file(
    env: SandboxServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """--config names a TOML file; its client_secret_file is read relative to it."""
    for name in ("BASE_URL", "TOKEN_URL", "CLIENT_ID", "CLIENT_SECRET", "SCOPE"):
        monkeypatch.delenv(f"BUILDINGMINDS_{name}")
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "secret.txt").write_text(env.sandbox.client_secret + "\n")
    _toml(
        conf / "bm.toml",
        base_url=env.base_url,
        token_url=env.token_url,
        client_id=env.sandbox.client_id,
        scope=env.sandbox.scope,
        client_secret_file="secret.txt",
        chunk_size=1,
    )
    write_ndjson(Path("addresses.ndjson"), [address(1), address(2)])
    result = run(capsys, "onboard", "addresses.ndjson", "--config", str(conf / "bm.toml"), "--json")
    assert result.code == 0, result.err
    assert result.json["batches"] == 2  # chunk_size = 1 from the file


@pytest.mark.loopback
def test_secret_file_flag(
    env: SandboxServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """--client-secret-file beats BUILDINGMINDS_CLIENT_SECRET."""
    monkeypatch.setenv("BUILDINGMINDS_CLIENT_SECRET", "wrong")
    secret = tmp_path / "secret"
    secret.write_text(env.sandbox.client_secret)
    write_ndjson(Path("addresses.ndjson"), [address(1)])
    argv = ["onboard", "addresses.ndjson", "--quiet", "--no-journal"]
    assert run(capsys, *argv).code == 3
    assert run(capsys, *argv, "--client-secret-file", str(secret)).code == 0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('client_secret = "s3cr3t-value"\n', "a secret does not belong in a settings file"),
        ("chunksize = 5\n", "unknown setting(s) chunksize"),
        ("chunk_size = 0\n", "chunk_size: '0' must be at least 1"),
        ("base_url = [\n", "not valid TOML"),
    ],
)
def test_bad_config_file_exits_2(
    clean_env: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    """A config file with a secret, an unknown key or a bad value is exit 2, secret unprinted."""
    Path("buildingminds.toml").write_text(content)
    result = run(capsys, "config")
    assert result.code == 2
    assert message in result.err
    assert "s3cr3t-value" not in result.err + result.out


def test_unreadable_secret_file_exits_2(
    clean_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A secret file that cannot be read is exit 2 naming the file."""
    result = run(capsys, "config", "--client-secret-file", "missing-secret")
    assert result.code == 2
    assert "cannot read the client secret file missing-secret" in result.err


@pytest.mark.parametrize(
    "argv",
    [
        ["--client-secret", "s3cr3t"],
        ["--client-secret=s3cr3t"],
        ["--client-secret-secondary", "s3cr3t"],
    ],
)
def test_no_secret_flag(
    clean_env: Path, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    """A secret given as a flag value is refused (exit 2) without echoing it."""
    result = run(capsys, "onboard", "x.ndjson", *argv)
    assert result.code == 2
    assert "is not accepted" in result.err
    assert "s3cr3t" not in result.out + result.err
