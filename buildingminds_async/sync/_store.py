"""The state store of ``sync()``: what the platform holds of each record, in one SQLite file.

One row per (tenant, entity, external id): the content hash and body of the record as the
platform holds it (its last push that completed; the body is what a delete sends back),
the hash, event and batch of its last push (its body until it completes) and the
record's status. A record is unchanged when its hash is the stored one; the stored hash
changes only when a push of the record reaches a final status, so a record that failed
or stayed pending is sent again by the next run.

The store is also the run's journal (``RunJournal``): each push is written down with its
records' ids (committed with ``synchronous=FULL``) before the request leaves, so that a
run killed at any point leaves pushes that a later run looks up on the server before
anything is sent again, and open batches it polls again (their records are "in flight"
meanwhile, not sent again): it resumes as ``onboard(journal=...)`` does, keyed by
external id rather than input line.

Every statement runs in a worker thread of the loop's executor, one at a time (a lock),
in a transaction: the event loop never waits on the disk. The journal's calls that
cannot wait (``accepted``, ``finished`` ...) are queued and written, in order, before the
next statement that can; ``aclose`` writes what is left. The other commits are WAL with
``synchronous=NORMAL``: they survive the process being killed, not a power cut.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import sqlite3
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from .._errors import ConfigurationError
from ..onboarding._chunking import Chunk, RecordRef
from ..onboarding._journal import in_thread

T = TypeVar("T")
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS records (
    tenant TEXT NOT NULL,
    entity TEXT NOT NULL,
    external_id TEXT NOT NULL,
    stored_hash BLOB,
    stored_body BLOB,
    sent_hash BLOB,
    sent_body BLOB,
    sent_event TEXT,
    status TEXT NOT NULL,
    batch_id TEXT,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (tenant, entity, external_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS pushes (
    id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    entity TEXT NOT NULL,
    level INTEGER NOT NULL,
    sent_at TEXT NOT NULL,
    batch_id TEXT,
    ids TEXT NOT NULL,
    hashes TEXT,
    deletes INTEGER NOT NULL DEFAULT 0
);
"""

_STATUS_OF = {"success": "completed", "failure": "failed", "pending": "pending"}
"""Statuses of a record whose last push has no final status yet."""


