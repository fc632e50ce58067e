/**
 * `weir checkpoints list|inspect|gc`: what a checkpoint directory holds,
 * what one snapshot holds, and deleting what no snapshot references.
 *
 * @module
 */
import { DenoCheckpointFs } from "../../core/checkpoint/checkpoint_fs.ts";
import { type LockAttempt, tryLockDirectory } from "../../core/checkpoint/dir_lock.ts";
import { describeOwner } from "../../core/_process_owner.ts";
import { checkpointPaths, METADATA_FILE } from "../../core/checkpoint/paths.ts";
import { planRetention } from "../../core/checkpoint/retention.ts";
import type { LoadedManifest } from "../../core/checkpoint/storage.ts";
import { CheckpointError } from "../../core/errors.ts";
import { schemaVersions } from "../../core/state/serializer_schema.ts";
import { numberFlag, parseCommand } from "../args.ts";
import { checkSegments, findSnapshots, resolveSnapshot } from "../checkpoint_dir.ts";
import type { CliIo, Command } from "../command.ts";
import { gcDatabase } from "../database_gc.ts";
import { isDatabaseUrl } from "../database_snapshots.ts";
import { bytes, table, time } from "../format.ts";

const LIST_HELP = `Usage: weir checkpoints list DIR [--json] [--verify]

Lists the checkpoints (chk-<id>) and savepoints (savepoints/*, and those a
savepoint's relative target directory holds: savepoints/<target>/*) in the
checkpoint directory DIR: id, completion time, state size, incremental size
(bytes the checkpoint newly wrote), segments and status. Status is
"completed" when the manifest reads and every segment is there with its
recorded size, "damaged: <reason>" otherwise, "incomplete" without _metadata
(a checkpoint the directory's _history.jsonl records as completed is
"damaged" without it, as restore counts it). Exits 1 when a checkpoint or
savepoint is damaged. A checkpoint a running job deletes while it is read
(a newer one subsumed it) is not damaged: it is left out, with a note on
stderr, and DIR listed again for the newer one.

Options:
  --json      one JSON array
  --verify    also read every segment back (checks checksums; slower)
  -h, --help  show this help`;

/** `weir checkpoints list DIR`. */
export const checkpointsList: Command = {
  name: "checkpoints list",
  summary: "list the checkpoints and savepoints of a checkpoint directory",
  help: LIST_HELP,
  run(args: string[], io: CliIo): Promise<number> {
    const p = parseCommand(args, this.name, {
      json: { type: "boolean" },
      verify: { type: "boolean" },
    }, ["DIR"]);
    if (p.help) return help(io, LIST_HELP);
    const deleted: string[] = [];
    const found = findSnapshots(p.positionals[0]!, p.values.verify === true, undefined, deleted);
    if (deleted.length > 0) {
      io.err(
        `note: ${deleted.join(", ")} ${deleted.length === 1 ? "was" : "were"} deleted while ` +
          `read (a running job keeps only its newest checkpoints): not listed`,
      );
    }
    const code = found.some((s) => s.status.startsWith("damaged")) ? 1 : 0;
    if (p.values.json) {
      io.out(JSON.stringify(
        found.map((s) => ({
          id: s.id ?? null,
          kind: s.kind,
          path: s.dir,
          completedAt: s.loaded?.manifest.completedAt ?? null,
          stateSize: s.loaded?.manifest.stats?.stateSize ?? null,
          checkpointedSize: s.loaded?.manifest.stats?.checkpointedSize ?? null,
          segments: s.loaded ? Object.keys(s.loaded.manifest.segments).length : null,
          status: s.status === "completed" ? "completed" : s.status.split(":")[0],
          problems: s.problems,
        })),
        null,
        2,
      ));
      return Promise.resolve(code);
    }
    if (found.length === 0) {
      io.out(`No checkpoints or savepoints in ${checkpointPaths(p.positionals[0]!).root}`);
      return Promise.resolve(0);
    }
    const rows = found.map((s) => {
      const m = s.loaded?.manifest;
      return [
        s.id === undefined ? "-" : String(s.id),
        s.kind,
        m ? time(m.completedAt) : "-",
        m?.stats ? bytes(m.stats.stateSize) : "-",
        m?.stats ? bytes(m.stats.checkpointedSize) : "-",
        m ? String(Object.keys(m.segments).length) : "-",
        s.name,
        s.status,
      ];
    });
    for (
      const l of table(
        ["ID", "KIND", "COMPLETED", "STATE SIZE", "INCREMENTAL", "SEGMENTS", "PATH", "STATUS"],
        rows,
      )
    ) io.out(l);
    return Promise.resolve(code);
  },
};

