/**
 * Checkpoint statistics in the JSON shape of Flink's REST API
 * (`/jobs/:jobid/checkpoints`): counts, a summary with min/max/avg and
 * percentiles of sizes and durations, the latest checkpoints, and history.
 * Pure functions over the history file's entries.
 *
 * @module
 */
import type {
  CheckpointHistoryEntry,
  HistoryEntry,
  RestoreHistoryEntry,
} from "../checkpoint/history.ts";
import type { InProgressCheckpoint } from "./runtime.ts";

/** Min, max, average and percentiles of a series (Flink's `StatsSummaryDto`). */
export interface StatsSummary {
  /** Smallest. */
  readonly min: number;
  /** Largest. */
  readonly max: number;
  /** Mean, rounded. */
  readonly avg: number;
  /** Median. */
  readonly p50: number;
  /** 90th percentile. */
  readonly p90: number;
  /** 95th percentile. */
  readonly p95: number;
  /** 99th percentile. */
  readonly p99: number;
  /** 99.9th percentile. */
  readonly p999: number;
}

/**
 * Summarizes `values` (nearest-rank percentiles); all zeros when empty, as Flink reports.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { summarize } from "./stats.ts";
 * const s = summarize([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
 * assert.deepEqual([s.min, s.max, s.p50, s.p90, s.p99], [1, 10, 5, 9, 10]);
 * ```
 */
export function summarize(values: readonly number[]): StatsSummary {
  if (values.length === 0) {
    return { min: 0, max: 0, avg: 0, p50: 0, p90: 0, p95: 0, p99: 0, p999: 0 };
  }
  const v = [...values].sort((a, b) => a - b);
  const rank = (q: number) => v[Math.min(v.length - 1, Math.max(0, Math.ceil(q * v.length) - 1))]!;
  return {
    min: v[0]!,
    max: v[v.length - 1]!,
    avg: Math.round(v.reduce((a, b) => a + b, 0) / v.length),
    p50: rank(0.5),
    p90: rank(0.9),
    p95: rank(0.95),
    p99: rank(0.99),
    p999: rank(0.999),
  };
}

/**
 * Fields of every checkpoint Flink's overview lists: its per-task figures (empty there, as
 * Flink's; `checkpoints/details/:id` has them), which Flink's REST client requires, and whether
 * it was unaligned (weir's never are).
 */
const FLINK_LIST_FIELDS = { is_unaligned: false, tasks: {} } as const;

/** One checkpoint as Flink's history lists it. */
export function checkpointJson(e: CheckpointHistoryEntry): Record<string, unknown> {
  return {
    className: e.status === "COMPLETED" ? "completed" : "failed",
    id: e.id,
    status: e.status,
    is_savepoint: e.is_savepoint,
    checkpoint_type: e.is_savepoint ? "SAVEPOINT" : "CHECKPOINT",
    trigger_timestamp: e.trigger_timestamp,
    latest_ack_timestamp: e.latest_ack_timestamp,
    state_size: e.state_size,
    checkpointed_size: e.checkpointed_size,
    end_to_end_duration: Math.round(e.end_to_end_duration),
    alignment_buffered: 0,
    processed_data: 0,
    persisted_data: 0,
    num_subtasks: e.num_subtasks,
    num_acknowledged_subtasks: e.num_acknowledged_subtasks,
    ...FLINK_LIST_FIELDS,
    ...(e.status === "COMPLETED" ? { external_path: e.external_path ?? null, discarded: false } : {
      failure_timestamp: e.latest_ack_timestamp,
      failure_message: e.failure_message ?? null,
    }),
  };
}

function inProgressJson(c: InProgressCheckpoint, now: number): Record<string, unknown> {
  return {
    className: "in_progress",
    id: c.id,
    status: "IN_PROGRESS",
    is_savepoint: c.isSavepoint,
    checkpoint_type: c.isSavepoint ? "SAVEPOINT" : "CHECKPOINT",
    trigger_timestamp: c.triggeredAt,
    latest_ack_timestamp: c.latestAckAt ?? -1,
    state_size: 0,
    checkpointed_size: 0,
    end_to_end_duration: Math.round(now - c.triggeredAt),
    alignment_buffered: 0,
    processed_data: 0,
    persisted_data: 0,
    num_subtasks: c.tasks,
    num_acknowledged_subtasks: c.acknowledged,
    ...FLINK_LIST_FIELDS,
  };
}

/**
 * How many history entries `/checkpoints` lists unless `?limit=` says
 * otherwise (Flink's `web.checkpoints.history` is 10).
 */
export const HISTORY_LIMIT = 100;
/**
 * The most history entries one `/checkpoints` page lists.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { HISTORY_LIMIT, MAX_HISTORY_LIMIT } from "./stats.ts";
 * assert.ok(HISTORY_LIMIT <= MAX_HISTORY_LIMIT);
 * ```
 */
export const MAX_HISTORY_LIMIT = 10_000;

