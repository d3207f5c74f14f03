/** Bindings of the test Worker (fixed test secrets) and its small tick-mode plan, JOBS. */
import type { JobsConfig, JobSpec } from "../src/types";

export const job = (name: string, cron: string, extra: Partial<JobSpec> = {}): JobSpec => ({
  name,
  description: `${name} job`,
  schedule: cron,
  cron,
  timezone: "UTC",
  cloudflare_cron: null,
  enabled: true,
  concurrency: "allow",
  timeout: 600,
  ...extra,
});

export const JOBS: JobsConfig = {
  version: 1,
  mode: "tick",
  cron_triggers: ["* * * * *"],
  catchup_window_minutes: 60,
  report_timeout_seconds: 3600,
  queues: { jobs: "cronflare-test-jobs", dead_letter: "cronflare-test-jobs-dlq", max_retries: 2, retry_max_delay_seconds: 300 },
  jobs: [
    job("every-5", "*/5 * * * *"),
    job("hourly", "0 * * * *"),
    job("weekly-report", "0 9 * * 1", { cloudflare_cron: "0 9 * * MON" }),
    job("berlin-digest", "30 2 * * *", { timezone: "Europe/Berlin" }),
    job("off", "* * * * *", { enabled: false }),
  ],
};

// No JOBS: the Worker reads JOBS from the plan module (test/plan.ts), as deployed.
export const TEST_BINDINGS = {
  DISPATCH_URL: "https://dispatch.test/dispatch",
  PUBLIC_URL: "https://cronflare.test",
  SIGNING_KEY: "test-signing-key",
  SIGNING_KEY_NEXT: "test-signing-key-next",
  ADMIN_TOKEN: "test-admin-token",
  ALERT_WEBHOOK_URL: "https://alerts.test/hook",
  DISPATCH_TIMEOUT_MS: "300",
};
