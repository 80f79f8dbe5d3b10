"""The resume journal of a long onboarding run.

A journal file lets a run that was interrupted (Ctrl-C, a crash, SIGKILL, a deadline)
be started again with the same input: records whose outcome is known are skipped,
batches the API accepted are polled again instead of being re-sent, and pushes that were
in flight when the process died are looked up on the server before anything is sent
again. Nothing accepted is re-sent; nothing is lost.

Format: one JSON event per line. Opening a journal replays it and rewrites it as a
compact snapshot (temp file, fsync, rename, fsync of the directory), so a journal never
grows beyond one run's events. During a run, events are appended with one ``write()``
each (a killed process loses nothing the kernel already has), and the event written
before each push (``intent``) is fsynced before the request leaves, so that even a
machine crash cannot hide a push that may have been stored. A torn last line is ignored.

Records are identified by position: ``(file, line)`` when they come from a file, their
index in the input otherwise. Tokens and secrets never go into a journal; it holds
positions, external ids, batch ids and counts.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import json
import os
import secrets
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import anyio

from .._errors import ConfigurationError
from ._chunking import Chunk, RecordRef

T = TypeVar("T")
_VERSION = 1
Key = tuple[str, int]


def _key(index: int, file: str | None, line: int | None) -> Key:
    if file is not None and line is not None:
        return (file, line)
    return ("", index)


def _ref_key(ref: RecordRef) -> Key:
    return _key(ref.index, ref.file, ref.line)


class _Ranges:
    """A set of ints kept as sorted, merged half-open ranges.

    The records of one chunk are mostly consecutive lines, so a million finished records
    usually fold into a handful of ranges: the journal's memory does not grow with the
    input.
    """

    __slots__ = ("starts", "stops")

    def __init__(self) -> None:
        self.starts: list[int] = []
        self.stops: list[int] = []

    def add(self, numbers: Iterable[int]) -> None:
        run_start = run_stop = None
        for n in sorted(numbers):
            if run_stop is not None and n <= run_stop:
                run_stop = max(run_stop, n + 1)
                continue
            if run_start is not None and run_stop is not None:
                self.add_range(run_start, run_stop)
            run_start, run_stop = n, n + 1
        if run_start is not None and run_stop is not None:
            self.add_range(run_start, run_stop)

    def add_range(self, start: int, stop: int) -> None:
        starts, stops = self.starts, self.stops
        first = bisect.bisect_left(stops, start)  # the first range ending at or after start
        last = bisect.bisect_right(starts, stop)  # past the last range starting by stop
        if first < last:
            start = min(start, starts[first])
            stop = max(stop, stops[last - 1])
            del starts[first:last], stops[first:last]
        starts.insert(first, start)
        stops.insert(first, stop)

    def __contains__(self, n: int) -> bool:
        i = bisect.bisect_right(self.starts, n) - 1
        return i >= 0 and n < self.stops[i]

    def as_lists(self) -> list[list[int]]:
        return [[a, b] for a, b in zip(self.starts, self.stops, strict=True)]


@dataclass(slots=True)
class _Pending:
    """A push the journal knows of: in doubt (no batch yet) or accepted (batch known)."""

    chunk: Chunk
    sent_at: datetime
    batch_id: str | None = None


@dataclass(slots=True)
class _State:
    fingerprint: Mapping[str, Any] | None = None
    done: dict[str, _Ranges] = field(default_factory=lambda: defaultdict(_Ranges))
    counts: dict[str, int] = field(
        default_factory=lambda: {"completed": 0, "failed": 0, "invalid": 0}
    )
    pending: dict[str, _Pending] = field(default_factory=dict)

    def apply(self, event: Mapping[str, Any]) -> None:
        kind = event.get("e")
        if kind == "journal":
            self.fingerprint = event.get("fingerprint")
        elif kind == "ranges":
            ranges = self.done[str(event["file"])]
            for start, stop in event["ranges"]:
                ranges.add_range(int(start), int(stop))
        elif kind == "counts":
            for name in self.counts:
                self.counts[name] += int(event.get(name, 0))
        elif kind == "intent":
            refs = _refs_from_json(event)
            chunk = Chunk(0, str(event["entity"]), int(event["level"]), refs, [])
            self.pending[str(event["id"])] = _Pending(chunk, datetime.fromisoformat(event["at"]))
        elif kind == "accepted":
            if (entry := self.pending.get(str(event["id"]))) is not None:
                entry.batch_id = str(event["batch"])
        elif kind == "unsent":
            self.pending.pop(str(event["id"]), None)
        elif kind == "finished":
            if (entry := self.pending.pop(str(event["id"]), None)) is not None:
                self._mark(entry.chunk.refs)
            self.counts["completed"] += int(event.get("completed", 0))
            self.counts["failed"] += int(event.get("failed", 0))
        elif kind == "done":
            by_file: dict[str, list[int]] = defaultdict(list)
            for file, number in event["keys"]:
                by_file[str(file)].append(int(number))
            for file, numbers in by_file.items():
                self.done[file].add(numbers)
            self.counts["invalid"] += int(event.get("invalid", 0))
            self.counts["failed"] += int(event.get("failed", 0))

    def _mark(self, refs: Iterable[RecordRef]) -> None:
        by_file: dict[str, list[int]] = defaultdict(list)
        for ref in refs:
            file, number = _ref_key(ref)
            by_file[file].append(number)
        for file, numbers in by_file.items():
            self.done[file].add(numbers)


@dataclass(frozen=True, slots=True)
class JournalInfo:
    """What a journal file holds, read without taking it up (``Journal.inspect``)."""

    fingerprint: Mapping[str, Any] | None
    """What the input was when the journal was written (the CLI: files, sizes, mtimes)."""
    has_progress: bool
    """Anything to resume: a count, a finished record or a push."""


class Journal:
    """An append-only event log that makes ``onboard()`` resumable (see the module docstring).

    Whoever opens a journal closes it: ``onboard(journal="run.journal")`` opens and closes
    its own; a ``Journal`` passed in stays open for its owner to close.
    """

    def __init__(self, path: Path, fd: int, state: _State) -> None:
        self._path = path
        self._fd = fd
        self._run = secrets.token_hex(4)
        self._lock = anyio.Lock()
        self._closed = False
        # Positions finished in earlier runs, as ranges per file.
        self._done: dict[str, _Ranges] = dict(state.done)
        self._carried = dict(state.counts)
        self._previous = state.pending
        # Positions of pushes an earlier run had accepted: skipped, their batches re-polled.
        self._active: set[Key] = {
            _ref_key(ref)
            for entry in state.pending.values()
            if entry.batch_id is not None
            for ref in entry.chunk.refs
        }
        self._ids: dict[int, str] = {}

    @property
    def path(self) -> Path:
        return self._path

    @classmethod
    async def open(
        cls, path: Path, *, settings: object = None, fingerprint: Mapping[str, Any] | None = None
    ) -> Journal:
        """Open (or create) the journal at ``path`` and take up what it records.

        Raises:
            ConfigurationError: the journal was written for a different input
                (``fingerprint`` differs), or it cannot be read or written.
        """
        del settings  # accepted for symmetry with onboard(); a resumed run may tune them
        try:
            state = await in_thread(_replay, path)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ConfigurationError(
                f"cannot read the journal {path}: {exc}; delete it to start from scratch"
            ) from exc
        if (
            fingerprint is not None
            and state.fingerprint is not None
            and dict(state.fingerprint) != dict(fingerprint)
        ):
            raise ConfigurationError(
                f"the journal {path} belongs to a different input "
                f"({_diff(state.fingerprint, fingerprint)}); "
                f"delete it, or give another journal path, to start from scratch"
            )
        state.fingerprint = fingerprint if fingerprint is not None else state.fingerprint
        try:
            fd = await in_thread(_compact, path, state)
        except OSError as exc:
            raise ConfigurationError(f"cannot write the journal {path}: {exc}") from exc
        return cls(path, fd, state)

    @staticmethod
    def inspect(path: Path) -> JournalInfo | None:
        """Read the journal at ``path`` without taking it up; None when it cannot be read."""
        try:
            state = _replay(path)
        except (OSError, ValueError, KeyError, TypeError):
            return None
        progress = (
            bool(state.pending)
            or any(state.counts.values())
            or any(ranges.starts for ranges in state.done.values())
        )
        return JournalInfo(fingerprint=state.fingerprint, has_progress=progress)

    # -- what an earlier run left ----------------------------------------------------------

    def carried_counts(self) -> dict[str, int]:
        """Records that earlier runs finished: completed, failed, invalid."""
        return dict(self._carried)

    def in_doubt(self) -> list[tuple[Chunk, datetime]]:
        """Pushes an earlier run sent without seeing the answer."""
        return [(p.chunk, p.sent_at) for p in self._previous.values() if p.batch_id is None]

    def open_batches(self) -> list[tuple[str, Chunk]]:
        """Batches an earlier run had accepted but not seen finish."""
        return [(p.batch_id, p.chunk) for p in self._previous.values() if p.batch_id is not None]

    def is_done(self, index: int, file: str | None, line: int | None) -> bool:
        """True when an earlier run already took care of this record (skip it)."""
        key = _key(index, file, line)
        if key in self._active:
            return True
        ranges = self._done.get(key[0])
        return ranges is not None and key[1] in ranges

    # -- events of this run ---------------------------------------------------------------

    def _id(self, chunk: Chunk) -> str:
        return self._ids.setdefault(chunk.seq, f"{self._run}-{chunk.seq}")

    def _write(self, event: Mapping[str, Any]) -> None:
        if self._closed:
            return
        os.write(self._fd, (json.dumps(event, separators=(",", ":")) + "\n").encode())

    async def intend(self, chunk: Chunk, sent_at: datetime) -> None:
        """Record, durably, that ``chunk`` is about to be sent."""
        event = _intent(self._id(chunk), chunk, sent_at)
        async with self._lock:
            self._write(event)
            await in_thread(os.fsync, self._fd)

    def accepted(self, chunk: Chunk, batch_id: str) -> None:
        key = self._previous_id(chunk)
        if key is not None:
            # An in-doubt push of an earlier run, found on the server.
            self._previous[key].batch_id = batch_id
            self._active.update(_ref_key(r) for r in chunk.refs)
            self._write({"e": "accepted", "id": key, "batch": batch_id})
            return
        self._write({"e": "accepted", "id": self._id(chunk), "batch": batch_id})

    def unsent(self, chunk: Chunk) -> None:
        """The chunk was not accepted: its records are to be sent by a later run."""
        key = self._previous_id(chunk)
        if key is not None:
            del self._previous[key]
            self._write({"e": "unsent", "id": key})
            return
        if chunk.seq in self._ids:
            self._write({"e": "unsent", "id": self._ids.pop(chunk.seq)})

    def finished(
        self,
        batch_id: str,
        chunk: Chunk,
        *,
        completed: int,
        failed: int,
        outcomes: Sequence[str] | None = None,
    ) -> None:
        key = self._previous_id(chunk) or self._ids.pop(chunk.seq, None)
        if key is None:
            return
        self._write(
            {
                "e": "finished",
                "id": key,
                "batch": batch_id,
                "completed": completed,
                "failed": failed,
            }
        )

    def rejected(self, chunk: Chunk) -> None:
        """The server refused the whole request: its records are done, failed."""
        self.mark_done(chunk.refs, failed=len(chunk))

    def settled_in_part(self, batch_id: str, chunk: Chunk, outcomes: Sequence[str]) -> None:
        """The batch stays open for a resumed run, which reads all of it again."""

    def mark_done(self, refs: Iterable[RecordRef], *, invalid: int = 0, failed: int = 0) -> None:
        """Records whose outcome is final without a batch (invalid, rejected)."""
        keys = [list(_ref_key(r)) for r in refs]
        self._write({"e": "done", "keys": keys, "invalid": invalid, "failed": failed})

    def _previous_id(self, chunk: Chunk) -> str | None:
        for key, entry in self._previous.items():
            if entry.chunk is chunk:
                return key
        return None

    async def aclose(self) -> None:
        """Write the final compact snapshot and close the file."""
        if self._closed:
            return
        self._closed = True
        fd, self._fd = self._fd, -1
        with contextlib.suppress(OSError):
            await in_thread(os.fsync, fd)
        os.close(fd)
        with contextlib.suppress(OSError, ValueError):
            state = await in_thread(_replay, self._path)
            os.close(await in_thread(_compact, self._path, state))


async def in_thread(function: Callable[..., T], *args: Any) -> T:
    """``function(*args)`` in a worker thread, awaited."""
    # The loop's own executor (not anyio's worker threads): the SDK is asyncio-only, and
    # the loop then knows that work is pending (fake-clock test loops rely on that).
    return await asyncio.get_running_loop().run_in_executor(None, function, *args)


def _replay(path: Path) -> _State:
    state = _State()
    if not path.exists():
        return state
    torn: int | None = None
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if torn is not None:
                raise ValueError(f"line {torn} is not JSON")
            if not raw.strip():
                continue
            try:
                event = json.loads(raw)
            except ValueError:
                torn = number  # fine if it is the last line: a crash cut it short
                continue
            state.apply(event)
    return state


def _compact(path: Path, state: _State) -> int:
    """Rewrite the journal as a snapshot of ``state``; return a descriptor open for appending."""
    events: list[Mapping[str, Any]] = [
        {"e": "journal", "version": _VERSION, "fingerprint": state.fingerprint}
    ]
    for file, ranges in state.done.items():
        events.append({"e": "ranges", "file": file, "ranges": ranges.as_lists()})
    events.append({"e": "counts", **state.counts})
    for key, entry in state.pending.items():
        events.append(_intent(key, entry.chunk, entry.sent_at))
        if entry.batch_id is not None:
            events.append({"e": "accepted", "id": key, "batch": entry.batch_id})
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    data = "".join(json.dumps(e, separators=(",", ":")) + "\n" for e in events).encode()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    with contextlib.suppress(OSError):
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    return os.open(path, os.O_WRONLY | os.O_APPEND)


def _intent(key: str, chunk: Chunk, sent_at: datetime) -> dict[str, Any]:
    """The ``intent`` event of a push: its records' positions and external ids.

    The file name is written once when every record of the chunk comes from one file
    (the usual case), not once per record.
    """
    event: dict[str, Any] = {
        "e": "intent",
        "id": key,
        "entity": chunk.entity,
        "level": chunk.level,
        "at": sent_at.isoformat(),
    }
    files = {r.file for r in chunk.refs}
    if len(files) == 1:
        event["file"] = files.pop()
        event["refs"] = [[r.index, r.external_id, r.line] for r in chunk.refs]
    else:
        event["refs"] = [[r.index, r.external_id, r.file, r.line] for r in chunk.refs]
    return event


def _refs_from_json(event: Mapping[str, Any]) -> list[RecordRef]:
    if "file" in event:
        file = event["file"]
        return [RecordRef(int(i), str(x), file, ln) for i, x, ln in event["refs"]]
    return [RecordRef(int(i), str(x), f, ln) for i, x, f, ln in event["refs"]]


def _diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> str:
    changed = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
    return "changed: " + ", ".join(changed) if changed else "different"
