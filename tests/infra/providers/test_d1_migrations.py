"""D1Migrations: the provider against a local fake of D1's query API over real sqlite3 files."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pulumi
import pytest
from pulumi.dynamic.dynamic import serialize_provider
from pulumi.runtime.rpc import UNKNOWN

from cronflare.pulumi.providers.d1_migrations import (
    CREATE_MIGRATIONS_TABLE,
    PROVIDER_VERSION,
    D1MigrationError,
    D1Migrations,
    D1MigrationsArgs,
    D1MigrationsProvider,
    migration_files,
)
from tests import ROOT
from tests.infra.providers.d1_api import ACCOUNT, TOKEN, FakeD1, serve

MIGRATIONS = ROOT / "worker_src" / "migrations"
REAL = MIGRATIONS / "0001_runs.sql"
REAL_NAMES = sorted(p.name for p in MIGRATIONS.glob("*.sql"))
# What migrations/0008 stores, then what it computes as a row is read (VIRTUAL generated columns).
RUNS_COLUMNS = [
    "execution_id",
    "scheduled_ms",
    "trigger",
    "status",
    "attempts",
    "call_id",
    "last_error",
    "updated_after",
    "started_after",
    "finished_after",
    "args",
    "result",
]
RUNS_COMPUTED = ["job", "scheduled_time", "updated_at", "started_at", "finished_at"]
# wrangler's own DDL, verbatim (workers-sdk packages/wrangler/src/d1/migrations/helpers.ts).
WRANGLER_DDL = """CREATE TABLE IF NOT EXISTS d1_migrations(
\t\tid         INTEGER PRIMARY KEY AUTOINCREMENT,
\t\tname       TEXT UNIQUE,
\t\tapplied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL
);"""


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeD1]:
    """The fake API, with this process's environment pointing the provider at it."""
    with serve(tmp_path) as server:
        monkeypatch.setenv("CLOUDFLARE_API_TOKEN", TOKEN)
        monkeypatch.setenv("CLOUDFLARE_API_BASE_URL", server.url)
        yield server


@pytest.fixture
def provider() -> D1MigrationsProvider:
    """A provider that retries without waiting."""
    return D1MigrationsProvider(retry_delays=(0.0, 0.0, 0.0))


def props(database_id: str, folder: Path = MIGRATIONS, **overrides: Any) -> dict[str, Any]:
    """Inputs as the engine hands them to the provider, serialized provider key included."""
    return {
        "account_id": ACCOUNT,
        "database_id": database_id,
        "migrations": migration_files(folder),
        "migrations_dir": str(folder),
        "version": PROVIDER_VERSION,
        "__provider": "serialized",
        **overrides,
    }


def folder_with(tmp_path: Path, **files: str) -> Path:
    """A migrations folder: the real 0001_runs.sql plus `files` (name without .sql: SQL)."""
    folder = tmp_path / "migrations"
    folder.mkdir(exist_ok=True)
    shutil.copy(REAL, folder / REAL.name)
    for stem, sql in files.items():
        (folder / f"{stem}.sql").write_text(sql)
    return folder


def rows(fake: FakeD1, database_id: str) -> list[str]:
    """The names in the database's d1_migrations table, in id order."""
    with fake.connect(database_id) as conn:
        return [r[0] for r in conn.execute("SELECT name FROM d1_migrations ORDER BY id")]


def tables(fake: FakeD1, database_id: str) -> set[str]:
    """The database's table, index and trigger names."""
    with fake.connect(database_id) as conn:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}


def applies(fake: FakeD1) -> list[str]:
    """Which migration each request applied, by the name its INSERT records."""
    recorded = r"INSERT INTO d1_migrations \(name\) VALUES \('([^']+)'\)"
    return re.findall(recorded, "\n".join(fake.queries()))


def sha(text: str) -> str:
    """The sha256 of some text, as migration_files computes it."""
    return hashlib.sha256(text.encode()).hexdigest()


