// Bundle src/index.ts into one minified ES module, dist/worker.js, and print its size. The plan
// stays an import of "./plan.js": the deploy uploads that module beside the bundle.
import { build } from "esbuild";
import { statSync } from "node:fs";
import { WORKER_BUILD } from "./esbuild.options.mjs";

// 64 KiB (docs/WORKER.md, "Build, test, size"): the catalog's schedules arrive compiled in
// plan.js, so no cron library is bundled (croner, 33 KB, is a devDependency: the tests' oracle
// and the bench's baseline). Runtime schedules arrive over HTTP, so the Worker carries its own
// small compiler (src/compile.ts) and the schedules API: the budget went from 40 to 64 KiB.
const LIMIT = 64 * 1024;
const outfile = new URL("./dist/worker.js", import.meta.url).pathname;
await build({ ...WORKER_BUILD, entryPoints: [new URL("./src/index.ts", import.meta.url).pathname], outfile });
const bytes = statSync(outfile).size;
console.log(`dist/worker.js: ${bytes} bytes (${(bytes / 1024).toFixed(1)} KiB of the ${LIMIT / 1024} KiB budget)`);
if (bytes > LIMIT) {
  console.error("bundle over budget");
  process.exit(1);
}