class StateStore:
    """One tenant's rows of a state file, and the run journal of ``sync()``'s pushes."""

    def __init__(self, path: Path, tenant: str, connection: sqlite3.Connection) -> None:
        self.path = path
        self.tenant = tenant
        self._db = connection
        self._lock = threading.Lock()
        self._queued: deque[tuple[Callable[..., Any], tuple[Any, ...]]] = deque()
        self._error: BaseException | None = None
        self._run = secrets.token_hex(4)
        self._ids: dict[int, str] = {}
        self._previous: list[tuple[str, Chunk, datetime, str | None]] = []
        self._closed = False
        self._shut = False
        self._held: int | None = None  # the lock file's descriptor (one sync at a time)

    # -- opening and closing --------------------------------------------------------------

    @classmethod
    async def open(cls, path: str | Path, tenant: str, *, read_only: bool = False) -> StateStore:
        """Open (or create) the state file at ``path`` for ``tenant``.

        Raises:
            ConfigurationError: the file is not a state file of this SDK, or of a newer one.
        """
        path = Path(path)
        held = None if read_only else await in_thread(_hold, path)
        try:
            connection = await in_thread(_connect, path, read_only)
        except BaseException:
            _release(held)
            raise
        store = cls(path, tenant, connection)
        store._held = held
        store._previous = await store._call(store._load_pushes)
        return store

    async def aclose(self) -> None:
        """Write what is queued and close the file; raises a write that failed."""
        if self._closed:
            return
        self._closed = True
        try:
            await self._call(lambda: None)
        finally:
            await in_thread(self._close_now)

    def _close_now(self) -> None:
        # Under the lock: a statement of a cancelled caller may still be queued in the
        # executor, and must find the connection closed, not being closed.
        with self._lock:
            self._db.close()
            self._shut = True
            _release(self._held)
            self._held = None

    # -- statements, one at a time, off the loop -----------------------------------------

    async def _call(self, function: Callable[..., T], *args: Any) -> T:
        return await in_thread(self._run_now, function, args, False)

    def _queue(self, function: Callable[..., Any], *args: Any) -> None:
        if not self._closed:
            self._queued.append((function, args))

    def _run_now(self, function: Callable[..., T], args: tuple[Any, ...], durable: bool) -> T:
        with self._lock:
            if self._shut:
                raise ConfigurationError(f"the sync state file {str(self.path)!r} is closed")
            if self._error is not None:
                raise self._error
            if self._queued:
                try:
                    with self._transaction():
                        while self._queued:
                            queued, queued_args = self._queued.popleft()
                            queued(*queued_args)
                except BaseException as exc:
                    self._error = exc  # a write nobody waited for: every later call fails
                    raise
            if not durable:
                with self._transaction():
                    return function(*args)
            # Synced to the disk before the call returns (the write before a push); the
            # other commits need only survive the process (WAL with synchronous=NORMAL).
            self._db.execute("PRAGMA synchronous=FULL")
            try:
                with self._transaction():
                    return function(*args)
            finally:
                self._db.execute("PRAGMA synchronous=NORMAL")

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def execute(self, sql: str, parameters: Sequence[Any] = ()) -> sqlite3.Cursor:
        """One statement on the store's connection (inside ``call``)."""
        return self._db.execute(sql, parameters)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        self._db.executemany(sql, rows)

    async def call(self, function: Callable[..., T], *args: Any) -> T:
        """Run ``function(*args)`` in the store's thread, in one transaction."""
        return await self._call(function, *args)

    # -- what an earlier run left (RunJournal) -------------------------------------------

    def _load_pushes(self) -> list[tuple[str, Chunk, datetime, str | None]]:
        rows = self.execute(
            "SELECT id, entity, level, sent_at, batch_id, ids FROM pushes WHERE tenant = ?",
            (self.tenant,),
        ).fetchall()
        previous = []
        for key, entity, level, sent_at, batch_id, ids in rows:
            refs = [RecordRef(i, str(x)) for i, x in enumerate(json.loads(ids))]
            chunk = Chunk(0, str(entity), int(level), refs, [])
            previous.append((str(key), chunk, datetime.fromisoformat(sent_at), batch_id))
        return previous

    def carried_counts(self) -> dict[str, int]:
        return {}

    def in_doubt(self) -> list[tuple[Chunk, datetime]]:
        """Pushes an earlier run sent without seeing the answer."""
        return [(chunk, at) for _, chunk, at, batch in self._previous if batch is None]

    def open_batches(self) -> list[tuple[str, Chunk]]:
        """Batches an earlier run had accepted but not seen finish."""
        return [(batch, chunk) for _, chunk, _, batch in self._previous if batch is not None]

    @property
    def has_open_pushes(self) -> bool:
        return bool(self._previous)

    def is_done(self, index: int, file: str | None, line: int | None) -> bool:
        return False  # sync() sends only what changed: nothing it hands on is done yet

    # -- the pushes of this run (RunJournal) ---------------------------------------------

    def _key(self, chunk: Chunk) -> str:
        for key, previous, _, _ in self._previous:
            if previous is chunk:
                return key
        return self._ids.setdefault(chunk.seq, f"{self._run}-{chunk.seq}")

    def _forget(self, chunk: Chunk) -> str:
        key = self._key(chunk)
        self._previous = [entry for entry in self._previous if entry[1] is not chunk]
        self._ids.pop(chunk.seq, None)
        return key

    async def intend(self, chunk: Chunk, sent_at: datetime) -> None:
        """Write down, durably, that ``chunk`` is about to be sent."""
        await in_thread(self._run_now, self._write_intent, (self._key(chunk), chunk, sent_at), True)

    def _write_intent(self, key: str, chunk: Chunk, sent_at: datetime) -> None:
        # The push keeps the content of each record it carries: a later run may plan
        # another version of a record while this push is still open, and its outcome
        # must be this version's, not that one's.
        lookup = (
            "SELECT sent_hash, sent_event FROM records "
            "WHERE tenant = ? AND entity = ? AND external_id = ?"
        )
        hashes: list[str | None] = []
        deletes = True
        for ref in chunk.refs:
            row = self.execute(lookup, (self.tenant, chunk.entity, ref.external_id)).fetchone()
            sent_hash, sent_event = row if row is not None else (None, None)
            hashes.append(sent_hash.hex() if sent_hash is not None else None)
            deletes = deletes and str(sent_event).endswith("Deleted")
        self.execute(
            "INSERT OR REPLACE INTO pushes "
            "(id, tenant, entity, level, sent_at, batch_id, ids, hashes, deletes) "
            "VALUES (?, ?, ?, ?, ?, NULL, ?, ?, ?)",
            (
                key,
                self.tenant,
                chunk.entity,
                chunk.level,
                sent_at.isoformat(),
                json.dumps([ref.external_id for ref in chunk.refs], ensure_ascii=False),
                json.dumps(hashes),
                int(deletes),
            ),
        )

    def accepted(self, chunk: Chunk, batch_id: str) -> None:
        key = self._key(chunk)
        self._previous = [
            (k, c, at, batch_id if c is chunk else b) for k, c, at, b in self._previous
        ]
        self._queue(self._write_accepted, key, chunk, batch_id)

    def _write_accepted(self, key: str, chunk: Chunk, batch_id: str) -> None:
        # The records' batch is written with their outcome.
        self.execute("UPDATE pushes SET batch_id = ? WHERE id = ?", (batch_id, key))

    def unsent(self, chunk: Chunk) -> None:
        """The chunk was not accepted: its records are planned again."""
        self._queue(self._write_done, self._forget(chunk), chunk, ["unsent"] * len(chunk), None)

    def finished(
        self,
        batch_id: str,
        chunk: Chunk,
        *,
        completed: int,
        failed: int,
        outcomes: Sequence[str] | None = None,
    ) -> None:
        if outcomes is None:
            statuses = ["completed"] * len(chunk)
        else:
            statuses = [_STATUS_OF.get(o, "pending") for o in outcomes]
        self._queue(self._write_done, self._forget(chunk), chunk, statuses, batch_id)

    def rejected(self, chunk: Chunk) -> None:
        """The server refused the request: its records failed (the next run sends them)."""
        self._queue(self._write_done, self._forget(chunk), chunk, ["failed"] * len(chunk), None)

    def settled_in_part(self, batch_id: str, chunk: Chunk, outcomes: Sequence[str]) -> None:
        """The records of a batch left open that have a final status; the rest stay in
        flight, and the batch is polled again by the next run."""
        statuses = [_STATUS_OF[o] for o in outcomes]
        self._queue(self._write_outcomes, self._key(chunk), chunk, statuses, batch_id, False)

    def mark_done(self, refs: Iterable[RecordRef], *, invalid: int = 0, failed: int = 0) -> None:
        """Invalid records: sync planned none of them, so nothing changes."""

    def _write_done(
        self, key: str, chunk: Chunk, statuses: Sequence[str], batch_id: str | None
    ) -> None:
        self._write_outcomes(key, chunk, statuses, batch_id, True)

    def _write_outcomes(
        self,
        key: str,
        chunk: Chunk,
        statuses: Sequence[str],
        batch_id: str | None,
        done: bool,
    ) -> None:
        """Each record's outcome in push ``key``: what the platform now holds, and, when
        the push carried the record's latest planned version, its status."""
        row = self.execute("SELECT hashes, deletes FROM pushes WHERE id = ?", (key,)).fetchone()
        if done:
            self.execute("DELETE FROM pushes WHERE id = ?", (key,))
        hashes = json.loads(row[0]) if row is not None and row[0] else [None] * len(chunk)
        deletes = bool(row[1]) if row is not None else False
        now = _now()
        for ref, status, pushed in zip(chunk.refs, statuses, hashes, strict=True):
            where = (self.tenant, chunk.entity, ref.external_id)
            if deletes:
                self._delete_outcome(status, batch_id, now, where)
            elif pushed is not None:
                self._upsert_outcome(status, bytes.fromhex(pushed), batch_id, now, where)

    def _upsert_outcome(
        self, status: str, pushed: bytes, batch_id: str | None, now: str, where: tuple[str, ...]
    ) -> None:
        if status == "completed":
            self.execute(_UPSERT_COMPLETED, (pushed, pushed, pushed, pushed, batch_id, now, *where))
        else:
            self.execute(_UPSERT_FINAL, (status, batch_id, now, *where, pushed))

    def _delete_outcome(
        self, status: str, batch_id: str | None, now: str, where: tuple[str, ...]
    ) -> None:
        if status == "completed":
            self.execute(_DELETE_COMPLETED, (batch_id, now, *where))
        else:
            self.execute(_DELETE_FINAL, (status, batch_id, now, *where))


