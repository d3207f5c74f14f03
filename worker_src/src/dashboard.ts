/** GET /: a small HTML dashboard of jobs, next runs, recent outcomes and durations, and the
 * buttons that act through the admin API (docs/OPERATIONS.md). No framework. */
import type { Pause } from "./runs";
import type { Skew } from "./skew";
import type { JobSpec, RunRow } from "./types";

export interface DashboardData {
  mode: string;
  jobs: (JobSpec & { next: string[]; last: RunRow | null; paused?: Pause | null; schedules?: number })[];
  /** One job's runtime schedules, a page of them, when the page asks (`?schedules=<job>`). */
  schedules?: { job: string; rows: { id: string; schedule?: string; every?: string; at?: string; timezone: string; next: string[]; paused: boolean; external_id: string | null }[]; next_cursor: string | null };
  runs: RunRow[];
  counts: Record<string, number>;
  now: number;
  /** Each job's last runs, newest first, for its status strip. */
  strips?: Record<string, Pick<RunRow, "execution_id" | "status">[]>;
  skew?: Skew;
  /** The filters of the run table, and the values they may take. */
  filter?: { job: string | null; status: string | null };
  statuses?: readonly string[];
  /** The action token a Basic-auth POST must carry (src/http.ts). */
  action?: string;
}

/** HTML-escape, and show bidi embedding, override and isolate controls as [U+202E] rather than obey
 * them: a run's error must not reorder what the page shows after it. */
const esc = (s: unknown) =>
  String(s ?? "").replace(/[&<>"'\u202a-\u202e\u2066-\u2069]/g, (c) => {
    const n = c.charCodeAt(0);
    return n > 255 ? `[U+${n.toString(16).toUpperCase()}]` : `&#${n};`;
  });

/** "in 5 min", "3 h ago": how far a time is from now. */
export function relative(iso: string | null, now: number): string {
  if (!iso) return "";
  const s = Math.round((Date.parse(iso) - now) / 1000);
  const a = Math.abs(s);
  const text =
    a < 60 ? `${a} s` : a < 3600 ? `${Math.round(a / 60)} min` : a < 172800 ? `${Math.round(a / 3600)} h` : `${Math.round(a / 86400)} d`;
  return s >= 0 ? `in ${text}` : `${text} ago`;
}

