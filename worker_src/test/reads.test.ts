/** D1 bills and throttles by rows read: the dashboard, the admin reads and a tick must read a
 * bounded number of rows however long the run log grows (200,000 runs over 400 days here). */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { iso } from "../src/runs";
import type { JobSpec } from "../src/types";
import { job } from "./bindings";
import { BEARER, call, countingD1, type Read, recordingEnv, tick } from "./helpers";

const MINUTE = 60_000;
const DAYS = 400;
const LARGE = 200_000;
const SMALL = 2_000;
/** The issue's bounds: a request reads at most this many rows, a tick this many plus one a run it creates. */
const REQUEST_ROWS = 2_000;
const TICK_ROWS = 200;

/** 50 jobs on the test plan's schedules; every fifth of each kind has args, as a plan's may. */
const FIFTY: JobSpec[] = (
  [
    ["every-minute", "* * * * *", 5],
    ["every-5", "*/5 * * * *", 15],
    ["hourly", "0 * * * *", 15],
    ["nightly", "30 2 * * *", 10],
    ["weekly-report", "0 9 * * 1", 5],
  ] as const
).flatMap(([stem, cron, count]) =>
  Array.from({ length: count }, (_, k) => job(`${stem}-${String(k + 1).padStart(2, "0")}`, cron, k % 5 === 0 ? { args: { region: "eu", batch: k } } : {})),
);

const ROUTES = ["/", "/jobs", "/runs", "/runs?job=hourly-01", "/runs?status=failed", "/runs?job=hourly-01&status=failed", "/stats"];

/** Rows read by one request or tick, and by which queries. */
interface Reading {
  rows: number;
  reads: Read[];
}

const reading = (reads: Read[]): Reading => ({ rows: reads.reduce((sum, r) => sum + r.rows_read, 0), reads });

/** The queries of a reading, each distinct SQL once with its rows and how many times it ran
 * (the dashboard's status strips are one query a job). */
const grouped = (r: Reading) => {
  const by = new Map<string, { sql: string; rows_read: number; queries: number }>();
  for (const q of r.reads) {
    const sql = q.sql.replace(/\s+/g, " ").trim();
    const g = by.get(sql) ?? by.set(sql, { sql, rows_read: 0, queries: 0 }).get(sql)!;
    g.rows_read += q.rows_read;
    g.queries++;
  }
  return [...by.values()];
};

const listing = (what: string, r: Reading) =>
  `${what} read ${r.rows} rows:\n${grouped(r).map((g) => `${String(g.rows_read).padStart(9)}  ${g.queries > 1 ? `(${g.queries} queries) ` : ""}${g.sql}`).join("\n")}`;

/** `runs` runs of FIFTY's jobs, evenly over the 400 days before `minute`, in one statement per
 * 25,000 rows: mostly succeeded, some failed, dead and skipped, and the 6 newest still queued,
 * dispatched or running (recently updated, so the tick fails none of them). Ids and times as
 * the Worker writes them. The status mix cycles over each job's runs (7 and 100 are coprime). */
async function seed(runs: number, minute: number): Promise<void> {
  const jobs = JSON.stringify(FIFTY.map((j) => ({ name: j.name, args: j.args ? JSON.stringify(j.args) : null })));
  const insert = env.DB.prepare(
    `INSERT INTO runs (execution_id, scheduled_ms, trigger, status, attempts, call_id, last_error, updated_after, started_after, finished_after, args, result)
     WITH RECURSIVE p(first, last, total, end_s, span, width) AS
       (SELECT CAST(?1 AS INTEGER), CAST(?2 AS INTEGER), CAST(?3 AS INTEGER), CAST(?4 AS INTEGER), CAST(?5 AS INTEGER), CAST(?6 AS INTEGER)),
     n(i) AS (SELECT first FROM p UNION ALL SELECT i + 1 FROM n, p WHERE i + 1 < last),
     jobs(k, name, args) AS (SELECT key, value ->> 'name', value ->> 'args' FROM json_each(?7)),
     r AS (SELECT i, name, args, end_s - 60 * (1 + (total - 1 - i) * span / total) AS t, ((i / width) * 7 + k * 13) % 100 AS mix, total - 1 - i AS age
           FROM n, p JOIN jobs ON k = i % width),
     s AS (SELECT *, CASE WHEN age < 2 THEN 'queued' WHEN age < 4 THEN 'dispatched' WHEN age < 6 THEN 'running'
                          WHEN mix < 84 THEN 'succeeded' WHEN mix < 92 THEN 'failed' WHEN mix < 94 THEN 'dead' ELSE 'skipped' END AS status,
                     (2 + mix) * 1000 AS ended
              FROM r)
     SELECT name || '@' || strftime('%Y-%m-%dT%H:%MZ', t, 'unixepoch'), t * 1000, IIF(status = 'skipped', 'catchup', 'cron'), status,
            CASE status WHEN 'queued' THEN 0 WHEN 'skipped' THEN 0 WHEN 'dead' THEN 3 ELSE 1 END,
            IIF(status IN ('dispatched', 'running', 'succeeded', 'failed'), printf('fc-%08x', i), NULL),
            CASE status WHEN 'failed' THEN 'exit code 1' WHEN 'dead' THEN 'dispatcher answered 503'
                        WHEN 'skipped' THEN 'missed tick, older than the 60-minute catch-up window' END,
            IIF(age < 6, ?8 - t * 1000, ended),
            IIF(status IN ('running', 'succeeded', 'failed'), 1000, NULL),
            IIF(status IN ('succeeded', 'failed', 'dead', 'skipped'), ended, NULL),
            args,
            IIF(status = 'succeeded', 'ok: ' || mix || ' rows', NULL)
     FROM s`,
  );
  const statements = [];
  for (let start = 0; start < runs; start += 25_000) {
    statements.push(insert.bind(start, Math.min(start + 25_000, runs), runs, minute / 1000, DAYS * 24 * 60, FIFTY.length, jobs, Date.now()));
  }
  await env.DB.batch(statements);
}