/**
 * Which part of the history (newest first) a `/checkpoints` answer lists.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkpointsOverview, type HistoryPage } from "./stats.ts";
 * const page: HistoryPage = { limit: 10, offset: 20 };
 * const o = checkpointsOverview([], [], 0, page) as { history_offset: number };
 * assert.equal(o.history_offset, 20);
 * ```
 */
export interface HistoryPage {
  /** Entries to list. */
  readonly limit: number;
  /** Newer entries to skip. */
  readonly offset: number;
}

/**
 * The body of `GET /jobs/:jobid/checkpoints`, newest history first: the
 * `page` of it (default the newest {@linkcode HISTORY_LIMIT}); counts and
 * summary cover all of it, and `history_total`/`history_offset` (weir's) say
 * where the page is.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkpointsOverview } from "./stats.ts";
 * const o = checkpointsOverview([], [], 0) as { counts: { total: number } };
 * assert.equal(o.counts.total, 0);
 * ```
 */
export function checkpointsOverview(
  history: readonly HistoryEntry[],
  inProgress: readonly InProgressCheckpoint[],
  now: number,
  page: HistoryPage = { limit: HISTORY_LIMIT, offset: 0 },
): Record<string, unknown> {
  const checkpoints = latestPerId(history);
  const restores = history.filter((e): e is RestoreHistoryEntry => e.kind === "restore");
  const completed = checkpoints.filter((e) => e.status === "COMPLETED");
  const failed = checkpoints.filter((e) => e.status === "FAILED");
  const last = <T>(xs: readonly T[]): T | undefined => xs[xs.length - 1];
  const lastCompleted = last(completed.filter((e) => !e.is_savepoint));
  const lastSavepoint = last(completed.filter((e) => e.is_savepoint));
  const lastFailed = last(failed);
  const restored = last(restores);
  const rows = [
    ...checkpoints.map((e) => ({ id: e.id, json: checkpointJson(e) })),
    ...inProgress.map((c) => ({ id: c.id, json: inProgressJson(c, now) })),
  ].sort((a, b) => b.id - a.id);
  return {
    counts: {
      restored: restores.length,
      total: checkpoints.length + inProgress.length,
      in_progress: inProgress.length,
      completed: completed.length,
      failed: failed.length,
    },
    summary: {
      state_size: summarize(completed.map((e) => e.state_size)),
      checkpointed_size: summarize(completed.map((e) => e.checkpointed_size)),
      end_to_end_duration: summarize(completed.map((e) => Math.round(e.end_to_end_duration))),
      alignment_buffered: summarize([]),
      processed_data: summarize([]),
      persisted_data: summarize([]),
    },
    latest: {
      completed: lastCompleted ? checkpointJson(lastCompleted) : null,
      savepoint: lastSavepoint ? checkpointJson(lastSavepoint) : null,
      failed: lastFailed ? checkpointJson(lastFailed) : null,
      restored: restored
        ? {
          id: restored.id,
          restore_timestamp: restored.restore_timestamp,
          is_savepoint: restored.is_savepoint,
          external_path: restored.external_path,
          // weir's: the restore fell back past committed output (--allow-duplicate-output).
          ...(restored.duplicates_accepted
            ? { duplicates_accepted: restored.duplicates_accepted }
            : {}),
        }
        : null,
    },
    history: rows.slice(page.offset, page.offset + page.limit).map((r) => r.json),
    history_total: rows.length,
    history_offset: page.offset,
  };
}

/**
 * Checkpoint entries, one per id (a restarted run may reuse an id that failed
 * before; the later entry wins), ascending by id.
 */
export function latestPerId(history: readonly HistoryEntry[]): CheckpointHistoryEntry[] {
  const byId = new Map<number, CheckpointHistoryEntry>();
  for (const e of history) if (e.kind === "checkpoint") byId.set(e.id, e);
  return [...byId.values()].sort((a, b) => a.id - b.id);
}

/**
 * The body of `GET /jobs/:jobid/checkpoints/details/:checkpointid`: the
 * checkpoint and per-task sync/async durations and alignment.
 */
export function checkpointDetail(e: CheckpointHistoryEntry): Record<string, unknown> {
  const tasks: Record<string, unknown> = {};
  for (const t of e.tasks) {
    tasks[t.task] = {
      id: t.task,
      status: e.status,
      latest_ack_timestamp: e.latest_ack_timestamp,
      state_size: t.stateSize,
      checkpointed_size: t.checkpointedSize,
      end_to_end_duration: Math.round(t.startDelayMs + t.alignmentMs + t.syncMs + t.asyncMs),
      num_subtasks: 1,
      num_acknowledged_subtasks: 1,
      start_delay: Math.round(t.startDelayMs),
      alignment: { duration: Math.round(t.alignmentMs), buffered: 0, processed: 0, persisted: 0 },
      checkpoint_duration: { sync: Math.round(t.syncMs), async: Math.round(t.asyncMs) },
    };
  }
  return { ...checkpointJson(e), tasks };
}