const INSPECT_HELP = `Usage: weir checkpoints inspect PATH [--json]

Shows what one checkpoint or savepoint holds: operators, keyed states with
their types and schema versions, each subtask's key-group range, operator state and segments,
and every segment with its size and status. PATH is a chk-<id> or
savepoint folder, its _metadata file, or a checkpoint directory (its latest
completed checkpoint). Every segment is read back (checksums); exits 1 when
the snapshot is damaged. When a running job deletes the checkpoint meanwhile
(a newer one subsumed it), a checkpoint directory's new latest is checked
instead; a named checkpoint fails saying it was deleted.

Options:
  --json      the manifest with its path and status, as JSON
  -h, --help  show this help`;

/** `weir checkpoints inspect PATH`. */
export const checkpointsInspect: Command = {
  name: "checkpoints inspect",
  summary: "show the operators, states, key groups and segments of a snapshot",
  help: INSPECT_HELP,
  run(args: string[], io: CliIo): Promise<number> {
    const p = parseCommand(args, this.name, { json: { type: "boolean" } }, ["PATH"]);
    if (p.help) return help(io, INSPECT_HELP);
    const fs = new DenoCheckpointFs();
    const { loaded, problems } = checkSnapshot(p.positionals[0]!, fs);
    const m = loaded.manifest;
    const status = problems.length === 0 ? "completed" : `damaged: ${problems.join("; ")}`;
    const code = problems.length === 0 ? 0 : 1;
    if (p.values.json) {
      io.out(JSON.stringify({ path: loaded.dir, status, problems, manifest: m }, null, 2));
      return Promise.resolve(code);
    }
    io.out(`${m.kind} ${m.checkpointId} of job "${m.jobName}": ${status}`);
    io.out(`  path:        ${loaded.dir}`);
    io.out(
      `  completed:   ${time(m.completedAt)} (took ${Math.round(m.stats?.durationMs ?? 0)} ms)`,
    );
    io.out(`  backend:     ${m.stateBackend}, ${m.mode}, ${m.maxParallelism} key groups`);
    const segs = Object.entries(m.segments);
    io.out(
      `  state size:  ${bytes(m.stats?.stateSize ?? 0)} (incremental ${
        bytes(m.stats?.checkpointedSize ?? 0)
      }) in ${segs.length} segment${segs.length === 1 ? "" : "s"}`,
    );
    const ops = Object.entries(m.operators);
    io.out("");
    io.out("Operators:");
    for (
      const l of table(
        ["UID", "NAME", "PARALLELISM", "SOURCE", "KEY SERIALIZER"],
        ops.map(([uid, o]) => [
          uid,
          o.name,
          String(o.parallelism),
          o.source ? "yes" : "no",
          o.keySerializer ?? (o.subtasks.some((s) => s.keyed) ? "(not recorded)" : "-"),
        ]),
      )
    ) io.out(`  ${l}`);
    const stateRows: string[][] = [];
    for (const [uid, o] of ops) {
      const seen = new Set<string>();
      for (const s of o.subtasks) {
        for (const st of s.keyed?.states ?? []) {
          if (seen.has(st.name)) continue;
          seen.add(st.name);
          const schema = st.schemas ? schemaVersions(st.schemas.value) : "(not recorded)";
          stateRows.push([uid, st.name, st.kind, st.typeId, schema, st.namespace ?? "-"]);
        }
        for (const [name, e] of Object.entries(s.operatorState)) {
          if (seen.has(`op:${name}`)) continue;
          seen.add(`op:${name}`);
          const schema = e.schemas ? schemaVersions(e.schemas.value) : "(not recorded)";
          stateRows.push([uid, name, `operator (${e.mode})`, e.typeId, schema, "-"]);
        }
      }
    }
    io.out("");
    io.out("States:");
    if (stateRows.length === 0) io.out("  (none)");
    else {
      const head = ["OPERATOR", "STATE", "KIND", "TYPE", "SCHEMA", "NAMESPACE"];
      for (const l of table(head, stateRows)) {
        io.out(`  ${l}`);
      }
    }
    const subRows: string[][] = [];
    const usedBy = new Map<string, string[]>();
    for (const [uid, o] of ops) {
      for (const s of o.subtasks) {
        const k = s.keyed;
        for (const seg of k?.segments ?? []) {
          const u = usedBy.get(seg.name) ?? [];
          u.push(`${uid}/${s.index}`);
          usedBy.set(seg.name, u);
        }
        const opState = Object.entries(s.operatorState)
          .map(([n, e]) => `${n}: ${e.items.length} item${e.items.length === 1 ? "" : "s"}`);
        subRows.push([
          uid,
          String(s.index),
          k ? `${k.keyGroupRange.start}-${k.keyGroupRange.end}` : "-",
          k ? k.backend : "-",
          k ? k.segments.map((x) => x.name).join(", ") || "(none)" : "-",
          opState.join(", ") || "-",
        ]);
      }
    }
    io.out("");
    io.out("Subtasks:");
    for (
      const l of table(
        ["OPERATOR", "SUBTASK", "KEY GROUPS", "BACKEND", "SEGMENTS", "OPERATOR STATE"],
        subRows,
      )
    ) io.out(`  ${l}`);
    io.out("");
    io.out("Segments:");
    if (segs.length === 0) io.out("  (none)");
    else {
      const rows = segs.map(([name, { size }]) => {
        // As checked above: a segment the job deletes since is no damage of this snapshot.
        const problem = problems.find((x) => x.startsWith(`segment ${name} `));
        const wrongSize = problem?.match(/ has (\d+) bytes, the manifest says /);
        const st = problem === undefined
          ? "ok"
          : problem.endsWith(" is missing")
          ? "missing"
          : wrongSize
          ? `size ${wrongSize[1]}, expected ${size}`
          : "damaged";
        return [name, String(size), st, (usedBy.get(name) ?? []).join(", ")];
      });
      for (const l of table(["NAME", "BYTES", "STATUS", "USED BY"], rows)) io.out(`  ${l}`);
    }
    return Promise.resolve(code);
  },
};

