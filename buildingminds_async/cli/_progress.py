"""Showing a run as it goes: a rich progress bar on a terminal, one-line stats otherwise.

``onboard()`` calls ``on_progress`` at most every quarter second with a `Progress`; the
views add what the CLI itself counts (bytes read, records found invalid while reading).
rich is imported only when a bar is shown, so the CLI runs without the ``[cli]`` extra.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol, TextIO

from ..onboarding import Progress
from ._readers import ReadPosition

if TYPE_CHECKING:
    from rich.progress import Progress as RichProgress
    from rich.progress import TaskID

ProgressMode = Literal["auto", "bar", "lines", "none"]

RICH_HINT = (
    "hint: install the [cli] extra for a progress bar: pip install 'buildingminds-async[cli]'"
)


@dataclass(slots=True)
class LocalCounts:
    """What the CLI counts beside the SDK: how far the reading is, records found invalid."""

    position: ReadPosition = field(default_factory=lambda: ReadPosition(None))
    invalid: int = 0


class View(Protocol):
    def start(self) -> None: ...

    def update(self, progress: Progress) -> None: ...

    def stop(self) -> None: ...

    def label(self, text: str) -> None:
        """Show ``text`` with the progress from now on (a sync's plan)."""

    def echo(self, message: str) -> None:
        """Print a message line on stderr without breaking the display."""
        ...


def stats_line(progress: Progress, local: LocalCounts) -> str:
    """One line of counts, e.g. for a log file: what rclone prints with ``--stats``."""
    elapsed = max(progress.elapsed, 1e-9)
    rate = progress.accepted / elapsed
    return (
        f"[{progress.elapsed:7.1f}s] read {progress.read + local.invalid:,} · "
        f"accepted {progress.accepted:,} · completed {progress.completed:,} · "
        f"failed {progress.failed:,} · invalid {progress.invalid + local.invalid:,} · "
        f"pending {progress.pending:,} · open batches {progress.open_batches:,} · "
        f"{rate:,.0f} records/s · requests {progress.requests:,} · "
        f"retries {progress.retries:,} · 429s {progress.rate_limited:,}"
        + (f" · chunk {progress.chunk_size:,}" if progress.chunk_size else "")
        + (
            f" · {progress.waiting_for_parent:,} waiting for a parent"
            if progress.waiting_for_parent
            else ""
        )
        + (" · done" if progress.finished else "")
    )


class QuietView:
    """``--quiet``: errors only."""

    def start(self) -> None:
        pass

    def update(self, progress: Progress) -> None:
        pass

    def stop(self) -> None:
        pass

    def label(self, text: str) -> None:
        pass

    def echo(self, message: str) -> None:
        pass


class LineView:
    """Not a terminal: a stats line every ``interval`` seconds, and one at the end."""

    def __init__(self, local: LocalCounts, *, interval: float, stream: TextIO | None = None):
        self._local = local
        self._interval = interval
        self._stream = stream
        self._last = float("-inf")
        self._label = ""

    def label(self, text: str) -> None:
        self._label = f"[{text}] "

    @property
    def stream(self) -> TextIO:
        return self._stream if self._stream is not None else sys.stderr

    def start(self) -> None:
        self._last = time.monotonic()

    def update(self, progress: Progress) -> None:
        now = time.monotonic()
        if not progress.finished and now - self._last < self._interval:
            return
        self._last = now
        print(self._label + stats_line(progress, self._local), file=self.stream, flush=True)

    def stop(self) -> None:
        pass

    def echo(self, message: str) -> None:
        print(message, file=self.stream, flush=True)


class BarView:
    """A terminal: a rich progress bar for reading and one for settling the records."""

    def __init__(self, local: LocalCounts) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, TextColumn, TimeElapsedColumn
        from rich.progress import Progress as RichProgress

        self._local = local
        self._console = Console(stderr=True)
        self._bar: RichProgress = RichProgress(
            TextColumn("{task.description:<7}"),
            BarColumn(bar_width=20),
            TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(),
            console=self._console,
            transient=False,
            refresh_per_second=8,
        )
        self._read: TaskID = self._bar.add_task(
            "read", total=local.position.total, info="", start=False
        )
        self._settle: TaskID = self._bar.add_task("settle", total=None, info="", start=False)
        self._started = False

    def start(self) -> None:
        self._bar.start()

    def update(self, p: Progress) -> None:
        local = self._local
        if not self._started:
            self._bar.start_task(self._read)
            self._bar.start_task(self._settle)
            self._started = True
        position = local.position
        read = p.read + local.invalid
        rate = p.accepted / max(p.elapsed, 1e-9)
        read_info = (
            f"{read:,} records · {rate:,.0f}/s · {p.requests:,} requests · "
            f"{p.rate_limited:,} throttled" + (f" · chunk {p.chunk_size:,}" if p.chunk_size else "")
        )
        total = position.total
        done_reading = p.finished or (total is not None and position.position() >= total)
        self._bar.update(
            self._read,
            completed=position.position() if total else read,
            total=total if total else (read if done_reading else None),
            info=read_info,
        )
        settled = p.completed + p.failed + p.invalid + local.invalid
        info = (
            f"{p.completed:,} completed · {p.failed:,} failed · "
            f"{p.invalid + local.invalid:,} invalid · {p.open_batches:,} open batches"
        ) + (f" · {p.waiting_for_parent:,} waiting for a parent" if p.waiting_for_parent else "")
        self._bar.update(self._settle, completed=settled, total=max(read, 1), info=info)

    def label(self, text: str) -> None:
        self._bar.add_task("plan", total=1, completed=1, info=text)

    def stop(self) -> None:
        self._bar.stop()

    def echo(self, message: str) -> None:
        self._bar.console.print(message, markup=False, highlight=False, soft_wrap=True)


def make_view(
    mode: ProgressMode,
    local: LocalCounts,
    *,
    interval: float,
    stream: TextIO | None = None,
) -> View:
    """The view for ``mode``; ``auto`` is a bar on a terminal and lines otherwise."""
    err = stream if stream is not None else sys.stderr
    if mode == "none":
        return QuietView()
    if mode == "lines":
        return LineView(local, interval=interval, stream=stream)
    if mode == "auto" and not _is_terminal(err):
        return LineView(local, interval=interval, stream=stream)
    try:
        return BarView(local)
    except ImportError:
        print(RICH_HINT, file=err)
        return LineView(local, interval=interval, stream=stream)


def _is_terminal(stream: Any) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty()) if isatty is not None else False
    except ValueError:  # closed
        return False