def test_migration_files_lists_the_folder_in_order_with_digests():
    """migration_files gives each NNNN_name.sql file's name and sha256, in order."""
    files = migration_files()
    assert [f["name"] for f in files] == REAL_NAMES
    assert files[0] == {"name": REAL.name, "sha256": hashlib.sha256(REAL.read_bytes()).hexdigest()}


def test_migration_files_refuses_a_misnamed_sql_file(tmp_path: Path):
    """A .sql file that is not NNNN_name.sql is an error, never silently skipped."""
    folder = folder_with(tmp_path, **{"2-Add-Tags": "SELECT 1;"})
    with pytest.raises(D1MigrationError, match=r"2-Add-Tags\.sql: name migration files NNNN_"):
        migration_files(folder)


def test_create_applies_the_real_migrations_and_records_them(
    fake: FakeD1, provider: D1MigrationsProvider
):
    """The real worker_src/migrations build the Worker's schema, one d1_migrations row each."""
    db = fake.create_database()
    result = provider.create(props(db))

    schema = tables(fake, db)
    assert {"runs", "scheduler_state", "d1_migrations", "paused_jobs", "counters"} <= schema
    indexes = {"runs_by_scheduled", "runs_trouble", "runs_job_trouble", "runs_watch"}
    assert indexes <= schema
    # 0006 and 0008 keep the old log's succeeded runs aside, each with the index that prunes them.
    assert {"runs_before_0006", "runs_time", "runs_before_0008", "runs_by_time"} <= schema
    gone = {"runs_status", "runs_updated", "runs_new", "runs_job_time", "runs_in_flight"}
    assert not gone & schema
    assert "runs_end" in schema  # the trigger that keeps the counters
    with fake.connect(db) as conn:
        assert [c[1] for c in conn.execute("PRAGMA table_info(runs)")] == RUNS_COLUMNS
        xinfo = [(c[1], c[6]) for c in conn.execute("PRAGMA table_xinfo(runs)")]
        assert xinfo[len(RUNS_COLUMNS) :] == [(name, 2) for name in RUNS_COMPUTED]  # 2: VIRTUAL
        rows = conn.execute("SELECT * FROM d1_migrations ORDER BY id").fetchall()
    assert [(row_id, name) for row_id, name, _ in rows] == list(enumerate(REAL_NAMES, 1))
    assert all(applied_at for _, _, applied_at in rows)
    assert result.id == db
    assert result.outs is not None
    assert result.outs["applied"] == migration_files()
    assert result.outs["applied_count"] == len(REAL_NAMES)
    assert result.outs["database_id"] == db
    assert applies(fake) == REAL_NAMES


def test_each_file_and_its_record_travel_in_one_request(
    fake: FakeD1, provider: D1MigrationsProvider
):
    """A file's statements and its d1_migrations INSERT are one request, without params."""
    db = fake.create_database()
    provider.create(props(db))
    [request] = [r for r in fake.received if r.body and "0001_runs.sql');" in r.body["sql"]]
    assert request.body is not None and "params" not in request.body
    assert "INSERT INTO d1_migrations (name) VALUES ('0001_runs.sql');" in request.body["sql"]
    assert request.authorization == f"Bearer {TOKEN}"


def test_the_table_is_the_one_wrangler_and_the_local_runner_create(tmp_path: Path):
    """d1_migrations has wrangler's columns and constraints, and runner.mjs's, exactly."""
    runner = (ROOT / "worker_src" / "local" / "runner.mjs").read_text()
    runner_ddl = re.search(r'"(CREATE TABLE IF NOT EXISTS d1_migrations[^"]+)"', runner)
    assert runner_ddl, "runner.mjs no longer creates d1_migrations where this test looks"

    def shape(ddl: str) -> tuple[list[Any], list[Any]]:
        conn = sqlite3.connect(":memory:")
        conn.execute(ddl)
        columns = conn.execute("PRAGMA table_info(d1_migrations)").fetchall()
        indexes = conn.execute("PRAGMA index_list(d1_migrations)").fetchall()
        return columns, [i[2:] for i in indexes]  # unique, origin, partial

    assert shape(CREATE_MIGRATIONS_TABLE) == shape(WRANGLER_DDL) == shape(runner_ddl.group(1))


