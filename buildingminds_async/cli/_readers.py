"""Input files as a stream of raw records: NDJSON, JSON arrays, CSV, stdin, gzip.

Every reader is a plain synchronous generator that holds one record (or one read buffer)
at a time, so memory stays flat whatever the file size: a JSON array is parsed
incrementally with ``JSONDecoder.raw_decode`` over a sliding buffer, never ``json.load``-ed.

A record's position is its ``line``: the line it starts on for NDJSON and CSV, and its
1-based position in the array for a JSON array (a minified array is one line, and the
resume journal needs a position that names exactly one record).
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import gzip
import io
import json
import os
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Final, Literal

from ..models import ENTITIES, EntitySpec, entity_spec

Format = Literal["ndjson", "json", "csv"]
FORMATS: Final = ("ndjson", "json", "csv")

STDIN_NAME: Final = "<stdin>"
REJECTS_SUFFIX: Final = ".rejects.ndjson"

_EXTENSIONS: Final[dict[str, Format]] = {
    ".ndjson": "ndjson",
    ".jsonl": "ndjson",
    ".ldjson": "ndjson",
    ".json": "json",
    ".csv": "csv",
}
_SNIFF_BYTES: Final = 64 * 1024
_READ_CHARS: Final = 64 * 1024
_MAX_READ_CHARS: Final = 64 * 1024 * 1024
_WHITESPACE: Final = re.compile(r"[ \t\n\r]*")


class InputError(Exception):
    """An input cannot be read as records at all (exit code 2): missing, unreadable, malformed."""

    accepted: int = 0
    """Records the API had accepted when the error was found (set by ``onboard``)."""


@dataclass(frozen=True, slots=True)
class RawRecord:
    """One record as read, before validation."""

    data: Any
    file: str
    line: int
    entity: EntitySpec | None
    """The entity the file name gives, if any."""
    csv: bool = False
    """The values are CSV cells (strings) still to be converted by the model's types."""
    error: str | None = None
    """Why the line is not a record at all (``data`` then holds its text)."""
    text: bytes | None = None
    """An NDJSON line not parsed yet: the checker validates it straight from JSON."""


@dataclass(slots=True)
class InputFile:
    """One input of the command line, resolved: where, which format, which entity."""

    arg: str
    name: str
    """How messages, rejects and the journal name it (the path as given, normalised)."""
    path: Path | None
    format: Format | None
    """None for stdin until it is sniffed."""
    entity: EntitySpec | None
    compressed: bool = False
    size: int | None = None
    mtime_ns: int | None = None

    @property
    def is_stdin(self) -> bool:
        return self.path is None

    def fingerprint(self) -> dict[str, Any]:
        return {
            "path": self.name,
            "absolute": str(self.path.resolve()) if self.path is not None else None,
            "size": self.size,
            "mtime_ns": self.mtime_ns,
        }


@dataclass(slots=True)
class ReadPosition:
    """How far the readers are, in bytes of the inputs (for the progress display)."""

    total: int | None
    done: int = 0
    records: int = 0
    _current: Callable[[], int] | None = field(default=None, repr=False)

    def position(self) -> int:
        if self._current is None:
            return self.done
        try:
            return self.done + self._current()
        except (OSError, ValueError):
            return self.done


def entity_from_name(name: str) -> EntitySpec | None:
    """The entity a file name names: ``buildings.csv``, ``rental-units.ndjson.gz``, ...

    A reject file (``buildings.csv.rejects.ndjson``) names the entity of its input.
    """
    base = os.path.basename(name).lower()
    for suffix in (".gz", *_EXTENSIONS, REJECTS_SUFFIX, ".rejects", *_EXTENSIONS):
        if base.endswith(suffix) and len(base) > len(suffix):
            base = base[: -len(suffix)]
    try:
        return entity_spec(base)
    except KeyError:
        return None


def plan_inputs(
    args: Sequence[str], *, entity: EntitySpec | None, fmt: Format | None
) -> list[InputFile]:
    """Check every input and decide its format and entity, parents' files first.

    Raises:
        InputError: a file is missing, a directory, unreadable, or stdin is named twice.
    """
    inputs: list[InputFile] = []
    if list(args).count("-") > 1:
        raise InputError("'-' (stdin) can be given only once")
    for arg in args:
        if arg == "-":
            inputs.append(InputFile(arg, STDIN_NAME, None, fmt, entity))
            continue
        path = Path(arg)
        try:
            stat = path.stat()
        except FileNotFoundError:
            raise InputError(f"{arg}: no such file") from None
        except OSError as exc:
            raise InputError(f"{arg}: cannot read it: {exc.strerror or exc}") from None
        if path.is_dir():
            raise InputError(f"{arg} is a directory; give the files in it")
        compressed = arg.lower().endswith(".gz")
        inner = arg[:-3] if compressed else arg
        file_format = fmt or _format_of(path, inner, compressed=compressed)
        inputs.append(
            InputFile(
                arg,
                os.path.normpath(arg),
                path,
                file_format,
                entity or entity_from_name(arg),
                compressed=compressed,
                size=stat.st_size,
                mtime_ns=stat.st_mtime_ns,
            )
        )
    names = [i.name for i in inputs]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise InputError(f"{', '.join(duplicates)} given more than once")
    return in_push_order(inputs)


