"""Where the CLI's settings come from: flags, then ``BUILDINGMINDS_*`` variables, then a file.

The optional TOML file is ``--config PATH``, else ``./buildingminds.toml`` when it exists::

    base_url = "https://api.onbuildingminds.com/api/digitaltwinintegration"
    tenant = "buildingminds.onmicrosoft.com"
    client_id = "0f1e..."
    scope = "api://3c5d..."
    client_secret_file = "~/.config/buildingminds/secret"   # relative: to this file
    chunk_size = "auto"       # or a fixed number of records per request
    concurrency = 4
    rate = 20

A secret is never a flag value (it would land in the shell history and the process
list) nor a key of the file (files get committed): it comes from
``BUILDINGMINDS_CLIENT_SECRET`` or from a file named by ``--client-secret-file``,
``BUILDINGMINDS_CLIENT_SECRET_FILE`` or ``client_secret_file``.
"""

from __future__ import annotations

import argparse
import math
import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from pydantic import SecretStr

from .._config import (
    DEFAULT_CONCURRENCY,
    DEFAULT_MAX_CHUNK_SIZE,
    DEFAULT_ONBOARD_TIMEOUT,
    ENV_PREFIX,
)
from ..redis_backend import shown_url as redis_shown
from ._readers import InputError

if TYPE_CHECKING:
    from .. import AsyncClient, ClientCredentials

CONFIG_FILE: Final = "buildingminds.toml"

CONNECTION_KEYS: Final = (
    "base_url",
    "environment",
    "tenant",
    "token_url",
    "client_id",
    "scope",
    "redis_url",
)
SECRET_FILE_KEYS: Final = ("client_secret_file", "client_secret_secondary_file")
TUNING_KEYS: Final = (
    "chunk_size",
    "max_chunk_size",
    "concurrency",
    "rate",
    "read_rate",
    "timeout",
)
FILE_KEYS: Final = (*CONNECTION_KEYS, *SECRET_FILE_KEYS, *TUNING_KEYS)
_SECRET_KEYS: Final = ("client_secret", "client_secret_secondary", "secondary_client_secret")


class UsageError(InputError):
    """A bad flag, setting or config file (exit code 2)."""


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return value


def chunk_size(text: str) -> int | str:
    """``auto`` or a whole number of records of at least 1."""
    if text.strip().lower() == "auto":
        return "auto"
    try:
        int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is neither 'auto' nor a whole number") from None
    return positive_int(text)


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be a positive number")
    return value


_PARSE: Final[dict[str, Callable[[str], Any]]] = {
    "chunk_size": chunk_size,
    "max_chunk_size": positive_int,
    "concurrency": positive_int,
    "rate": positive_float,
    "read_rate": positive_float,
    "timeout": positive_float,
}
_DEFAULTS: Final[dict[str, Any]] = {
    "chunk_size": "auto",
    "max_chunk_size": DEFAULT_MAX_CHUNK_SIZE,
    "concurrency": DEFAULT_CONCURRENCY,
    "rate": None,
    "read_rate": None,
    "timeout": DEFAULT_ONBOARD_TIMEOUT,
}


class Parser(argparse.ArgumentParser):
    """argparse without abbreviations: ``--client-secret-s VALUE`` must not reach a flag."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)


class _RefuseSecret(argparse.Action):
    """A flag that would take a secret's value: refused without echoing the value."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        parser.error(
            f"{option_string} is not accepted: a secret on the command line lands in the shell "
            f"history and the process list. Set BUILDINGMINDS_CLIENT_SECRET, or put it in a "
            f"file and pass --client-secret-file PATH"
        )