/**
 * Loads the snapshot `path` names and checks it (every segment there with its size, and read
 * back, each held open from when it is checked). A running job may delete it before (a newer
 * checkpoint subsumed it): that is no damage. A checkpoint directory's latest is then checked again (only its segments not read yet);
 * a named checkpoint fails saying it was deleted.
 */
function checkSnapshot(
  path: string,
  fs: DenoCheckpointFs,
): { loaded: LoadedManifest; problems: string[] } {
  const verified = new Set<string>();
  for (let attempt = 1;; attempt++) {
    const loaded = resolveSnapshot(path, fs);
    const problems = checkSegments(fs, loaded, true, verified);
    if (problems.length === 0 || fs.size(`${loaded.dir}/${METADATA_FILE}`) !== undefined) {
      return { loaded, problems };
    }
    // A checkpoint directory resolves to a folder inside it: its latest, read again.
    const named = (path.replace(/\/+$/, "") || "/").replace(new RegExp(`/?${METADATA_FILE}$`), "");
    if (loaded.dir !== (named || ".") && attempt < 10) continue;
    const m = loaded.manifest;
    throw new CheckpointError(
      `${m.kind} ${m.checkpointId} at ${loaded.dir} was deleted while it was read (a running ` +
        `job keeps only its newest checkpoints): inspect it again, or a savepoint`,
    );
  }
}

