-- The run log: one row per execution, keyed by its deterministic id.
CREATE TABLE runs (
  execution_id   TEXT PRIMARY KEY,
  job            TEXT NOT NULL,
  scheduled_time TEXT NOT NULL,
  trigger        TEXT NOT NULL CHECK (trigger IN ('cron', 'catchup', 'manual', 'replay')),
  status         TEXT NOT NULL CHECK (status IN ('queued', 'dispatched', 'running', 'succeeded', 'failed', 'dead', 'skipped')),
  attempts       INTEGER NOT NULL DEFAULT 0,
  call_id        TEXT,
  last_error     TEXT,
  created_at     TEXT NOT NULL,
  updated_at     TEXT NOT NULL,
  started_at     TEXT,
  finished_at    TEXT
);
CREATE INDEX runs_job_time ON runs (job, scheduled_time DESC);
CREATE INDEX runs_status ON runs (status, updated_at DESC);
CREATE INDEX runs_updated ON runs (updated_at DESC);

-- Small key/value state of the scheduler, such as the last minute it evaluated.
CREATE TABLE scheduler_state (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
