/**
 * A reusable kill/restart loop for crash tests: runs a job example in a child
 * process, kills it with SIGKILL, restarts it with `--restore latest`, again
 * and again, then lets it finish.
 *
 * Two kinds of kill:
 * - random: a random delay after the job starts (its first stderr line,
 *   `restoring …` or `no checkpoint to restore …`); the first kill's delay
 *   runs from the first completed checkpoint instead, so that some later run
 *   always restores one, however slow the machine;
 * - in a checkpoint write: the child pauses inside its `at`-th file write
 *   into the checkpoint directory (a manifest's or a segment's temp file,
 *   written and synced but not yet renamed), says so on stderr, and the
 *   parent kills it there.
 *
 * This file is also the child's entry point:
 *
 *   deno run -A tests/_helpers/crash.ts EXAMPLE.ts [job args]
 *
 * runs `main(args)` of the example. With `WEIR_TEST_PAUSE_IN_CHECKPOINT_MS=ms`
 * and `WEIR_TEST_PAUSE_AT=k` in its environment it first wraps
 * `DenoCheckpointFs` (test-only, this process only) so that the `k`-th file
 * created through it in the checkpoint directory prints
 * {@linkcode PAUSE_MARKER} and blocks for `ms` after its data is synced and
 * before it is renamed into place; with `WEIR_TEST_RESUME_FILE=path` too,
 * it goes on as soon as that file exists.
 *
 * @module
 */
import { DenoCheckpointFs } from "../../core/checkpoint/checkpoint_fs.ts";
import { ConfigError } from "../../core/errors.ts";
import { runMain } from "../../core/dataflow/run_main.ts";
import type { SegmentFile } from "../../statestore-as/segment_fs.ts";
import { rng } from "./queue_source.ts";

/** What the child prints on stderr when it pauses inside a checkpoint write. */
export const PAUSE_MARKER = "crash-hook: paused in checkpoint write";

/** Options of {@linkcode runWithCrashes}. */
export interface CrashOptions {
  /** The example to run (a module exporting `main(args)`). */
  script: string;
  /** Its arguments, including `--checkpoint-dir`; `--restore latest` is added. */
  args: string[];
  /** The checkpoint directory (scanned for interrupted writes after each kill). */
  checkpointDir: string;
  /** Kills to make before letting the job finish. */
  kills: number;
  /** Every `hookEvery`-th kill lands inside a checkpoint write (0: none). */
  hookEvery: number;
  /** Random kills land 0 … `maxDelayMs` after the job started. */
  maxDelayMs: number;
  /** Seeds the delays and the paused write's index. */
  seed: number;
  /** Temporary folder of the children (`TMPDIR`: LSM work folders a kill leaves behind). */
  tmpDir: string;
  /**
   * Whether a checkpoint the next run can restore exists (default: a `chk-<id>`
   * folder with `_metadata` in `checkpointDir`); the first kill waits for it.
   */
  checkpointReady?: () => boolean;
  /** ms one run may take before the loop gives up (60 s). */
  runTimeoutMs?: number;
}

/** What happened. */
export interface CrashReport {
  /** Children killed with SIGKILL. */
  kills: number;
  /** Of those, killed while a checkpoint file was half written (a temp file was left). */
  killsInCheckpointWrite: number;
  /** Kills that were aimed at a checkpoint write (the child reported the pause). */
  hookedKills: number;
  /** Whether the job finished before all planned kills happened. */
  finishedEarly: boolean;
  /** Runs, including the last one that finished. */
  runs: number;
  /** Runs that restored a checkpoint (said "restoring checkpoint N"). */
  restoredRuns: number;
  /** The stderr of the run that finished. */
  lastStderr: string;
}

/**
 * Files a checkpoint write leaves when it is interrupted: temp files
 * (`*.tmp`) and `chk-<id>` folders without `_metadata`.
 */
export function interruptedWrites(dir: string): Set<string> {
  const found = new Set<string>();
  const walk = (d: string) => {
    let entries: Deno.DirEntry[];
    try {
      entries = [...Deno.readDirSync(d)];
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return;
      throw e;
    }
    for (const e of entries) {
      const path = `${d}/${e.name}`;
      if (e.isDirectory) {
        if (/^chk-\d+$/.test(e.name)) {
          try {
            Deno.statSync(`${path}/_metadata`);
          } catch {
            found.add(`${path}/ (no _metadata)`);
          }
        }
        walk(path);
      } else if (e.name.endsWith(".tmp")) found.add(path);
    }
  };
  walk(dir);
  return found;
}

/** Whether `dir` holds a completed checkpoint (a `chk-<id>` folder with `_metadata`). */
function hasCompletedCheckpoint(dir: string): boolean {
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(dir)];
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
  return entries.some((e) => {
    if (!e.isDirectory) return false;
    const path = `${dir}/${e.name}`;
    if (!/^chk-\d+$/.test(e.name)) return hasCompletedCheckpoint(path);
    try {
      Deno.statSync(`${path}/_metadata`);
      return true;
    } catch {
      return false;
    }
  });
}

interface RunResult {
  status: Deno.CommandStatus;
  stderr: string;
  killed: boolean;
  hooked: boolean;
}

