/**
 * Bench only (issue 14): a new isolate with the deployed modules, driven by bench/tick.mjs. The
 * workerd process this runs in holds worker.js (build.mjs's bundle of src/index.ts) and plan.js
 * (Python's plan module) beside this entry, as Cloudflare gets them, and evaluates neither until
 * asked:
 *
 * - /startup imports worker.js, which imports plan.js: the module evaluation of both;
 * - /icu creates the isolate's first Intl object, to time V8's one-time ICU set-up alone;
 * - /tick runs the real worker's scheduled() for `at`, with D1, the queue and the dispatcher
 *   stubbed to answer at once (the last evaluated minute is `last`, or none; the zones' spans
 *   are `zones`, or none), so that what is timed is the Worker's own work: evaluating the plan,
 *   building the run rows, and signing and posting its batches to the dispatcher and reading
 *   the answers. The stub dispatcher's own time (parsing a batch, answering each run) is
 *   measured and left out. It answers the spans the tick stored, if it stored them;
 * - /digests then answers the digest of each minute's runs that tick inserted.
 */
import { type Digest, nameHash } from "./digest";

interface Stubbed {
  /** The runs inserted (due runs, skipped ones included) as [job names, id suffix] per
   * statement; how many were dispatched by the tick's POSTs, in how many POSTs, and how many
   * were sent to the queue. */
  inserted: [string[], string][];
  dispatched: number;
  posts: number;
  sent: number;
  /** Milliseconds spent in the stub dispatcher, left out of the tick's time. */
  stubMs: number;
  /** The zones' spans the tick stored, if it stored them. */
  zones: string | null;
}

const CHANGED = { meta: { changes: 1 } };

/** A prepared statement of the stub D1: methods on the prototype, so that making one costs
 * little next to the Worker's own work. */
class Statement {
  constructor(
    readonly sql: string,
    private readonly db: StubD1,
    readonly args: unknown[] = [],
  ) {}
  /** A new statement, as D1's bind() returns. */
  bind(...args: unknown[]) {
    return new Statement(this.sql, this.db, args);
  }
  async first() {
    return null;
  }
  async run() {
    if (this.sql.startsWith("INSERT INTO scheduler_state") && this.args[0] === "zones") this.db.seen.zones = String(this.args[1]);
    return { meta: { changes: 1 } };
  }
  async all() {
    return { results: this.sql.includes("FROM scheduler_state") ? this.db.state : [] };
  }
}

/** A D1 that answers at once: every INSERT creates its row, and no job is paused.
 * scheduler_state holds `last` (the last evaluated minute) and `zones` (the zones' spans as
 * JSON), when given, and a skew check answered just now, as it is between its hourly checks
 * (so that no tick asks the dispatcher). */
class StubD1 {
  readonly state: { key: string; value: string }[];
  constructor(
    last: number | null,
    zones: string | null,
    catalogHash: string,
    readonly seen: Stubbed,
  ) {
    this.state = [
      ...(last === null ? [] : [{ key: "last_minute", value: new Date(last).toISOString() }]),
      ...(zones === null ? [] : [{ key: "zones", value: zones }]),
      { key: "skew", value: JSON.stringify({ status: "in sync", worker: catalogHash, checked_at: new Date().toISOString() }) },
    ];
  }
  prepare(sql: string) {
    return new Statement(sql, this);
  }
  /** An INSERT of runs creates every run of its VALUES and says how many, as D1's `changes`
   * does (the Worker asks for no rows back): 7 values the minute's runs share (the id suffix
   * first), then a job name and its args per run. It keeps the names, to digest at /digests. */
  async batch(statements: Statement[]) {
    // A plain loop, not an async function per statement: a tick answers thousands of runs in
    // one batch, and the stub's own cost must stay small next to the Worker's.
    const out: unknown[] = [];
    for (const st of statements) {
      if (st.sql.startsWith("SELECT")) out.push(await st.all());
      else if (!st.sql.startsWith("INSERT OR IGNORE INTO runs")) out.push(CHANGED);
      else {
        // A plain loop, not filter(): a callback per value would be the stub's cost, not the Worker's.
        const names: string[] = [];
        for (let i = 7; i < st.args.length; i += 2) names.push(st.args[i] as string);
        this.seen.inserted.push([names, st.args[0] as string]);
        out.push({ results: [], meta: { changes: names.length } });
      }
    }
    return out;
  }
}

