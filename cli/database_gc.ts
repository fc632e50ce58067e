/**
 * `weir checkpoints gc postgres://…?job=J | redis://…?job=J`: what a job's
 * checkpoints kept in a database no longer need — checkpoints older than the
 * `--keep N` newest, segments no remaining checkpoint or savepoint
 * references, state rows no remaining checkpoint can see and the parts of
 * checkpoints that never completed. A dry run unless `--delete`.
 *
 * @module
 */
import { parseManifest } from "../core/checkpoint/manifest.ts";
import { CheckpointError } from "../core/errors.ts";
import type { CliIo } from "./command.ts";
import { openDatabase } from "./database_snapshots.ts";
import { bytes, table } from "./format.ts";

/** What gc on a database is asked to do. */
export interface DatabaseGcOptions {
  /** Keep only the N newest checkpoints (default: all). */
  readonly keep: number | undefined;
  /** Delete (else a dry run). */
  readonly delete: boolean;
  /** Print JSON. */
  readonly json: boolean;
}

/**
 * Collects garbage in the database `url` names; returns the exit code.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { gcDatabase } from "./database_gc.ts";
 * const io = { out: () => {}, err: () => {} };
 * await assert.rejects(
 *   gcDatabase("postgres://u:pw@127.0.0.1:1/db", { keep: 1, delete: false, json: false }, io),
 *   /name the job/,
 * );
 * ```
 */
export async function gcDatabase(
  url: string,
  options: DatabaseGcOptions,
  io: CliIo,
): Promise<number> {
  const store = await openDatabase(url);
  try {
    const entries = await store.list();
    const checkpoints = entries.filter((e) => e.kind === "checkpoint").map((e) => e.id);
    const keepIds = options.keep === undefined ? checkpoints : checkpoints.slice(-options.keep);
    const keepSegments = new Set<string>();
    const decoder = new TextDecoder();
    for (const e of entries) {
      if (e.kind === "checkpoint" && !keepIds.includes(e.id)) continue;
      const what = e.kind === "savepoint" ? `savepoint ${e.name}` : `checkpoint ${e.id}`;
      let segments: string[];
      try {
        const m = parseManifest(decoder.decode(await store.manifest(e)), `${store.where} ${what}`);
        segments = Object.keys(m.segments);
      } catch (err) {
        throw new CheckpointError(
          `Refusing to collect garbage in ${store.where}: ${what} cannot be read (${
            err instanceof Error ? err.message : err
          }); its segments might be needed`,
        );
      }
      for (const s of segments) keepSegments.add(s);
    }
    // A running job's checkpoint in progress has a higher id than the latest completed
    // one (ids only grow): its parts and the segments it uploaded stay.
    const latest = await store.latest();
    const collected = await store.collect(keepIds, keepSegments, {
      dryRun: !options.delete,
      keepUploadedAfter: latest ?? 0,
    });
    if (options.delete && latest !== undefined) await store.discard({ below: latest });
    const total = collected.segments.reduce((a, s) => a + s.size, 0);
    if (options.json) {
      io.out(JSON.stringify(
        {
          dryRun: !options.delete,
          checkpoints: collected.checkpoints,
          segments: collected.segments,
          bytes: total,
          kept: keepIds,
        },
        null,
        2,
      ));
      return 0;
    }
    const rows = [
      ...collected.checkpoints.map((id) => ["checkpoint", String(id), "-"]),
      ...collected.segments.map((s) => ["segment", s.name, bytes(s.size)]),
    ];
    if (rows.length === 0) {
      io.out(`Nothing to delete in ${store.where}`);
      return 0;
    }
    for (const l of table(["WHAT", "NAME", "SIZE"], rows)) io.out(l);
    const summary = `${collected.checkpoints.length} checkpoint(s), ` +
      `${collected.segments.length} segment(s) (${bytes(total)})`;
    io.out(
      options.delete
        ? `Deleted ${summary} from ${store.where}`
        : `Dry run: would delete ${summary} from ${store.where}; pass --delete to delete`,
    );
    return 0;
  } finally {
    await store.close().catch(() => {});
  }
}
