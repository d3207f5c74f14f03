"""D1Migrations: a Pulumi dynamic resource that applies the Worker's migrations to a D1 database."""

from __future__ import annotations

import hashlib
import os
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self, TypeVar, cast

import httpx
import pulumi
import pulumi.dynamic
from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    CreateResult,
    DiffResult,
    ReadResult,
    ResourceProvider,
    UpdateResult,
)
from pulumi.runtime.rpc import UNKNOWN
from pydantic import BaseModel, ValidationError

from cronflare.bundle import worker_files
from cronflare.pulumi.providers import project_root

# Bump on any change to how the provider applies or records migrations. The provider is pickled
# by reference (it lives in an importable module), so its code changing does not change its
# serialized form; this input is what makes Pulumi see a provider change as an update.
# 2: the module moved from infra.providers to cronflare.pulumi.providers. Only an update stores
# the new reference in the resource's outputs, which refresh and destroy unpickle.
PROVIDER_VERSION = "2"
# The Worker's own migrations, wherever worker_files() finds them (worker_src/ in a checkout, the
# wheel's copy installed): a name, not a path, so the state holds the same on every machine.
DEFAULT_MIGRATIONS_DIR = "worker_src/migrations"
TOKEN_ENV = "CLOUDFLARE_API_TOKEN"
BASE_URL_ENV = "CLOUDFLARE_API_BASE_URL"
DEFAULT_BASE_URL = "https://api.cloudflare.com/client/v4"
MIGRATIONS_TABLE = "d1_migrations"
# wrangler's DDL (workers-sdk packages/wrangler/src/d1/migrations/helpers.ts, initMigrationsTable)
# with its whitespace folded: the same columns and constraints, so `wrangler d1 migrations list`
# and worker_src/local/runner.mjs read and write the same rows.
CREATE_MIGRATIONS_TABLE = (
    f"CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE}("
    "id INTEGER PRIMARY KEY AUTOINCREMENT, "
    "name TEXT UNIQUE, "
    "applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL)"
)
NAME = re.compile(r"[0-9]{4}_[a-z0-9_]+\.sql")
SHA256 = re.compile(r"[0-9a-f]{64}")
ACCOUNT_ID = re.compile(r"[0-9a-f]{32}")
# Two databases or accounts never share a migration history: a change of either is a replace.
IDENTITY = ("account_id", "database_id")
UPDATING = ("migrations", "migrations_dir", "version")
RETRY_DELAYS = (1.0, 2.0, 4.0)
TIMEOUT = httpx.Timeout(60.0, connect=10.0)

T = TypeVar("T")


class D1MigrationError(Exception):
    """A migration cannot be applied or recorded; the message says what to do."""


def _resolve(folder: str | Path) -> Path:
    if str(folder) == DEFAULT_MIGRATIONS_DIR:
        return worker_files().migrations
    return project_root() / folder


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def migration_files(folder: str | Path = DEFAULT_MIGRATIONS_DIR) -> list[dict[str, str]]:
    """The NNNN_name.sql files of a folder (the Worker's, by default; another is relative to the
    project root), in order, with sha256.
    """
    path = _resolve(folder)
    if not path.is_dir():
        raise D1MigrationError(f"no migrations folder at {path}")
    files: list[dict[str, str]] = []
    for file in sorted(path.glob("*.sql")):
        if not NAME.fullmatch(file.name):
            # A misnamed file would otherwise be skipped and never reach the database.
            raise D1MigrationError(
                f"{file}: name migration files NNNN_lowercase_words.sql, like 0002_add_tags.sql"
            )
        files.append({"name": file.name, "sha256": _sha256(file.read_bytes())})
    numbers = [f["name"][:4] for f in files]
    if len(set(numbers)) != len(numbers):
        raise D1MigrationError(f"{path}: two migration files share a number: {numbers}")
    return files


def _unknown(value: Any) -> bool:
    return value == UNKNOWN


def _as_list(value: object) -> list[Any] | None:
    return list(cast("Sequence[Any]", value)) if isinstance(value, list | tuple) else None


def _as_mapping(value: object) -> Mapping[str, Any] | None:
    return cast("Mapping[str, Any]", value) if isinstance(value, Mapping) else None


