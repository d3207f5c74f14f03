/** Runtime schedules (migrations/0007, docs/SCHEDULES.md): an app's own schedules, checked and
 * compiled here as the catalog's are in Python, stored in D1, and fired by the tick. */
import { compileCron, intervalCron, parseDuration, ScheduleError } from "./compile";
import { jitterOffset, MINUTE } from "./cron";
import { fireTimes } from "./due";
import { HttpError, isObject, json, MAX_ARGS_DEPTH, parseObject, readBody, tooDeep, utf8Bytes } from "./http";
import { bumpStatement, iso, type NewRuns } from "./runs";
import type { Compiled, Env, JobSpec, JobsConfig } from "./types";
import type { Pause } from "./runs";

/** A schedules row as D1 keeps it (times in epoch ms, `fire_at`/`due_at` in epoch minutes). */
export interface ScheduleRow {
  id: string;
  job: string;
  /** A cron or macro as given, `every <duration>`, or `at <ISO instant>`. */
  schedule: string;
  timezone: string | null;
  args: string | null;
  start_at: number | null;
  end_at: number | null;
  jitter: number | null;
  external_id: string | null;
  paused: number;
  fire_at: number | null;
  due_at: number | null;
  created_at: number;
  updated_at: number;
}

const ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
const FIELDS = ["id", "schedule", "every", "at", "timezone", "args", "start", "end", "jitter", "paused", "external_id"];
/** The most schedules one batch may create, and its body's limit. */
export const MAX_BATCH = 1000;
const BATCH_BODY = 1024 * 1024;
/** Runs one schedule may make in a tick (a catch-up): the rest wait for the next tick. */
const TICK_FIRES = 1000;
/** How far back a late tick looks (as src/tick.ts MAX_LOOKBACK_MS), in minutes. */
const LOOKBACK = 7 * 24 * 60;
const MAX_ARGS = 8192;
const COLUMNS = "id, job, schedule, timezone, args, start_at, end_at, jitter, external_id, paused, fire_at, due_at, created_at, updated_at";

const minuteOf = (ms: number) => Math.ceil(ms / MINUTE);
/** `<job>@<schedule id>@<minute>Z`: the run a schedule makes at a minute, so a fire twice is one run. */
export const runId = (row: { job: string; id: string }, minute: number) => `${row.job}@${row.id}@${iso(minute * MINUTE).slice(0, 16)}Z`;

/** The job of a schedules route: 404 unless in the plan, 409 unless it takes runtime schedules. */
export function runtimeJob(env: Env, name: string): JobSpec {
  const job = env.JOBS.jobs.find((j) => j.name === name);
  if (!job) throw new HttpError(404, `no such job: ${name}`);
  if (!job.runtime) throw new HttpError(409, `job ${name} does not take runtime schedules (runtime_schedules=True in the catalog)`);
  return job;
}

const compiledCache = new Map<string, Compiled | null>();

/** A stored schedule's compiled cron (null for a one-time `at`), compiled once per isolate. */
function compiledOf(schedule: string): Compiled | null {
  let c = compiledCache.get(schedule);
  if (c === undefined) {
    c = schedule.startsWith("at ") ? null : compileCron(schedule.startsWith("every ") ? intervalCron(schedule.slice(6)) : schedule).compiled;
    if (compiledCache.size >= 1000) compiledCache.clear();
    compiledCache.set(schedule, c);
  }
  return c;
}

/** The first fire minute of a schedule at or after `minute` (epoch minutes), within its start and
 * end, or null: the DST rule and wall clock of the catalog's schedules (src/due.ts). */
export function fireFrom(row: ScheduleRow, minute: number, count = 1): number[] {
  const from = Math.max(minute, row.start_at === null ? 0 : minuteOf(row.start_at));
  const end = row.end_at ?? Infinity;
  const c = compiledOf(row.schedule);
  if (c === null) {
    const at = minuteOf(Date.parse(row.schedule.slice(3)));
    return at >= from && at * MINUTE < end ? [at] : [];
  }
  return fireTimes(c, row.timezone ?? "UTC", from * MINUTE - 1, count, end).map((t) => t / MINUTE);
}

/** The next fire after `fire`, shared by the schedules of a tick that fire alike (a million
 * customers' `0 9 * * *` in a handful of zones are a handful of walks, not a million). */
