-- The run log after a year (docs/WORKER.md, "The run log after a year"): every read a request or
-- a tick makes walks an index for at most what it shows, old runs are pruned, what is counted
-- over all time lives in `counters`, and alerts leave through an outbox.
-- Every status test is an `=`/`<>` chain, never IN (...): D1 counts a row read per IN test.

-- The table again, with the same columns and rows, for two reasons:
-- * its CHECKs were `IN (...)` lists, which SQLite tests against a temporary table: D1 counted
--   two rows read for every run inserted or updated. The same checks as OR chains read none;
-- * one index per way the run log is read, newest first: all runs (and pruning, oldest first),
--   by job, by status, by job and status; and the runs in flight by when they last changed.
--   runs_updated and runs_status (status, updated_at) had no reader left.
CREATE TABLE runs_new (
  execution_id   TEXT PRIMARY KEY,
  job            TEXT NOT NULL,
  scheduled_time TEXT NOT NULL,
  trigger        TEXT NOT NULL CHECK (trigger = 'cron' OR trigger = 'catchup' OR trigger = 'manual' OR trigger = 'replay' OR trigger = 'backfill'),
  status         TEXT NOT NULL CHECK (status = 'queued' OR status = 'dispatched' OR status = 'running' OR status = 'succeeded' OR status = 'failed' OR status = 'dead' OR status = 'skipped'),
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
CREATE INDEX runs_time ON runs (scheduled_time DESC);
CREATE INDEX runs_status_time ON runs (status, scheduled_time DESC);
CREATE INDEX runs_job_status_time ON runs (job, status, scheduled_time DESC);
-- Runs in flight, by when they last changed: failing the silent ones reads only those.
CREATE INDEX runs_in_flight ON runs (updated_at) WHERE status = 'dispatched' OR status = 'running';

-- Runs by status, which pruning must not lose: `runs:<status>` counts every run that ended with
-- that status over all time, and the runs queued, dispatched or running now; `alerts:sent` and
-- `alerts:failed`. The trigger below moves a run from one count to another when an UPDATE
-- changes its status; the Worker counts the runs it inserts (insertRuns).
CREATE TABLE counters (
  name TEXT PRIMARY KEY,
  n    INTEGER NOT NULL DEFAULT 0
);
INSERT INTO counters (name, n) SELECT 'runs:' || status, COUNT(*) FROM runs GROUP BY status;

-- Alertable ends (failed, dead, skipped), waiting for the next flush (src/alerts.ts), which keeps
-- those the stack's alertOn names and drops the others.
CREATE TABLE alert_outbox (
  id           INTEGER PRIMARY KEY,
  job          TEXT NOT NULL,
  execution_id TEXT,
  status       TEXT NOT NULL,
  error        TEXT,
  at           TEXT NOT NULL
);

-- Per job (or '(scheduler)' for a missed tick): when its last alert left, and what was folded
-- since, to be told in the next one: at most one alert per job per 15 minutes.
CREATE TABLE alert_state (
  key       TEXT PRIMARY KEY,
  last_sent TEXT NOT NULL,
  folded    INTEGER NOT NULL DEFAULT 0
);
-- A flush reads only the keys with something folded.
CREATE INDEX alert_state_folded ON alert_state (last_sent) WHERE folded > 0;

CREATE TRIGGER runs_end AFTER UPDATE OF status ON runs WHEN NEW.status IS NOT OLD.status
BEGIN
  UPDATE counters SET n = n - 1 WHERE name = 'runs:' || OLD.status;
  INSERT INTO counters (name, n) VALUES ('runs:' || NEW.status, 1) ON CONFLICT (name) DO UPDATE SET n = n + 1;
  INSERT INTO alert_outbox (job, execution_id, status, error, at)
    SELECT NEW.job, NEW.execution_id, NEW.status, NEW.last_error, NEW.updated_at
    WHERE NEW.status = 'failed' OR NEW.status = 'dead' OR NEW.status = 'skipped';
END;
