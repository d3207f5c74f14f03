-- A compact run log (docs/WORKER.md, "What a run costs"): a run kept 444 bytes of D1 with its
-- index entries, and the free plan's database holds 500 MB. Now about 240:
-- * Times are integers. `scheduled_ms` is the scheduled instant in epoch milliseconds, and the
--   time index holds it (6 bytes, not 24 of ISO text). `updated_after`, `started_after` and
--   `finished_after` are milliseconds after it: a few seconds take 2 or 3 bytes, not 24.
-- * No stored `job`: it is the text of the key before its first '@' (`<job>@<minute>Z`).
-- * The columns every reader knows stay, computed as the row is read (VIRTUAL generated columns,
--   which take no space): `job`, and `scheduled_time`, `updated_at`, `started_at`, `finished_at`
--   as ISO 8601 UTC to the millisecond, as before. Writers set the integer columns.
-- Rows written and read per run are unchanged: the same key, one time index, the same partial
-- indexes for the unusual runs.
--
-- Upgrading a large log on the free plan, as 0006 did: the old table is renamed, not copied
-- (a copy writes two rows per run; the free plan allows 100,000 a day). Its runs in flight and
-- its failed, dead and skipped runs move to the new table; its succeeded runs stay in
-- runs_before_0008 with their time index (runs_by_time), and pruning empties it by the same
-- retention. Counts over all time are kept.
DROP TRIGGER runs_end;
DROP INDEX runs_trouble;
DROP INDEX runs_job_trouble;
DROP INDEX runs_watch;
ALTER TABLE runs RENAME TO runs_before_0008;

CREATE TABLE runs (
  execution_id   TEXT PRIMARY KEY,
  scheduled_ms   INTEGER NOT NULL,
  trigger        TEXT NOT NULL CHECK (trigger = 'cron' OR trigger = 'catchup' OR trigger = 'manual' OR trigger = 'replay' OR trigger = 'backfill'),
  status         TEXT NOT NULL CHECK (status = 'queued' OR status = 'dispatched' OR status = 'running' OR status = 'succeeded' OR status = 'failed' OR status = 'dead' OR status = 'skipped'),
  attempts       INTEGER NOT NULL DEFAULT 0,
  call_id        TEXT,
  last_error     TEXT,
  updated_after  INTEGER NOT NULL,
  started_after  INTEGER,
  finished_after INTEGER,
  args           TEXT,
  result         TEXT,
  job            TEXT GENERATED ALWAYS AS (substr(execution_id, 1, instr(execution_id, '@') - 1)) VIRTUAL,
  scheduled_time TEXT GENERATED ALWAYS AS (strftime('%Y-%m-%dT%H:%M:%S', scheduled_ms / 1000, 'unixepoch') || printf('.%03dZ', scheduled_ms % 1000)) VIRTUAL,
  updated_at     TEXT GENERATED ALWAYS AS (strftime('%Y-%m-%dT%H:%M:%S', (scheduled_ms + updated_after) / 1000, 'unixepoch') || printf('.%03dZ', (scheduled_ms + updated_after) % 1000)) VIRTUAL,
  started_at     TEXT GENERATED ALWAYS AS (strftime('%Y-%m-%dT%H:%M:%S', (scheduled_ms + started_after) / 1000, 'unixepoch') || printf('.%03dZ', (scheduled_ms + started_after) % 1000)) VIRTUAL,
  finished_at    TEXT GENERATED ALWAYS AS (strftime('%Y-%m-%dT%H:%M:%S', (scheduled_ms + finished_after) / 1000, 'unixepoch') || printf('.%03dZ', (scheduled_ms + finished_after) % 1000)) VIRTUAL
) WITHOUT ROWID;
INSERT INTO runs (execution_id, scheduled_ms, trigger, status, attempts, call_id, last_error, updated_after, started_after, finished_after, args, result)
  SELECT execution_id, t, trigger, status, attempts, call_id, last_error,
         CAST(round((julianday(updated_at) - 2440587.5) * 86400000.0) AS INTEGER) - t,
         CAST(round((julianday(started_at) - 2440587.5) * 86400000.0) AS INTEGER) - t,
         CAST(round((julianday(finished_at) - 2440587.5) * 86400000.0) AS INTEGER) - t,
         args, result
  FROM (SELECT *, CAST(round((julianday(scheduled_time) - 2440587.5) * 86400000.0) AS INTEGER) AS t FROM runs_before_0008 WHERE status <> 'succeeded');
DELETE FROM runs_before_0008 WHERE status <> 'succeeded';

CREATE INDEX runs_by_scheduled ON runs (scheduled_ms DESC);
CREATE INDEX runs_trouble ON runs (status, scheduled_ms DESC) WHERE status = 'failed' OR status = 'dead' OR status = 'skipped';
CREATE INDEX runs_job_trouble ON runs (job, status, scheduled_ms DESC) WHERE status = 'failed' OR status = 'dead' OR status = 'skipped';
CREATE INDEX runs_watch ON runs (scheduled_ms + updated_after) WHERE (status = 'dispatched' OR status = 'running') AND (trigger = 'replay' OR trigger = 'backfill');

-- As in 0006: an end is counted once, and alertable ends wait in the outbox.
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
