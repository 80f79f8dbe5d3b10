"""The suite's secret hygiene (see ``tests/conftest.py``, which wires it in).

No client secret and no token a sandbox issued may appear in a log record (at DEBUG, with
its traceback), the text of an SDK exception, a test's captured output, or a journal or
reject file the SDK wrote. A test that leaks one fails at teardown, naming where it leaked.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pydantic import SecretStr

MIN_SECRET = 6  # shorter test secrets ("s") would match anything
secrets: set[str] = set()
leaks: list[str] = []


def remember(value: object) -> None:
    text = value.get_secret_value() if isinstance(value, SecretStr) else value
    if isinstance(text, str) and len(text) >= MIN_SECRET:
        secrets.add(text)


def scan(where: str, text: str) -> None:
    for secret in secrets:
        if secret in text:
            leaks.append(f"{where} holds the secret or token {secret[:3]}...")
            return


def scan_files(tmp: object) -> None:
    """The journals and reject files under a test's ``tmp_path``."""
    if not isinstance(tmp, Path) or not tmp.is_dir():
        return
    for path in tmp.rglob("*"):
        written = path.name.endswith(".journal") or "rejects" in path.name
        if written and path.is_file() and path.stat().st_size < 8 << 20:
            scan(f"the file {path.name}", path.read_text("utf-8", "replace"))


class LeakHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info:
            text += "\n" + "".join(traceback.format_exception(*record.exc_info))
        scan(f"log record of {record.name}", text)


@contextmanager
def watching() -> Iterator[None]:
    """Learn every secret and token as it is made; scan every log record and SDK error."""
    from buildingminds_async import BuildingMindsError, ClientCredentials
    from buildingminds_async.sandbox._config import (
        DEFAULT_CLIENT_SECRET,
        DEFAULT_SECONDARY_CLIENT_SECRET,
    )
    from buildingminds_async.sandbox._state import SandboxState

    remember(DEFAULT_CLIENT_SECRET)
    remember(DEFAULT_SECONDARY_CLIENT_SECRET)
    issue_token, credentials_init = SandboxState.issue_token, ClientCredentials.__init__
    error_init = BuildingMindsError.__init__
    assert "__init__" not in vars(BuildingMindsError)  # restored by del

    def issue(self: Any, client_id: str) -> tuple[str, int]:
        token, lifetime = issue_token(self, client_id)
        remember(token)
        return token, lifetime

    def credentials(self: Any, *args: Any, **kwargs: Any) -> None:
        credentials_init(self, *args, **kwargs)
        for slot in self.slots:
            remember(self.secret(slot))

    def error(self: BaseException, *args: Any, **kwargs: Any) -> None:
        error_init(self, *args, **kwargs)
        scan(f"a {type(self).__name__}", " ".join(map(str, args)))

    SandboxState.issue_token = issue  # type: ignore[method-assign]
    ClientCredentials.__init__ = credentials  # type: ignore[method-assign]
    BuildingMindsError.__init__ = error  # type: ignore[method-assign,assignment]
    package = logging.getLogger("buildingminds_async")
    handler = LeakHandler(level=logging.DEBUG)
    level = package.level
    package.setLevel(logging.DEBUG)
    logging.getLogger().addHandler(handler)
    try:
        yield
    finally:
        logging.getLogger().removeHandler(handler)
        package.setLevel(level)
        SandboxState.issue_token = issue_token  # type: ignore[method-assign]
        ClientCredentials.__init__ = credentials_init  # type: ignore[method-assign]
        del BuildingMindsError.__init__  # it had none of its own