def in_push_order(inputs: list[InputFile]) -> list[InputFile]:
    """Files of mixed records first (they may hold anything), then parents before children."""
    return sorted(inputs, key=lambda i: -1 if i.entity is None else i.entity.level)


def _format_of(path: Path, inner: str, *, compressed: bool) -> Format:
    ext = os.path.splitext(inner)[1].lower()
    known = _EXTENSIONS.get(ext)
    if known is not None and known != "json":
        return known
    # .json holds an array or (often) NDJSON; other names are sniffed entirely.
    try:
        with _open_binary(path, compressed) as (_, stream):
            head = stream.read(_SNIFF_BYTES)
    except OSError as exc:
        raise InputError(f"{path}: cannot read it: {exc.strerror or exc}") from None
    sniffed = sniff(head)
    if sniffed is None:
        return known or "ndjson"
    return sniffed


def sniff(head: bytes) -> Format | None:
    """The format of a stream from its first bytes; None when they are all blank."""
    if head.startswith(codecs.BOM_UTF8):
        head = head[len(codecs.BOM_UTF8) :]
    text = head.lstrip()
    if not text:
        return None
    if text[:1] == b"[":
        return "json"
    if text[:1] == b"{":
        return "ndjson"
    return "csv"


@contextlib.contextmanager
def _open_binary(path: Path, compressed: bool) -> Iterator[tuple[IO[bytes], IO[bytes]]]:
    """``(raw, stream)``: the file (whose ``tell()`` is the progress) and what to read."""
    with path.open("rb") as raw:
        if not compressed:
            yield raw, raw
            return
        with gzip.GzipFile(fileobj=raw, mode="rb") as unzipped:
            stream: IO[bytes] = unzipped  # type: ignore[assignment] # GzipFile reads bytes
            yield raw, stream