def test_a_second_update_with_the_same_files_applies_nothing(
    fake: FakeD1, provider: D1MigrationsProvider
):
    """Nothing is applied twice: the same files again is no change and no migration run."""
    db = fake.create_database()
    outs = provider.create(props(db)).outs
    assert outs is not None
    assert provider.diff(db, outs, props(db)).changes is False

    again = provider.update(db, outs, props(db)).outs
    assert again is not None and again["applied"] == outs["applied"]
    assert applies(fake) == REAL_NAMES
    assert rows(fake, db) == REAL_NAMES


def test_a_new_file_is_applied_alone(fake: FakeD1, provider: D1MigrationsProvider, tmp_path: Path):
    """Adding 0002_x.sql applies 0002_x.sql only, after 0001."""
    db = fake.create_database()
    folder = folder_with(tmp_path)
    outs = provider.create(props(db, folder)).outs
    assert outs is not None
    (folder / "0002_tags.sql").write_text("ALTER TABLE runs ADD COLUMN tags TEXT;\n-- trailing\n")

    assert provider.diff(db, outs, props(db, folder)).changes is True
    new = provider.update(db, outs, props(db, folder)).outs
    assert new is not None
    assert applies(fake) == ["0001_runs.sql", "0002_tags.sql"]
    assert rows(fake, db) == ["0001_runs.sql", "0002_tags.sql"]
    assert [m["name"] for m in new["applied"]] == ["0001_runs.sql", "0002_tags.sql"]
    assert new["applied_count"] == 2


def test_an_edited_applied_file_is_an_error_and_nothing_is_applied(
    fake: FakeD1, provider: D1MigrationsProvider, tmp_path: Path
):
    """Editing an applied file fails in diff and update, naming both digests; nothing runs."""
    db = fake.create_database()
    folder = folder_with(tmp_path)
    outs = provider.create(props(db, folder)).outs
    assert outs is not None
    old = outs["applied"][0]["sha256"]
    edited = REAL.read_text() + "CREATE INDEX runs_call ON runs (call_id);\n"
    (folder / REAL.name).write_text(edited)
    (folder / "0002_more.sql").write_text("CREATE TABLE more (x TEXT);\n")
    sent = len(fake.received)

    for call in (
        lambda: provider.diff(db, outs, props(db, folder)),
        lambda: provider.update(db, outs, props(db, folder)),
    ):
        with pytest.raises(D1MigrationError) as error:
            call()
        message = str(error.value)
        assert "0001_runs.sql" in message and old in message and sha(edited) in message
        assert "add a new migration instead (0003_" in message
    assert len(fake.received) == sent
    assert rows(fake, db) == ["0001_runs.sql"] and "more" not in tables(fake, db)


def test_a_removed_or_out_of_order_file_is_an_error(
    fake: FakeD1, provider: D1MigrationsProvider, tmp_path: Path
):
    """An applied file gone from the folder, or a new file numbered before it, is refused."""
    db = fake.create_database()
    folder = folder_with(tmp_path, **{"0005_five": "CREATE TABLE five (x);"})
    outs = provider.create(props(db, folder)).outs
    assert outs is not None

    (folder / "0003_three.sql").write_text("CREATE TABLE three (x);")
    with pytest.raises(D1MigrationError, match=r"0003_three.sql sort before the applied 0005"):
        provider.update(db, outs, props(db, folder))
    (folder / "0003_three.sql").unlink()
    (folder / "0005_five.sql").unlink()
    with pytest.raises(D1MigrationError, match=r"0005_five.sql was applied .* restore the file"):
        provider.update(db, outs, props(db, folder))
    assert rows(fake, db) == ["0001_runs.sql", "0005_five.sql"]


