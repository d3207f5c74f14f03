-- Paused jobs (POST /jobs/<name>/pause; resume deletes the row): in D1, so a pause survives deploys.
CREATE TABLE paused_jobs (
  job    TEXT PRIMARY KEY,
  reason TEXT,
  since  TEXT NOT NULL
);

-- runs.trigger accepts 'backfill'. SQLite cannot change a CHECK in place: the table is rebuilt
-- with the same columns, rows and indexes.
CREATE TABLE runs_new (
  execution_id   TEXT PRIMARY KEY,
  job            TEXT NOT NULL,
  scheduled_time TEXT NOT NULL,
  trigger        TEXT NOT NULL CHECK (trigger IN ('cron', 'catchup', 'manual', 'replay', 'backfill')),
  status         TEXT NOT NULL CHECK (status IN ('queued', 'dispatched', 'running', 'succeeded', 'failed', 'dead', 'skipped')),
  attempts       INTEGER NOT NULL DEFAULT 0,
  call_id        TEXT,
  last_error     TEXT,
  created_at     TEXT NOT NULL,
  updated_at     TEXT NOT NULL,
  started_at     TEXT,
  finished_at    TEXT,
  args           TEXT,
  result         TEXT
);
INSERT INTO runs_new (execution_id, job, scheduled_time, trigger, status, attempts, call_id, last_error, created_at, updated_at, started_at, finished_at, args, result)
  SELECT execution_id, job, scheduled_time, trigger, status, attempts, call_id, last_error, created_at, updated_at, started_at, finished_at, args, result FROM runs;
DROP TABLE runs;
ALTER TABLE runs_new RENAME TO runs;
CREATE INDEX runs_job_time ON runs (job, scheduled_time DESC);
CREATE INDEX runs_status ON runs (status, updated_at DESC);
CREATE INDEX runs_updated ON runs (updated_at DESC);