async function runOnce(
  o: CrashOptions,
  plan: { delayMs: number; afterCheckpoint?: boolean } | { pauseAt: number } | undefined,
): Promise<RunResult> {
  const env: Record<string, string> = { TMPDIR: o.tmpDir, NO_COLOR: "1" };
  if (plan && "pauseAt" in plan) {
    env.WEIR_TEST_PAUSE_IN_CHECKPOINT_MS = "10000";
    env.WEIR_TEST_PAUSE_AT = String(plan.pauseAt);
  }
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", import.meta.filename!, o.script, ...o.args, "--restore", "latest"],
    env,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let killed = false, hooked = false, started = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const kill = () => {
    if (killed) return;
    try {
      child.kill("SIGKILL");
      killed = true;
    } catch { /* already exited */ }
  };
  const watchdog = setTimeout(kill, o.runTimeoutMs ?? 60_000);
  let stderr = "";
  let pending = "";
  const decoder = new TextDecoder();
  for await (const chunk of child.stderr) {
    pending += decoder.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = pending.indexOf("\n")) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      stderr += line + "\n";
      if (!started && /restoring|no checkpoint to restore/.test(line)) {
        started = true;
        if (plan && "delayMs" in plan) {
          // afterCheckpoint: the delay runs from the first completed checkpoint, so
          // that the next run has one to restore whatever the machine's speed.
          const killLater = () => {
            const ready = o.checkpointReady ?? (() => hasCompletedCheckpoint(o.checkpointDir));
            if (plan.afterCheckpoint && !ready()) {
              timer = setTimeout(killLater, 5);
            } else timer = setTimeout(kill, plan.delayMs);
          };
          killLater();
        }
      }
      if (plan && "pauseAt" in plan && line.includes(PAUSE_MARKER)) {
        hooked = true;
        kill();
      }
    }
  }
  const status = await child.status;
  clearTimeout(timer);
  clearTimeout(watchdog);
  return {
    status,
    stderr: stderr + pending,
    killed: killed && status.signal === "SIGKILL",
    hooked,
  };
}

/**
 * Runs `o.script` with `--restore latest`, killing it `o.kills` times, then
 * lets it finish. Throws when a run fails other than by our kill, or a run
 * outlives `runTimeoutMs`.
 */
export async function runWithCrashes(o: CrashOptions): Promise<CrashReport> {
  const random = rng(o.seed);
  const report: CrashReport = {
    kills: 0,
    killsInCheckpointWrite: 0,
    hookedKills: 0,
    finishedEarly: false,
    runs: 0,
    restoredRuns: 0,
    lastStderr: "",
  };
  for (;;) {
    const planned = report.kills < o.kills;
    const aimHook = planned && o.hookEvery > 0 && (report.kills + 1) % o.hookEvery === 0;
    const plan = !planned
      ? undefined
      : aimHook
      ? { pauseAt: 1 + Math.floor(random() * 6) }
      : { delayMs: Math.floor(random() * o.maxDelayMs), afterCheckpoint: report.kills === 0 };
    const before = interruptedWrites(o.checkpointDir);
    const r = await runOnce(o, plan);
    report.runs++;
    if (/restoring checkpoint \d+/.test(r.stderr)) report.restoredRuns++;
    if (r.killed) {
      if (!planned) {
        throw new Error(
          `${o.script} did not finish within ${o.runTimeoutMs ?? 60_000} ms:\n${r.stderr}`,
        );
      }
      report.kills++;
      if (r.hooked) report.hookedKills++;
      const after = interruptedWrites(o.checkpointDir);
      if ([...after].some((p) => !before.has(p))) report.killsInCheckpointWrite++;
      continue;
    }
    if (!r.status.success) {
      throw new Error(
        `${o.script} failed (exit ${r.status.code}, seed ${o.seed}) after ${report.kills} kills:\n${r.stderr}`,
      );
    }
    report.lastStderr = r.stderr;
    report.finishedEarly = planned;
    return report;
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

/** Child side: the pause hook, then the example's `main`. */
async function childMain(args: string[]): Promise<void> {
  const [script, ...jobArgs] = args;
  if (!script) throw new ConfigError("usage: crash.ts EXAMPLE.ts [job args]");
  const pauseMs = Number(Deno.env.get("WEIR_TEST_PAUSE_IN_CHECKPOINT_MS") ?? 0);
  const pauseAt = Number(Deno.env.get("WEIR_TEST_PAUSE_AT") ?? 0);
  const resumeFile = Deno.env.get("WEIR_TEST_RESUME_FILE");
  if (pauseMs > 0 && pauseAt > 0) {
    const proto = DenoCheckpointFs.prototype;
    const create = proto.create;
    let writes = 0;
    // Other writers go through DenoCheckpointFs too (the exactly-once file sink): not counted.
    const at = jobArgs.indexOf("--checkpoint-dir");
    const checkpointDir = at >= 0 ? jobArgs[at + 1] : undefined;
    proto.create = function (this: DenoCheckpointFs, path: string): SegmentFile {
      const f = create.call(this, path);
      if (checkpointDir !== undefined && !path.startsWith(`${checkpointDir}/`)) return f;
      if (++writes !== pauseAt) return f;
      return {
        write: (data) => f.write(data),
        sync: () => {
          f.sync();
          Deno.stderr.writeSync(new TextEncoder().encode(`${PAUSE_MARKER} ${path}\n`));
          // Blocks the whole job, as a slow disk would: the kill lands here.
          const cell = new Int32Array(new SharedArrayBuffer(4));
          const until = performance.now() + pauseMs;
          while (performance.now() < until) {
            if (resumeFile !== undefined && exists(resumeFile)) break;
            Atomics.wait(cell, 0, 0, resumeFile === undefined ? pauseMs : 10);
          }
        },
        close: () => f.close(),
      };
    };
  }
  const url = new URL(script, `file://${Deno.cwd()}/`).href;
  const mod = await import(url) as { main(args: string[]): Promise<void> };
  // As the example's own entry point ends: one line and a documented exit code.
  await runMain(script, mod.main, jobArgs);
}

if (import.meta.main) await childMain(Deno.args);
