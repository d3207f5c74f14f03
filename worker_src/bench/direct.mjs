// Bench only: fire the simple design's scheduled() (direct POSTs, no queue, no run log) in
// workerd, one minute at a time, against a running local dispatcher. Reads its configuration as
// JSON on stdin: {dispatch_url, signing_key, jobs: [[name, offset]], start_ms, minutes,
// execution_log}; a job is due when the minute % 5 is its offset. Prints
// {"sent": {"<ISO minute>": <epoch ms when scheduled() was called>}} on stdout.
import { existsSync, readFileSync } from "node:fs";
import { build } from "esbuild";
import { WORKER_BUILD } from "../esbuild.options.mjs";
import { Miniflare, convertV4MiniflareOptions } from "miniflare";

const here = new URL(".", import.meta.url).pathname;
const cfg = JSON.parse(readFileSync(0, "utf8"));
const { compatibility_date } = JSON.parse(readFileSync(here + "../worker.config.json", "utf8"));
const out = await build({ ...WORKER_BUILD, entryPoints: [here + "direct_entry.ts"], write: false });

const port = 20000 + Math.floor(Math.random() * 20000);
const mf = new Miniflare(convertV4MiniflareOptions({
  host: "127.0.0.1",
  port,
  modules: true,
  script: out.outputFiles[0].text,
  compatibilityDate: compatibility_date,
  bindings: {
    DISPATCH_URL: cfg.dispatch_url,
    SIGNING_KEY: cfg.signing_key,
    CALLBACK_URL: `http://127.0.0.1:${port}`,
    JOBS: cfg.jobs.map(([name, offset]) => `${name}/${offset}`).join(","),
  },
}));
await mf.ready;
const worker = await mf.getWorker();

const started = () => (existsSync(cfg.execution_log) ? readFileSync(cfg.execution_log, "utf8").split("\n").filter(Boolean).length : 0);
const sent = {};
let expected = started();
try {
  for (let i = 0; i < cfg.minutes; i++) {
    const at = new Date(cfg.start_ms + i * 60_000);
    sent[at.toISOString().slice(0, 16)] = Date.now();
    await worker.scheduled({ scheduledTime: at, cron: "* * * * *" });
    // As the queue path's bench does: the next minute waits for this minute's job bodies.
    expected += cfg.jobs.filter(([, offset]) => at.getUTCMinutes() % 5 === offset).length;
    const deadline = Date.now() + 30_000;
    while (started() < expected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 3));
  }
} finally {
  await mf.dispose();
}
process.stdout.write(JSON.stringify({ sent }) + "\n");