function nextFire(row: ScheduleRow, fire: number, memo: Map<string, number | null>): number | null {
  const key = `${row.schedule}\n${row.timezone}\n${row.start_at}\n${row.end_at}\n${fire}`;
  let next = memo.get(key);
  if (next === undefined) memo.set(key, (next = fireFrom(row, fire + 1)[0] ?? null));
  return next;
}

/** When a fire is dispatched: its minute, plus its run's jitter. */
const dueOf = (row: ScheduleRow, fire: number) => fire + jitterOffset(runId(row, fire), row.jitter ?? 0);

/** A schedule's next fire and due minutes from `minute` on, or nulls when paused or done. */
function nextFrom(row: ScheduleRow, minute: number): Pick<ScheduleRow, "fire_at" | "due_at"> {
  const [fire = null] = row.paused ? [] : fireFrom(row, minute);
  return { fire_at: fire, due_at: fire === null ? null : dueOf(row, fire) };
}

/** A schedule as the API shows it: one of schedule, every or at, and its next 3 fire times. */
export function view(row: ScheduleRow) {
  const [kind, value] = row.schedule.startsWith("every ") ? ["every", row.schedule.slice(6)] : row.schedule.startsWith("at ") ? ["at", row.schedule.slice(3)] : ["schedule", row.schedule];
  const next = row.fire_at === null ? [] : [row.fire_at, ...fireFrom(row, row.fire_at + 1, 2)].slice(0, 3);
  const time = (t: number | null) => (t === null ? null : iso(t));
  return {
    id: row.id,
    job: row.job,
    [kind!]: value,
    timezone: row.timezone ?? "UTC",
    args: row.args === null ? null : JSON.parse(row.args),
    start: time(row.start_at),
    end: time(row.end_at),
    jitter: row.jitter ? `${row.jitter}m` : null,
    paused: row.paused === 1,
    external_id: row.external_id,
    created_at: iso(row.created_at),
    updated_at: iso(row.updated_at),
    next: next.map((m) => iso(m * MINUTE)),
  };
}

/** An ISO 8601 instant with its offset, as epoch ms, or why not. */
function instant(value: unknown): number | string {
  if (typeof value !== "string" || !/^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)$/i.test(value) || Number.isNaN(Date.parse(value))) {
    return "must be an ISO 8601 time with a UTC offset, such as 2026-12-01T00:00:00Z";
  }
  return Date.parse(value);
}

const zonesKnown = new Set(["UTC"]);

/** Whether Intl knows the zone: the names the Worker can read a wall clock in (asked once per
 * isolate and zone: a batch of a thousand customers has a handful of zones). */
function knownZone(tz: string): boolean {
  if (zonesKnown.has(tz)) return true;
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: tz });
  } catch {
    return false;
  }
  if (zonesKnown.size < 1000) zonesKnown.add(tz);
  return true;
}

/**
 * Check a create body (or a PATCH body laid over `base`) and build its row, or answer 422 with
 * every problem as `<field>: <message>`, the words `cronflare check` prints for a catalog's job.
 */
