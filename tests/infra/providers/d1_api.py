"""A local fake of Cloudflare's D1 query endpoint over real sqlite3 files, with fault injection.

It serves `POST /client/v4/accounts/{account}/d1/database/{id}/query` with Cloudflare's v4
envelope. What it does as D1 does (per Cloudflare's API reference and D1's documented errors):

- `{"sql", "params"}` bodies; several `;`-separated statements run as one batch, and a batch is one
  SQL transaction: if a statement fails, none of the request's statements stay applied.
- `params` with more than one statement is refused (400, code 7400), as the real API refuses it.
- An SQL error is a 400 with code 7500 and SQLite's message; an unknown database is a 404 (7404);
  a missing or wrong bearer token is a 401 or 403 (10000).
- `BEGIN`/`COMMIT`/`SAVEPOINT` are refused: D1 runs its own transaction around each request.

What it does not do: D1's exact error wording, limits, read replicas, time travel. Statements are
split where sqlite3.complete_statement says one ends, so triggers with inner `;` stay whole.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
import time
import uuid
from collections.abc import Generator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, NotRequired, TypedDict, cast

ACCOUNT = "0123456789abcdef0123456789abcdef"
TOKEN = "fake-d1-token"
ROUTE = re.compile(r"^/client/v4/accounts/([^/]+)/d1/database/([^/]+)/query$")
_COMMENT_OR_STRING = re.compile(r"('(?:[^']|'')*'|\"(?:[^\"]|\"\")*\")|--[^\n]*|/\*.*?\*/", re.S)
_TRANSACTION = re.compile(r"^\s*(BEGIN|COMMIT|END|ROLLBACK|SAVEPOINT|RELEASE)\b", re.I)


def _blank(statement: str) -> bool:
    """Only comments, whitespace and semicolons: SQLite would run nothing."""
    code = _COMMENT_OR_STRING.sub(lambda m: m.group(1) or " ", statement)
    return not code.strip(" \t\r\n;")


def split_statements(sql: str) -> list[str]:
    """The statements of a script, cut where SQLite itself would end each one."""
    statements: list[str] = []
    current = ""
    for char in sql:
        current += char
        if char == ";" and sqlite3.complete_statement(current):
            statements.append(current)
            current = ""
    statements.append(current)
    return [s.strip() for s in statements if not _blank(s)]


class QueryBody(TypedDict):
    """The query endpoint's request body."""

    sql: str
    params: NotRequired[list[object]]


@dataclass
class Received:
    """One request as the fake saw it."""

    path: str
    authorization: str | None
    body: QueryBody | None  # None: not a {"sql", "params"} JSON body


