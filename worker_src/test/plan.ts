/**
 * The test stand-in for the deployed plan.js module (vitest.config.ts aliases it): a version 2
 * plan, as DeployPlan.worker_config() writes it. Each schedule was compiled by Python, e.g.
 * `uv run python -c "from cronflare.catalog.schedule import compile_cron; print(compile_cron('0 9 * * 1'))"`.
 */
import type { Group, JobsConfig, JobSpec } from "../src/types";

/** The plan's groups for these jobs, as DeployPlan writes them: enabled jobs by (timezone, s). */
export function groupsOf(jobs: JobSpec[]): Group[] {
  const groups = new Map<string, Group>();
  jobs.forEach((j, i) => {
    if (!j.enabled || j.s === undefined) return;
    const key = `${j.timezone} ${j.s} ${!!j.jitter}`;
    const group = groups.get(key);
    if (group) group[2].push(i);
    else groups.set(key, j.jitter ? [j.timezone, j.s, [i], 1] : [j.timezone, j.s, [i]]);
  });
  return [...groups.values()];
}

const job = (name: string, schedule: string, s: number, extra: Partial<JobSpec> = {}): JobSpec => ({
  name,
  description: `${name} job`,
  schedule,
  timezone: "UTC",
  enabled: true,
  s,
  ...extra,
});

const jobs = [
  job("every-5", "*/5 * * * *", 0),
  job("hourly", "0 * * * *", 1),
  job("weekly-report", "0 9 * * 1", 2),
  job("berlin-digest", "30 2 * * *", 3, { timezone: "Europe/Berlin" }),
  job("off", "* * * * *", 4, { enabled: false }),
];

const plan: JobsConfig = {
  version: 2,
  mode: "tick",
  cron_triggers: ["* * * * *"],
  catchup_window_minutes: 60,
  report_timeout_seconds: 3600,
  run_retention_days: 90,
  alert_on: ["dead"],
  queues: { jobs: "cronflare-test-jobs", dead_letter: "cronflare-test-jobs-dlq", max_retries: 2, retry_max_delay_seconds: 300 },
  schedules: [
    [34636833, 34636833, 16777215, 4294967294, 8190, 127, 1], // */5 * * * *
    [1, 0, 16777215, 4294967294, 8190, 127, 1], // 0 * * * *
    [1, 0, 512, 4294967294, 8190, 2, 1], // 0 9 * * 1
    [0, 1, 4, 4294967294, 8190, 127, 1], // 30 2 * * *
    [1073741823, 1073741823, 16777215, 4294967294, 8190, 127, 1], // * * * * *
  ],
  jobs,
  groups: groupsOf(jobs),
  catalog_hash: "0123456789ab",
};

export default plan;
