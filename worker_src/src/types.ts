/** The Worker's bindings and the shapes that cross its boundaries (docs/ARCHITECTURE.md, Contracts). */

export type Trigger = "cron" | "catchup" | "manual" | "replay";
export type RunStatus =
  | "queued"
  | "dispatched"
  | "running"
  | "succeeded"
  | "failed"
  | "dead"
  | "skipped";
export const TERMINAL: readonly RunStatus[] = ["succeeded", "failed", "dead", "skipped"];

/** One job as the plan's Worker view describes it (cronflare/plan.py WorkerJob). */
export interface JobSpec {
  name: string;
  description: string;
  schedule: string;
  cron: string;
  timezone: string;
  cloudflare_cron: string | null;
  enabled: boolean;
  concurrency: "allow" | "forbid" | "replace";
  timeout: number;
  /** The job's arguments; present only when it has some. */
  args?: Record<string, unknown>;
}

/** The deploy plan's Worker view: DeployPlan.worker_config(), shipped as the plan.js module. */
export interface JobsConfig {
  version: 1;
  mode: "native" | "tick";
  cron_triggers: string[];
  catchup_window_minutes: number;
  /** A dispatched or running run silent for this long is failed: it will never report. */
  report_timeout_seconds: number;
  queues: {
    jobs: string;
    dead_letter: string;
    max_retries: number;
    retry_max_delay_seconds: number;
  };
  jobs: JobSpec[];
}

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
  ALERT_WEBHOOK_URL?: string;
  /** Optional: how long one dispatch POST may take, in ms (default 15000). */
  DISPATCH_TIMEOUT_MS?: string;
}

/** The env Cloudflare binds: JOBS only as an override (tests); normally it comes from plan.js. */
export type Bindings = Omit<Env, "JOBS"> & { JOBS?: JobsConfig };

/** What goes on the queue for each due run. */
export interface JobMessage {
  execution_id: string;
  job: string;
  scheduled_time: string;
  trigger: Trigger;
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
  created_at: string;
  updated_at: string;
  started_at: string | null;
  finished_at: string | null;
  /** The run's arguments as JSON object text; null: none. */
  args: string | null;
  /** The job's result summary (at most 2000 characters), from its terminal report. */
  result: string | null;
}