@dataclass
class FakeD1:
    """The server's state: databases, faults to inject, and every request received."""

    url: str
    root: Path
    token: str = TOKEN
    account_id: str = ACCOUNT
    databases: dict[str, Path] = field(default_factory=dict[str, Path])
    received: list[Received] = field(default_factory=list[Received])
    # Faults, consumed in this order: drop the connection, answer 5xx, commit then answer 5xx.
    drop_next: int = 0
    fail_next: int = 0
    fail_status: int = 500
    fail_html: bool = False
    commit_then_fail_next: int = 0
    bad_token_status: int = 403
    # SQL containing a marker gets that status (400: an SQL error; 5xx: a persistent outage).
    fail_on: dict[str, int] = field(default_factory=dict[str, int])
    lock: threading.Lock = field(default_factory=threading.Lock)

    def create_database(self) -> str:
        """A new empty database; its id, a uuid like D1's."""
        database_id = str(uuid.uuid4())
        self.databases[database_id] = self.root / f"{database_id}.sqlite"
        sqlite3.connect(self.databases[database_id]).close()
        return database_id

    def connect(self, database_id: str) -> sqlite3.Connection:
        """A direct connection, to inspect or tamper with a database behind the API's back."""
        return sqlite3.connect(self.databases[database_id], isolation_level=None)

    def queries(self) -> list[str]:
        """The SQL of every well-formed request, in order."""
        return [r.body["sql"] for r in self.received if r.body is not None]

    def handle(self, path: str, authorization: str | None, raw: bytes) -> tuple[int, Any] | None:
        """The status and JSON body for a request, or None to drop the connection."""
        body = _query_body(raw)
        with self.lock:
            self.received.append(Received(path, authorization, body))
            if self.drop_next:
                self.drop_next -= 1
                return None
            if self.fail_next:
                self.fail_next -= 1
                if self.fail_html:
                    return self.fail_status, "<html><body>502 Bad Gateway</body></html>"
                return self.fail_status, _error(7500, "Internal error")
            if authorization is None:
                return 401, _error(10000, "Authentication error")
            if authorization != f"Bearer {self.token}":
                return self.bad_token_status, _error(10000, "Authentication error")
            route = ROUTE.match(path)
            if not route:
                return 404, _error(7003, "Could not route to the requested path")
            account, database_id = route.groups()
            if account != self.account_id or database_id not in self.databases:
                return 404, _error(7404, f"The database {database_id} could not be found")
            if body is None:
                return 400, _error(7400, "The request is malformed: sql is required")
            sql, params = body["sql"], body.get("params", [])
            for marker, status in self.fail_on.items():
                if marker in sql and status >= 500:
                    return status, _error(7500, "Internal error")
                if marker in sql:
                    return status, _error(7500, f"fault injected on {marker!r}: SQLITE_ERROR")
            statements = split_statements(sql)
            if params and len(statements) > 1:
                return 400, _error(
                    7400,
                    "The request is malformed: params with multiple statements is not supported",
                )
            status, out = self._run(database_id, statements, params)
            if self.commit_then_fail_next and status == 200:
                self.commit_then_fail_next -= 1
                return 500, _error(7500, "Internal error")
            return status, out

    def _run(
        self, database_id: str, statements: list[str], params: list[object]
    ) -> tuple[int, Any]:
        conn = self.connect(database_id)
        conn.row_factory = sqlite3.Row
        results: list[dict[str, Any]] = []
        try:
            conn.execute("BEGIN")
            for statement in statements:
                if _TRANSACTION.match(statement):
                    raise sqlite3.OperationalError(
                        "transaction statements are not supported: D1 runs each request in its "
                        "own transaction"
                    )
                started, before = time.perf_counter(), conn.total_changes
                cursor = conn.execute(statement, params)
                rows = [dict(row) for row in cursor.fetchall()]
                changes = conn.total_changes - before
                results.append(
                    {
                        "results": rows,
                        "success": True,
                        "meta": {
                            "changed_db": changes > 0 or cursor.description is None,
                            "changes": changes,
                            "duration": (time.perf_counter() - started) * 1000,
                            "last_row_id": cursor.lastrowid or 0,
                            "rows_read": len(rows),
                            "rows_written": changes,
                        },
                    }
                )
            conn.execute("COMMIT")
        except sqlite3.Error as e:
            conn.execute("ROLLBACK")
            return 400, _error(7500, f"{e}: SQLITE_ERROR")
        finally:
            conn.close()
        return 200, {"success": True, "errors": [], "messages": [], "result": results}


def _query_body(raw: bytes) -> QueryBody | None:
    """The request's {"sql", "params"}, or None when it is not one."""
    try:
        data: object = json.loads(raw or b"null")
    except json.JSONDecodeError:
        return None
    if not isinstance(data, dict):
        return None
    fields = cast("dict[str, object]", data)
    sql, params = fields.get("sql"), fields.get("params")
    if not isinstance(sql, str):
        return None
    if params is None:
        return {"sql": sql}
    if not isinstance(params, list):
        return None
    return {"sql": sql, "params": list(cast("list[object]", params))}


def _error(code: int, message: str) -> dict[str, Any]:
    return {
        "success": False,
        "errors": [{"code": code, "message": message}],
        "messages": [],
        "result": None,
    }


@contextmanager
def serve(root: Path) -> Generator[FakeD1, None, None]:
    """Run the fake on 127.0.0.1 in a thread; its `url` is the API base (…/client/v4)."""
    state: dict[str, FakeD1] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("content-length") or 0))
            answer = state["fake"].handle(self.path, self.headers.get("authorization"), raw)
            if answer is None:
                self.close_connection = True
                self.connection.close()
                return
            status, out = answer
            data = (out if isinstance(out, str) else json.dumps(out)).encode()
            self.send_response(status)
            kind = "text/html" if isinstance(out, str) else "application/json"
            self.send_header("content-type", kind)
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    url = f"http://127.0.0.1:{httpd.server_address[1]}/client/v4"
    state["fake"] = FakeD1(url=url, root=root)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield state["fake"]
    finally:
        httpd.shutdown()
        httpd.server_close()
