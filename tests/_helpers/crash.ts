/**
 * A reusable kill/restart loop for crash tests: runs a job example in a child
 * process, kills it with SIGKILL, restarts it with `--restore latest`, again
 * and again, then lets it finish.
 *
 * Two kinds of kill:
 * - random: when the test says how many records the input has (`records`),
 *   once the run has read past a random point of the input that is still
 *   left after its restored position: at most {@linkcode KILLED_SHARE}
 *   divided by the kills still to make of the remaining records. The harness
 *   knows each run's restored position because the children print, for every
 *   checkpoint, how many records their sources had read before its barrier
 *   ({@linkcode CHECKPOINT_MARKER}); a restored run starts at the position
 *   of the checkpoint it names (`restoring checkpoint N`). Counting records
 *   makes the schedule independent of the machine's speed, and aiming into
 *   the remaining input keeps it so after a kill that came late in the input
 *   (one in a checkpoint write lands wherever that write comes). Without
 *   `records`: a random delay after the job starts (its first stderr line,
 *   `restoring …` or `no checkpoint to restore …`). The first kill also waits
 *   for the first completed checkpoint, so that some later run always
 *   restores one, however slow the machine; with `records`, the sources stop
 *   reading at the kill's target while it waits (`WEIR_TEST_HOLD_FILE`), so
 *   that a job faster than its first checkpoint keeps input for later kills;
 * - in a checkpoint write: the child pauses inside its `at`-th file write
 *   into the checkpoint directory (a manifest's or a segment's temp file,
 *   written and synced but not yet renamed), says so on stderr, and the
 *   parent kills it there. With `records`, writes count only once the run
 *   has read past a target aimed as a random kill's, so that a kill in a
 *   write does not come so late in the input that the next kills have
 *   nothing left to aim at. A run that then reads most of what is left
 *   after that target ({@linkcode HOOK_WAIT_SHARE}) without reaching the
 *   write (its checkpoints came slowly) is killed there, as by a random
 *   kill, unless it is the last kill: else it could read to the end of the
 *   input, and the next run would restore a checkpoint at the end with
 *   nothing left to aim at.
 *
 * This file is also the child's entry point:
 *
 *   deno run -A tests/_helpers/crash.ts EXAMPLE.ts [job args]
 *
 * runs `main(args)` of the example. With `WEIR_TEST_PROGRESS_EVERY=n` it
 * wraps every source reader (in the main thread and in each worker, which
 * import this file again) so that every `n` records read print
 * {@linkcode PROGRESS_MARKER} and the count, and every source subtask's
 * snapshot prints {@linkcode CHECKPOINT_MARKER}, the checkpoint's id and the
 * records that subtask read before it; while the file `WEIR_TEST_HOLD_FILE`
 * names exists, the readers read nothing. With `WEIR_TEST_PAUSE_IN_CHECKPOINT_MS=ms`
 * and `WEIR_TEST_PAUSE_AT=k` in its environment it first wraps
 * `DenoCheckpointFs` (test-only, this process only) so that the `k`-th file
 * written and synced through it in the checkpoint directory prints
 * {@linkcode PAUSE_MARKER} and blocks for `ms` after its data is synced and
 * before it is renamed into place; with `WEIR_TEST_RESUME_FILE=path` too,
 * it goes on as soon as that file exists; with `WEIR_TEST_ARM_FILE=path`,
 * only writes made while that file exists count.
 *
 * @module
 */
import { DenoCheckpointFs } from "../../core/checkpoint/checkpoint_fs.ts";
import { ConfigError } from "../../core/errors.ts";
import { runMain } from "../../core/dataflow/run_main.ts";
import { SourceOperator } from "../../core/runtime/task.ts";
import type { SegmentFile } from "../../statestore-as/segment_fs.ts";
import { rng } from "./queue_source.ts";

/** What the child prints on stderr when it pauses inside a checkpoint write. */
export const PAUSE_MARKER = "crash-hook: paused in checkpoint write";

/** What the child prints on stderr, with a count, as its sources read records. */
export const PROGRESS_MARKER = "crash-hook: records read";

/**
 * What a source subtask prints on stderr as it snapshots its position: the
 * checkpoint's id and the records it read in this run (or since the run's
 * last restore after a failure).
 */
export const CHECKPOINT_MARKER = "crash-hook: source snapshot";