def test_a_file_changed_since_the_program_read_it_is_refused(
    fake: FakeD1, provider: D1MigrationsProvider, tmp_path: Path
):
    """The provider checks each file's sha256 against its input before sending anything."""
    db = fake.create_database()
    folder = folder_with(tmp_path)
    inputs = props(db, folder)
    (folder / REAL.name).write_text("DROP TABLE everything;")
    with pytest.raises(D1MigrationError, match="changed after the program read it"):
        provider.create(inputs)
    assert fake.received == []


def test_an_sql_error_names_the_file_and_cloudflare_code_and_message(
    fake: FakeD1, provider: D1MigrationsProvider, tmp_path: Path
):
    """A 400 from D1 is an error with the file, Cloudflare's code and SQLite's message."""
    db = fake.create_database()
    folder = folder_with(tmp_path, **{"0002_typo": "CREATE TABLE ok (x);\nSELEC oops;"})
    with pytest.raises(D1MigrationError) as error:
        provider.create(props(db, folder))
    message = str(error.value)
    assert "applying 0002_typo.sql" in message
    assert "HTTP 400: [7500]" in message and "syntax error" in message
    assert "applied now: 0001_runs.sql; failed: 0002_typo.sql" in message


@pytest.mark.parametrize("status", [401, 403])
def test_a_refused_token_is_an_error_that_names_the_variable_and_scope(
    fake: FakeD1, provider: D1MigrationsProvider, monkeypatch: pytest.MonkeyPatch, status: int
):
    """401/403 say which variable holds the token and the scope it needs."""
    db = fake.create_database()
    fake.bad_token_status = status
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", "not-the-token")
    with pytest.raises(D1MigrationError) as error:
        provider.create(props(db))
    message = str(error.value)
    assert "refused the token in CLOUDFLARE_API_TOKEN" in message
    assert "Account · D1 · Edit" in message
    assert f"HTTP {status}: [10000] Authentication error" in message
    assert "not-the-token" not in message


def test_an_unknown_database_is_a_404_error(fake: FakeD1, provider: D1MigrationsProvider):
    """A database id the account lacks is an error naming the id and the account."""
    with pytest.raises(D1MigrationError) as error:
        provider.create(props("00000000-0000-0000-0000-000000000000"))
    message = str(error.value)
    assert "00000000-0000-0000-0000-000000000000 was not found in account" in message
    assert "HTTP 404: [7404]" in message


def test_5xx_is_retried_then_succeeds(fake: FakeD1, provider: D1MigrationsProvider):
    """Two 5xx answers, one an HTML gateway page, are retried; then everything applies."""
    db = fake.create_database()
    fake.fail_next, fake.fail_status, fake.fail_html = 2, 502, True
    provider.create(props(db))
    assert rows(fake, db) == REAL_NAMES


def test_5xx_that_persists_fails_after_the_retries(
    fake: FakeD1, provider: D1MigrationsProvider, tmp_path: Path
):
    """An outage on one file: four attempts, then an error saying what was and was not applied."""
    db = fake.create_database()
    folder = folder_with(tmp_path, **{"0002_slow": "CREATE TABLE slow (x); -- OUTAGE"})
    fake.fail_on["OUTAGE"] = 503
    with pytest.raises(D1MigrationError) as error:
        provider.create(props(db, folder))
    message = str(error.value)
    assert "did not answer successfully" in message and "after 4 attempts" in message
    assert "applied now: 0001_runs.sql; failed: 0002_slow.sql" in message
    assert applies(fake).count("0002_slow.sql") == 4
    assert rows(fake, db) == ["0001_runs.sql"]


def test_a_network_error_is_retried(fake: FakeD1, provider: D1MigrationsProvider):
    """A dropped connection is retried like a 5xx."""
    db = fake.create_database()
    fake.drop_next = 1
    provider.create(props(db))
    assert rows(fake, db) == REAL_NAMES


def test_a_lost_answer_after_commit_does_not_apply_the_file_twice(
    fake: FakeD1, provider: D1MigrationsProvider, tmp_path: Path
):
    """When a 5xx hides a commit, the table says so and the file is not sent again."""
    db = fake.create_database()
    folder = folder_with(tmp_path)
    outs = provider.create(props(db, folder)).outs
    assert outs is not None
    (folder / "0002_once.sql").write_text("CREATE TABLE once (x);")
    fake.commit_then_fail_next = 1
    provider.update(db, outs, props(db, folder))
    assert applies(fake) == ["0001_runs.sql", "0002_once.sql"]
    assert rows(fake, db) == ["0001_runs.sql", "0002_once.sql"]


