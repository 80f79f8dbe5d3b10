"""The reject file: one NDJSON line per record that was invalid or failed.

```json
{"file": "buildings.csv", "line": 7, "entity": "building", "external_id": "B-0007",
 "status": "Invalid", "field": "primaryTypeOfBuilding", "reason": "...", "batch_id": null,
 "record": {"buildingId": "B-0007", ...}}
```

Every line is written (and flushed) as soon as the record's outcome is known: invalid
records as they are read, server failures as their batch finishes, so an interrupted run
keeps them all. A resumed run
appends, and skips lines already written (same file, line and status); a new run first
moves the file of an earlier run to ``*.previous``. Feeding the file back to
``buildingminds onboard`` reads each line's ``record`` (and ``entity``): fix the records
in place and run it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO

from ._records import Rejected, reject_key

# Statuses of records that never reached the server (invalid, too large for any request).
LOCAL_STATUSES = frozenset({"Invalid", "TooLarge"})


class RejectFile:
    """Writes reject lines to ``path``, created on the first one."""

    def __init__(self, path: Path, *, resume: bool) -> None:
        self.path = path
        self.written = 0
        self.by_status: dict[str, int] = {}
        self._seen: set[tuple[str | None, int | None, str]] = set()
        self._handle: IO[str] | None = None
        self.previous: Path | None = None
        if resume:
            self._seen = _keys_in(path)
        elif path.exists():
            # The rejects of an earlier, finished run: perhaps being fixed; keep them.
            self.previous = path.with_name(path.name + ".previous")
            path.replace(self.previous)

    @property
    def exists(self) -> bool:
        return self.path.exists()

    def lines(self) -> int:
        """Lines in the file now (earlier runs' included)."""
        if not self.path.exists():
            return 0
        with self.path.open("rb") as handle:
            return sum(1 for line in handle if line.strip())

    def write(self, rejected: Rejected) -> bool:
        """Append one line unless an earlier run of the same input already wrote it."""
        key = reject_key(rejected)
        if key in self._seen:
            return False
        self._seen.add(key)
        if self._handle is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._handle = self.path.open("a", encoding="utf-8")
            if _ends_torn(self.path):
                self._handle.write("\n")  # a line a killed run left half-written
        line = json.dumps(rejected.as_dict(), ensure_ascii=False, default=str)
        self._handle.write(line + "\n")
        self._handle.flush()
        self.written += 1
        self.by_status[rejected.status] = self.by_status.get(rejected.status, 0) + 1
        return True

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


def _keys_in(path: Path) -> set[tuple[str | None, int | None, str]]:
    keys: set[tuple[str | None, int | None, str]] = set()
    try:
        with path.open("rb") as handle:
            for raw in handle:
                try:
                    line = json.loads(raw)
                except ValueError:
                    continue  # a line torn by a crash
                if isinstance(line, dict):
                    keys.add((line.get("file"), line.get("line"), str(line.get("status"))))
    except FileNotFoundError:
        pass
    return keys


def _ends_torn(path: Path) -> bool:
    with path.open("rb") as handle:
        if handle.seek(0, 2) == 0:
            return False
        handle.seek(-1, 2)
        return handle.read(1) != b"\n"
