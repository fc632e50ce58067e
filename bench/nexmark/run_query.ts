/**
 * One benchmark run (a child process of bench/nexmark.ts): runs
 * examples/nexmark.ts's job with the given flags (no `--output`: a
 * discarding sink) and prints one JSON line with the wall time, the CPU time
 * of the whole process (user + system, every thread and worker included) and
 * the peak resident set size.
 *
 * @module
 */
import process from "node:process";
import { main } from "../../examples/nexmark.ts";

const start = performance.now();
await main(Deno.args);
const wallMs = performance.now() - start;
const usage = process.resourceUsage();
console.log(JSON.stringify({
  wallMs,
  userS: usage.userCPUTime / 1e6,
  sysS: usage.systemCPUTime / 1e6,
  maxRssMb: usage.maxRSS / 1024,
}));
