// The Worker's esbuild options, shared by build.mjs and the benchmarks, so that what is
// measured is built exactly as what is deployed.
export const WORKER_BUILD = {
  bundle: true,
  format: "esm",
  platform: "neutral",
  target: "es2022",
  charset: "utf8",
  minify: true,
  legalComments: "none",
  external: ["./plan.js"],
};
