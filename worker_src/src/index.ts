/** cronflare's Worker: Cloudflare keeps the time, Modal runs the jobs (docs/ARCHITECTURE.md, Contracts). */
import { onFetch } from "./api";
import { onQueue } from "./dispatch";
import plan from "./plan.js";
import { onScheduled } from "./tick";
import type { Bindings, Env, JobMessage } from "./types";

// A JOBS binding, when present, overrides the plan module (tests, local overrides).
const withPlan = (env: Bindings): Env => ({ JOBS: plan, ...env });

export default {
  fetch: (req, env, _ctx) => onFetch(req, withPlan(env)),
  scheduled: (controller, env, _ctx) => onScheduled(controller, withPlan(env)),
  queue: (batch, env, _ctx) => onQueue(batch, withPlan(env)),
} satisfies ExportedHandler<Bindings, JobMessage>;
