-- A leaner run log (docs/WORKER.md, "What a run costs"): every row D1 writes or reads is billed,
-- and an index entry that a write changes counts as one more row written. A run that succeeds at
-- its first dispatch now costs 6 rows written (its INSERT 2, `dispatched` 1, its report 2 with
-- the counter, pruning 1) instead of 20:
-- * WITHOUT ROWID, keyed by the execution id: no separate primary-key index to write. The key
--   is `<job>@<minute>`, so a job's runs, newest first, are a range of the key: no job index.
-- * One index every run pays for, by scheduled time: all runs newest first, pruning, and the
--   sweep that fails runs that never report. No index holds `status`, so moving a run from
--   queued to dispatched to succeeded rewrites its row and nothing else.
-- * Partial indexes only the unusual runs enter: failed, dead and skipped ones (the dashboard's
--   status filters, with and without a job), and replays and backfills in flight (their scheduled time is old, so the
--   time sweep has passed them: the report timeout finds them here).
-- * No created_at: nothing read it but insertRuns, which now asks updated_at.
-- * Counters: the trigger counts ends only; runs are counted in bulk as a tick inserts them
--   (`runs:created`), and those in flight are created minus ended.
--
-- Upgrading a large log on the free plan: copying every run would write two rows per run, and
-- the free plan allows 100,000 rows written a day. So the old table is renamed, not copied: its
-- runs in flight and its failed, dead and skipped runs (those a person may replay) move to the
-- new table, and its succeeded runs stay in runs_before_0006, which pruning empties by the same
-- retention (one row written per run, as pruning them in place would). Counts over all time are
-- kept. Until then, those succeeded runs are readable with `wrangler d1 execute`.
DROP TRIGGER runs_end;
DROP INDEX runs_job_time;
DROP INDEX runs_status_time;
DROP INDEX runs_job_status_time;
DROP INDEX runs_in_flight;
ALTER TABLE runs RENAME TO runs_before_0006;

CREATE TABLE runs (
  execution_id   TEXT PRIMARY KEY,
  job            TEXT NOT NULL,
  scheduled_time TEXT NOT NULL,
  trigger        TEXT NOT NULL CHECK (trigger = 'cron' OR trigger = 'catchup' OR trigger = 'manual' OR trigger = 'replay' OR trigger = 'backfill'),
  status         TEXT NOT NULL CHECK (status = 'queued' OR status = 'dispatched' OR status = 'running' OR status = 'succeeded' OR status = 'failed' OR status = 'dead' OR status = 'skipped'),
  attempts       INTEGER NOT NULL DEFAULT 0,
  call_id        TEXT,
  last_error     TEXT,
  updated_at     TEXT NOT NULL,
  started_at     TEXT,
  finished_at    TEXT,
  args           TEXT,
  result         TEXT
) WITHOUT ROWID;
INSERT INTO runs (execution_id, job, scheduled_time, trigger, status, attempts, call_id, last_error, updated_at, started_at, finished_at, args, result)
  SELECT execution_id, job, scheduled_time, trigger, status, attempts, call_id, last_error, updated_at, started_at, finished_at, args, result
  FROM runs_before_0006 WHERE status <> 'succeeded';
DELETE FROM runs_before_0006 WHERE status <> 'succeeded';

CREATE INDEX runs_by_time ON runs (scheduled_time DESC);
CREATE INDEX runs_trouble ON runs (status, scheduled_time DESC) WHERE status = 'failed' OR status = 'dead' OR status = 'skipped';
CREATE INDEX runs_job_trouble ON runs (job, status, scheduled_time DESC) WHERE status = 'failed' OR status = 'dead' OR status = 'skipped';
CREATE INDEX runs_watch ON runs (updated_at) WHERE (status = 'dispatched' OR status = 'running') AND (trigger = 'replay' OR trigger = 'backfill');

-- Runs created over all time: those that ended, and those in flight now.
DELETE FROM counters WHERE name = 'runs:queued' OR name = 'runs:dispatched' OR name = 'runs:running';
INSERT INTO counters (name, n) SELECT 'runs:created',
  COALESCE((SELECT SUM(n) FROM counters WHERE name = 'runs:succeeded' OR name = 'runs:failed' OR name = 'runs:dead' OR name = 'runs:skipped'), 0)
  + (SELECT COUNT(*) FROM runs WHERE status = 'queued' OR status = 'dispatched' OR status = 'running');

-- A run that ends is counted once; one that leaves an end (a replay, a correction) is uncounted
-- there. Moves between queued, dispatched and running write nothing here. Alertable ends wait in
-- the outbox, as before.
CREATE TRIGGER runs_end AFTER UPDATE OF status ON runs WHEN NEW.status IS NOT OLD.status
BEGIN
  UPDATE counters SET n = n - 1
    WHERE (OLD.status = 'succeeded' OR OLD.status = 'failed' OR OLD.status = 'dead' OR OLD.status = 'skipped') AND name = 'runs:' || OLD.status;
  INSERT INTO counters (name, n) SELECT 'runs:' || NEW.status, 1
    WHERE NEW.status = 'succeeded' OR NEW.status = 'failed' OR NEW.status = 'dead' OR NEW.status = 'skipped'
    ON CONFLICT (name) DO UPDATE SET n = n + 1;
  INSERT INTO alert_outbox (job, execution_id, status, error, at)
    SELECT NEW.job, NEW.execution_id, NEW.status, NEW.last_error, NEW.updated_at
    WHERE NEW.status = 'failed' OR NEW.status = 'dead' OR NEW.status = 'skipped';
END;
