-- Runtime schedules (docs/SCHEDULES.md, "Runtime schedules"): an app creates its own schedules
-- through the API, a stack holds a million, and a tick reads only what is due.
-- * Keyed by the client's id, WITHOUT ROWID: no separate key index to write.
-- * `due_at` is the minute (epoch minutes) the next run is dispatched: its fire minute plus its
--   jitter. A tick reads schedules_due up to its minute and nothing else, so a tick with nothing
--   due reads one index entry, whatever the table holds. Paused, ended and fired one-time
--   schedules have no `due_at` and are in no index a tick reads.
-- * A tick advances a schedule with an upsert of `fire_at` and `due_at` (the row and its
--   schedules_due entry: 2 rows written, none read).
-- * Times are integers: `start_at`, `end_at`, `created_at`, `updated_at` in epoch ms, `fire_at`
--   and `due_at` in epoch minutes; `timezone` and `args` are NULL when UTC and the job's own.
-- * How many schedules each job has: counters `schedules:<job>` (migrations/0004), so the
--   dashboard and /stats never count the table.
CREATE TABLE schedules (
  id          TEXT PRIMARY KEY,
  job         TEXT NOT NULL,
  schedule    TEXT NOT NULL,
  timezone    TEXT,
  args        TEXT,
  start_at    INTEGER,
  end_at      INTEGER,
  jitter      INTEGER,
  external_id TEXT,
  paused      INTEGER NOT NULL DEFAULT 0,
  fire_at     INTEGER,
  due_at      INTEGER,
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL
) WITHOUT ROWID;

CREATE INDEX schedules_due ON schedules (due_at) WHERE due_at IS NOT NULL;
CREATE INDEX schedules_by_job ON schedules (job, id);
CREATE INDEX schedules_by_external ON schedules (job, external_id) WHERE external_id IS NOT NULL;
