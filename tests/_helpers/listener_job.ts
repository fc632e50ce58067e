/**
 * A job script for tests/checkpoint_listener_test.ts (run as a main module:
 * the worker executor's workers import it again, so what the functions see
 * goes to a file):
 *
 *   deno run -A tests/_helpers/listener_job.ts --output FILE [common flags]
 *
 * A source emits sequence numbers, a few a poll, until the file `FILE.done`
 * exists. A map function (a `CheckpointListener`) declines the first
 * checkpoint its subtask 0 snapshots (its snapshot rejects) and appends a line
 * `aborted <id> <subtask>` or `complete <id> <subtask>` to FILE for each
 * notification. A subtask told of a completion after an abort writes
 * `FILE.done`: the aborted checkpoint's notification has reached every
 * subtask by then (it was sent before the later checkpoint started). So does
 * one told of its tenth completion without an abort: a lost abort fails the
 * test rather than hanging it.
 *
 * @module
 */
import {
  type FunctionSnapshotContext,
  type PollStatus,
  runMain,
  type RuntimeContext,
  type Source,
  type SourceOutput,
  StreamEnvironment,
} from "../../mod.ts";

class Numbers implements Source<number> {
  readonly name = "numbers";
  constructor(readonly done: string) {}
  createReader() {
    let next = 0;
    return {
      poll: (out: SourceOutput<number>): PollStatus => {
        if (exists(this.done)) return "end";
        for (let i = 0; i < 10; i++) out.collect(next++);
        return "idle";
      },
      position: () => next,
      restore: (p: unknown) => {
        next = p as number;
      },
    };
  }
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

class Listener {
  subtask = 0;
  declined: number | undefined;
  sawAbort = false;
  completions = 0;
  constructor(readonly output: string) {}
  open(ctx: RuntimeContext): void {
    this.subtask = ctx.subtaskIndex;
  }
  map(n: number): number {
    return n;
  }
  snapshotState(ctx: FunctionSnapshotContext): Promise<void> | void {
    if (this.subtask !== 0 || this.declined !== undefined) return;
    this.declined = ctx.checkpointId;
    return Promise.reject(new Error(`snapshot of checkpoint ${ctx.checkpointId} refused`));
  }
  notifyCheckpointAborted(id: number): void {
    this.sawAbort = true;
    Deno.writeTextFileSync(this.output, `aborted ${id} ${this.subtask}\n`, { append: true });
  }
  notifyCheckpointComplete(id: number): void {
    Deno.writeTextFileSync(this.output, `complete ${id} ${this.subtask}\n`, { append: true });
    if (this.sawAbort || ++this.completions >= 10) {
      Deno.writeTextFileSync(`${this.output}.done`, "");
    }
  }
}

async function main(args: string[]): Promise<void> {
  const { env, values, flags } = StreamEnvironment.fromArgs(args, {
    output: { type: "string" },
  }, { checkpoint: { dir: "", tolerableFailures: 100 } });
  if (flags.checkpointDir === undefined) throw new Error("--checkpoint-dir needed");
  const output = values.output as string;
  env.addSource(new Numbers(`${output}.done`), { uid: "numbers" })
    .map(new Listener(output)).uid("listener")
    .addSink({ invoke() {} }).uid("discard");
  await env.execute("listener");
}

if (import.meta.main) await runMain("listener_job", main);
