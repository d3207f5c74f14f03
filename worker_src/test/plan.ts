/** The test stand-in for the deployed plan.js module (vitest.config.ts aliases it). */
import { JOBS } from "./bindings";

export default JOBS;