def add_connection_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "connection (default: BUILDINGMINDS_* variables, then buildingminds.toml)"
    )
    group.add_argument("--config", metavar="PATH", help=f"TOML settings (default ./{CONFIG_FILE})")
    group.add_argument("--base-url", metavar="URL", help="API base URL (overrides --environment)")
    group.add_argument("--environment", metavar="NAME", help="production (default) or development")
    group.add_argument("--tenant", metavar="TENANT", help="Entra ID tenant of the token URL")
    group.add_argument("--token-url", metavar="URL", help="token endpoint (overrides --tenant)")
    group.add_argument("--client-id", metavar="ID", help="client id of the API key")
    group.add_argument("--scope", metavar="URI", help="scope URI of the API key")
    group.add_argument(
        "--redis",
        "--redis-url",
        dest="redis_url",
        metavar="URL",
        help="share the tenant's rate budget and token with other processes through this "
        "Redis (redis://host:6379/0)",
    )
    group.add_argument(
        "--client-secret-file",
        metavar="PATH",
        help="file holding the client secret (else BUILDINGMINDS_CLIENT_SECRET)",
    )
    group.add_argument(
        "--client-secret-secondary-file",
        metavar="PATH",
        help="file holding the second secret, used when the first is rejected",
    )
    for refused in ("--client-secret", "--client-secret-secondary", "--secret"):
        group.add_argument(refused, nargs="?", action=_RefuseSecret, help=argparse.SUPPRESS)


@dataclass(frozen=True, slots=True)
class Setting:
    value: Any
    source: str
    """``--flag``, ``BUILDINGMINDS_NAME``, ``<file>`` or ``default``."""


class Settings:
    """The effective settings of one command, each with where it came from."""

    def __init__(self, values: Mapping[str, Setting], config_file: Path | None) -> None:
        self._values = dict(values)
        self.config_file = config_file

    def __getitem__(self, name: str) -> Any:
        setting = self._values.get(name)
        return setting.value if setting is not None else None

    def source(self, name: str) -> str | None:
        setting = self._values.get(name)
        return setting.source if setting is not None else None

    def describe(self) -> dict[str, Any]:
        """Every setting and its source; secrets only as "set" or not."""
        out: dict[str, Any] = {"config_file": str(self.config_file) if self.config_file else None}
        for name in (*CONNECTION_KEYS, *TUNING_KEYS):
            value = self[name]
            if name == "redis_url" and value is not None:
                value = redis_shown(value)  # its password, if any, is a secret
            out[name] = {"value": value, "source": self.source(name)}
        for name in ("client_secret", "client_secret_secondary"):
            out[name] = {
                "value": "(set)" if self[name] is not None else None,
                "source": self.source(name),
            }
        return out

    def tuning(self) -> dict[str, Any]:
        """The tuning settings as ``onboard()`` options (``chunk_size``, ``rate`` ...)."""
        return {name: self[name] for name in TUNING_KEYS}

    def credentials(self) -> ClientCredentials:
        from .. import ClientCredentials

        missing = []
        if not self["client_id"]:
            missing.append("the client id (BUILDINGMINDS_CLIENT_ID, --client-id or client_id)")
        if self["client_secret"] is None:
            missing.append(
                "the client secret (BUILDINGMINDS_CLIENT_SECRET, or a file named by "
                "--client-secret-file, BUILDINGMINDS_CLIENT_SECRET_FILE or client_secret_file)"
            )
        if not self["scope"]:
            missing.append("the scope (BUILDINGMINDS_SCOPE, --scope or scope)")
        if missing:
            raise UsageError(
                "no credentials: set " + "; ".join(missing) + ". They are the values of a "
                "BuildingMinds API key (Administration center > Data connection > API keys)."
            )
        return ClientCredentials(
            client_id=self["client_id"],
            client_secret=self["client_secret"],
            scope=self["scope"],
            secondary_client_secret=self["client_secret_secondary"],
            tenant=self["tenant"],
            token_url=self["token_url"],
        )

    def client(self) -> AsyncClient:
        """An ``AsyncClient`` with these settings (nothing is sent yet)."""
        from .. import AsyncClient

        return AsyncClient(
            credentials=self.credentials(),
            base_url=self["base_url"],
            environment=self["environment"],
            rate_backend=self["redis_url"],
        )


