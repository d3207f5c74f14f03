/** GET /: a small HTML dashboard of jobs, next runs, recent outcomes and durations. No framework. */
import type { JobSpec, RunRow } from "./types";

export interface DashboardData {
  mode: string;
  jobs: (JobSpec & { next: string[]; last: RunRow | null })[];
  runs: RunRow[];
  counts: Record<string, number>;
  now: number;
}

const esc = (s: unknown) =>
  String(s ?? "").replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** "in 5 min", "3 h ago": how far a time is from now. */
export function relative(iso: string | null, now: number): string {
  if (!iso) return "";
  const s = Math.round((Date.parse(iso) - now) / 1000);
  const a = Math.abs(s);
  const text =
    a < 60 ? `${a} s` : a < 3600 ? `${Math.round(a / 60)} min` : a < 172800 ? `${Math.round(a / 3600)} h` : `${Math.round(a / 86400)} d`;
  return s >= 0 ? `in ${text}` : `${text} ago`;
}

/** A run's duration from its start (or creation) to its end, such as "1.2 s". */
export function duration(run: RunRow): string {
  if (!run.finished_at) return "";
  const ms = Date.parse(run.finished_at) - Date.parse(run.started_at ?? run.created_at);
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
  ".running,.dispatched{background:#def;color:#15a}.queued{background:#ffc;color:#750}";

export function renderDashboard(d: DashboardData): string {
  const card = (label: string, n: number, cls = "") => `<div class="card ${cls}"><b>${n}</b>${label}</div>`;
  const jobRows = d.jobs
    .map(
      (j) =>
        `<tr><td><b>${esc(j.name)}</b><div class="muted">${esc(j.description)}</div></td>` +
        `<td><code>${esc(j.schedule)}</code></td><td>${esc(j.timezone)}</td>` +
        `<td>${j.enabled ? time(j.next[0] ?? null, d.now) : '<span class="s skipped">disabled</span>'}</td>` +
        `<td>${badge(j.last?.status)} ${j.last ? time(j.last.scheduled_time, d.now) : ""}</td></tr>`,
    )
    .join("");
  const runRows = d.runs
    .map(
      (r) =>
        `<tr><td><code>${esc(r.execution_id)}</code></td><td>${badge(r.status)}</td><td>${esc(r.trigger)}</td>` +
        `<td>${time(r.scheduled_time, d.now)}</td><td class="n">${esc(r.attempts)}</td><td class="n">${esc(duration(r))}</td>` +
        `<td class="muted">${esc(r.last_error ?? "")}</td></tr>`,
    )
    .join("");
  return (
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">' +
    `<title>cronflare</title><style>${CSS}</style></head><body>` +
    `<h1>cronflare</h1><div class="muted">${esc(d.jobs.length)} jobs, ${esc(d.mode)} mode</div>` +
    `<div class="cards">${card("succeeded", d.counts.succeeded ?? 0)}${card("failed", d.counts.failed ?? 0, "failed")}${card("dead", d.counts.dead ?? 0, "dead")}${card("skipped", d.counts.skipped ?? 0)}</div>` +
    `<h2>Jobs</h2><table id="jobs"><thead><tr><th>job</th><th>schedule</th><th>timezone</th><th>next run</th><th>last run</th></tr></thead><tbody>${jobRows}</tbody></table>` +
    '<h2>Recent runs</h2><table id="runs"><thead><tr><th>execution</th><th>status</th><th>trigger</th><th>scheduled</th><th>attempts</th><th>duration</th><th>last error</th></tr></thead>' +
    `<tbody>${runRows || '<tr><td colspan="7" class="muted">No runs yet.</td></tr>'}</tbody></table></body></html>`
  );
}