def test_a_partial_failure_says_what_applied_and_a_rerun_applies_the_rest(
    fake: FakeD1, provider: D1MigrationsProvider, tmp_path: Path
):
    """File 2 applied, file 3 failed and rolled back; the next run applies file 3 only."""
    db = fake.create_database()
    broken = "CREATE TABLE three (x);\nINSERT INTO nowhere VALUES (1);\n"
    folder = folder_with(
        tmp_path,
        **{"0002_two": "CREATE TABLE two (x);", "0003_three": broken, "0004_four": "SELECT 1;"},
    )
    with pytest.raises(D1MigrationError) as error:
        provider.create(props(db, folder))
    message = str(error.value)
    assert "applied now: 0001_runs.sql, 0002_two.sql; failed: 0003_three.sql" in message
    assert "not attempted: 0004_four.sql" in message and "no such table: nowhere" in message
    assert rows(fake, db) == ["0001_runs.sql", "0002_two.sql"]
    assert "three" not in tables(fake, db), "the failed file's first statement was rolled back"

    (folder / "0003_three.sql").write_text("CREATE TABLE three (x);\n")
    outs = provider.create(props(db, folder)).outs
    assert outs is not None and outs["applied_count"] == 4
    assert applies(fake) == [
        "0001_runs.sql", "0002_two.sql", "0003_three.sql", "0003_three.sql", "0004_four.sql"
    ]  # fmt: skip
    assert rows(fake, db) == ["0001_runs.sql", "0002_two.sql", "0003_three.sql", "0004_four.sql"]


def test_a_missing_token_is_a_clear_error(
    fake: FakeD1, provider: D1MigrationsProvider, monkeypatch: pytest.MonkeyPatch
):
    """Without CLOUDFLARE_API_TOKEN, create and read say so before any request."""
    monkeypatch.delenv("CLOUDFLARE_API_TOKEN")
    db = fake.create_database()
    for call in (lambda: provider.create(props(db)), lambda: provider.read(db, props(db))):
        with pytest.raises(D1MigrationError, match="CLOUDFLARE_API_TOKEN is not set"):
            call()
    assert fake.received == []


def test_no_output_holds_the_token(fake: FakeD1, provider: D1MigrationsProvider):
    """The token is in no output and not on the provider."""
    db = fake.create_database()
    result = provider.create(props(db))
    assert TOKEN not in json.dumps(result.outs)
    assert TOKEN not in json.dumps(vars(provider))


def test_check_reports_each_bad_input_by_property():
    """check() names every bad property: ids, names, order, digests, version."""
    good = sha("x")
    bad = {
        "account_id": "ABC",
        "database_id": "",
        "migrations": [
            {"name": "0002_b.sql", "sha256": good},
            {"name": "0001_a.sql", "sha256": good},
            {"name": "3_c.sql", "sha256": "f00"},
        ],
        "migrations_dir": "worker_src/migrations",
        "version": "",
    }
    failures = D1MigrationsProvider().check({}, bad).failures
    assert {f.property: f.reason for f in failures}.keys() == {
        "account_id",
        "database_id",
        "version",
        "migrations[1].name",
        "migrations[2].name",
        "migrations[2].sha256",
    }
    reasons = {f.property: f.reason for f in failures}
    assert "strictly increase" in reasons["migrations[1].name"]
    assert "32-character" in reasons["account_id"]


def test_check_accepts_good_inputs_and_unknown_preview_values():
    """Valid inputs pass, and so does a database id that is unknown until the DB exists."""
    provider = D1MigrationsProvider()
    assert provider.check({}, props("db-1")).failures == []
    result = provider.check({}, props(UNKNOWN))
    assert result.failures == [] and result.inputs["database_id"] == UNKNOWN