def check_inputs(props: Mapping[str, Any]) -> list[CheckFailure]:
    """Every problem with the resource's inputs; values unknown during a preview pass."""
    failures: list[CheckFailure] = []

    def known(key: str) -> Any:
        value = props.get(key)
        return None if _unknown(value) else (value if value is not None else "")

    account = known("account_id")
    if account is not None and not (isinstance(account, str) and ACCOUNT_ID.fullmatch(account)):
        failures.append(
            CheckFailure(
                "account_id", "must be the 32-character lowercase hex Cloudflare account id"
            )
        )
    database = known("database_id")
    if database is not None and not (isinstance(database, str) and database.strip()):
        failures.append(CheckFailure("database_id", "must be the D1 database's id, not empty"))
    for key in ("migrations_dir", "version"):
        value = known(key)
        if value is not None and not (isinstance(value, str) and value.strip()):
            failures.append(CheckFailure(key, "must be a non-empty string"))
    migrations = known("migrations")
    if migrations is None:
        return failures
    items = _as_list(migrations)
    if items is None:
        failures.append(CheckFailure("migrations", "must be a list of {name, sha256}"))
        return failures
    previous: str | None = None
    for i, item in enumerate(items):
        at = f"migrations[{i}]"
        migration = _as_mapping(item)
        if migration is None:
            failures.append(CheckFailure(at, "must be a {name, sha256} object"))
            continue
        name, digest = migration.get("name"), migration.get("sha256")
        if not (isinstance(name, str) and NAME.fullmatch(name)):
            failures.append(
                CheckFailure(f"{at}.name", f"{name!r} is not a NNNN_lowercase_words.sql file name")
            )
        else:
            if previous is not None and name[:4] <= previous[:4]:
                failures.append(
                    CheckFailure(
                        f"{at}.name",
                        f"{name} comes after {previous}: migration numbers must strictly increase",
                    )
                )
            previous = name
        if not (isinstance(digest, str) and SHA256.fullmatch(digest)):
            failures.append(
                CheckFailure(
                    f"{at}.sha256", "must be the file's sha256: 64 lowercase hex characters"
                )
            )
    return failures


@dataclass(frozen=True)
class _Inputs:
    account_id: str
    database_id: str
    migrations: tuple[tuple[str, str], ...]  # (name, sha256)
    migrations_dir: str
    version: str

    @classmethod
    def of(cls, props: Mapping[str, Any]) -> Self:
        failures = check_inputs(props)
        if failures:
            raise D1MigrationError(
                "invalid D1Migrations inputs: "
                + "; ".join(f"{f.property}: {f.reason}" for f in failures)
            )
        return cls(
            account_id=props["account_id"],
            database_id=props["database_id"],
            migrations=tuple((m["name"], m["sha256"]) for m in props["migrations"]),
            migrations_dir=props["migrations_dir"],
            version=props["version"],
        )

    def outputs(self, applied: Sequence[Mapping[str, str | None]]) -> dict[str, Any]:
        # Diff and update get the old outputs, not the old inputs: the inputs travel along.
        return {
            "account_id": self.account_id,
            "database_id": self.database_id,
            "migrations": [{"name": n, "sha256": d} for n, d in self.migrations],
            "migrations_dir": self.migrations_dir,
            "version": self.version,
            "applied": [dict(a) for a in applied],
            "applied_count": len(applied),
        }


def _recorded(state: Mapping[str, Any]) -> dict[str, str | None]:
    """What the state says was applied: name to the digest it had then (None: applied elsewhere)."""
    entries = (_as_mapping(a) for a in _as_list(state.get("applied")) or [])
    return {a["name"]: a.get("sha256") for a in entries if a is not None}


def pending_migrations(
    migrations: Sequence[tuple[str, str]], recorded: Mapping[str, str | None]
) -> list[tuple[str, str]]:
    """The migrations still to apply, in order; raises if history was rewritten."""
    digests = dict(migrations)
    problems: list[str] = []
    next_number = int(max(digests, default="0000")[:4]) + 1
    for name, old in recorded.items():
        new = digests.get(name)
        if new is None:
            problems.append(
                f"migration {name} was applied to the database but is not in the migrations "
                "folder: applied migrations are permanent; restore the file (or deploy from the "
                "checkout that has it)"
            )
        elif old is not None and old != new:
            problems.append(
                f"migration {name} was edited after it was applied (applied sha256 {old}, file "
                f"sha256 {new}). An applied migration never runs again, so the edit would never "
                f"reach the database: restore the file and add a new migration instead "
                f"({next_number:04d}_<what_it_does>.sql)"
            )
    pending = [(n, d) for n, d in migrations if n not in recorded]
    last = max(recorded, default=None)
    if last is not None:
        early = [n for n, _ in pending if n < last]
        if early:
            problems.append(
                f"new migration(s) {', '.join(early)} sort before the applied {last}: they would "
                f"run out of order; renumber them after it ({next_number:04d}_…)"
            )
    if problems:
        raise D1MigrationError("\n".join(problems))
    return pending