export function checkSchedule(job: JobSpec, body: Record<string, unknown>, now: number, base?: ScheduleRow): ScheduleRow {
  const problems: string[] = [];
  const bad = (field: string, message: string) => problems.push(`${field}: ${message}`);
  for (const key in body) if (!FIELDS.includes(key) || (base && key === "id")) bad(key, base && key === "id" ? "cannot be changed" : "unknown field");
  const has = (key: string) => body[key] !== undefined && body[key] !== null;
  const id = base?.id ?? (has("id") ? body.id : `s-${crypto.randomUUID().replace(/-/g, "").slice(0, 24)}`);
  if (typeof id !== "string" || !ID.test(id)) bad("id", "must be 1 to 100 letters, digits, '.', '_' or '-', starting with a letter or digit");
  const kinds = ["schedule", "every", "at"].filter(has);
  let schedule = base?.schedule ?? "";
  let field = schedule.startsWith("every ") ? "every" : schedule.startsWith("at ") ? "at" : "schedule";
  if (kinds.length > 1 || (!base && kinds.length === 0)) bad("schedule", "give exactly one of schedule (a cron or @macro), every (such as 15m) or at (an instant)");
  else if (kinds.length === 1) {
    field = kinds[0]!;
    const value = body[field];
    try {
      if (field === "at") {
        const at = instant(value);
        if (typeof at === "string") throw new ScheduleError(at);
        if (minuteOf(at) * MINUTE < now) throw new ScheduleError(`${iso(at)} is in the past; a one-time schedule fires in the future`);
        schedule = `at ${iso(at)}`;
      } else if (typeof value !== "string") throw new ScheduleError(field === "every" ? "expected a duration such as 30s, 15m or 2h" : "must be a cron or a macro such as @daily");
      else if (field === "every") compileCron(intervalCron(value)), (schedule = `every ${value}`);
      else compileCron(value), (schedule = value);
    } catch (err) {
      if (!(err instanceof ScheduleError)) throw err;
      bad(field, err.message);
    }
  }
  let timezone = base?.timezone ?? null;
  if ("timezone" in body) {
    const tz = body.timezone ?? "UTC";
    if (typeof tz !== "string" || !knownZone(tz)) bad("timezone", `unknown IANA timezone ${JSON.stringify(String(tz)).replace(/^"|"$/g, "'")}`);
    else timezone = tz === "UTC" ? null : tz;
  }
  if (field === "every" && timezone !== null) {
    bad("timezone", `every= runs on elapsed UTC time, so timezone ${timezone} would have no effect; drop the timezone, or write a cron schedule to follow that wall clock`);
  }
  let args = base?.args ?? null;
  if ("args" in body) {
    if (body.args === null) args = null;
    else if (!isObject(body.args)) bad("args", "must be a JSON object");
    else if (tooDeep(body.args, MAX_ARGS_DEPTH)) bad("args", `is nested deeper than ${MAX_ARGS_DEPTH} levels`);
    else {
      args = JSON.stringify(body.args);
      const size = utf8Bytes(args);
      if (size > MAX_ARGS) bad("args", `is ${size} bytes serialized; at most ${MAX_ARGS} (8 KiB)`);
    }
  }
  const time = (key: "start" | "end", old: number | null) => {
    if (!(key in body)) return old;
    if (body[key] === null) return null;
    const t = instant(body[key]);
    if (typeof t === "string") bad(key, t);
    return typeof t === "number" ? t : old;
  };
  const start_at = time("start", base?.start_at ?? null);
  const end_at = time("end", base?.end_at ?? null);
  if (start_at !== null && end_at !== null && end_at <= start_at) bad("end", "must be after start");
  let jitter = base?.jitter ?? null;
  if ("jitter" in body) {
    try {
      const seconds = body.jitter === null ? 0 : parseDuration(body.jitter);
      if (seconds % 60) bad("jitter", "must be whole minutes, such as 5m");
      else if (seconds > 3600) bad("jitter", "must be between 0s and 1h");
      else jitter = seconds / 60 || null;
    } catch (err) {
      bad("jitter", (err as Error).message);
    }
  }
  const external = "external_id" in body ? body.external_id : (base?.external_id ?? null);
  if (external !== null && (typeof external !== "string" || external.length > 200)) bad("external_id", "must be a string of at most 200 characters");
  const paused = "paused" in body ? body.paused : base ? base.paused === 1 : false;
  if (typeof paused !== "boolean") bad("paused", "must be true or false");
  if (problems.length) throw new Problems(problems);
  const row: ScheduleRow = {
    id: id as string,
    job: job.name,
    schedule,
    timezone,
    args,
    start_at,
    end_at,
    jitter,
    external_id: external as string | null,
    paused: paused ? 1 : 0,
    fire_at: null,
    due_at: null,
    created_at: base?.created_at ?? now,
    updated_at: Math.max(now, (base?.updated_at ?? 0) + 1),
  };
  // Only what decides when it fires moves its next fire; a new args or external_id keeps it.
  const timing = !base || ["schedule", "every", "at", "timezone", "start", "end", "jitter", "paused"].some((k) => k in body);
  return { ...row, ...(timing ? nextFrom(row, minuteOf(now)) : { fire_at: base.fire_at, due_at: base.due_at }) };
}

/** A 422 with every problem of a body. */
export class Problems extends HttpError {
  constructor(readonly problems: string[]) {
    super(422, problems[0]!);
  }
}

