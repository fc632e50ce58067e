/**
 * A source of named splits for the watermark alignment tests: each split is
 * a list of event times, read one record per split per poll; its reader can
 * pause single splits. Records say when (wall clock) they were read and
 * whether their reader had been told to pause a split before.
 *
 * @module
 */
import {
  type PollStatus,
  type Source,
  type SourceOutput,
  type SourceReader,
  WatermarkStrategy,
} from "../../mod.ts";

/** A record of {@linkcode splitsSource}. */
export interface AlignedRecord {
  /** Its split. */
  readonly split: string;
  /** Its event time. */
  readonly ts: number;
  /** `Date.now()` when it was read (the same clock on every worker). */
  readonly at: number;
  /** Whether its reader had paused a split before reading it. */
  readonly afterPause: boolean;
}

/** One split of {@linkcode splitsSource}. */
export interface TestSplit {
  /** Its records' event times, in order. */
  readonly times: readonly number[];
  /** The subtask that reads it (0). */
  readonly subtask?: number;
  /** The reader pauses (returns "idle") after this many of its records (never). */
  readonly idleEvery?: number;
  /**
   * After its records the split stays open without any (a quiet live input)
   * until its reader's other splits end; the reader fails if they have not
   * after 2000 polls.
   */
  readonly liveUntilOthersEnd?: boolean;
  /** The split writes this file once it has read `after` of its records. */
  readonly signal?: { readonly file: string; readonly after: number };
  /** The split reads nothing until this file exists (another split's `signal`). */
  readonly waitFor?: string;
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** `n` event times from 0, `step` apart. */
export function times(n: number, step: number): number[] {
  return Array.from({ length: n }, (_, i) => i * step);
}

/** A source of `splits`, by name; see the module doc. */
export function splitsSource(splits: Record<string, TestSplit>): Source<AlignedRecord> {
  return {
    name: "splits",
    createReader(ctx): SourceReader<AlignedRecord> {
      const left = new Map(
        Object.entries(splits)
          .filter(([, s]) => (s.subtask ?? 0) === ctx.subtaskIndex)
          .map(([id, s]) => [id, { ...s, times: [...s.times], read: 0 }]),
      );
      const paused = new Set<string>();
      let pauses = 0;
      let polls = 0;
      return {
        poll(out: SourceOutput<AlignedRecord>): PollStatus {
          let emitted = 0;
          let rest = false;
          polls++;
          for (const [id, s] of left) {
            const split = out.forSplit?.(id) ?? out;
            if (paused.has(id)) continue;
            if (s.waitFor !== undefined && !exists(s.waitFor)) continue;
            if (s.times.length === 0) { // a live split, quiet
              if (left.size > 1 && polls > 2000) {
                throw new Error(`split ${id} still waits after 2000 polls: the others did not end`);
              }
              if (left.size === 1) left.delete(id);
              continue;
            }
            const ts = s.times.shift()!;
            split.collect({ split: id, ts, at: Date.now(), afterPause: pauses > 0 }, ts);
            emitted++;
            s.read++;
            if (s.idleEvery !== undefined && s.read % s.idleEvery === 0) rest = true;
            if (s.signal && s.read === s.signal.after) Deno.writeTextFileSync(s.signal.file, "");
            if (s.times.length === 0 && !s.liveUntilOthersEnd) {
              left.delete(id);
              out.releaseSplit?.(id);
            }
          }
          if (left.size === 0) return "end";
          return emitted > 0 && !rest ? "more" : "idle";
        },
        pauseOrResumeSplits(pause, resume) {
          pauses += pause.length;
          for (const id of pause) paused.add(id);
          for (const id of resume) paused.delete(id);
        },
        position: () => null,
        restore() {},
      };
    },
  };
}

/**
 * The strategy of the alignment tests: event time from the record, a
 * watermark after every record, group "g" with `maxDriftMs`, reports every 10 ms.
 */
export function alignedStrategy(maxDriftMs: number): WatermarkStrategy<AlignedRecord> {
  return WatermarkStrategy.forMonotonousTimestamps<AlignedRecord>()
    .withTimestampAssigner((r) => r.ts)
    .withPerRecordWatermarks()
    .withWatermarkAlignment("g", maxDriftMs, 10);
}
