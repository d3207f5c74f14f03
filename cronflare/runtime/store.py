"""The dispatcher's memory: which execution ids were spawned (idempotency), the latest call of
each job or runtime schedule (concurrency), and how many attempts a run has had. SQLite locally,
a modal.Dict on Modal.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, NamedTuple, Protocol

PENDING = "pending"


class LastCall(NamedTuple):
    """The latest spawned call of a concurrency key: enough to cancel it and to report why."""

    call_id: str
    execution_id: str
    callback_url: str


class Store(Protocol):
    """What the dispatcher and the job wrapper need to remember between requests."""

    def claim(self, execution_id: str) -> bool:
        """Atomically claim an id: True for the first caller only."""
        ...

    def release(self, execution_id: str) -> None:
        """Forget a claim whose spawn failed, so that a retry can spawn it."""
        ...

    def reclaim_skipped(self, execution_id: str) -> bool:
        """Claim again an id whose first answer was `skipped` (nothing ran): True for one caller."""
        ...

    def set_result(self, execution_id: str, status: str, call_id: str | None) -> None: ...

    def result(self, execution_id: str) -> tuple[str, str | None] | None:
        """(status, call_id) of a claimed id; status is "pending" until set_result."""
        ...

    def last_call(self, job: str) -> LastCall | None:
        """The latest spawned call of a job, or of a runtime schedule ("job@schedule"), with the
        run it belongs to.
        """
        ...

    def set_last_call(self, job: str, call: LastCall) -> None: ...

    def next_attempt(self, execution_id: str) -> int:
        """Count one more attempt of a run's body and return its number, from 1."""
        ...

    def mark(self, flag: str) -> None:
        """Remember that something happened once, for good (such as the first v2 dispatch)."""
        ...

    def marked(self, flag: str) -> bool: ...


def wait_for_result(
    store: Store, execution_id: str, timeout: float = 5.0
) -> tuple[str, str | None]:
    """The result of an id another request claimed, waiting briefly while its spawn completes."""
    deadline = time.monotonic() + timeout
    while True:
        found = store.result(execution_id) or (PENDING, None)
        if found[0] != PENDING or time.monotonic() >= deadline:
            return found
        time.sleep(0.01)


class SqliteStore:
    """A Store in one SQLite file, safe across threads and processes (the local stack)."""

    def __init__(self, path: str | Path):
        self.path = str(path)
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(
            self.path, check_same_thread=False, isolation_level=None, timeout=30
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # durable enough for a local stack
        self._db.executescript(
            """CREATE TABLE IF NOT EXISTS claims (id TEXT PRIMARY KEY, status TEXT, call_id TEXT);
            CREATE TABLE IF NOT EXISTS last_calls (job TEXT PRIMARY KEY, call_id TEXT,
                execution_id TEXT, callback_url TEXT);
            CREATE TABLE IF NOT EXISTS attempts (id TEXT PRIMARY KEY, n INTEGER)"""
        )

    def _run(self, sql: str, *args: Any) -> sqlite3.Cursor:
        with self._lock:
            return self._db.execute(sql, args)

    def claim(self, execution_id: str) -> bool:
        cur = self._run("INSERT OR IGNORE INTO claims VALUES (?, ?, NULL)", execution_id, PENDING)
        return cur.rowcount == 1

    def release(self, execution_id: str) -> None:
        self._run("DELETE FROM claims WHERE id = ?", execution_id)

    def reclaim_skipped(self, execution_id: str) -> bool:
        cur = self._run(
            "UPDATE claims SET status = ?, call_id = NULL WHERE id = ? AND status = 'skipped'",
            PENDING,
            execution_id,
        )
        return cur.rowcount == 1

    def set_result(self, execution_id: str, status: str, call_id: str | None) -> None:
        self._run(
            "UPDATE claims SET status = ?, call_id = ? WHERE id = ?", status, call_id, execution_id
        )

    def result(self, execution_id: str) -> tuple[str, str | None] | None:
        row = self._run("SELECT status, call_id FROM claims WHERE id = ?", execution_id).fetchone()
        return (row[0], row[1]) if row else None

    def last_call(self, job: str) -> LastCall | None:
        row = self._run(
            "SELECT call_id, execution_id, callback_url FROM last_calls WHERE job = ?", job
        ).fetchone()
        return LastCall(*row) if row else None

    def set_last_call(self, job: str, call: LastCall) -> None:
        self._run("INSERT OR REPLACE INTO last_calls VALUES (?, ?, ?, ?)", job, *call)

    def next_attempt(self, execution_id: str) -> int:
        self._run(
            "INSERT INTO attempts VALUES (?, 1) ON CONFLICT(id) DO UPDATE SET n = n + 1",
            execution_id,
        )
        return self._run("SELECT n FROM attempts WHERE id = ?", execution_id).fetchone()[0]

    def mark(self, flag: str) -> None:
        self._run("INSERT OR IGNORE INTO claims VALUES (?, 'flag', NULL)", f"flag:{flag}")

    def marked(self, flag: str) -> bool:
        return self.result(f"flag:{flag}") is not None


class ModalDictStore:
    """A Store in a named modal.Dict, shared by the dispatcher and the job functions on Modal."""

    def __init__(self, name: str, environment_name: str | None = None):
        import modal  # only on Modal, or where credentials exist

        self._dict = modal.Dict.from_name(
            name, environment_name=environment_name, create_if_missing=True
        )

    def claim(self, execution_id: str) -> bool:
        return bool(self._dict.put(f"run:{execution_id}", (PENDING, None), skip_if_exists=True))

    def release(self, execution_id: str) -> None:
        self._dict.pop(f"run:{execution_id}", None)

    def reclaim_skipped(self, execution_id: str) -> bool:
        # A Dict has no compare-and-set: pop the skipped answer, then claim as a new id would.
        found = self._dict.get(f"run:{execution_id}")
        if not found or found[0] != "skipped":
            return False
        self._dict.pop(f"run:{execution_id}", None)
        return self.claim(execution_id)

    def set_result(self, execution_id: str, status: str, call_id: str | None) -> None:
        self._dict.put(f"run:{execution_id}", (status, call_id))

    def result(self, execution_id: str) -> tuple[str, str | None] | None:
        found = self._dict.get(f"run:{execution_id}")
        return tuple(found) if found else None  # type: ignore[return-value]

    def last_call(self, job: str) -> LastCall | None:
        found = self._dict.get(f"last:{job}")
        return LastCall(*found) if found else None

    def set_last_call(self, job: str, call: LastCall) -> None:
        self._dict.put(f"last:{job}", tuple(call))

    def next_attempt(self, execution_id: str) -> int:
        # One input's attempts run one after another, so read-then-write cannot race here.
        n = int(self._dict.get(f"attempt:{execution_id}", 0)) + 1
        self._dict.put(f"attempt:{execution_id}", n)
        return n

    def mark(self, flag: str) -> None:
        self._dict.put(f"flag:{flag}", True)

    def marked(self, flag: str) -> bool:
        return bool(self._dict.get(f"flag:{flag}"))
