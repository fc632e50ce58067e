/**
 * `CheckpointListener` end to end on both executors: a user function hears
 * `notifyCheckpointAborted` for a checkpoint a task declined (on every
 * subtask, not only the one that declined it) and `notifyCheckpointComplete`
 * for later ones, as messages from the coordinator. The job script
 * (tests/_helpers/listener_job.ts) runs in a child process, so the worker
 * executor's workers can import it.
 */
import assert from "node:assert/strict";

const SCRIPT = new URL("./_helpers/listener_job.ts", import.meta.url).pathname;

for (const executor of ["inline", "workers"]) {
  Deno.test(`checkpoint listener (${executor}): every subtask hears the declined checkpoint aborted, then later ones complete`, async () => {
    const dir = await Deno.makeTempDir({ prefix: "weir-listener-" });
    try {
      const out = await new Deno.Command(Deno.execPath(), {
        args: [
          ...["run", "-A", SCRIPT, "--output", `${dir}/events`],
          ...["--checkpoint-dir", `${dir}/ck`, "--checkpoint-interval", "50"],
          ...["--parallelism", "2", "--executor", executor],
        ],
        env: { NO_COLOR: "1" },
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).output();
      const stderr = new TextDecoder().decode(out.stderr);
      assert.equal(out.code, 0, stderr);
      const declined = /Checkpoint (\d+) failed: .*snapshot of checkpoint \1 refused/.exec(stderr);
      assert.ok(declined, stderr);
      const id = Number(declined[1]);
      const events = Deno.readTextFileSync(`${dir}/events`).trim().split("\n");
      const aborted = events.filter((e) => e.startsWith("aborted "));
      // Exactly the declined checkpoint, once per subtask: no other checkpoint was aborted.
      assert.deepEqual(aborted.sort(), [`aborted ${id} 0`, `aborted ${id} 1`], events.join("\n"));
      for (const subtask of [0, 1]) {
        const mine = events.filter((e) => e.endsWith(` ${subtask}`));
        const at = mine.indexOf(`aborted ${id} ${subtask}`);
        assert.ok(!mine.includes(`complete ${id} ${subtask}`), mine.join("\n"));
        // A later checkpoint completed after the abort was heard.
        const later = mine.slice(at + 1).map((e) => e.split(" "))
          .filter(([kind, n]) => kind === "complete" && Number(n) > id);
        assert.ok(later.length >= 1, mine.join("\n"));
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}
