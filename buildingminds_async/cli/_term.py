"""Where the CLI writes: results on stdout, everything else on stderr.

``--json`` leaves stdout to the one JSON object; ``--quiet`` leaves stderr to errors. While
a progress bar is shown, messages go through it so that the bar is redrawn below them.
The SDK's log records and its unknown-enum warnings are routed here too.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import warnings
from collections import Counter
from collections.abc import Iterator
from typing import Any

from ..models import UnknownEnumValueWarning
from ._progress import QuietView, View

_SDK_LOGGER = "buildingminds_async"
_SHOWN_WARNINGS = 20


class Term:
    """The output of one command."""

    def __init__(self, *, quiet: bool = False, json: bool = False, verbose: int = 0) -> None:
        self.quiet = quiet
        self.json = json
        self.verbose = verbose
        self.view: View = QuietView()
        self.enum_warnings: Counter[tuple[str, str, str]] = Counter()

    def out(self, message: str = "") -> None:
        """A result line for humans (not with --json or --quiet)."""
        if not (self.quiet or self.json):
            print(message, file=sys.stdout, flush=True)

    def note(self, message: str) -> None:
        """Information on stderr (not with --quiet)."""
        if not self.quiet:
            self._stderr(message)

    def error(self, message: str) -> None:
        """An error on stderr, always."""
        self._stderr(message)

    def _stderr(self, message: str) -> None:
        if isinstance(self.view, QuietView):
            print(message, file=sys.stderr, flush=True)
        else:
            self.view.echo(message)

    @contextlib.contextmanager
    def captured(self) -> Iterator[None]:
        """Route the SDK's log records and enum warnings to this terminal meanwhile."""
        logger = logging.getLogger(_SDK_LOGGER)
        handler = _Handler(self)
        level = logging.ERROR if self.quiet else logging.WARNING
        if self.verbose == 1:
            level = logging.INFO
        elif self.verbose >= 2:
            level = logging.DEBUG
        handler.setLevel(level)
        old_level = logger.level
        logger.addHandler(handler)
        logger.setLevel(level)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("always", UnknownEnumValueWarning)
                previous = warnings.showwarning
                warnings.showwarning = self._show_warning
                try:
                    yield
                finally:
                    warnings.showwarning = previous
        finally:
            logger.removeHandler(handler)
            logger.setLevel(old_level)

    def _show_warning(
        self,
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: Any = None,
        line: str | None = None,
    ) -> None:
        if isinstance(message, UnknownEnumValueWarning):
            key = (message.entity, message.field, message.value)
            self.enum_warnings[key] += 1
            if self.enum_warnings[key] == 1 and len(self.enum_warnings) <= _SHOWN_WARNINGS:
                self.note(f"warning: {message}")
            return
        self.note(f"warning: {message}")

    def summarise_warnings(self) -> None:
        if len(self.enum_warnings) > _SHOWN_WARNINGS:
            self.note(
                f"warning: {len(self.enum_warnings):,} distinct values outside the known "
                f"lists in all ({sum(self.enum_warnings.values()):,} records); they were sent "
                f"as given"
            )


class _Handler(logging.Handler):
    def __init__(self, term: Term) -> None:
        super().__init__()
        self._term = term

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
        except Exception:  # noqa: BLE001 - a log line must never break the run
            self.handleError(record)
            return
        prefix = {logging.WARNING: "warning: ", logging.ERROR: "error: "}.get(record.levelno, "")
        if record.levelno >= logging.ERROR:
            self._term.error(prefix + text)
        else:
            self._term.note(prefix + text)