const GC_HELP =
  `Usage: weir checkpoints gc DIR|URL [--delete] [--keep N] [--min-age SECONDS] [--json]

Finds what in the checkpoint directory DIR no checkpoint needs: shared
segments no checkpoint manifest references, incomplete chk-<id> folders
(no _metadata) and, with --keep N, checkpoints older than the N newest.
Without --delete it only prints what it would delete (a dry run). A segment
referenced by any remaining checkpoint manifest is never deleted; when a
manifest cannot be read nothing is deleted. Savepoints hold their own copies
and are never touched.

A file's age counts from when it entered DIR (its change time, which a hard
link renews), not from when it was written. While a job runs on DIR (it holds
DIR/.weir-lock), ages count up to when the newest completed checkpoint was
triggered, so nothing that entered since (what a checkpoint in progress may
reference) is deleted however long that checkpoint takes. Otherwise gc holds
the lock while it runs, so no job starts on DIR meanwhile.

With a database URL (postgres://…?job=J or redis://…?job=J: checkpoints kept
with --checkpoint-storage), gc finds the job's checkpoints older than the N
newest, segments no remaining checkpoint or savepoint references and state
rows none of them can see, and removes the parts of checkpoints that never
completed. A running job's checkpoint in progress (a higher id than the
latest completed one) is left alone; --min-age does not apply.

Options:
  --delete           delete (default: dry run)
  --keep N           also delete completed checkpoints older than the N newest
  --min-age SECONDS  leave files younger than this alone (default 60); gc says
                     how many unreferenced ones it skipped for it
  --json             the plan (and what was deleted) as JSON
  -h, --help         show this help`;

/** When a file entered its folder: its change time (a hard link or rename renews it), or mtime. */
function enteredAt(path: string): number | undefined {
  try {
    const st = Deno.statSync(path);
    const times = [st.mtime?.getTime(), st.ctime?.getTime()].filter((t) => t !== undefined);
    return times.length === 0 ? undefined : Math.max(...times);
  } catch {
    return undefined;
  }
}