def _script(name: str, sql: str) -> str:
    """One migration file and the row that records it, as one request's SQL."""
    if not NAME.fullmatch(name):
        raise D1MigrationError(f"refusing to record migration {name!r}: not a valid name")
    body = sql.rstrip()
    if not body:
        raise D1MigrationError(f"migration {name} is empty")
    # The query API refuses params with several statements, so the name is a literal, as wrangler
    # writes it; NAME admits no quote. The newline ends a trailing `--` comment.
    end = "\n" if body.endswith(";") else "\n;\n"
    return f"{body}{end}INSERT INTO {MIGRATIONS_TABLE} (name) VALUES ('{name}');"


class _ApiMessage(BaseModel):
    code: int | None = None
    message: str = ""


class _StatementResult(BaseModel):
    results: list[dict[str, Any]] = []
    success: bool = True


class _Envelope(BaseModel):
    """Cloudflare's v4 response envelope, as the D1 query endpoint fills it."""

    success: bool = False
    errors: list[_ApiMessage] = []
    messages: list[_ApiMessage] = []
    result: list[_StatementResult] | None = None


class _ApiError(D1MigrationError):
    """Cloudflare answered with a 4xx or an unsuccessful envelope: retrying will not help."""

    def __init__(self, status: int, errors: Sequence[_ApiMessage], detail: str = "") -> None:
        self.status = status
        self.errors = list(errors)
        described = "; ".join(f"[{e.code}] {e.message}" for e in self.errors) or detail
        super().__init__(f"HTTP {status}: {described or 'no error detail'}")


class _Transient(D1MigrationError):
    """A 5xx, a 429 or a network error: worth another try."""


