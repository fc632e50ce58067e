/**
 * An {@linkcode AdminRuntime} over a checkpoint directory instead of a running
 * job, for `weir ui`: one ended job whose operators come from the newest
 * completed checkpoint's manifest and whose checkpoints, restores and failures
 * come from the history file (`DIR/_history.jsonl`). Records in and out,
 * watermarks and edges are the ones the newest completed checkpoint's history
 * entry kept (`operators`); backpressure and per-subtask records are not kept.
 * Queryable state reads that checkpoint. Nothing can be triggered: it is
 * read-only.
 *
 * @module
 */
import { vertexId } from "../core/admin/jobs.ts";
import type {
  AdminJob,
  AdminRuntime,
  StateQueryOutcome,
  VertexInfo,
} from "../core/admin/runtime.ts";
import { DenoCheckpointFs } from "../core/checkpoint/checkpoint_fs.ts";
import { type CheckpointHistoryEntry, HistoryReader } from "../core/checkpoint/history.ts";
import type { LoadedManifest } from "../core/checkpoint/storage.ts";
import { CheckpointError, WeirError } from "../core/errors.ts";
import { resolveSnapshot } from "./checkpoint_dir.ts";
import { getState, openState, parseKeyText } from "../core/state/state_reader.ts";

const READ_ONLY = "weir ui is read-only: it shows a checkpoint directory, not a running job";