def test_diff_replaces_for_another_account_or_database_and_updates_otherwise(tmp_path: Path):
    """Account or database change: replace. New file or version: update. Same: no change."""
    provider = D1MigrationsProvider()
    folder = folder_with(tmp_path)
    olds = {**props("db-1", folder), "applied": migration_files(folder), "applied_count": 1}

    assert provider.diff("db-1", olds, props("db-1", folder)).changes is False
    other_db = provider.diff("db-1", olds, props("db-2", folder))
    assert (other_db.changes, other_db.replaces) == (True, ["database_id"])
    unknown_db = provider.diff("db-1", olds, props(UNKNOWN, folder))
    assert unknown_db.replaces == ["database_id"]
    other_account = provider.diff("db-1", olds, props("db-1", folder, account_id="f" * 32))
    assert other_account.replaces == ["account_id"]

    version = provider.diff("db-1", {**olds, "version": "1"}, props("db-1", folder))
    assert (version.changes, version.replaces) == (True, [])
    (folder / "0002_x.sql").write_text("SELECT 1;")
    new_file = provider.diff("db-1", olds, props("db-1", folder))
    assert (new_file.changes, new_file.replaces) == (True, [])


def test_read_returns_the_live_list_so_drift_shows(
    fake: FakeD1, provider: D1MigrationsProvider, tmp_path: Path
):
    """read() lists the table: a row applied elsewhere appears, one the DB lost disappears."""
    db = fake.create_database()
    folder = folder_with(tmp_path, **{"0002_two": "CREATE TABLE two (x);"})
    outs = provider.create(props(db, folder)).outs
    assert outs is not None
    assert provider.read(db, {**outs, "__provider": "x"}).outs == outs

    with fake.connect(db) as conn:
        conn.execute("DELETE FROM d1_migrations WHERE name = '0002_two.sql'")
        conn.execute("INSERT INTO d1_migrations (name) VALUES ('0003_by_wrangler.sql')")
    live = provider.read(db, {**outs, "__provider": "x"})
    assert live.id == db and live.outs is not None
    assert live.outs["applied"] == [
        {"name": "0001_runs.sql", "sha256": outs["applied"][0]["sha256"]},
        {"name": "0003_by_wrangler.sql", "sha256": None},
    ]
    assert live.outs["applied_count"] == 2
    with pytest.raises(D1MigrationError, match=r"0003_by_wrangler\.sql was applied"):
        provider.diff(db, live.outs, props(db, folder))

    with fake.connect(db) as conn:
        conn.execute("DELETE FROM d1_migrations WHERE name = '0003_by_wrangler.sql'")
    lost = provider.read(db, {**outs, "__provider": "x"}).outs
    assert lost is not None and lost["applied_count"] == 1
    assert provider.diff(db, lost, props(db, folder)).changes is True


def test_read_of_a_database_without_the_table_or_gone(fake: FakeD1, provider: D1MigrationsProvider):
    """A database never migrated reads as nothing applied; a deleted one reads as gone."""
    db = fake.create_database()
    empty = provider.read(db, props(db))
    assert empty.outs is not None and empty.outs["applied"] == []
    assert "d1_migrations" not in tables(fake, db), "read() never writes"
    fake.databases.pop(db)
    assert provider.read(db, props(db)).id == ""


def test_delete_leaves_the_schema_alone(fake: FakeD1, provider: D1MigrationsProvider):
    """Deleting the resource sends nothing: the tables and their rows stay."""
    db = fake.create_database()
    outs = provider.create(props(db)).outs
    assert outs is not None
    sent = len(fake.received)
    provider.delete(db, outs)
    assert len(fake.received) == sent
    assert rows(fake, db) == REAL_NAMES and "runs" in tables(fake, db)