@dataclass
class _Database:
    """One D1 database's query endpoint, for the length of one provider call."""

    account_id: str
    database_id: str
    retry_delays: tuple[float, ...]
    client: httpx.Client = field(repr=False)

    @classmethod
    def open(cls, account_id: str, database_id: str, retry_delays: tuple[float, ...]) -> Self:
        # Read per call, never stored on the provider: Pulumi pickles the provider into the state.
        token = os.environ.get(TOKEN_ENV, "").strip()
        if not token:
            raise D1MigrationError(
                f"{TOKEN_ENV} is not set: D1Migrations applies migrations through Cloudflare's "
                f"API with that token (Account · D1 · Edit). Export it before `pulumi up`; "
                f"`cloudflare:apiToken` in the stack config is read by the Cloudflare provider only"
            )
        base = os.environ.get(BASE_URL_ENV, "").strip() or DEFAULT_BASE_URL
        client = httpx.Client(
            base_url=base.rstrip("/"),
            headers={"authorization": f"Bearer {token}"},
            timeout=TIMEOUT,
        )
        return cls(account_id, database_id, retry_delays, client)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.client.close()

    def send(self, sql: str, params: Sequence[str] = ()) -> list[_StatementResult]:
        """One attempt: each statement's result, or _ApiError or _Transient."""
        body: dict[str, Any] = {"sql": sql}
        if params:
            body["params"] = list(params)
        path = f"/accounts/{self.account_id}/d1/database/{self.database_id}/query"
        try:
            response = self.client.post(path, json=body)
        except httpx.TransportError as e:
            raise _Transient(f"network error: {type(e).__name__}: {e}") from None
        try:
            envelope = _Envelope.model_validate_json(response.content)
        except ValidationError:
            envelope = None
        if response.status_code >= 500 or response.status_code == 429:
            errors = envelope.errors if envelope else []
            detail = "; ".join(f"[{e.code}] {e.message}" for e in errors)
            raise _Transient(f"HTTP {response.status_code}: {detail or response.text[:200]}")
        if envelope is None:
            raise _ApiError(
                response.status_code, [], f"not a Cloudflare response: {response.text[:200]!r}"
            )
        failed = [r for r in envelope.result or [] if not r.success]
        if response.status_code >= 400 or not envelope.success or failed:
            raise _ApiError(response.status_code, envelope.errors)
        return envelope.result or []

    def retrying(self, attempt: Callable[[], T]) -> T:
        """attempt(), again after each delay while it fails transiently."""
        for delay in self.retry_delays:
            try:
                return attempt()
            except _Transient:
                time.sleep(delay)
        try:
            return attempt()
        except _Transient as e:
            raise _Transient(f"{e} (after {len(self.retry_delays) + 1} attempts)") from None

    def query(self, sql: str, params: Sequence[str] = ()) -> list[_StatementResult]:
        """send() with retries."""
        return self.retrying(lambda: self.send(sql, params))

    def applied(self, retry: bool = True) -> list[str]:
        """The names in the migrations table, in the order they were applied; [] without one."""
        run = self.query if retry else self.send
        exists = run(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?", [MIGRATIONS_TABLE]
        )
        if not exists or not exists[0].results:
            return []
        rows = run(f"SELECT name FROM {MIGRATIONS_TABLE} ORDER BY id")
        return [str(row["name"]) for row in rows[0].results] if rows else []

    def apply(self, name: str, script: str) -> None:
        """Send one file's script (see _script): the file runs and is recorded, or neither."""
        # The query endpoint runs a request's statements as one batch, and D1 runs a batch as one
        # SQL transaction: a failing statement rolls the whole request back, the INSERT with it.
        # What no request can tell is whether a lost response (network error, 5xx) committed; so
        # before another try, the table says whether it did, and a committed file is not re-run.
        tries = 0

        def attempt() -> None:
            nonlocal tries
            tries += 1
            if tries > 1 and name in self.applied(retry=False):
                return
            self.send(script)

        self.retrying(attempt)

    def error(self, e: D1MigrationError, doing: str) -> D1MigrationError:
        """e, said in terms of this database and what the provider was doing."""
        if isinstance(e, _ApiError) and e.status in (401, 403):
            hint = (
                f"Cloudflare refused the token in {TOKEN_ENV}: it needs Account · D1 · Edit "
                f"on account {self.account_id}"
            )
        elif isinstance(e, _ApiError) and e.status == 404:
            hint = f"D1 database {self.database_id} was not found in account {self.account_id}"
        elif isinstance(e, _Transient):
            hint = "Cloudflare's API did not answer successfully; try again later"
        else:
            hint = "Cloudflare's D1 API refused the request"
        return D1MigrationError(f"{doing} on D1 database {self.database_id}: {hint} ({e})")