/**
 * The runtime of `weir ui --checkpoint-dir DIR`. Throws a `CheckpointError`
 * when DIR has neither a completed checkpoint nor any history.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { historyRuntime } from "./history_runtime.ts";
 * const dir = Deno.makeTempDirSync();
 * assert.throws(() => historyRuntime(dir), /has no completed checkpoint and no history/);
 * assert.throws(() => historyRuntime(`${dir}/nope`), /nope is not a checkpoint directory: there is no folder by that name/);
 * // History but no readable checkpoint: state queries say why.
 * Deno.mkdirSync(`${dir}/chk-3`);
 * Deno.writeTextFileSync(`${dir}/chk-3/_metadata`, "{ torn");
 * Deno.writeTextFileSync(`${dir}/_history.jsonl`, JSON.stringify({ kind: "restore", id: 1, restore_timestamp: 1, is_savepoint: false, external_path: "x" }) + "\n");
 * const [job] = historyRuntime(dir).jobs();
 * const answer = await job!.queryState("count", "count", "k");
 * assert.equal(answer.kind, "not-running");
 * assert.match(answer.kind === "not-running" ? answer.message : "", /^No state to read in .*: Cannot read .*chk-3\/_metadata/);
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export function historyRuntime(dir: string): AdminRuntime {
  const root = dir.replace(/\/+$/, "") || "/";
  let isDirectory = false;
  try {
    isDirectory = Deno.statSync(root).isDirectory;
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  if (!isDirectory) {
    throw new CheckpointError(
      `${root} is not a checkpoint directory: there is no folder by that name`,
    );
  }
  const fs = new DenoCheckpointFs();
  let latest: LoadedManifest | undefined;
  let unreadable = "it has no completed checkpoint";
  try {
    latest = resolveSnapshot(root, fs);
  } catch (e) {
    if (!(e instanceof CheckpointError)) throw e;
    unreadable = e.message;
  }
  const reader = new HistoryReader(root);
  const history = reader.read();
  if (!latest && history.length === 0) {
    throw new CheckpointError(`${root} has no completed checkpoint and no history to show`);
  }
  const times = history.map((h) =>
    "trigger_timestamp" in h ? h.trigger_timestamp : h.restore_timestamp
  );
  const startTime = Math.min(...times, latest?.manifest.triggeredAt ?? Infinity);
  const endTime = Math.max(...times, latest?.manifest.completedAt ?? -Infinity);
  const restores = history.filter((h) => !("trigger_timestamp" in h)).length;
  const manifest = latest?.manifest;
  const tasks = manifest?.stats.tasks ?? [];
  // The newest completed checkpoint whose entry kept the operators' figures (older weir versions
  // kept none).
  const kept = history.findLast((h): h is CheckpointHistoryEntry & {
    operators: NonNullable<CheckpointHistoryEntry["operators"]>;
  } => h.kind === "checkpoint" && h.status === "COMPLETED" && h.operators !== undefined);
  const figures = new Map(kept?.operators.map((f) => [f.uid, f]));
  const vertices: VertexInfo[] = Object.entries(manifest?.operators ?? {}).map(([uid, op]) => ({
    uid,
    name: op.name,
    parallelism: op.parallelism,
    // Backpressure dies with the job; records, watermark and edges as the newest entry kept them.
    recordsIn: figures.get(uid)?.records_in ?? 0,
    recordsOut: figures.get(uid)?.records_out ?? 0,
    backpressureRatio: 0,
    ...(figures.get(uid)?.watermark != null ? { watermark: figures.get(uid)!.watermark! } : {}),
    ...(figures.has(uid) ? { inputs: figures.get(uid)!.inputs } : {}),
    subtasks: op.subtasks.map((s) => {
      const task = taskOf(tasks.map((t) => t.task), op.name, s.index, op.parallelism);
      return {
        index: s.index,
        ...(task !== undefined ? { task } : {}),
        recordsIn: 0,
        recordsOut: 0,
        backpressureRatio: 0,
      };
    }),
  }));
  const job: AdminJob = {
    id: vertexId(`weir ui ${root}`),
    name: manifest ? `${manifest.jobName} (checkpoints in ${root})` : `checkpoints in ${root}`,
    startTime,
    status: () => "FINISHED",
    endTime: () => endTime,
    restarts: () => restores,
    // The checkpoint history keeps operators, checkpoints and state, and each completed
    // checkpoint's operator figures; the rest dies with the job.
    notRecorded: () =>
      kept
        ? ["backpressure", "subtask records"]
        : ["records", "backpressure", "watermarks", "edges", "subtask records"],
    maxParallelism: () => manifest?.maxParallelism ?? 128,
    vertices: () => vertices,
    checkpointConfig: () => undefined,
    checkpoints: () => ({ history: reader.read(), inProgress: [] }),
    segments: () => [],
    triggerCheckpoint: () => Promise.reject(new WeirError(READ_ONLY)),
    triggerSavepoint: () => Promise.reject(new WeirError(READ_ONLY)),
    stopWithSavepoint: () => Promise.reject(new WeirError(READ_ONLY)),
    cancel: () => {
      throw new WeirError(READ_ONLY);
    },
    queryState(uid: string, stateName: string, rawKey: string): Promise<StateQueryOutcome> {
      if (!latest) {
        return Promise.resolve({
          kind: "not-running",
          message: `No state to read in ${root}: ${unreadable}`,
        });
      }
      try {
        const view = openState(latest, uid, stateName);
        const key = parseKeyText(rawKey, view.keySerializerId, false);
        const { location, entries } = getState(latest, fs, view, key);
        const [first] = entries;
        if (!first) {
          return Promise.resolve({
            kind: "unknown-key",
            message: `Key ${JSON.stringify(rawKey)} has no value in state "${stateName}" of ` +
              `operator "${uid}" in ${latest.dir}`,
          });
        }
        const value = view.kind === "map"
          ? Object.fromEntries(entries.map((e) => [String(e.userKey), e.value]))
          : first.value;
        return Promise.resolve({ kind: "found", value, subtask: location.subtask });
      } catch (e) {
        if (!(e instanceof WeirError)) throw e;
        return Promise.resolve({ kind: "unknown-state", message: e.message });
      }
    },
  };
  return { jobs: () => [job] };
}

/**
 * The task (`A -> B (i/p)`, as checkpoint statistics name it) that ran subtask
 * `index` of the operator named `name`: the one whose chain includes it.
 */
function taskOf(
  tasks: readonly string[],
  name: string,
  index: number,
  parallelism: number,
): string | undefined {
  const suffix = ` (${index + 1}/${parallelism})`;
  return tasks.find((t) =>
    t.endsWith(suffix) && t.slice(0, -suffix.length).split(" -> ").includes(name)
  );
}