/** How long a run's job ran, such as "1.2 s"; nothing for a run whose job never started. */
export function duration(run: RunRow): string {
  if (!run.finished_at || !run.started_at) return "";
  const ms = Date.parse(run.finished_at) - Date.parse(run.started_at);
  return ms < 1000 ? `${ms} ms` : ms < 120000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 60000)} min`;
}

const time = (iso: string | null, now: number) =>
  iso ? `<time datetime="${esc(iso)}" title="${esc(iso)}">${esc(relative(iso, now))}</time>` : "—";
const badge = (status: string | undefined) =>
  status ? `<span class="s ${esc(status)}">${esc(status)}</span>` : `<span class="s none">never ran</span>`;

// Pieces, not one multi-line template: esbuild folds them into one line, and every byte counts.
const CSS =
  "body{font:14px/1.45 system-ui;margin:2rem;color:#222}body,th{background:#f6f8fa}" +
  "h1{font-size:1.4rem;margin:0}h2{font-size:1.05rem;margin:1.6rem 0 .5rem}" +
  "table,.card{background:#fff;border:1px solid #ccd}table{border-collapse:collapse;width:100%}" +
  "th,td{text-align:left;padding:.4rem .6rem;border-bottom:1px solid #eee;vertical-align:top}" +
  ".n{text-align:right;font-variant-numeric:tabular-nums}code{font:12px monospace}" +
  ".muted,.skipped,.none{color:#667}.cards{display:flex;gap:.8rem;margin:1rem 0}" +
  ".card{padding:.5rem .9rem;border-radius:6px}.card b{display:block;font-size:1.3rem}" +
  ".s{padding:.1rem .45rem;border-radius:1rem;font-size:12px;background:#eee}" +
  ".succeeded{background:#dfd;color:#163}.failed,.dead{background:#fee;color:#a12}" +
  ".running,.dispatched{background:#def;color:#15a}.queued{background:#ffc;color:#750}" +
  ".strip i{display:inline-block;width:7px;height:16px;margin-right:1px;padding:0;border-radius:1px}" +
  ".paused,.out-of-sync,.check-failed{background:#fec;color:#840}.in-sync{color:#163}" +
  "button{font:12px system-ui;margin:0 .2rem .2rem 0}form{margin:.5rem 0}#msg{min-height:1.2em}";

/** Buttons POST through the admin API with the page's action token; pause asks for a reason. */
const SCRIPT =
  "document.onclick=async e=>{let b=e.target.closest('button[data-p]');if(!b)return;let d=b.dataset,body;" +
  "if(d.r!=null){let r=prompt('Why pause '+d.r+'? (optional)');if(r==null)return;body=JSON.stringify({reason:r})}" +
  "let t=document.querySelector('meta[name=cronflare-action]').content,res=await fetch(d.p,{method:'POST',body," +
  "headers:{'x-cronflare-action':t,'content-type':'application/json'}}),j=await res.json().catch(()=>({}));" +
  "document.getElementById('msg').textContent=res.ok?b.textContent+': '+(j.execution_id||j.job||'done'):'refused: '+j.error;" +
  "if(res.ok)setTimeout(()=>location.reload(),600)}";

const sha256 = async (text: string) =>
  `'sha256-${btoa(String.fromCharCode(...new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)))))}'`;
let policy: Promise<string> | undefined;

/** The page's Content-Security-Policy: its own inline script and style, by hash, and nothing
 * else; computed once per isolate, since both are constants. */
export const dashboardPolicy = () =>
  (policy ??= Promise.all([sha256(SCRIPT), sha256(CSS)]).then(
    ([script, style]) =>
      `default-src 'none'; script-src ${script}; style-src ${style}; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'`,
  ));

const button = (path: string, label: string, extra = "") => `<button data-p="${esc(path)}"${extra}>${label}</button>`;
const jobPath = (name: string, action: string) => `/jobs/${encodeURIComponent(name)}/${action}`;
const options = (values: readonly string[], chosen: string | null | undefined, all: string) =>
  `<option value="">${all}</option>` + values.map((v) => `<option${v === chosen ? " selected" : ""}>${esc(v)}</option>`).join("");

