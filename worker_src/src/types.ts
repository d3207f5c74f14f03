/** The Worker's bindings and the shapes that cross its boundaries (docs/ARCHITECTURE.md, Contracts). */

export const TRIGGERS = ["cron", "catchup", "manual", "replay", "backfill"] as const;
export type Trigger = (typeof TRIGGERS)[number];
export type RunStatus =
  | "queued"
  | "dispatched"
  | "running"
  | "succeeded"
  | "failed"
  | "dead"
  | "skipped";
export const TERMINAL: readonly RunStatus[] = ["succeeded", "failed", "dead", "skipped"];

/**
 * A cron compiled at deploy time (cronflare/catalog/schedule.py compile_cron, docs/WORKER.md):
 * bit masks of minutes 0-29 and 30-59, hours, days of month (bit d, up to 2^32-2: read with >>>),
 * months (bit m) and weekdays (bit 0 = Sunday); flags (1: AND the day fields, else OR; 2: the
 * last day of the month matches too); and, when the day-of-week field has them, [weekday, k]
 * pairs: the k-th such weekday of the month (k = 1..5), or the last one (k = 0).
 */
export type Compiled = [m0: number, m1: number, h: number, dom: number, mon: number, dow: number, flags: number, nth?: [number, number][]];

/** One job as plan.js carries it (cronflare/plan.py PLAN_JS_JOB_FIELDS): what the Worker reads. */
export interface JobSpec {
  name: string;
  description: string;
  /** The schedule as the user wrote it, for display only: the Worker never parses cron text. */
  schedule: string;
  timezone: string;
  enabled: boolean;
  /** Index of the job's compiled schedule in the plan's `schedules`; absent when the job has
   * runtime schedules only. */
  s?: number;
  /** The job's arguments; present only when it has some. */
  args?: Record<string, unknown>;
  /** It takes runtime schedules (src/schedules.ts). */
  runtime?: true;
  /** Its runs happen at or after `start` and before `end` (ISO 8601 UTC). */
  start?: string;
  end?: string;
  /** Minutes a run may start after its time (cron.ts jitterOffset). */
  jitter?: number;
}

/** The deploy plan's Worker view: DeployPlan.worker_config(), shipped as the plan.js module. */
export interface JobsConfig {
  /** 2: schedules compiled. The Worker refuses any other version (src/due.ts, planError). */
  version: 2;
  mode: "native" | "tick";
  cron_triggers: string[];
  catchup_window_minutes: number;
  /** A dispatched or running run silent for this long is failed: it will never report. */
  report_timeout_seconds: number;
  /** Runs scheduled longer ago than this are pruned (docs/WORKER.md, The run log after a year). */
  run_retention_days: number;
  /** What the alert webhook is told of. */
  alert_on: ("dead" | "failed" | "skipped" | "missed")[];
  queues: {
    jobs: string;
    dead_letter: string;
    max_retries: number;
    retry_max_delay_seconds: number;
  };
  /** The distinct compiled schedules; jobs refer to them by index. */
  schedules: Compiled[];
  jobs: JobSpec[];
  /** The enabled jobs by timezone and schedule: [timezone, s, indexes into `jobs`]. */
  groups: Group[];
  /** The enabled jobs' fingerprint; the Modal dispatcher's /healthz reports its own (src/skew.ts). */
  catalog_hash: string;
}

/** One (timezone, schedule) pair of the plan and the enabled jobs that share it; `jittered` (1)
 * when they are the pair's jobs with jitter. */
export type Group = [tz: string, s: number, jobs: number[], jittered?: 1];

/** The env handlers see: JOBS is always there (the plan module unless a binding overrides it). */
export interface Env {
  JOBS: JobsConfig;
  DB: D1Database;
  JOBS_QUEUE: Queue<JobMessage>;
  DISPATCH_URL: string;
  PUBLIC_URL: string;
  SIGNING_KEY: string;
  SIGNING_KEY_NEXT?: string;
  ADMIN_TOKEN: string;
  /** Manages runtime schedules and nothing else: what a user's app holds. */
  SCHEDULES_TOKEN?: string;
  ALERT_WEBHOOK_URL?: string;
  /** Optional: how long one dispatch POST may take, in ms (default 15000). */
  DISPATCH_TIMEOUT_MS?: string;
  /** Optional, never set by the Pulumi program: a tick that dies on purpose, for chaos tests and
   * `cronflare demo --chaos` (src/direct.ts, WorkerFaults). */
  WORKER_FAULTS?: string;
}

/** The env Cloudflare binds: JOBS only as an override (tests); normally it comes from plan.js. */
export type Bindings = Omit<Env, "JOBS"> & { JOBS?: JobsConfig };

/** What goes on the queue for each due run. */
export interface JobMessage {
  execution_id: string;
  job: string;
  scheduled_time: string;
  trigger: Trigger;
  /** Dispatch attempts made before the queue took the run: 1 when the tick's own failed. */
  attempts_before?: number;
}

export interface RunRow {
  execution_id: string;
  job: string;
  scheduled_time: string;
  trigger: Trigger;
  status: RunStatus;
  attempts: number;
  call_id: string | null;
  last_error: string | null;
  updated_at: string;
  started_at: string | null;
  finished_at: string | null;
  /** The run's arguments as JSON object text; null: none. */
  args: string | null;
  /** The job's result summary (at most 2000 characters), from its terminal report. */
  result: string | null;
}