const insertSchedule = (db: D1Database, rows: number) =>
  db.prepare(`INSERT INTO schedules (${COLUMNS}) VALUES ${Array.from({ length: rows }, () => "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)").join(", ")} ON CONFLICT (id) DO NOTHING`);

const values = (r: ScheduleRow) => [r.id, r.job, r.schedule, r.timezone, r.args, r.start_at, r.end_at, r.jitter, r.external_id, r.paused, r.fire_at, r.due_at, r.created_at, r.updated_at];

/** One item's answer: 201 created, 200 the existing schedule of this id, 409 another job's. */
type Item = { status: number; schedule?: ReturnType<typeof view>; error?: string; problems?: string[] };

/** Create schedules of one job; those whose id exists answer with what exists (idempotent), and
 * an id given twice in one batch answers the second time with what the first made. */
async function createMany(env: Env, job: JobSpec, bodies: unknown[], now: number): Promise<Item[]> {
  const items: Item[] = new Array(bodies.length);
  const fresh = new Map<string, [number, ScheduleRow]>();
  const repeats: [number, string][] = [];
  bodies.forEach((body, i) => {
    try {
      if (!isObject(body)) throw new Problems(["schedule: must be a JSON object"]);
      const row = checkSchedule(job, body, now);
      if (fresh.has(row.id)) repeats.push([i, row.id]);
      else fresh.set(row.id, [i, row]);
    } catch (err) {
      if (!(err instanceof Problems)) throw err;
      items[i] = { status: 422, error: err.message, problems: err.problems };
    }
  });
  const db = env.DB;
  const existing = await readRows(db, [...fresh.keys()]);
  const rows = [...fresh.values()].filter(([i, row]) => {
    const old = existing.get(row.id);
    if (old) items[i] = answerExisting(old, job);
    return !old;
  });
  // 14 values a schedule: 7 schedules a statement, under D1's 100 bound values. The count is
  // bumped in the same batch, and set right in the rare case another request made one first.
  const statements: D1PreparedStatement[] = [];
  for (let k = 0; k < rows.length; k += 7) {
    const chunk = rows.slice(k, k + 7);
    statements.push(insertSchedule(db, chunk.length).bind(...chunk.flatMap(([, r]) => values(r))));
  }
  if (rows.length) statements.push(bumpStatement(db, `schedules:${job.name}`, rows.length));
  const results = statements.length ? await db.batch(statements) : [];
  const raced: [number, ScheduleRow][] = [];
  let created = 0;
  for (let k = 0; k < rows.length; k += 7) {
    const chunk = rows.slice(k, k + 7);
    const changes = results[k / 7]!.meta.changes;
    created += changes;
    if (changes === chunk.length) for (const [i, row] of chunk) items[i] = { status: 201, schedule: view(row) };
    else raced.push(...chunk);
  }
  if (raced.length) {
    const now2 = await readRows(db, raced.map(([, r]) => r.id));
    for (const [i, row] of raced) {
      const got = now2.get(row.id)!;
      const mine = got.created_at === row.created_at && got.job === row.job && got.schedule === row.schedule && got.args === row.args;
      items[i] = mine ? { status: 201, schedule: view(got) } : answerExisting(got, job);
    }
    if (created !== rows.length) await bumpStatement(db, `schedules:${job.name}`, created - rows.length).run();
  }
  for (const [i, id] of repeats) {
    const first = items[fresh.get(id)![0]]!;
    items[i] = first.status === 201 ? { ...first, status: 200 } : first;
  }
  return items;
}

const answerExisting = (old: ScheduleRow, job: JobSpec): Item =>
  old.job === job.name ? { status: 200, schedule: view(old) } : { status: 409, error: `schedule ${old.id} belongs to job ${old.job}` };

/** Rows by id, in one statement. */
async function readRows(db: D1Database, ids: string[]): Promise<Map<string, ScheduleRow>> {
  if (!ids.length) return new Map();
  const { results } = await db.prepare(`SELECT * FROM schedules WHERE id IN (SELECT value FROM json_each(?1))`).bind(JSON.stringify(ids)).all<ScheduleRow>();
  return new Map(results.map((r) => [r.id, r]));
}