/** The rows each route and a tick at `minute` read on a run log of `runs` runs. The log and the
 * last evaluated minute are set here; the rest of D1 is as test/setup.ts leaves it, which the
 * previous size's tick keeps: it only records queued runs and fails none. */
async function measure(runs: number, minute: number) {
  await env.DB.batch([env.DB.prepare("DELETE FROM runs"), env.DB.prepare("INSERT OR REPLACE INTO scheduler_state (key, value) VALUES ('last_minute', ?1)").bind(iso(minute - MINUTE))]);
  await seed(runs, minute);
  expect(await env.DB.prepare("SELECT COUNT(*) AS n FROM runs").first("n")).toBe(runs);
  const routes: Record<string, Reading> = {};
  for (const route of ROUTES) {
    const counting = countingD1(env.DB);
    const res = await call(route, { headers: BEARER }, recordingEnv({ jobs: FIFTY }, { DB: counting.db }).env);
    expect(res.status, `GET ${route}: ${JSON.stringify(res.body).slice(0, 200)}`).toBe(200);
    routes[route] = reading(counting.reads);
  }
  const counting = countingD1(env.DB);
  const { env: e, sent } = recordingEnv({ jobs: FIFTY }, { DB: counting.db });
  await tick(e, iso(minute));
  const created = await env.DB.prepare("SELECT COUNT(*) AS n FROM runs WHERE scheduled_time = ?1").bind(iso(minute)).first<number>("n");
  expect(sent.length).toBe(created);
  return { routes, tick: { ...reading(counting.reads), created: created ?? 0 } };
}

type Figures = Awaited<ReturnType<typeof measure>>;

let measured: Promise<{ small: Figures; large: Figures }> | undefined;

/** Both run logs, measured once for the tests below: seeding 200,000 runs takes seconds. The
 * tick is at the top of the hour (every-minute, every-5 and hourly jobs due), right after the
 * last evaluated minute; `CRONFLARE_READS` prints the figures for bench/run.py. */
function figures() {
  measured ??= (async () => {
    const minute = Math.floor(Date.now() / (60 * MINUTE)) * 60 * MINUTE;
    const small = await measure(SMALL, minute);
    const large = await measure(LARGE, minute);
    if (env.CRONFLARE_READS) {
      const rows = (f: Figures) => Object.fromEntries(Object.entries(f.routes).map(([route, r]) => [`GET ${route}`, r.rows]));
      const line = {
        d1_rows_read_dashboard_200k: large.routes["/"]!.rows,
        d1_rows_read_tick_200k: large.tick.rows,
        tick_created: large.tick.created,
        tick_at: iso(minute),
        routes_200k: rows(large),
        routes_2k: rows(small),
        tick_2k: small.tick.rows,
        queries_200k: Object.fromEntries(Object.entries(large.routes).map(([route, r]) => [`GET ${route}`, grouped(r)])),
        tick_queries_200k: grouped(large.tick),
      };
      console.log(`CRONFLARE_READS ${JSON.stringify(line)}`);
    }
    return { small, large };
  })();
  return measured;
}

describe(`D1 rows read on ${LARGE.toLocaleString("en")} runs over ${DAYS} days, ${FIFTY.length} jobs`, () => {
  it(`GET /, /jobs, /runs (by job, by status) and /stats each read at most ${REQUEST_ROWS.toLocaleString("en")} rows`, { timeout: 120_000 }, async () => {
    const { large } = await figures();
    for (const [route, r] of Object.entries(large.routes)) expect.soft(r.rows, listing(`GET ${route}`, r)).toBeLessThanOrEqual(REQUEST_ROWS);
  });

  it(`a tick reads at most ${TICK_ROWS} rows plus the runs it creates`, { timeout: 120_000 }, async () => {
    const { large } = await figures();
    expect(large.tick.created).toBeGreaterThan(0);
    expect(large.tick.rows, listing(`the tick that created ${large.tick.created} runs`, large.tick)).toBeLessThanOrEqual(TICK_ROWS + large.tick.created);
  });

  // "About as many": at most 1.5 times the rows read on 2,000 runs, plus 200. A query that scans
  // the log reads 100 times as many rows on 200,000. The 2,000-run log has 40 runs a job, so a
  // page the data cuts short there (a job's 3 failed runs) is full on 200,000, and a full page
  // of 50 runs reads about 100 rows (index entries and rows): the 200.
  it(`a request or tick reads about as many rows on ${LARGE.toLocaleString("en")} runs as on ${SMALL.toLocaleString("en")}`, { timeout: 120_000 }, async () => {
    const { small, large } = await figures();
    const pairs: [string, Reading, Reading][] = [...ROUTES.map((route) => [`GET ${route}`, small.routes[route]!, large.routes[route]!] as [string, Reading, Reading]), ["the tick", small.tick, large.tick]];
    for (const [what, s, l] of pairs) {
      expect.soft(l.rows, `${listing(`${what} on ${LARGE.toLocaleString("en")} runs`, l)}\n${listing(`and on ${SMALL.toLocaleString("en")}`, s)}`).toBeLessThanOrEqual(1.5 * s.rows + 200);
    }
  });
});