class D1MigrationsProvider(ResourceProvider):
    """Applies pending migration files in order and records them in the wrangler table."""

    # No secret is ever captured: the provider's serialized form may stay in plain state.
    serialize_as_secret_always = False

    def __init__(self, retry_delays: Sequence[float] = RETRY_DELAYS) -> None:
        super().__init__()
        self.retry_delays = tuple(retry_delays)

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        """Validate the ids, file names, order and digests; unknown preview values pass."""
        return CheckResult(news, check_inputs(news))

    def diff(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> DiffResult:
        """Replace for another account or database; update for new files, dir or version."""
        olds, news = _olds, _news
        replaces = [key for key in IDENTITY if olds.get(key) != news.get(key)]
        if replaces:
            return DiffResult(changes=True, replaces=replaces, delete_before_replace=False)
        changed = any(olds.get(key) != news.get(key) for key in UPDATING)
        if not _unknown(news.get("migrations")) and not check_inputs(news):
            # Raising here stops `pulumi preview` too, before anything is applied.
            pending = pending_migrations(_Inputs.of(news).migrations, _recorded(olds))
            changed = changed or bool(pending)
        return DiffResult(changes=changed, replaces=[], delete_before_replace=False)

    def create(self, props: dict[str, Any]) -> CreateResult:
        """Apply every file the database's migrations table does not list yet."""
        inputs = _Inputs.of(props)
        return CreateResult(inputs.database_id, self._apply(inputs, {}))

    def update(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> UpdateResult:
        """Apply the files added since; refuse applied files that were edited."""
        return UpdateResult(self._apply(_Inputs.of(_news), _recorded(_olds)))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """The live list of applied migrations, for `pulumi refresh`; no id if the DB is gone."""
        inputs = _Inputs.of(props)
        known = _recorded(props)
        with _Database.open(inputs.account_id, inputs.database_id, self.retry_delays) as db:
            try:
                live = db.applied()
            except _ApiError as e:
                if e.status == 404:
                    return ReadResult("", {})
                raise db.error(e, "reading the applied migrations") from None
            except _Transient as e:
                raise db.error(e, "reading the applied migrations") from None
        # A name the state lacks was applied by someone else (wrangler?): its digest is unknown.
        applied = [{"name": name, "sha256": known.get(name)} for name in live]
        return ReadResult(id_, inputs.outputs(applied))

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """Leave the schema alone: only deleting the D1Database resource drops the data."""

    def _apply(self, inputs: _Inputs, from_state: Mapping[str, str | None]) -> dict[str, Any]:
        folder = _resolve(inputs.migrations_dir)
        pending_migrations(inputs.migrations, from_state)
        sql: dict[str, str] = {}
        for name, digest in inputs.migrations:
            path = folder / name
            if not path.is_file():
                raise D1MigrationError(f"migration {name} is not in {folder}")
            data = path.read_bytes()
            if _sha256(data) != digest:
                raise D1MigrationError(
                    f"migration {path} changed after the program read it (program sha256 {digest}, "
                    f"file sha256 {_sha256(data)}): run `pulumi up` again"
                )
            sql[name] = _script(name, data.decode())

        done: list[str] = []
        with _Database.open(inputs.account_id, inputs.database_id, self.retry_delays) as db:
            try:
                db.query(CREATE_MIGRATIONS_TABLE)
                live = db.applied()
            except D1MigrationError as e:
                raise db.error(e, "reading the applied migrations") from None
            # The table is the truth about what ran; the state keeps the digests it ran with.
            recorded = {name: from_state.get(name) for name in live}
            pending = pending_migrations(inputs.migrations, recorded)
            for i, (name, _) in enumerate(pending):
                try:
                    db.apply(name, sql[name])
                except D1MigrationError as e:
                    rest = [n for n, _ in pending[i + 1 :]]
                    if isinstance(e, _Transient):
                        failed = f"{name} (no successful answer; the table tells whether it ran)"
                        then = "Run `pulumi up` again"
                    else:
                        failed = f"{name} (rolled back, not recorded)"
                        then = f"Fix {name} and run `pulumi up` again"
                    raise D1MigrationError(
                        f"{db.error(e, f'applying {name}')}\n"
                        f"applied now: {', '.join(done) or 'none'}; failed: {failed}; "
                        f"not attempted: {', '.join(rest) or 'none'}. {then}: it applies only "
                        f"the files the {MIGRATIONS_TABLE} table does not list"
                    ) from None
                done.append(name)
        # Every input file is applied now; one the state did not know is adopted with its digest.
        return inputs.outputs([{"name": n, "sha256": d} for n, d in inputs.migrations])


@dataclass(frozen=True)
class D1MigrationsArgs:
    """Which database to migrate, and the migration files (name and sha256) the program read."""

    account_id: pulumi.Input[str]
    database_id: pulumi.Input[str]
    migrations: Sequence[Mapping[str, str]]
    migrations_dir: str = DEFAULT_MIGRATIONS_DIR
    version: str = PROVIDER_VERSION

    @classmethod
    def from_folder(
        cls,
        account_id: pulumi.Input[str],
        database_id: pulumi.Input[str],
        migrations_dir: str = DEFAULT_MIGRATIONS_DIR,
    ) -> Self:
        """Args with the files of migrations_dir (the Worker's own, or relative to the project)."""
        return cls(account_id, database_id, migration_files(migrations_dir), migrations_dir)


class D1Migrations(pulumi.dynamic.Resource, module="cronflare", name="D1Migrations"):
    """The migrations of one D1 database, applied through Cloudflare's D1 query API."""

    applied: pulumi.Output[list[dict[str, Any]]]
    applied_count: pulumi.Output[int]
    database_id: pulumi.Output[str]

    def __init__(
        self, name: str, args: D1MigrationsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(
            D1MigrationsProvider(),
            name,
            {
                "account_id": args.account_id,
                "database_id": args.database_id,
                "migrations": [dict(m) for m in args.migrations],
                "migrations_dir": args.migrations_dir,
                "version": args.version,
                "applied": None,
                "applied_count": None,
            },
            opts,
        )