/**
 * The share of the input left after a run's restored position that a random
 * kill may let that run read when it is the last kill to make (the share is
 * divided by the kills still to make): the rest is the margin that the kill
 * signal's latency eats into.
 */
export const KILLED_SHARE = 0.6;

/**
 * The share of the input left after its target that a run aimed at a
 * checkpoint write may read while it waits for that write, when more kills
 * are to come; past it, the run is killed anyway, and the next runs keep
 * input to aim at.
 */
export const HOOK_WAIT_SHARE = 0.9;

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
  /**
   * Records the job's sources read in all (the input's lines). When given,
   * random kills come after a random number of records read; else after a
   * random delay of up to `maxDelayMs`. Reads measure progress only where the
   * source reads at the pace of processing: a job whose work lags far behind
   * its reads (async I/O holds its input in flight) is killed by time instead.
   */
  records?: number;
  /** Without `records`: random kills land 0 … `maxDelayMs` after the job started. */
  maxDelayMs?: number;
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
  /**
   * The kill the job finished before, if it did: a kill after a share of the
   * remaining input lands unless the kill signal is slower than the rest of
   * the run; one aimed at the `k`-th checkpoint write misses when the run
   * writes fewer files.
   */
  missed: "none" | "in a checkpoint write" | "random";
  /** When a kill missed: which one, where it was aimed and where the run was. */
  missedDetail: string;
  /**
   * With `records`: each run's position in the input, in records, where it
   * started (its restored checkpoint's), where its random kill was aimed, and
   * where it ended (killed or done); `undefined` where not known.
   */
  positions: { start: number | undefined; target: number | undefined; end: number | undefined }[];
  /** Runs, including the last one that finished. */
  runs: number;
  /** Runs that restored a checkpoint (said "restoring checkpoint N"). */
  restoredRuns: number;
  /** The stderr of the run that finished. */
  lastStderr: string;
  /** The seed the kill schedule came from. */
  seed: number;
  /**
   * One line per run: where it started, the kill aimed at it, and how it
   * ended (where it was killed, the checkpoint write it was paused in, what
   * the kill left unfinished); what a failure's message shows.
   */
  history: string[];
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
  /** The watchdog killed it (`runTimeoutMs`), not the plan. */
  timedOut: boolean;
  /** The checkpoint file write it was paused in (the pause marker's path). */
  pausedIn: string | undefined;
  /** The checkpoint it restored first (`undefined`: a fresh start, or none said). */
  restoredFrom: number | undefined;
  /** With `records`: the run's restored position, its target (random kills) and its end. */
  start: number | undefined;
  target: number | undefined;
  end: number | undefined;
}

/**
 * When a run is killed: after a delay, or once it has read past `share` of
 * the records left after its restored position (and a checkpoint completed),
 * or in its `pauseAt`-th checkpoint file write after that point (with
 * `records`; else from its start).
 */
type KillPlan =
  | { delayMs: number; afterCheckpoint: boolean }
  | { share: number; afterCheckpoint: boolean }
  /** `waitShare`: see {@linkcode HOOK_WAIT_SHARE}; none: the run may read to the end. */
  | { pauseAt: number; share: number; waitShare?: number };

/**
 * The position in the input, in records, of every checkpoint a run's sources
 * snapshotted: the position the run started at plus what its sources read
 * before the barrier. A checkpoint id taken again by a later run (the earlier
 * one never completed) is overwritten, so a completed checkpoint's entry is
 * the run that completed it.
 */
type CheckpointPositions = Map<number, number>;

/**
 * A run's position in the input as its stderr tells it. `start` is the
 * restored checkpoint's position (0 for a fresh start; the furthest position
 * any run reached if the checkpoint was not seen being written, which puts
 * kills earlier, never later).
 */
class RunPosition {
  start: number | undefined;
  #read = 0;
  #sums = new Map<number, number>();
  constructor(
    private readonly checkpoints: CheckpointPositions,
    private readonly furthest: () => number,
  ) {}

  /** The restored checkpoint (`undefined`: a fresh start): reads count from its position. */
  restored(checkpointId: number | undefined): void {
    this.start = checkpointId === undefined
      ? 0
      : this.checkpoints.get(checkpointId) ?? this.furthest();
    this.#read = 0;
    this.#sums.clear();
  }

  read(records: number): void {
    this.#read += records;
  }