/** A schedule, or 404. */
async function scheduleNamed(db: D1Database, id: string): Promise<ScheduleRow> {
  const row = await db.prepare("SELECT * FROM schedules WHERE id = ?1").bind(id).first<ScheduleRow>();
  if (!row) throw new HttpError(404, `no such schedule: ${id}`);
  return row;
}

/** POST /jobs/<job>/schedules and /jobs/<job>/schedules/batch. */
export async function createRoute(req: Request, env: Env, name: string, batch: boolean): Promise<Response> {
  const job = runtimeJob(env, name);
  const body = parseObject(await readBody(req, batch ? BATCH_BODY : undefined));
  if (!batch) {
    const [item] = await createMany(env, job, [body], Date.now());
    if (item!.status === 422) throw new Problems(item!.problems!);
    return item!.schedule ? json(item!.schedule, item!.status) : json({ error: item!.error }, item!.status);
  }
  for (const key in body) if (key !== "schedules") throw new HttpError(422, `unknown field ${key}`);
  const list = body.schedules;
  if (!Array.isArray(list)) throw new HttpError(422, "schedules must be a list");
  if (list.length > MAX_BATCH) throw new HttpError(422, `schedules holds ${list.length}; at most ${MAX_BATCH} a batch`);
  return json({ schedules: await createMany(env, job, list, Date.now()) });
}

/** GET /jobs/<job>/schedules?cursor=&external_id=&limit=: by id, a page at a time. */
export async function listRoute(env: Env, name: string, url: URL): Promise<Response> {
  const p = url.searchParams;
  const limitText = p.get("limit") ?? "100";
  const limit = Number(limitText);
  if (!/^\d+$/.test(limitText) || limit < 1 || limit > 500) throw new HttpError(400, "limit must be 1 to 500");
  const external = p.get("external_id");
  const sql = external === null
    ? "SELECT * FROM schedules INDEXED BY schedules_by_job WHERE job = ?1 AND id > ?2 ORDER BY id LIMIT ?3"
    : "SELECT * FROM schedules INDEXED BY schedules_by_external WHERE job = ?1 AND external_id = ?4 AND id > ?2 ORDER BY id LIMIT ?3";
  const { results } = await env.DB.prepare(sql).bind(name, p.get("cursor") ?? "", limit, ...(external === null ? [] : [external])).all<ScheduleRow>();
  // A job that left the catalog still lists the schedules it left behind, to delete them.
  if (!results.length && !env.JOBS.jobs.some((j) => j.name === name)) throw new HttpError(404, `no such job: ${name}`);
  return json({ schedules: results.map(view), next_cursor: results.length === limit ? results.at(-1)!.id : null });
}

/** GET, PATCH, DELETE /schedules/<id>, and POST /schedules/<id>/pause or /resume. */
export async function scheduleRoute(req: Request, env: Env, id: string, action: string | undefined): Promise<Response> {
  const db = env.DB;
  const row = await scheduleNamed(db, id);
  const method = req.method;
  if (!action && method === "GET") return json(view(row));
  if (!action && method === "DELETE") {
    const res = await db.batch([db.prepare("DELETE FROM schedules WHERE id = ?1").bind(id), bumpStatement(db, `schedules:${row.job}`, -1)]);
    if (!res[0]!.meta.changes) throw new HttpError(404, `no such schedule: ${id}`);
    return json({ id, deleted: true });
  }
  let body: Record<string, unknown>;
  if (action) {
    if (method !== "POST") throw new HttpError(405, "use POST");
    body = { paused: action === "pause" };
  } else if (method === "PATCH") body = parseObject(await readBody(req));
  else throw new HttpError(405, "use GET, PATCH or DELETE");
  const job = env.JOBS.jobs.find((j) => j.name === row.job) ?? { name: row.job };
  const next = checkSchedule(job as JobSpec, body, Date.now(), row);
  if (action && next.paused === row.paused) return json(view(row));
  const res = await db
    .prepare(`UPDATE schedules SET ${COLUMNS.split(", ").slice(2).map((c, i) => `${c} = ?${i + 3}`).join(", ")} WHERE id = ?1 AND updated_at = ?2`)
    .bind(id, row.updated_at, ...values(next).slice(2))
    .run();
  if (!res.meta.changes) throw new HttpError(409, "schedule changed; retry");
  return json(view(next));
}