/** The stub D1, a queue that takes every batch at once, and plain bindings. */
function stubs(last: number | null, zones: string | null, seen: Stubbed) {
  return {
    DB: new StubD1(last, zones, catalogHash, seen),
    JOBS_QUEUE: {
      sendBatch: async (messages: unknown[]) => void (seen.sent += messages.length),
    },
    DISPATCH_URL: "http://dispatch.invalid",
    PUBLIC_URL: "http://worker.invalid",
    SIGNING_KEY: "bench",
    ADMIN_TOKEN: "bench",
  };
}

/** A dispatcher that spawns every run of each batch the tick POSTs, at once; its own time is
 * kept in `seen.stubMs`, to leave out of the tick's. */
function stubDispatcher(seen: Stubbed): typeof fetch {
  return async (_input, init) => {
    const t0 = performance.now();
    const { minutes } = JSON.parse(String(init?.body)) as { minutes: { jobs: string[] }[] };
    seen.posts++;
    const answer = (jobs: string[]) => ({ codes: jobs.map(() => 202), statuses: jobs.map(() => "spawned"), call_ids: jobs.map(() => null), errors: jobs.map(() => null) });
    for (const m of minutes) seen.dispatched += m.jobs.length;
    const body = JSON.stringify({ minutes: minutes.map((m) => answer(m.jobs)) });
    const res = new Response(body, { headers: { "content-type": "application/json" } });
    seen.stubMs += performance.now() - t0;
    return res;
  };
}

/** The digest of each minute's inserted runs, by minute ("2026-11-23T09:00Z"). */
function digests(inserted: [string[], string][]): Record<string, Digest> {
  const out: Record<string, Digest> = {};
  for (const id of inserted.flatMap(([jobs, suffix]) => jobs.map((job) => job + suffix))) {
    const [job, minute] = id.split("@") as [string, string];
    const d = (out[minute] ??= [0, 0]);
    d[0]++;
    d[1] = (d[1] + nameHash(job)) >>> 0;
  }
  return out;
}

// Not string literals, so that esbuild leaves both imports to workerd's module registry.
const WORKER = "./worker.js";
const PLAN = "./plan.js";
let worker: ExportedHandler | null = null;
/** The plan's catalog hash, read after the timed import, for the stub's skew answer. */
let catalogHash = "";
/** What the last /tick inserted and sent. */
let last: Stubbed | null = null;

const json = (body: unknown) => new Response(JSON.stringify(body), { headers: { "content-type": "application/json" } });

export default {
  async fetch(req) {
    const url = new URL(req.url);
    switch (url.pathname) {
      case "/empty":
        return new Response("ok");
      case "/icu": {
        // The isolate's first Intl object: V8 and ICU set up their locale data once per isolate.
        const t0 = performance.now();
        new Intl.DateTimeFormat("en-US", { timeZone: "UTC" }).format(0);
        return json({ ms: performance.now() - t0 });
      }
      case "/startup": {
        const t0 = performance.now();
        worker = (await import(WORKER)).default as ExportedHandler;
        const ms = performance.now() - t0;
        catalogHash = ((await import(PLAN)) as { default: { catalog_hash: string } }).default.catalog_hash;
        return json({ ms });
      }
      case "/tick": {
        if (!worker?.scheduled) return new Response("startup first", { status: 409 });
        const at = Number(url.searchParams.get("at"));
        const lastParam = url.searchParams.get("last");
        const seen: Stubbed = { inserted: [], dispatched: 0, posts: 0, sent: 0, stubMs: 0, zones: null };
        const env = stubs(lastParam === null ? null : Number(lastParam), url.searchParams.get("zones"), seen);
        const controller = { scheduledTime: at, cron: "* * * * *", noRetry() {} } as ScheduledController;
        const errors: string[] = [];
        const error = console.error;
        const realFetch = globalThis.fetch;
        console.error = (...parts: unknown[]) => void errors.push(parts.join(" "));
        globalThis.fetch = stubDispatcher(seen);
        const t0 = performance.now();
        try {
          await worker.scheduled(controller, env as never, {} as ExecutionContext);
        } finally {
          console.error = error;
          globalThis.fetch = realFetch;
        }
        const ms = performance.now() - t0 - seen.stubMs;
        last = seen;
        const runs = seen.inserted.reduce((n, [jobs]) => n + jobs.length, 0);
        return json({ ms, runs, dispatched: seen.dispatched, posts: seen.posts, queued: seen.sent, stub_ms: seen.stubMs, zones: seen.zones, errors });
      }
      case "/digests": {
        // Asked after /tick, so that the tick's timing leaves out working them out.
        return json(digests(last?.inserted ?? []));
      }
      default:
        return new Response("not found", { status: 404 });
    }
  },
} satisfies ExportedHandler;
