/** Bindings of the test Worker (fixed test secrets), its tick-mode plan JOBS, and job(). */
import type { JobsConfig, JobSpec } from "../src/types";
import plan, { groupsOf } from "./plan.ts"; // with its extension: vitest.config.ts loads this file too

export const JOBS: JobsConfig = plan;

/** `cfg` with these jobs, and their groups as the plan would carry them. */
export const withJobs = (cfg: JobsConfig, jobs: JobSpec[]): JobsConfig => ({ ...cfg, jobs, groups: groupsOf(jobs) });

/** A job on one of the test plan's schedules, named by its cron text (compiled in test/plan.ts). */
export const job = (name: string, cron: string, extra: Partial<JobSpec> = {}): JobSpec => {
  const s = JOBS.jobs.find((j) => j.schedule === cron)?.s;
  if (s === undefined) throw new Error(`${cron}: compile it and add it to test/plan.ts`);
  return { name, description: `${name} job`, schedule: cron, s, timezone: "UTC", enabled: true, ...extra };
};

// No JOBS: the Worker reads JOBS from the plan module (test/plan.ts), as deployed.
export const TEST_BINDINGS = {
  DISPATCH_URL: "https://dispatch.test/dispatch",
  PUBLIC_URL: "https://cronflare.test",
  SIGNING_KEY: "test-signing-key",
  SIGNING_KEY_NEXT: "test-signing-key-next",
  ADMIN_TOKEN: "test-admin-token",
  SCHEDULES_TOKEN: "test-schedules-token",
  ALERT_WEBHOOK_URL: "https://alerts.test/hook",
  DISPATCH_TIMEOUT_MS: "300",
};
