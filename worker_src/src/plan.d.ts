/** The deploy plan, uploaded as the module plan.js beside the bundle: Cloudflare caps a binding at 5 KB. */
declare const plan: import("./types").JobsConfig;
export default plan;
