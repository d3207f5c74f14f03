// The local stack's Worker: dist/worker.js in workerd through miniflare's Node API, with a real
// D1 (migrations applied), the real queue and dead-letter queue, and a small control server the
// Python orchestrator drives (scheduled() at a given time, the raw run log, duplicate messages).
// Reads its configuration as one JSON line on stdin ({port, persist_dir, bindings, plan,
// plan_module, root}); prints one JSON line when ready. It stops (miniflare disposed, so workerd stops
// too) on SIGTERM, SIGINT, or the end of stdin: the parent keeps stdin open for as long as it
// wants the Worker, so a parent that dies, however abruptly, takes the Worker with it. The plan
// loads as the module plan.js beside the bundle, as Cloudflare gets it; `plan` is the same
// config, for the queue names.
import { readdirSync, readFileSync } from "node:fs";
import http from "node:http";
import { Miniflare, convertV4MiniflareOptions } from "miniflare";

/** The first line of stdin; stdin stays open (and read) after it, as the parent's lifeline. */
function firstLine(stream) {
  return new Promise((resolve, reject) => {
    let text = "";
    const onData = (chunk) => {
      text += chunk;
      const end = text.indexOf("\n");
      if (end < 0) return;
      stream.off("data", onData).off("end", onEnd);
      resolve(text.slice(0, end));
    };
    const onEnd = () => reject(new Error("stdin ended before a configuration line"));
    stream.setEncoding("utf8").on("data", onData).on("end", onEnd);
  });
}

let stopping = false;
let stop = () => process.exit(0); // until miniflare is up: nothing to dispose yet
const stopOnce = () => {
  if (stopping) return;
  stopping = true;
  stop();
};
process.on("SIGTERM", stopOnce);
process.on("SIGINT", stopOnce);
// A parent that goes away closes stdin (and stdout, whose next write then fails): stop with it.
process.stdout.on("error", stopOnce);

const cfg = JSON.parse(await firstLine(process.stdin));
// The Worker's files (dist/, migrations/, worker.config.json): worker_src/ in a checkout, the
// wheel's copy when installed, where this file runs from a per-user cache beside node_modules.
const root = cfg.root ?? new URL("..", import.meta.url).pathname;
process.stdin.on("data", () => {}).on("end", stopOnce).on("close", stopOnce);
const { compatibility_date } = JSON.parse(readFileSync(root + "worker.config.json", "utf8"));
const queues = cfg.plan.queues;

const mf = new Miniflare(
  convertV4MiniflareOptions({
    host: "127.0.0.1",
    port: cfg.port,
    modulesRoot: root + "dist", // module names "worker.js" and "plan.js", as uploaded
    modules: [
      { type: "ESModule", path: root + "dist/worker.js" },
      { type: "ESModule", path: root + "dist/plan.js", contents: cfg.plan_module },
    ],
    compatibilityDate: compatibility_date,
    d1Databases: ["DB"],
    d1Persist: cfg.persist_dir ? `${cfg.persist_dir}/d1` : false,
    queueProducers: { JOBS_QUEUE: queues.jobs },
    queueConsumers: {
      [queues.jobs]: {
        maxBatchSize: queues.batch_size ?? 10,
        maxBatchTimeout: 0,
        maxRetries: queues.max_retries,
        deadLetterQueue: queues.dead_letter,
      },
      [queues.dead_letter]: { maxBatchSize: 10, maxBatchTimeout: 0 },
    },
    bindings: cfg.bindings,
  }),
);
let control; // the control server, once created
stop = async () => {
  // Bounded: a dispose that hangs must not keep the process (the parent then ends its group).
  setTimeout(() => process.exit(1), 5000).unref();
  control?.close();
  await mf.dispose(); // stops workerd, which would otherwise outlive this process
  process.exit(0);
};

/** A migration's statements: each ends with a ";" at the end of a line, and a CREATE TRIGGER's
 * with its "END;" line (its body's statements end with ";" too). */
function splitSql(sql) {
  const statements = [];
  let current = [];
  for (const line of sql.split("\n")) {
    current.push(line);
    const text = current.join("\n").trim();
    const trigger = /^CREATE\s+TRIGGER\b/i.test(text);
    if (trigger ? /^\s*END;\s*$/i.test(line) : /;\s*$/.test(line)) {
      statements.push(trigger ? text : text.replace(/;\s*$/, ""));
      current = [];
    }
  }
  const rest = current.join("\n").trim();
  return rest ? [...statements, rest] : statements;
}

async function migrate(db) {
  await db.prepare("CREATE TABLE IF NOT EXISTS d1_migrations (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE, applied_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP)").run();
  const done = new Set((await db.prepare("SELECT name FROM d1_migrations").all()).results.map((r) => r.name));
  for (const name of readdirSync(root + "migrations").filter((n) => n.endsWith(".sql")).sort()) {
    if (done.has(name)) continue;
    const sql = readFileSync(`${root}migrations/${name}`, "utf8").replace(/--.*$/gm, "");
    const statements = splitSql(sql);
    await db.batch([...statements.map((s) => db.prepare(s)), db.prepare("INSERT INTO d1_migrations (name) VALUES (?)").bind(name)]);
  }
}

const url = await mf.ready;
const db = await mf.getD1Database("DB");
await migrate(db);
const worker = await mf.getWorker();
const producer = await mf.getQueueProducer("JOBS_QUEUE");

// Counted through the Worker's own /stats: a request into workerd is far quicker than a D1 call
// through miniflare's Node proxy.
const admin = { authorization: `Bearer ${cfg.bindings.ADMIN_TOKEN}` };
async function inFlight() {
  const { counts } = await (await mf.dispatchFetch(new URL("/stats", url), { headers: admin })).json();
  return counts.in_flight;
}

const read = (req) => new Promise((resolve) => { let b = ""; req.on("data", (c) => (b += c)); req.on("end", () => resolve(b)); });
control = http.createServer(async (req, res) => {
  try {
    let out;
    if (req.method === "POST" && req.url === "/scheduled") {
      // scheduled() at `time`, then wait up to `wait_ms` while runs are in flight.
      const { time, cron, wait_ms = 0 } = JSON.parse(await read(req));
      out = await worker.scheduled({ scheduledTime: new Date(time), cron });
      const deadline = Date.now() + wait_ms;
      let pending = await inFlight();
      while (pending > 0 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 3));
        pending = await inFlight();
      }
      out = { ...out, pending };
    } else if (req.method === "GET" && req.url === "/runs") {
      // The columns the API shows (src/runs.ts RUN): the log stores integer times (migrations/0008).
      const columns = "execution_id, job, scheduled_time, trigger, status, attempts, call_id, last_error, updated_at, started_at, finished_at, args, result";
      out = (await db.prepare(`SELECT ${columns} FROM runs ORDER BY scheduled_ms, execution_id`).all()).results;
    } else if (req.method === "POST" && req.url === "/enqueue") {
      await producer.send(JSON.parse(await read(req)));
      out = { ok: true };
    } else {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(out));
  } catch (err) {
    res.writeHead(500, { "content-type": "application/json" }).end(JSON.stringify({ error: String(err) }));
  }
});
control.listen(0, "127.0.0.1", () => {
  console.log(JSON.stringify({ ready: true, url: url.href, control: `http://127.0.0.1:${control.address().port}` }));
});