def load_settings(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> Settings:
    """Merge flags over ``BUILDINGMINDS_*`` variables over the config file.

    Raises:
        UsageError: the config file is unreadable or holds a secret or an unknown key, a
            secret file cannot be read, or a value is malformed.
    """
    env = os.environ if environ is None else environ
    config_path, file_values = _read_config(getattr(args, "config", None))
    file_source = str(config_path) if config_path is not None else ""
    values: dict[str, Setting] = {}

    def env_value(name: str) -> str | None:
        value = env.get(ENV_PREFIX + name.upper(), "").strip()
        return value or None

    for name in (*CONNECTION_KEYS, *TUNING_KEYS):
        flag = getattr(args, name, None)
        if flag is not None:
            values[name] = Setting(flag, "--" + name.replace("_", "-"))
            continue
        raw = env_value(name)
        if raw is not None:
            values[name] = Setting(
                _parse(name, raw, ENV_PREFIX + name.upper()), ENV_PREFIX + name.upper()
            )
            continue
        if name in file_values:
            values[name] = Setting(_parse(name, file_values[name], file_source), file_source)
            continue
        if name in _DEFAULTS:
            values[name] = Setting(_DEFAULTS[name], "default")

    for name, env_name in (
        ("client_secret", "CLIENT_SECRET"),
        ("client_secret_secondary", "CLIENT_SECRET_SECONDARY"),
    ):
        flag_file = getattr(args, name + "_file", None)
        if flag_file is not None:
            values[name] = Setting(
                _read_secret(Path(flag_file)), f"--{name.replace('_', '-')}-file"
            )
            continue
        raw = env_value(env_name)
        if raw is not None:
            values[name] = Setting(SecretStr(raw), ENV_PREFIX + env_name)
            continue
        env_file = env_value(env_name + "_FILE")
        if env_file is not None:
            values[name] = Setting(_read_secret(Path(env_file)), f"{ENV_PREFIX}{env_name}_FILE")
            continue
        configured = file_values.get(name + "_file")
        if configured is not None and config_path is not None:
            secret_path = Path(str(configured)).expanduser()
            if not secret_path.is_absolute():
                secret_path = config_path.parent / secret_path
            values[name] = Setting(_read_secret(secret_path), f"{file_source} ({name}_file)")
    return Settings(values, config_path)


def _parse(name: str, value: Any, source: str) -> Any:
    parse = _PARSE.get(name)
    if parse is None:
        if not isinstance(value, str):
            raise UsageError(f"{source}: {name} must be a string, not {value!r}")
        return value
    if isinstance(value, bool):
        raise UsageError(f"{source}: {name} must be a number, not {value!r}")
    try:
        return parse(str(value))
    except argparse.ArgumentTypeError as exc:
        raise UsageError(f"{source}: {name}: {exc}") from None


def _read_config(flag: str | None) -> tuple[Path | None, dict[str, Any]]:
    if flag is not None:
        path = Path(flag).expanduser()
        if not path.is_file():
            raise UsageError(f"--config {flag}: no such file")
    else:
        path = Path(CONFIG_FILE)
        if not path.is_file():
            return None, {}
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except OSError as exc:
        raise UsageError(f"{path}: cannot read it: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path}: not valid TOML: {exc}") from None
    secrets = sorted(set(data) & set(_SECRET_KEYS))
    if secrets:
        raise UsageError(
            f"{path} holds {', '.join(secrets)}: a secret does not belong in a settings file; "
            f"put it in a file of its own and set client_secret_file, or set "
            f"BUILDINGMINDS_CLIENT_SECRET"
        )
    unknown = sorted(set(data) - set(FILE_KEYS))
    if unknown:
        raise UsageError(
            f"{path}: unknown setting(s) {', '.join(unknown)}; known: {', '.join(FILE_KEYS)}"
        )
    return path, data


def _read_secret(path: Path) -> SecretStr:
    try:
        value = path.expanduser().read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise UsageError(
            f"cannot read the client secret file {path}: {exc.strerror or exc}"
        ) from None
    except UnicodeDecodeError:
        raise UsageError(f"the client secret file {path} is not UTF-8 text") from None
    if not value:
        raise UsageError(f"the client secret file {path} is empty")
    return SecretStr(value)
