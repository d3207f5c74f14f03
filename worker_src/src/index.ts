/** cronflare's Worker: Cloudflare keeps the time, Modal runs the jobs (DESIGN.md §5). */
import { onFetch } from "./api";
import { onQueue } from "./dispatch";
import { onScheduled } from "./tick";
import type { Env, JobMessage } from "./types";

export default {
  fetch: (req, env, _ctx) => onFetch(req, env),
  scheduled: (controller, env, _ctx) => onScheduled(controller, env),
  queue: (batch, env, _ctx) => onQueue(batch, env),
} satisfies ExportedHandler<Env, JobMessage>;