def test_fake_refuses_params_with_several_statements_as_d1_does(fake: FakeD1):
    """The fake answers 400/7400 to params with several statements, like the real API."""
    import httpx

    db = fake.create_database()
    response = httpx.post(
        f"{fake.url}/accounts/{ACCOUNT}/d1/database/{db}/query",
        json={"sql": "SELECT ?; SELECT 2;", "params": ["1"]},
        headers={"authorization": f"Bearer {TOKEN}"},
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == 7400


def test_the_provider_works_unpickled_in_a_fresh_interpreter():
    """Serialized as Pulumi does it, the provider loads in a new process and runs check and diff."""
    blob = serialize_provider(D1MigrationsProvider())
    inputs = props("db-1")
    olds = {**inputs, "applied": inputs["migrations"], "applied_count": 1}
    script = (
        "import base64, json, sys, dill\n"
        "provider = dill.loads(base64.b64decode(sys.argv[1]))\n"
        "inputs, olds = json.loads(sys.argv[2]), json.loads(sys.argv[3])\n"
        "check = provider.check({}, inputs)\n"
        "same = provider.diff('db-1', olds, inputs)\n"
        "moved = provider.diff('db-1', olds, {**inputs, 'database_id': 'db-2'})\n"
        "print(json.dumps([type(provider).__module__, len(check.failures), same.changes,"
        " moved.replaces, provider.retry_delays]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, blob, json.dumps(inputs), json.dumps(olds)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd="/",
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [
        "cronflare.pulumi.providers.d1_migrations",
        0,
        False,
        ["database_id"],
        [1, 2, 4],
    ]


class _Mocks(pulumi.runtime.Mocks):
    def __init__(self) -> None:
        self.registered: list[pulumi.runtime.MockResourceArgs] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self.registered.append(args)
        return "db-1", {**args.inputs, "applied": args.inputs["migrations"], "applied_count": 1}

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], None]:
        return {}, None


def test_the_resource_registers_its_inputs_and_a_plain_provider():
    """D1Migrations registers the files, dir and version, and a non-secret __provider."""
    mocks = _Mocks()
    pulumi.runtime.set_mocks(mocks, project="cronflare", stack="dev", preview=False)

    @pulumi.runtime.test
    def program() -> pulumi.Output[None]:
        args = D1MigrationsArgs.from_folder(ACCOUNT, pulumi.Output.from_input("db-1"))
        resource = D1Migrations("cronflare-dev-migrations", args)

        def verify(values: list[Any]) -> None:
            applied, count, database_id = values
            assert applied == migration_files() and count == 1 and database_id == "db-1"

        return pulumi.Output.all(
            resource.applied, resource.applied_count, resource.database_id
        ).apply(verify)

    program()
    [args] = mocks.registered
    assert args.typ == "pulumi-python:dynamic/cronflare:D1Migrations"
    assert args.inputs["migrations"] == migration_files()
    assert args.inputs["migrations_dir"] == "worker_src/migrations"
    assert args.inputs["version"] == PROVIDER_VERSION
    assert isinstance(args.inputs["__provider"], str), "a secret would arrive sealed"


LIVE = {k: os.environ.get(k) for k in ("CLOUDFLARE_API_TOKEN", "CRONFLARE_LIVE_D1_DATABASE_ID")}


@pytest.mark.skipif(
    not all(LIVE.values()) or not os.environ.get("CRONFLARE_LIVE_D1_ACCOUNT_ID"),
    reason="needs a real account: set CLOUDFLARE_API_TOKEN, CRONFLARE_LIVE_D1_ACCOUNT_ID and "
    "CRONFLARE_LIVE_D1_DATABASE_ID (read-only: lists the applied migrations)",
)
def test_live_read_lists_the_applied_migrations_of_a_real_database():
    """Against Cloudflare itself, read() parses the real envelope and lists the table."""
    account = os.environ["CRONFLARE_LIVE_D1_ACCOUNT_ID"]
    database_id = LIVE["CRONFLARE_LIVE_D1_DATABASE_ID"]
    assert database_id
    result = D1MigrationsProvider().read(database_id, props(database_id, account_id=account))
    assert result.id == database_id and result.outs is not None
    assert all(re.fullmatch(r"\d{4}_.+\.sql", a["name"]) for a in result.outs["applied"])