class _Prefixed(io.RawIOBase):
    """A stream that first returns ``head`` (already read to sniff it), then ``rest``."""

    def __init__(self, head: bytes, rest: IO[bytes]) -> None:
        self._head = head
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._head:
            n = min(len(buffer), len(self._head))
            buffer[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        read1 = getattr(self._rest, "read1", None)
        data = read1(len(buffer)) if read1 is not None else self._rest.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        return n


def read_records(inputs: Sequence[InputFile], position: ReadPosition) -> Iterator[RawRecord]:
    """Every record of ``inputs``, in order, one at a time.

    Raises:
        InputError: a file turned out unreadable or malformed beyond one record.
    """
    for item in inputs:
        if item.is_stdin:
            yield from _read_stdin(item, position)
            continue
        assert item.path is not None  # noqa: S101 - not stdin
        try:
            with _open_binary(item.path, item.compressed) as (raw, stream):
                position._current = raw.tell
                yield from _read_stream(item, stream, item.format or "ndjson", position)
        except OSError as exc:
            raise InputError(f"{item.name}: cannot read it: {exc.strerror or exc}") from None
        except EOFError as exc:
            raise InputError(f"{item.name}: the compressed file is truncated ({exc})") from None
        finally:
            position._current = None
        position.done += item.size or 0


def _read_stdin(item: InputFile, position: ReadPosition) -> Iterator[RawRecord]:
    stdin = sys.stdin.buffer
    head = b""
    fmt = item.format
    while fmt is None:
        read1 = getattr(stdin, "read1", None)
        chunk = read1(_SNIFF_BYTES) if read1 is not None else stdin.read(_SNIFF_BYTES)
        head += chunk
        fmt = sniff(head)
        if not chunk:
            return  # nothing but blanks
    stream = io.BufferedReader(_Prefixed(head, stdin))
    yield from _read_stream(item, stream, fmt, position)


def _read_stream(
    item: InputFile, stream: IO[bytes], fmt: Format, position: ReadPosition
) -> Iterator[RawRecord]:
    if fmt == "ndjson":
        records = _read_ndjson(item, stream)
    elif fmt == "json":
        records = _read_json_array(item, stream)
    else:
        records = _read_csv(item, stream)
    for record in records:
        position.records += 1
        yield record


def _read_ndjson(item: InputFile, stream: IO[bytes]) -> Iterator[RawRecord]:
    for number, line in enumerate(stream, start=1):
        if number == 1 and line.startswith(codecs.BOM_UTF8):
            line = line[len(codecs.BOM_UTF8) :]
        if not line.strip():
            continue
        yield RawRecord(None, item.name, number, item.entity, text=line)


def _read_json_array(item: InputFile, stream: IO[bytes]) -> Iterator[RawRecord]:
    text = io.TextIOWrapper(stream, encoding="utf-8-sig")
    try:
        for number, value in iter_json_array(text.read, item.name):
            yield RawRecord(value, item.name, number, item.entity)
    except UnicodeDecodeError as exc:
        raise InputError(f"{item.name}: not UTF-8 text ({exc.reason})") from None
    finally:
        text.detach()


def iter_json_array(read: Callable[[int], str], name: str) -> Iterator[tuple[int, Any]]:
    """The elements of the JSON array that ``read(n)`` returns piece by piece: (position, value).

    Holds one element and one read buffer at a time. Raises ``InputError`` naming the line
    when the text is not a JSON array.
    """
    decoder = json.JSONDecoder()
    buf = ""
    pos = 0
    lines_before = 0  # newlines in the text already dropped from the buffer
    eof = False
    size = _READ_CHARS

    def more() -> bool:
        nonlocal buf, pos, lines_before, eof
        if eof:
            return False
        chunk = read(size)
        if not chunk:
            eof = True
            return False
        lines_before += buf.count("\n", 0, pos)
        buf = buf[pos:] + chunk
        pos = 0
        return True

    def skip_blank() -> bool:
        """Move ``pos`` past whitespace; False at the end of the input."""
        nonlocal pos
        while True:
            blank = _WHITESPACE.match(buf, pos)
            pos = blank.end() if blank is not None else pos
            if pos < len(buf):
                return True
            if not more():
                return False

    def fail(what: str) -> InputError:
        line = lines_before + buf.count("\n", 0, pos) + 1
        return InputError(f"{name}: line {line}: {what}")

    if not skip_blank():
        return
    if buf[pos] != "[":
        raise fail("expected a JSON array of records, starting with '['")
    pos += 1
    number = 0
    while True:
        if not skip_blank():
            raise fail("the JSON array is not closed (missing ']'; is the file truncated?)")
        if buf[pos] == "]":
            pos += 1
            if skip_blank():
                raise fail("unexpected text after the end of the JSON array")
            return
        if number:
            if buf[pos] != ",":
                raise fail(f"expected ',' or ']' after record {number}, found {buf[pos]!r}")
            pos += 1
            if not skip_blank():
                raise fail("the JSON array is not closed (missing ']'; is the file truncated?)")
        while True:
            try:
                value, end = decoder.raw_decode(buf, pos)
            except json.JSONDecodeError as exc:
                if more():
                    # The value may straddle the end of the buffer: read on, in growing
                    # steps so that one huge value is not parsed again and again.
                    size = min(size * 2, _MAX_READ_CHARS)
                    continue
                raise fail(f"record {number + 1} is not valid JSON: {exc.msg}") from None
            except RecursionError:
                raise fail(
                    f"record {number + 1} is nested too deeply to read (more than about "
                    "1,000 levels of objects or arrays); check how the file was produced"
                ) from None
            if end == len(buf) and more():
                continue  # a number at the very end may go on in the next read
            break
        size = _READ_CHARS
        pos = end
        number += 1
        yield number, value


def _read_csv(item: InputFile, stream: IO[bytes]) -> Iterator[RawRecord]:
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    try:
        reader = csv.reader(text)
        try:
            header = next(reader, None)
        except csv.Error as exc:
            raise InputError(f"{item.name}: line 1: not a valid CSV header: {exc}") from None
        if header is None:
            return
        columns = [name.strip() for name in header]
        for position, column in enumerate(columns, start=1):
            if not column:
                raise InputError(f"{item.name}: column {position} of the header has no name")
        duplicated = sorted({c for c in columns if columns.count(c) > 1})
        if duplicated:
            raise InputError(f"{item.name}: the header repeats {', '.join(duplicated)}")
        start = reader.line_num + 1
        while True:
            try:
                row = next(reader, None)
            except csv.Error as exc:
                raise InputError(f"{item.name}: line {start}: not valid CSV: {exc}") from None
            if row is None:
                return
            line, start = start, reader.line_num + 1
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(columns):
                yield RawRecord(
                    dict(zip(columns, row, strict=False)),
                    item.name,
                    line,
                    item.entity,
                    csv=True,
                    error=f"the row has {len(row)} values but the header has "
                    f"{len(columns)} columns",
                )
                continue
            data = {c: v for c, v in zip(columns, row, strict=True) if v.strip()}
            yield RawRecord(data, item.name, line, item.entity, csv=True)
    except UnicodeDecodeError as exc:
        raise InputError(f"{item.name}: not UTF-8 text ({exc.reason})") from None
    finally:
        text.detach()


def entity_names() -> str:
    return ", ".join(ENTITIES)