/** `weir checkpoints gc DIR`. */
export const checkpointsGc: Command = {
  name: "checkpoints gc",
  summary: "delete segments and checkpoints nothing references (dry run by default)",
  help: GC_HELP,
  run(args: string[], io: CliIo): Promise<number> {
    const p = parseCommand(args, this.name, {
      delete: { type: "boolean" },
      keep: { type: "string" },
      "min-age": { type: "string" },
      json: { type: "boolean" },
    }, ["DIR"]);
    if (p.help) return help(io, GC_HELP);
    // Keeping no checkpoint would delete the one a restore needs: 0 is refused as -1 is.
    const keep = numberFlag(p, "keep", this.name, true, 1);
    const minAgeMs = (numberFlag(p, "min-age", this.name, false) ?? 60) * 1000;
    const doDelete = p.values.delete === true;
    if (isDatabaseUrl(p.positionals[0]!)) {
      return gcDatabase(
        p.positionals[0]!,
        { keep, delete: doDelete, json: p.values.json === true },
        io,
      );
    }
    const fs = new DenoCheckpointFs();
    const paths = checkpointPaths(p.positionals[0]!);
    if (fs.size(paths.root) === undefined) {
      // Locking would create it.
      throw new CheckpointError(`Checkpoint directory ${paths.root} does not exist`);
    }
    using gcLock = lockForGc(paths.root);
    // A checkpoint whose manifest is gone names no segments: its folder, if any, is collected.
    const found = findSnapshots(paths.root, false, fs).filter((s) =>
      s.name.startsWith("chk-") && !(s.vanished && fs.size(s.dir) === undefined)
    );
    const unreadable = found.filter((s) =>
      !s.loaded && !s.vanished && !s.status.startsWith("incomplete")
    );
    if (unreadable.length > 0) {
      throw new CheckpointError(
        `Refusing to collect garbage in ${paths.root}: ${
          unreadable.map((s) => `${s.name}: ${s.problems[0]}`).join("; ")
        } (its segments might be needed; fix or remove it first)`,
      );
    }
    const completed = new Map<number, Set<string>>();
    for (const s of found) {
      if (s.loaded && s.loaded.manifest.segmentDir !== ".") {
        completed.set(s.id!, new Set(Object.keys(s.loaded.manifest.segments)));
      }
    }
    // A running job may be writing a checkpoint: whatever entered DIR since the newest completed
    // one was triggered may be in it. Without a completed one, everything may be.
    const { heldBy } = gcLock;
    const newest = found.filter((s) => s.loaded).at(-1)?.loaded?.manifest;
    const asOf = heldBy ? Math.min(Date.now(), newest?.triggeredAt ?? -Infinity) : Date.now();
    const young = (path: string) => asOf - (enteredAt(path) ?? Infinity) < minAgeMs;
    const onDisk = fs.list(paths.shared).filter((n) => n.endsWith(".seg") && !n.startsWith("."));
    const plan = planRetention({
      completed,
      retain: keep ?? completed.size,
      // Young segments count as in use: an in-flight checkpoint may need them.
      live: new Set(onDisk.filter((n) => young(`${paths.shared}/${n}`))),
      onDisk,
    });
    const checkpoints = completed.size === 0 ? [] : plan.checkpoints;
    const incomplete = found.filter((s) => !s.loaded && !young(s.dir)).map((s) => s.name);
    // What only --min-age saved: unreferenced, but too young to delete. Said, so that
    // "nothing to delete" is not mistaken for "nothing unreferenced".
    const unreferenced = planRetention({
      completed,
      retain: keep ?? completed.size,
      live: new Set(),
      onDisk,
    }).segments;
    const skipped = {
      segments: unreferenced.filter((n) => !plan.segments.includes(n)),
      incomplete: found.filter((s) => !s.loaded && young(s.dir)).map((s) => s.name),
    };
    const segments = plan.segments.map((name) => ({
      name,
      size: fs.size(`${paths.shared}/${name}`) ?? 0,
    }));
    if (doDelete) {
      for (const id of checkpoints) fs.removeTree(paths.checkpoint(id));
      for (const name of incomplete) fs.removeTree(`${paths.root}/${name}`);
      for (const s of segments) fs.remove(`${paths.shared}/${s.name}`);
    }
    const total = segments.reduce((a, s) => a + s.size, 0);
    if (p.values.json) {
      io.out(JSON.stringify(
        {
          dryRun: !doDelete,
          checkpoints,
          incomplete,
          segments,
          bytes: total,
          kept: [...completed.keys()].filter((id) => !checkpoints.includes(id)),
          runningJob: heldBy ?? null,
          skippedYoungerThanMinAge: skipped,
        },
        null,
        2,
      ));
      return Promise.resolve(0);
    }
    if (heldBy) {
      io.out(
        `${paths.root} is in use by ${heldBy}: files that entered it since ${
          newest ? `checkpoint ${newest.checkpointId} was triggered` : "it started"
        } are kept (a checkpoint in progress may reference them)`,
      );
    }
    const rows = [
      ...checkpoints.map((id) => ["checkpoint", `chk-${id}`, "-"]),
      ...incomplete.map((n) => ["incomplete", n, "-"]),
      ...segments.map((s) => ["segment", `shared/${s.name}`, bytes(s.size)]),
    ];
    const skippedCount = skipped.segments.length + skipped.incomplete.length;
    const skippedNote = skippedCount === 0 ? undefined : `Skipped ${skipped.segments.length} ` +
      `unreferenced segment(s) and ${skipped.incomplete.length} incomplete folder(s) younger ` +
      `than --min-age ${minAgeMs / 1000} s (pass a smaller --min-age to include them)`;
    if (rows.length === 0) {
      io.out(
        skippedNote
          ? `Nothing old enough to delete in ${paths.root}. ${skippedNote}`
          : `Nothing to delete in ${paths.root}`,
      );
      return Promise.resolve(0);
    }
    for (const l of table(["WHAT", "PATH", "SIZE"], rows)) io.out(l);
    const summary = `${checkpoints.length} checkpoint(s), ${incomplete.length} incomplete ` +
      `folder(s), ${segments.length} segment(s) (${bytes(total)})`;
    io.out(
      doDelete ? `Deleted ${summary}` : `Dry run: would delete ${summary}; pass --delete to delete`,
    );
    if (skippedNote) io.out(skippedNote);
    return Promise.resolve(0);
  },
};

/**
 * gc's hold on the directory: the lock while no job runs (released when gc
 * ends), else who holds it (`heldBy`; "another process" when unknown, or when
 * the directory cannot be locked at all, read-only say: assume a job runs).
 */
function lockForGc(root: string): { heldBy: string | undefined; [Symbol.dispose](): void } {
  let attempt: LockAttempt;
  try {
    attempt = tryLockDirectory(root, "weir checkpoints gc");
  } catch {
    attempt = { heldBy: undefined };
  }
  if ("lock" in attempt) {
    const { lock } = attempt;
    return { heldBy: undefined, [Symbol.dispose]: () => lock.release() };
  }
  const by = attempt.heldBy ? describeOwner(attempt.heldBy) : "another process";
  return { heldBy: by, [Symbol.dispose]: () => {} };
}

function help(io: CliIo, text: string): Promise<number> {
  io.out(text);
  return Promise.resolve(0);
}