  /** One source subtask's records read before checkpoint `id`. */
  snapshotted(id: number, records: number): void {
    if (this.start === undefined) return;
    const sum = (this.#sums.get(id) ?? 0) + records;
    this.#sums.set(id, sum);
    this.checkpoints.set(id, this.start + sum);
  }

  /** Where the run is (`undefined` before its restore line). */
  get now(): number | undefined {
    return this.start === undefined ? undefined : this.start + this.#read;
  }
}

async function runOnce(
  o: CrashOptions,
  plan: KillPlan | undefined,
  position: RunPosition,
): Promise<RunResult> {
  const env: Record<string, string> = { TMPDIR: o.tmpDir, NO_COLOR: "1" };
  if (o.records !== undefined) {
    // Every run reports, so that the next one knows where its checkpoint is; fine enough
    // that a kill lands close to its target.
    env.WEIR_TEST_PROGRESS_EVERY = String(Math.max(1, Math.floor(o.records / 2000)));
  }
  const armFile = `${o.tmpDir}/crash-hook-armed`;
  const holdFile = `${o.tmpDir}/crash-hook-hold`;
  env.WEIR_TEST_HOLD_FILE = holdFile;
  Deno.mkdirSync(o.tmpDir, { recursive: true });
  removeIfThere(holdFile);
  if (plan && "pauseAt" in plan) {
    // Paused until the kill, however late it comes: a pause that ran out would let the write
    // finish before a slow kill, which would then land outside it.
    env.WEIR_TEST_PAUSE_IN_CHECKPOINT_MS = String(o.runTimeoutMs ?? 60_000);
    env.WEIR_TEST_PAUSE_AT = String(plan.pauseAt);
    if (o.records !== undefined) {
      // Writes count once the run is past its target: a run killed in a write late in the
      // input would leave the next kills too little to aim at.
      env.WEIR_TEST_ARM_FILE = armFile;
      removeIfThere(armFile);
    }
  }
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", import.meta.filename!, o.script, ...o.args, "--restore", "latest"],
    env,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let killed = false, hooked = false, started = false, timedOut = false;
  let pausedIn: string | undefined;
  let restoredFrom: number | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let target: number | undefined;
  /** For a kill in a checkpoint write: where the run is killed if the write has not come. */
  let giveUpAt: number | undefined;
  const ready = o.checkpointReady ?? (() => hasCompletedCheckpoint(o.checkpointDir));
  let armed = false;
  // Once this run read past its target: kills it (for the first kill, once a checkpoint
  // completed), or arms the pause in a checkpoint write.
  const killWhenRead = () => {
    const now = position.now;
    if (killed || target === undefined || now === undefined || now < target) return;
    if (armed) {
      if (giveUpAt !== undefined && now >= giveUpAt) kill();
      return;
    }
    if (plan && "pauseAt" in plan) {
      Deno.writeTextFileSync(armFile, "");
      armed = true;
    } else if (plan && "afterCheckpoint" in plan && plan.afterCheckpoint && !ready()) {
      // Reads stop here until the checkpoint completes: a job faster than its first
      // checkpoint would otherwise read its whole input and leave later kills nothing.
      if (!exists(holdFile)) Deno.writeTextFileSync(holdFile, "");
      clearTimeout(timer);
      timer = setTimeout(killWhenRead, 5);
    } else kill();
  };
  const kill = () => {
    if (killed) return;
    try {
      child.kill("SIGKILL");
      killed = true;
    } catch { /* already exited */ }
  };
  const watchdog = setTimeout(() => {
    timedOut = !killed;
    kill();
  }, o.runTimeoutMs ?? 60_000);
  let stderr = "";
  let pending = "";
  const decoder = new TextDecoder();
  for await (const chunk of child.stderr) {
    pending += decoder.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = pending.indexOf("\n")) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      // The progress lines would bury the job's own in a failure's message.
      if (!line.startsWith(PROGRESS_MARKER) && !line.startsWith(CHECKPOINT_MARKER)) {
        stderr += line + "\n";
      }
      const restore = /^\S+: restoring (?:checkpoint|savepoint) (\d+)/.exec(line);
      if (restore || /no checkpoint to restore/.test(line)) {
        // Also a restart within the run, after a failure: reads count from that checkpoint.
        position.restored(restore ? Number(restore[1]) : undefined);
        if (restore && !started) restoredFrom = Number(restore[1]);
        if (plan && "share" in plan && o.records !== undefined && target === undefined) {
          const start = position.start!;
          target = start + Math.max(1, Math.ceil((o.records - start) * plan.share));
          if ("pauseAt" in plan && plan.waitShare !== undefined) {
            giveUpAt = target + Math.ceil((o.records - target) * plan.waitShare);
          }
        }
      }
      if (!started && /restoring|no checkpoint to restore/.test(line)) {
        started = true;
        if (plan && "delayMs" in plan) {
          // afterCheckpoint: the delay runs from the first completed checkpoint, so
          // that the next run has one to restore whatever the machine's speed.
          const killLater = () => {
            if (plan.afterCheckpoint && !ready()) {
              timer = setTimeout(killLater, 5);
            } else timer = setTimeout(kill, plan.delayMs);
          };
          killLater();
        }
      }
      if (line.startsWith(PROGRESS_MARKER)) {
        position.read(Number(line.slice(PROGRESS_MARKER.length)));
        killWhenRead();
      }
      if (line.startsWith(CHECKPOINT_MARKER)) {
        const [id, records] = line.slice(CHECKPOINT_MARKER.length).trim().split(" ");
        position.snapshotted(Number(id), Number(records));
      }
      if (plan && "pauseAt" in plan && line.includes(PAUSE_MARKER)) {
        if (!killed) {
          hooked = true;
          pausedIn = line.slice(line.indexOf(PAUSE_MARKER) + PAUSE_MARKER.length).trim();
        }
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
    timedOut,
    pausedIn,
    restoredFrom,
    start: position.start,
    target,
    end: position.now,
  };
}

/**
 * Runs `o.script` with `--restore latest`, killing it `o.kills` times, then
 * lets it finish. Throws when a run fails other than by our kill, or a run
 * outlives `runTimeoutMs`.
 */
export async function runWithCrashes(o: CrashOptions): Promise<CrashReport> {
  if ((o.records === undefined) === (o.maxDelayMs === undefined)) {
    throw new Error("runWithCrashes: give either records or maxDelayMs");
  }
  const random = rng(o.seed);
  const report: CrashReport = {
    kills: 0,
    killsInCheckpointWrite: 0,
    hookedKills: 0,
    missed: "none",
    missedDetail: "",
    positions: [],
    runs: 0,
    restoredRuns: 0,
    lastStderr: "",
    seed: o.seed,
    history: [],
  };
  const checkpoints: CheckpointPositions = new Map();
  let furthest = 0;
  for (;;) {
    const planned = report.kills < o.kills;
    const aimHook = planned && o.hookEvery > 0 && (report.kills + 1) % o.hookEvery === 0;
    const afterCheckpoint = report.kills === 0;
    // A share of what is left, split among the kills still to make: later kills have room too.
    const share = (KILLED_SHARE * (0.1 + 0.9 * random())) / Math.max(1, o.kills - report.kills);
    const plan: KillPlan | undefined = !planned ? undefined : aimHook
      ? {
        pauseAt: 1 + Math.floor(random() * 4),
        share,
        // The last kill may wait to the end: no later run needs input, and a missed write is
        // logged (see assertKillsLanded).
        ...(report.kills + 1 < o.kills ? { waitShare: HOOK_WAIT_SHARE } : {}),
      }
      : o.records !== undefined
      ? { share, afterCheckpoint }
      : { delayMs: Math.floor(random() * o.maxDelayMs!), afterCheckpoint };
    const before = interruptedWrites(o.checkpointDir);
    const r = await runOnce(o, plan, new RunPosition(checkpoints, () => furthest));
    report.runs++;
    if (o.records !== undefined) {
      report.positions.push({ start: r.start, target: r.target, end: r.end });
      furthest = Math.max(furthest, r.end ?? 0);
    }
    if (/restoring checkpoint \d+/.test(r.stderr)) report.restoredRuns++;
    if (r.killed) {
      const left = [...interruptedWrites(o.checkpointDir)].filter((p) => !before.has(p));
      report.history.push(describeRun(o, plan, r, report.runs, left));
      if (!planned || r.timedOut) {
        throw new Error(
          `${o.script} did not finish within ${o.runTimeoutMs ?? 60_000} ms (seed ${o.seed}):\n` +
            `${report.history.join("\n")}\n${r.stderr}`,
        );
      }
      report.kills++;
      if (r.hooked) report.hookedKills++;
      if (left.length > 0) report.killsInCheckpointWrite++;
      continue;
    }
    report.history.push(describeRun(o, plan, r, report.runs, []));
    if (!r.status.success) {
      throw new Error(
        `${o.script} failed (exit ${r.status.code}, seed ${o.seed}) after ${report.kills} kills:\n` +
          `${report.history.join("\n")}\n${r.stderr}`,
      );
    }
    report.lastStderr = r.stderr;
    report.missed = !planned ? "none" : aimHook ? "in a checkpoint write" : "random";
    if (plan) report.missedDetail = describeMiss(o, plan, r, report);
    return report;
  }
}

/** One line of {@linkcode CrashReport.history}: the run `n`, its kill plan and its end. */
function describeRun(
  o: CrashOptions,
  plan: KillPlan | undefined,
  r: RunResult,
  n: number,
  left: string[],
): string {
  const at = (p: number | undefined) => p === undefined ? "?" : String(p);
  const from = r.restoredFrom === undefined ? "a fresh start" : `checkpoint ${r.restoredFrom}`;
  const start = o.records === undefined ? from : `${from} (record ${at(r.start)})`;
  const aim = plan === undefined
    ? "no kill"
    : "pauseAt" in plan
    ? `a kill in checkpoint file write ${plan.pauseAt}` +
      (o.records === undefined ? "" : ` after record ${at(r.target)}`)
    : "delayMs" in plan
    ? `a kill ${plan.delayMs} ms after the start`
    : `a kill at record ${at(r.target)}`;
  const end = !r.killed
    ? r.status.success ? "finished" : `failed (exit ${r.status.code})`
    : r.timedOut
    ? `timed out after ${o.runTimeoutMs ?? 60_000} ms`
    : r.hooked
    ? `killed paused in ${r.pausedIn}`
    : plan !== undefined && "pauseAt" in plan
    ? "killed before that write came"
    : "killed";
  const where = o.records === undefined ? "" : ` at record ${at(r.end)}`;
  const unfinished = left.length === 0 ? "" : `, left ${left.join(", ")}`;
  return `run ${n}: from ${start}, aimed ${aim}; ${end}${where}${unfinished}`;
}

/** A report's seed and run history, for a failure's message. */
export function describeReport(report: CrashReport): string {
  return `seed ${report.seed}: ${report.kills} kills (${report.hookedKills} in checkpoint ` +
    `writes, ${report.killsInCheckpointWrite} left a write unfinished), ${report.runs} runs, ` +
    `${report.restoredRuns} restored a checkpoint\n  ${report.history.join("\n  ")}`;
}

/** Which kill the finished run did not get, where it was aimed and where the run was. */
function describeMiss(o: CrashOptions, plan: KillPlan, r: RunResult, report: CrashReport): string {
  const kill = `kill ${report.kills + 1} of ${o.kills} (seed ${o.seed}, run ${report.runs})`;
  if ("pauseAt" in plan) {
    const from = o.records === undefined
      ? "its start"
      : `record ${r.target ?? "?"} of ${o.records} (the run started at ${r.start ?? "?"})`;
    return `${kill} was aimed at checkpoint file write ${plan.pauseAt} after ${from}, which the ` +
      `run finished before`;
  }
  if ("delayMs" in plan) return `${kill} was aimed ${plan.delayMs} ms after the start`;
  return `${kill} was aimed at record ${r.target ?? "?"} of ${o.records}; the run started at ` +
    `${r.start ?? "?"} and finished (last reported position ${r.end ?? "?"})`;
}

/**
 * Asserts that every planned kill landed, but for one aimed at a checkpoint
 * write that the run did not reach (then the job finished and no later kill
 * could come): that one is logged, so that the lost coverage shows.
 */
export function assertKillsLanded(report: CrashReport, planned: number): void {
  if (report.kills === planned) return;
  if (report.missed === "in a checkpoint write") {
    console.log(`  missed: ${report.missedDetail}`);
    return;
  }
  throw new Error(
    `only ${report.kills} of ${planned} kills landed: the job finished before a ` +
      `${report.missed} kill: ${report.missedDetail}\n${describeReport(report)}`,
  );
}

/**
 * Asserts what makes a crash run count: the planned kills landed
 * ({@linkcode assertKillsLanded}); with `inCheckpointWrites`, at least one
 * landed inside a checkpoint write (unless the job finished before one), and
 * every such kill left that write unfinished on disk; some run restored a
 * checkpoint. Each message names the seed and the run history.
 */
export function assertCrashCoverage(
  report: CrashReport,
  planned: number,
  { inCheckpointWrites }: { inCheckpointWrites: boolean },
): void {
  assertKillsLanded(report, planned);
  const fail = (what: string) => {
    throw new Error(`${what}\n${describeReport(report)}`);
  };
  if (inCheckpointWrites && report.missed === "none" && report.hookedKills < 1) {
    fail("no kill landed inside a checkpoint write");
  }
  if (report.killsInCheckpointWrite < report.hookedKills) {
    fail(
      `${report.hookedKills} kills landed paused in a checkpoint write, but only ` +
        `${report.killsInCheckpointWrite} left an unfinished write behind`,
    );
  }
  if (report.restoredRuns < 1) fail("no run restored a checkpoint");
}

/** The records a line-per-record input holds: its lines (a last one without `\n` counts). */
export function linesIn(text: string): number {
  let n = 0;
  for (let i = text.indexOf("\n"); i >= 0; i = text.indexOf("\n", i + 1)) n++;
  return text.length > 0 && !text.endsWith("\n") ? n + 1 : n;
}

function removeIfThere(path: string): void {
  try {
    Deno.removeSync(path);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
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

/**
 * Child side: wraps each source reader's `poll` as its operator opens, so that
 * every `every` records this thread's sources read print the count, and no
 * records are read while `holdFile` exists (the reader says it is idle).
 */
function reportRecordsRead(every: number, holdFile: string | undefined): void {
  const proto = SourceOperator.prototype;
  const open = proto.open;
  const snapshotState = proto.snapshotState;
  const encoder = new TextEncoder();
  let unreported = 0;
  // Per source subtask (a restart after a failure opens new operators: counts start anew).
  const readBy = new WeakMap<SourceOperator, number>();
  proto.snapshotState = function (this: SourceOperator, checkpointId: number): void {
    snapshotState.call(this, checkpointId);
    const line = `${CHECKPOINT_MARKER} ${checkpointId} ${readBy.get(this) ?? 0}\n`;
    Deno.stderr.writeSync(encoder.encode(line));
  };
  proto.open = function (this: SourceOperator): Promise<void> {
    const reader = this.reader;
    const poll = reader.poll;
    readBy.set(this, 0);
    reader.poll = (out, max) => {
      if (holdFile !== undefined && exists(holdFile)) return "idle";
      const counting = Object.create(out) as typeof out;
      counting.collect = (value, timestamp) => {
        out.collect(value, timestamp);
        readBy.set(this, readBy.get(this)! + 1);
        if (++unreported < every) return;
        Deno.stderr.writeSync(encoder.encode(`${PROGRESS_MARKER} ${unreported}\n`));
        unreported = 0;
      };
      return poll.call(reader, counting, max);
    };
    return open.call(this);
  };
}

/** Child side: the pause and progress hooks, then the example's `main`. */
async function childMain(args: string[]): Promise<void> {
  const [script, ...jobArgs] = args;
  if (!script) throw new ConfigError("usage: crash.ts EXAMPLE.ts [job args]");
  const pauseMs = Number(Deno.env.get("WEIR_TEST_PAUSE_IN_CHECKPOINT_MS") ?? 0);
  const pauseAt = Number(Deno.env.get("WEIR_TEST_PAUSE_AT") ?? 0);
  const resumeFile = Deno.env.get("WEIR_TEST_RESUME_FILE");
  const armFile = Deno.env.get("WEIR_TEST_ARM_FILE");
  const progressEvery = Number(Deno.env.get("WEIR_TEST_PROGRESS_EVERY") ?? 0);
  if (progressEvery > 0) reportRecordsRead(progressEvery, Deno.env.get("WEIR_TEST_HOLD_FILE"));
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
      return {
        write: (data) => f.write(data),
        sync: () => {
          f.sync();
          // Writes count as they are synced: a file created here and written by another thread
          // (a segment sorted on the helper pool) never is, and would take the pause with it.
          if (armFile !== undefined && !exists(armFile)) return;
          if (++writes !== pauseAt) return;
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
