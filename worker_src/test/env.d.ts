import type { Bindings } from "../src/types";

declare global {
  namespace Cloudflare {
    interface Env extends Bindings {
      TEST_MIGRATIONS: D1Migration[];
      /** How many property cases test/cron.test.ts runs (default 2000), and its seed. */
      CRONFLARE_PROPERTY_CASES?: string;
      CRONFLARE_PROPERTY_SEED?: string;
      /** Set: test/reads.test.ts prints its figures for bench/run.py. */
      CRONFLARE_READS?: string;
      /** Set: test/cost.test.ts prints its figures for bench/run.py. */
      CRONFLARE_COST?: string;
    }
  }
}
