"""The options of ``onboard()``, typed once: ``onboard()`` and ``AsyncClient.onboard()``
both take ``**options: Unpack[OnboardOptions]``, so their signatures cannot drift apart.

``Settings`` is the checked, complete form the stages read (defaults filled in); an
unknown option or a value that cannot work is a ``ConfigurationError`` before anything
is read or sent.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypedDict

from .._config import (
    DEFAULT_CHUNK_SIZE,
    DEFAULT_CONCURRENCY,
    DEFAULT_MAX_CHUNK_BYTES,
    DEFAULT_MAX_CHUNK_SIZE,
    DEFAULT_ONBOARD_TIMEOUT,
)
from .._errors import ConfigurationError, RecordValidationError
from .._events import EventHooks
from .._validation import known_entity
from ._report import FailureCallback, ProgressCallback

if TYPE_CHECKING:
    from ._journal import Journal

# Records accepted by the API but without a final status yet: beyond this the pushers
# wait for the poller, so that a slow server cannot make the run hold the whole input.
DEFAULT_MAX_PENDING_RECORDS = 25_000
DEFAULT_BLOCKED_TIMEOUT = 300.0
# Retries per request on 5xx and network errors (the run-wide budget bounds them too).
DEFAULT_ONBOARD_MAX_RETRIES = 5


class OnboardOptions(TypedDict, total=False):
    """The keyword options of ``onboard()``; every one has a safe default."""

    entity: str | None
    """The entity of dict records (``"building"``); default: each record's ``eventType``
    (``BuildingAdded`` ...) or its model."""
    chunk_size: int | Literal["auto"]
    """Records per request: ``"auto"`` (the default) starts at 500 and grows while the
    rate limit binds, up to ``max_chunk_size`` or what the server takes (its 413s); a
    number is a fixed size (a 413 still halves it)."""
    max_chunk_size: int
    """Most records per request ``"auto"`` grows to (default 5,000)."""
    max_chunk_bytes: int
    """Most bytes per request body (default 1 MiB)."""
    concurrency: int
    """Pushes in flight at once (default 4)."""
    rate: float | None
    """Pushes per second the server allows, when known; unknown: learned from 429s."""
    read_rate: float | None
    """Reads per second (status polls, batch look-ups) the server allows, for a server that
    limits reads; unknown: reads are not paced until they draw a 429, then learned."""
    wait: bool
    """Poll the batches until every record has a final status (default True)."""
    timeout: float
    """Overall deadline in seconds, push and wait (default 3600); what is left is pending."""
    strict_order: bool
    """Push a child entity only after its parents' batches finished (needs ``wait``)."""
    on_progress: ProgressCallback | None
    """Called with a ``Progress`` as the run advances (at most every quarter second)."""
    on_failure: FailureCallback | None
    """Called with each ``RecordFailure`` as soon as it is known (a reject file)."""
    hooks: EventHooks | None
    """Event hooks of this run (``EventHooks``): its requests, retries, 429s and batches,
    told in addition to the client's own hooks."""
    journal: str | Path | Journal | None
    """A file that makes the run resumable: records already accepted are not sent again,
    and their batches are polled again. A path is opened and closed by the run; a
    ``Journal`` stays open for its owner to close."""
    max_pending_records: int
    """Most records awaiting a final status before pushing pauses (default 25,000)."""
    max_retries: int
    """Retries per request on 5xx and network errors (default 5; 429s do not count)."""
    blocked_timeout: float
    """Seconds the run waits, once everything is pushed, while every record still open
    waits for a parent that is neither in the input nor on the platform (default 300);
    then those records are left pending and the run ends."""


_KNOWN = frozenset(OnboardOptions.__annotations__)


@dataclass(frozen=True, slots=True)
class Settings:
    """``OnboardOptions`` checked, with the defaults filled in."""

    entity: str | None = None
    chunk_size: int | Literal["auto"] = "auto"
    max_chunk_size: int = DEFAULT_MAX_CHUNK_SIZE
    max_chunk_bytes: int = DEFAULT_MAX_CHUNK_BYTES
    concurrency: int = DEFAULT_CONCURRENCY
    rate: float | None = None
    read_rate: float | None = None
    wait: bool = True
    timeout: float = DEFAULT_ONBOARD_TIMEOUT
    strict_order: bool = False
    on_progress: ProgressCallback | None = None
    on_failure: FailureCallback | None = None
    hooks: EventHooks | None = None
    journal: str | Path | Journal | None = None
    max_pending_records: int = DEFAULT_MAX_PENDING_RECORDS
    max_retries: int = DEFAULT_ONBOARD_MAX_RETRIES
    blocked_timeout: float = DEFAULT_BLOCKED_TIMEOUT

    @property
    def first_chunk_size(self) -> int:
        """Records per request at the start (``"auto"`` starts at the fixed default)."""
        return DEFAULT_CHUNK_SIZE if self.chunk_size == "auto" else self.chunk_size

    @classmethod
    def of(cls, options: Mapping[str, Any]) -> Settings:
        """Check ``options`` (what a caller passed as keywords).

        Raises:
            ConfigurationError: an unknown option, or a value that cannot work.
        """
        for name in options:
            if name not in _KNOWN:
                close = difflib.get_close_matches(name, _KNOWN, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise ConfigurationError(f"onboard() has no option {name!r}{hint}")
        settings = cls(**options)
        settings._check()
        return settings

    def _check(self) -> None:
        if self.concurrency < 1:
            raise ConfigurationError("concurrency must be at least 1")
        if self.chunk_size != "auto" and (
            not isinstance(self.chunk_size, int)
            or isinstance(self.chunk_size, bool)
            or self.chunk_size < 1
        ):
            raise ConfigurationError(
                f"chunk_size must be 'auto' or a whole number of records of at least 1, "
                f"not {self.chunk_size!r}"
            )
        if self.max_chunk_size < 1:
            raise ConfigurationError("max_chunk_size must be at least 1")
        if self.max_chunk_bytes < 3:
            raise ConfigurationError("max_chunk_bytes must leave room for at least one record")
        if self.max_pending_records < 1:
            raise ConfigurationError("max_pending_records must be at least 1")
        if self.max_retries < 0:
            raise ConfigurationError("max_retries must not be negative")
        for name, value in (("rate", self.rate), ("read_rate", self.read_rate)):
            if value is not None and not value > 0:
                raise ConfigurationError(f"{name} must be a positive number of requests per second")
        if self.strict_order and not self.wait:
            raise ConfigurationError(
                "strict_order waits for the parents' batches, so it needs wait=True"
            )
        for name, seconds in (("timeout", self.timeout), ("blocked_timeout", self.blocked_timeout)):
            if not seconds > 0 or math.isnan(seconds):
                raise ConfigurationError(f"{name} must be a positive number of seconds")
        if self.entity is not None:
            try:
                known_entity(self.entity)
            except RecordValidationError as exc:
                raise ConfigurationError(str(exc)) from None