# The outcome of a push of a record. "sent_hash = ?" (the push's hash): this push carried
# the version planned last, so its status is the record's; an older push only says what
# the platform holds now. A delete's likewise, unless the record was planned again since.
_UPSERT_COMPLETED = (
    "UPDATE records SET stored_hash = ?, "
    "stored_body = CASE WHEN sent_hash = ? THEN coalesce(sent_body, stored_body) "
    "ELSE coalesce(stored_body, sent_body) END, "
    "sent_body = CASE WHEN sent_hash = ? THEN NULL ELSE sent_body END, "
    "status = CASE WHEN sent_hash = ? THEN 'completed' ELSE status END, "
    "batch_id = ?, updated_at = ? WHERE tenant = ? AND entity = ? AND external_id = ?"
)
_UPSERT_FINAL = (
    "UPDATE records SET status = ?, batch_id = coalesce(?, batch_id), updated_at = ? "
    "WHERE tenant = ? AND entity = ? AND external_id = ? AND sent_hash = ?"
)
_DELETE_COMPLETED = (
    "UPDATE records SET stored_hash = NULL, "
    "stored_body = CASE WHEN sent_event LIKE '%Deleted' THEN NULL ELSE stored_body END, "
    "status = CASE WHEN sent_event LIKE '%Deleted' THEN 'deleted' ELSE status END, "
    "batch_id = ?, updated_at = ? WHERE tenant = ? AND entity = ? AND external_id = ?"
)
_DELETE_FINAL = (
    "UPDATE records SET status = ?, batch_id = coalesce(?, batch_id), updated_at = ? "
    "WHERE tenant = ? AND entity = ? AND external_id = ? AND sent_event LIKE '%Deleted'"
)