export function renderDashboard(d: DashboardData): string {
  const card = (label: string, n: number, cls = "") => `<div class="card ${cls}"><b>${n}</b>${label}</div>`;
  const jobRows = d.jobs
    .map((j) => {
      const strip = (d.strips?.[j.name] ?? []).map((r) => `<i class="s ${esc(r.status)}" title="${esc(`${r.execution_id} ${r.status}`)}"></i>`).reverse().join("");
      const state = j.paused
        ? `<span class="s paused">${esc(j.paused.reason ? `paused: ${j.paused.reason}` : "paused")}</span>`
        : j.enabled
          ? time(j.next[0] ?? null, d.now)
          : '<span class="s skipped">disabled</span>';
      const acts = j.enabled
        ? button(jobPath(j.name, "run"), "run now") +
          (j.paused ? button(jobPath(j.name, "resume"), "resume") : button(jobPath(j.name, "pause"), "pause", ` data-r="${esc(j.name)}"`))
        : "";
      return (
        `<tr data-job="${esc(j.name)}"><td><b>${esc(j.name)}</b><div class="muted">${esc(j.description)}</div></td>` +
        `<td><code>${esc(j.schedule)}</code>${j.runtime ? `<div><a href="/?schedules=${encodeURIComponent(j.name)}">${esc(j.schedules ?? 0)} runtime schedules</a></div>` : ""}</td><td>${esc(j.timezone)}</td><td>${state}</td>` +
        `<td>${badge(j.last?.status)} ${j.last ? time(j.last.scheduled_time, d.now) : ""}<div class="strip">${strip}</div></td><td>${acts}</td></tr>`
      );
    })
    .join("");
  const runRows = d.runs
    .map(
      (r) =>
        `<tr><td><code>${esc(r.execution_id)}</code>${r.execution_id.split("@").length === 3 ? `<div class="muted">schedule ${esc(r.execution_id.split("@")[1])}</div>` : ""}</td><td>${badge(r.status)}</td><td>${esc(r.trigger)}</td>` +
        `<td>${time(r.scheduled_time, d.now)}</td><td class="n">${esc(r.attempts)}</td><td class="n">${esc(duration(r))}</td>` +
        `<td class="muted">${esc(r.last_error ?? "")}</td>` +
        `<td>${["failed", "dead", "skipped"].includes(r.status) ? button(`/runs/${encodeURIComponent(r.execution_id)}/replay`, "replay") : ""}</td></tr>`,
    )
    .join("");
  const skew = d.skew
    ? ` · <span class="skew ${esc(d.skew.status.replace(/ /g, "-"))}" title="checked ${esc(d.skew.checked_at ?? "never")}">${esc(d.skew.message)}</span>`
    : "";
  const filter =
    `<form id="filter"><select name="job">${options(d.jobs.map((j) => j.name), d.filter?.job, "all jobs")}</select> ` +
    `<select name="status">${options(d.statuses ?? [], d.filter?.status, "any status")}</select> <button>filter</button></form>`;
  return (
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">' +
    `<meta name="cronflare-action" content="${esc(d.action ?? "")}"><title>cronflare</title><style>${CSS}</style></head><body>` +
    `<h1>cronflare</h1><div class="muted">${esc(d.jobs.length)} jobs, ${esc(d.mode)} mode${skew}</div><div id="msg" role="status"></div>` +
    `<div class="cards">${card("succeeded", d.counts.succeeded ?? 0)}${card("failed", d.counts.failed ?? 0, "failed")}${card("dead", d.counts.dead ?? 0, "dead")}${card("skipped", d.counts.skipped ?? 0)}</div>` +
    `<h2>Jobs</h2><table id="jobs"><thead><tr><th>job</th><th>schedule</th><th>timezone</th><th>next run</th><th>last runs</th><th></th></tr></thead><tbody>${jobRows}</tbody></table>` +
    (d.schedules ? schedulesTable(d.schedules, d.now) : "") +
    `<h2>Recent runs</h2>${filter}<table id="runs"><thead><tr><th>execution</th><th>status</th><th>trigger</th><th>scheduled</th><th>attempts</th><th>duration</th><th>last error</th><th></th></tr></thead>` +
    `<tbody>${runRows || '<tr><td colspan="8" class="muted">No runs yet.</td></tr>'}</tbody></table><script>${SCRIPT}</script></body></html>`
  );
}

/** A page of one job's runtime schedules, with a link to the next. */
function schedulesTable(page: NonNullable<DashboardData["schedules"]>, now: number): string {
  const rows = page.rows
    .map((r) => `<tr><td><code>${esc(r.id)}</code></td><td><code>${esc(r.schedule ?? (r.every ? `every ${r.every}` : `at ${r.at}`))}</code></td><td>${esc(r.timezone)}</td><td>${r.paused ? badge("paused") : time(r.next[0] ?? null, now)}</td><td class="muted">${esc(r.external_id ?? "")}</td></tr>`)
    .join("");
  const more = page.next_cursor ? `<a href="/?schedules=${encodeURIComponent(page.job)}&amp;after=${encodeURIComponent(page.next_cursor)}">next page</a>` : "";
  return (
    `<h2>Runtime schedules of ${esc(page.job)}</h2><table id="schedules"><thead><tr><th>id</th><th>schedule</th><th>timezone</th><th>next run</th><th>external id</th></tr></thead>` +
    `<tbody>${rows || '<tr><td colspan="5" class="muted">None.</td></tr>'}</tbody></table>${more}`
  );
}
