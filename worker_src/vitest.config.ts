// Tests run in the real workerd runtime, with real D1 and queues (miniflare), migrations applied.
import path from "node:path";
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";
import { TEST_BINDINGS } from "./test/bindings.ts";
import workerConfig from "./worker.config.json" with { type: "json" };

export default defineConfig(async () => {
  const migrations = await readD1Migrations(path.join(import.meta.dirname, "migrations"));
  // CRONFLARE_PROPERTY_CASES=100000 (and CRONFLARE_PROPERTY_SEED) size test/cron.test.ts's property
  // test; CRONFLARE_READS=1 makes test/reads.test.ts print its figures, CRONFLARE_COST=1 test/cost.test.ts its own,
  // CRONFLARE_SCHEDULES=1 test/schedules-scale.test.ts its own at a million schedules (bench/run.py).
  const property = Object.fromEntries(
    ["CRONFLARE_PROPERTY_CASES", "CRONFLARE_PROPERTY_SEED", "CRONFLARE_READS", "CRONFLARE_COST", "CRONFLARE_SCHEDULES"].flatMap((k) => (process.env[k] ? [[k, process.env[k]]] : [])),
  );
  return {
    plugins: [
      cloudflareTest({
        main: "./src/index.ts",
        miniflare: {
          compatibilityDate: workerConfig.compatibility_date,
          d1Databases: ["DB"],
          queueProducers: { JOBS_QUEUE: "cronflare-test-jobs" },
          queueConsumers: {
            "cronflare-test-jobs": { maxBatchSize: 10, maxBatchTimeout: 0, maxRetries: 2, deadLetterQueue: "cronflare-test-jobs-dlq" },
            "cronflare-test-jobs-dlq": { maxBatchSize: 10, maxBatchTimeout: 0 },
          },
          bindings: { ...TEST_BINDINGS, TEST_MIGRATIONS: migrations, ...property },
        },
      }),
    ],
    // The deployed plan.js module is uploaded beside the bundle; tests get the fixture instead.
    resolve: { alias: [{ find: /^\.\/plan\.js$/, replacement: path.join(import.meta.dirname, "test/plan.ts") }] },
    server: { fs: { allow: [path.join(import.meta.dirname, "..")] } },
    test: { include: ["test/**/*.test.ts"], setupFiles: ["./test/setup.ts"] },
  };
});
