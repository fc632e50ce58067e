/**
 * A job for the admin API tests that fails for good: an unbounded generator
 * whose map throws at record 50 (no checkpoints, so no restart). Run through
 * `runMain`, so it exits with the failure's code. Common flags apply
 * (`--admin-port`, ...).
 *
 * @module
 */
import { runMain, StreamEnvironment } from "../../mod.ts";

if (import.meta.main) {
  await runMain("failing_job", async (args) => {
    const { env } = StreamEnvironment.fromArgs(args);
    env.generate({ ratePerSecond: 1000, generate: (seq) => seq })
      .map((n: number) => {
        if (n === 50) throw new Error("record 50 is poison");
        return n;
      })
      .addSink({ invoke() {} });
    await env.execute("failing job");
  });
}
