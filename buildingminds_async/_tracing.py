"""The tracing seam: where the client opens spans, with nothing behind it by default.

The client, a push, a status read and a bulk run each open a span through
``client._tracing``; without ``buildingminds_async.otel.instrument(client)`` that is
``NO_TRACING``, whose spans cost a method call and record nothing. Spans nest through the
caller's context (contextvars): a push's HTTP request is a child of the push, the push
of the run, the run of whatever span the caller had open.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager
from types import TracebackType
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import httpx2

    from ._events import EventHooks

Attributes = Mapping[str, str | int | float | bool]


class Span(Protocol):
    def set_attribute(self, key: str, value: str | int | float | bool) -> None: ...


class Tracing(Protocol):
    """What ``instrument()`` installs on a client."""

    hooks: EventHooks | None
    """Event hooks the instrumentation needs (its metrics), told besides the user's."""

    def span(self, name: str, attributes: Attributes) -> AbstractContextManager[Span]:
        """An internal span (a push, a status read, a run), current inside the block."""
        ...

    def http(self, method: str, url: httpx2.URL) -> AbstractContextManager[Span]:
        """A CLIENT span for one HTTP request (the URL's text is built only here)."""
        ...


class _NoSpan:
    __slots__ = ()

    def set_attribute(self, key: str, value: str | int | float | bool) -> None:
        return None

    def __enter__(self) -> _NoSpan:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        return None


_NO_SPAN = _NoSpan()


class _NoTracing:
    hooks: EventHooks | None = None

    def span(self, name: str, attributes: Attributes) -> _NoSpan:
        return _NO_SPAN

    def http(self, method: str, url: httpx2.URL) -> _NoSpan:
        return _NO_SPAN


NO_TRACING: Tracing = _NoTracing()