def _hold(path: Path) -> int | None:
    """Take the state file's lock (``PATH.lock``): one sync at a time per state file, or
    two runs would each send what the other is sending. None where there is no flock."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        return None
    try:
        fd = os.open(f"{path}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise ConfigurationError(
            f"cannot open the sync state file {str(path)!r} ({exc}); give --state a writable path"
        ) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise ConfigurationError(
            f"another sync is using the state file {str(path)!r}: wait for it to end (two "
            f"runs would send the same changes twice), or give another --state"
        ) from None
    return fd


def _release(fd: int | None) -> None:
    if fd is not None:
        os.close(fd)  # closing the descriptor releases the flock


def _now() -> str:
    return datetime.now().astimezone().isoformat(timespec="seconds")


def _connect(path: Path, read_only: bool) -> sqlite3.Connection:
    if read_only and not path.exists():
        connection = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
    else:
        try:
            connection = sqlite3.connect(
                path, check_same_thread=False, isolation_level=None, timeout=5.0
            )
            if not read_only:
                connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")  # FULL for intents: _run_now
            # A page cache of 64 MiB (the default is 2): a million rows do not fit in 2.
            connection.execute("PRAGMA cache_size=-65536")
        except sqlite3.OperationalError as exc:
            raise ConfigurationError(
                f"cannot open the sync state file {str(path)!r}: {exc}; give --state a "
                f"writable path"
            ) from None
        except sqlite3.DatabaseError as exc:
            raise ConfigurationError(
                f"{str(path)!r} is not a sync state file ({exc}); give --state another path"
            ) from None
    try:
        version = _version(connection)
        if version is None:
            connection.executescript(_SCHEMA)
            connection.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('schema', ?)",
                (str(SCHEMA_VERSION),),
            )
        elif version > SCHEMA_VERSION:
            raise ConfigurationError(
                f"the sync state file {str(path)!r} was written by a newer version of "
                f"buildingminds_async (schema {version}); upgrade the SDK to use it"
            )
        connection.execute(
            "CREATE TEMP TABLE IF NOT EXISTS seen (entity TEXT NOT NULL, external_id TEXT NOT "
            "NULL, source TEXT, PRIMARY KEY (entity, external_id)) WITHOUT ROWID"
        )
    except sqlite3.DatabaseError as exc:
        connection.close()
        raise ConfigurationError(
            f"{str(path)!r} is not a sync state file ({exc}); give --state another path"
        ) from None
    except BaseException:
        connection.close()
        raise
    return connection


def _version(connection: sqlite3.Connection) -> int | None:
    tables = {
        row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
    }
    if "meta" not in tables:
        if tables:
            raise sqlite3.DatabaseError("it holds other tables")
        return None
    row = connection.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
    return int(row[0]) if row is not None else None