/** What a tick takes from the schedules due: the runs to record, and where each schedule moves. */
export interface DueSchedules {
  sets: NewRuns[];
  moves: [id: string, fire: number | null, due: number | null, updated: number][];
  zones: Set<string>;
}

const jobMaps = new WeakMap<JobsConfig, Map<string, JobSpec>>();

/**
 * The runs of the schedules due by `now` (ms, a whole minute; read with the scheduler's state,
 * runs.ts schedulerState), as the catalog's: `cron` at the
 * minute, `catchup` within the window, `skipped` beyond it; none while the job is paused or
 * disabled (and none made up later); `skipped` with the reason when the job left the catalog.
 */
export function dueSchedules(env: Env, now: number, paused: Map<string, Pause>, results: ScheduleRow[]): DueSchedules | null {
  const cfg = env.JOBS;
  const minute = now / MINUTE;
  if (!results.length) return null;
  let jobs = jobMaps.get(cfg);
  if (!jobs) jobMaps.set(cfg, (jobs = new Map(cfg.jobs.map((j) => [j.name, j]))));
  const window = cfg.catchup_window_minutes;
  const late = `missed tick, older than the ${window}-minute catch-up window`;
  const sets = new Map<string, NewRuns>();
  const out: DueSchedules = { sets: [], moves: [], zones: new Set() };
  const memo = new Map<string, number | null>();
  for (const row of results) {
    const job = jobs.get(row.job);
    const gone = !job ? `job ${row.job} is no longer in the catalog` : !job.runtime ? `job ${row.job} no longer takes runtime schedules` : null;
    const quiet = !gone && (!job!.enabled || paused.has(row.job));
    const args = row.args ?? (job?.args ? JSON.stringify(job.args) : null);
    const prefix = `${row.job}@${row.id}`;
    let fire = row.fire_at;
    let due = row.due_at;
    // Misses older than a week are beyond recording, as the catalog's are.
    if (due !== null && due < minute - LOOKBACK) {
      [fire = null] = fireFrom(row, minute - LOOKBACK);
      due = fire === null ? null : dueOf(row, fire);
    }
    for (let n = 0; fire !== null && due !== null && due <= minute && n < TICK_FIRES; n++) {
      if (!quiet) {
        const skipped = gone ?? (minute - due > window ? late : undefined);
        const trigger = due === minute ? "cron" : "catchup";
        const key = `${fire} ${trigger} ${skipped ?? ""}`;
        let set = sets.get(key);
        if (!set) sets.set(key, (set = { suffix: `@${iso(fire * MINUTE).slice(0, 16)}Z`, scheduled_time: iso(fire * MINUTE), trigger, status: skipped ? "skipped" : "queued", last_error: skipped, prefixed: true, jobs: [] }));
        set.jobs.push(args ? [prefix, args] : prefix);
      }
      fire = nextFire(row, fire, memo);
      due = fire === null ? null : dueOf(row, fire);
    }
    out.moves.push([row.id, fire, due, row.updated_at]);
    if (row.timezone) out.zones.add(row.timezone);
  }
  out.sets = [...sets.values()];
  return out;
}

/** Move each schedule to its next fire: an upsert, which D1 counts as no row read (an UPDATE reads
 * each row again). It changes only a schedule nobody edited since the tick read it; a schedule
 * deleted meanwhile comes back as an empty row, which the DELETE after it removes. */
export async function moveSchedules(db: D1Database, moves: DueSchedules["moves"]): Promise<void> {
  const statements: D1PreparedStatement[] = [];
  for (let k = 0; k < moves.length; k += 25) {
    const chunk = moves.slice(k, k + 25);
    const sql = `INSERT INTO schedules (id, job, schedule, fire_at, due_at, updated_at, created_at) VALUES ${chunk.map(() => "(?, '', '', ?, ?, ?, 0)").join(", ")} ON CONFLICT (id) DO UPDATE SET fire_at = excluded.fire_at, due_at = excluded.due_at WHERE schedules.updated_at = excluded.updated_at`;
    statements.push(db.prepare(sql).bind(...chunk.flat()));
  }
  statements.push(db.prepare("DELETE FROM schedules INDEXED BY schedules_by_job WHERE job = ''"));
  for (let i = 0; i < statements.length; i += 500) await db.batch(statements.slice(i, i + 500));
}
