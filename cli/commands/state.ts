/**
 * `weir state get|dump`: keyed state (and, with dump, operator state) read
 * straight from a checkpoint or savepoint without running the job (Flink's
 * State Processor API, as a command).
 *
 * @module
 */
import { DenoCheckpointFs } from "../../core/checkpoint/checkpoint_fs.ts";
import { type LoadedManifest, verifyManifest } from "../../core/checkpoint/storage.ts";
import { CheckpointError, CorruptionError, StateError, WeirError } from "../../core/errors.ts";
import { parseCommand, requireFlag, UsageError } from "../args.ts";
import { resolveSnapshot } from "../checkpoint_dir.ts";
import { METADATA_FILE } from "../../core/checkpoint/paths.ts";
import type { CliIo, Command } from "../command.ts";
import { table } from "../format.ts";
import { toJsonValue } from "../../core/state/serializer_ids.ts";
import {
  dumpOperatorState,
  dumpState,
  dumpTimers,
  findOperatorState,
  getState,
  openState,
  type OperatorStateItem,
  type OperatorStateView,
  parseKeyText,
  type StateEntry,
  type StateView,
} from "../../core/state/state_reader.ts";

const GET_HELP =
  `Usage: weir state get PATH --operator UID --state NAME --key K [--key-json] [--json]

Prints the value of keyed state NAME of operator UID for key K, read from
the checkpoint or savepoint at PATH (a chk-<id> or savepoint folder, its
_metadata file, or a checkpoint directory: its latest completed checkpoint).
Map state prints every map entry of the key; state with namespaces (windows)
every namespace. Values print as JSON, except a string that reads as nothing
else, which prints as it is: the number 1 is 1, the string "1" is "1" (quoted);
--json tells every type apart. A state with a TTL prints each value as stored, with its
last write (or read) time: {"v": value, "ts": ms}, expired values not yet
cleaned up included, marked "expired": true (the TTL as of now; checkpoints
that do not record the TTL leave them unmarked). Exits 1 when the key has no
value.

K is read with the operator's key serializer (recorded in the checkpoint):
as a string for "string", a number for "f64" / "i32", JSON for structured
serializers; for the generic "key" serializer a string unless it is a JSON
array or object. --key-json reads K as JSON always (e.g. --key 42 --key-json:
the number 42, not the string "42").

Options:
  --operator UID  the operator's uid (see weir checkpoints inspect)
  --state NAME    the state's name
  --key K         the key
  --key-json      parse K as JSON
  --json          one JSON object
  -h, --help      show this help`;

const DUMP_HELP =
  `Usage: weir state dump PATH --operator UID (--state NAME | --timers) [--format jsonl|csv]

Writes every entry of keyed (or operator) state NAME of operator UID, read from the
checkpoint or savepoint at PATH, one line per entry: in jsonl (default)
{"key", "namespace"?, "userKey"?, "value"}; in csv with a header line,
a string as it is unless it reads as JSON, any other value as JSON (the key
1 is 1, the string "1" is "1" in JSON: """1""" in csv).
List state values are arrays; a state with a TTL writes each value as stored,
{"v": value, "ts": ms} (expired ones not yet cleaned up included, marked
"expired": true). Values of
custom serializers, which cannot be rebuilt offline, are written as
{"base64": ...} with a note on stderr. The state is read once before anything
is written, so a damaged checkpoint fails (exit 1) without partial output;
its segments are held open, so a running job deleting the checkpoint (a newer
one subsumed it) does not cut the output short.

NAME may also be operator (non-keyed) state, as Flink's SavepointReader
readListState / readUnionState / readBroadcastState read it: list state
writes {"subtask", "value"} per element, union state {"value"} per element of
every subtask (what each subtask gets on restore), broadcast state
{"key", "value"} per entry, once.

Options:
  --operator UID     the operator's uid (see weir checkpoints inspect)
  --state NAME       the state's name
  --format jsonl|csv output format (jsonl)
  --json             same as --format jsonl
  -h, --help         show this help`;

function load(loaded: LoadedManifest, fs: DenoCheckpointFs): LoadedManifest {
  const problems = verifyManifest(fs, loaded);
  if (problems.length > 0) {
    const m = loaded.manifest;
    throw new CheckpointError(
      `Cannot read ${m.kind} ${m.checkpointId} at ${loaded.dir}: ${problems.join("; ")}`,
    );
  }
  return loaded;
}

/**
 * Runs `read` on the snapshot `path` names, with its segments held open: a running job deletes
 * the checkpoints a newer one subsumes, also one being read, and an open file still reads. One
 * deleted before it was opened is read again from a checkpoint directory's newer latest; a named
 * checkpoint fails saying it was deleted, not that it is corrupt.
 */
function readSnapshot<T>(
  path: string,
  operator: string,
  fs: DenoCheckpointFs,
  read: (loaded: LoadedManifest, fs: DenoCheckpointFs) => T,
): T {
  for (let attempt = 1;; attempt++) {
    const loaded = resolveSnapshot(path, fs);
    try {
      return read(loaded, pinSegments(load(loaded, fs), operator, fs));
    } catch (e) {
      if (!(e instanceof CheckpointError)) throw e;
      const gone = fs.size(`${loaded.dir}/${METADATA_FILE}`) === undefined;
      const latest = isDirectoryPath(path, fs);
      const newer = latest && !gone && resolveSnapshot(path, fs).dir !== loaded.dir;
      if (!gone && !newer) throw e;
      if (latest && attempt < 5) continue;
      const m = loaded.manifest;
      throw new CheckpointError(
        `${m.kind} ${m.checkpointId} at ${loaded.dir} was deleted while it was read (a running ` +
          `job keeps only its newest checkpoints): read again, or read a savepoint`,
        { cause: e },
      );
    }
  }
}

/**
 * Opens the segments of `loaded` that `operator` reads (the descriptors stay cached in `fs`) and
 * returns a view of `fs` that knows their sizes, so they read on after the job deletes them.
 */
function pinSegments(
  loaded: LoadedManifest,
  operator: string,
  fs: DenoCheckpointFs,
): DenoCheckpointFs {
  const sizes = new Map<string, number>();
  // Only the operator's: a snapshot may hold more segments than a process may open files.
  const names = new Set(
    loaded.manifest.operators[operator]?.subtasks.flatMap((s) =>
      s.keyed?.segments.map((x) => x.name) ?? []
    ),
  );
  for (const name of names) {
    const size = loaded.manifest.segments[name]?.size;
    if (size === undefined) continue;
    const path = loaded.segmentPath(name);
    try {
      fs.readAt(path, 0, new Uint8Array(0));
    } catch (e) {
      const m = loaded.manifest;
      throw new CheckpointError(
        `Cannot read ${m.kind} ${m.checkpointId} at ${loaded.dir}: segment ${name} is missing`,
        { cause: e },
      );
    }
    sizes.set(path, size);
  }
  // Made from fs, as DenoSegmentFs allows: the cached descriptors are fs's.
  const pinned = Object.create(fs) as DenoCheckpointFs;
  pinned.size = (path: string) => sizes.get(path) ?? fs.size(path);
  // A store closing forgets its descriptors: these stay open until the command ends.
  pinned.forget = (path: string) => {
    if (!sizes.has(path)) fs.forget(path);
  };
  return pinned;
}

/** Whether `path` is a checkpoint directory (read: its latest checkpoint), not one snapshot. */
function isDirectoryPath(path: string, fs: DenoCheckpointFs): boolean {
  const clean = path.replace(/\/+$/, "") || "/";
  return !clean.endsWith(METADATA_FILE) && fs.size(`${clean}/${METADATA_FILE}`) === undefined;
}

function readError(loaded: LoadedManifest, e: unknown): never {
  const m = loaded.manifest;
  throw new CheckpointError(
    `Cannot read ${m.kind} ${m.checkpointId} at ${loaded.dir}: ${
      e instanceof Error ? e.message : e
    }`,
    { cause: e },
  );
}

function notes(io: CliIo, view: StateView): void {
  for (const n of view.notes) io.err(`note: ${n}`);
}

function entryJson(e: StateEntry, view: StateView): Record<string, unknown> {
  const o: Record<string, unknown> = { key: toJsonValue(e.key) };
  if (view.namespaceId !== null) o.namespace = toJsonValue(e.namespace);
  if (view.kind === "map") o.userKey = toJsonValue(e.userKey);
  o.value = toJsonValue(e.value);
  return o;
}

/**
 * A value as `state get` prints it for people: a string as it is, unless it would read as another
 * value or not as itself (it reads as JSON, is empty, has surrounding whitespace or a control
 * character such as a line break): then, as any other value, as JSON. So the key 1 prints `1` and
 * the string "1" prints `"1"`, as `state dump --format csv` tells them apart.
 */
function text(v: unknown): string {
  const j = toJsonValue(v);
  return typeof j === "string" && !readsAsJson(j) && j.trim() === j && j !== "" &&
      !/\p{Cc}/u.test(j)
    ? j
    : JSON.stringify(j);
}

/** `weir state get PATH --operator UID --state NAME --key K`. */
export const stateGet: Command = {
  name: "state get",
  summary: "print one key's value of a keyed state in a checkpoint",
  help: GET_HELP,
  run(args: string[], io: CliIo): Promise<number> {
    const p = parseCommand(args, this.name, {
      operator: { type: "string" },
      state: { type: "string" },
      key: { type: "string" },
      "key-json": { type: "boolean" },
      json: { type: "boolean" },
    }, ["PATH"]);
    if (p.help) {
      io.out(GET_HELP);
      return Promise.resolve(0);
    }
    const operator = requireFlag(p, "operator", this.name);
    const state = requireFlag(p, "state", this.name);
    const keyText = p.values.key;
    if (typeof keyText !== "string") throw new UsageError("--key is required", this.name);
    const fs = new DenoCheckpointFs();
    const { view, key, result } = readSnapshot(p.positionals[0]!, operator, fs, (loaded, fs) => {
      const opView = keyedStateNamed(loaded, operator, state)
        ? undefined
        : findOperatorState(loaded, operator, state);
      if (opView) {
        throw new StateError(
          `"${state}" of operator "${operator}" is operator state (${opView.mode}), not keyed by ` +
            `a key: read it with weir state dump`,
        );
      }
      const view = openState(loaded, operator, state);
      const key = parseKeyText(keyText, view.keySerializerId, p.values["key-json"] === true);
      try {
        return { view, key, result: getState(loaded, fs, view, key) };
      } catch (e) {
        // Bad keys and unknown serializers explain themselves; storage errors get the path.
        if (e instanceof WeirError && !(e instanceof CorruptionError)) throw e;
        readError(loaded, e);
      }
    });
    notes(io, view);
    const { location, entries } = result;
    if (p.values.json) {
      io.out(JSON.stringify({
        operator,
        state,
        kind: view.kind,
        typeId: view.typeId,
        key: toJsonValue(key),
        keyGroup: location.keyGroup,
        subtask: location.subtask,
        found: entries.length > 0,
        entries: entries.map((e) => {
          const o = entryJson(e, view);
          delete o.key;
          return o;
        }),
      }));
      return Promise.resolve(entries.length > 0 ? 0 : 1);
    }
    if (entries.length === 0) {
      io.err(
        `weir: key ${JSON.stringify(toJsonValue(key))} has no value in state "${state}" of ` +
          `operator "${operator}" (key group ${location.keyGroup}, subtask ${location.subtask})`,
      );
      return Promise.resolve(1);
    }
    const plain = view.namespaceId === null && view.kind !== "map";
    if (plain) io.out(text(entries[0]!.value));
    else {
      const header = [
        ...(view.namespaceId !== null ? ["NAMESPACE"] : []),
        ...(view.kind === "map" ? ["MAP KEY"] : []),
        "VALUE",
      ];
      const rows = entries.map((e) => [
        ...(view.namespaceId !== null ? [text(e.namespace)] : []),
        ...(view.kind === "map" ? [text(e.userKey)] : []),
        text(e.value),
      ]);
      for (const l of table(header, rows)) io.out(l);
    }
    return Promise.resolve(0);
  },
};

/**
 * A csv cell: a string as it is unless it reads as JSON, every other value as JSON, so a cell
 * that parses as JSON is that value and any other cell a string: the key 1 is `1`, the string
 * "1" is `"1"` (quoted again for csv), not both `1`.
 */
function csvCell(v: unknown): string {
  const j = toJsonValue(v);
  const s = typeof j === "string" && !readsAsJson(j) ? j : JSON.stringify(j);
  return /[",\n\r]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

function readsAsJson(s: string): boolean {
  try {
    JSON.parse(s);
    return true;
  } catch {
    return false;
  }
}

/** `weir state dump PATH --operator UID --state NAME`. */
export const stateDump: Command = {
  name: "state dump",
  summary: "write every entry of a keyed or operator state, or the timers, in a checkpoint",
  help: DUMP_HELP,
  run(args: string[], io: CliIo): Promise<number> {
    const p = parseCommand(args, this.name, {
      operator: { type: "string" },
      state: { type: "string" },
      format: { type: "string" },
      json: { type: "boolean" },
      timers: { type: "boolean" },
    }, ["PATH"]);
    if (p.help) {
      io.out(DUMP_HELP);
      return Promise.resolve(0);
    }
    const operator = requireFlag(p, "operator", this.name);
    const timers = p.values.timers === true;
    if (timers && p.values.state !== undefined) {
      throw new UsageError("--state and --timers exclude each other", this.name);
    }
    const state = timers ? "" : requireFlag(p, "state", this.name);
    const format = p.values.format ?? "jsonl";
    if (format !== "jsonl" && format !== "csv") {
      throw new UsageError(`--format must be jsonl or csv, got "${format}"`, this.name);
    }
    if (p.values.json && format === "csv") {
      throw new UsageError("--json and --format csv exclude each other", this.name);
    }
    const fs = new DenoCheckpointFs();
    if (timers) return dumpTimerLines(p.positionals[0]!, fs, operator, format, io);
    const read = readSnapshot(p.positionals[0]!, operator, fs, (loaded, fs) => {
      const opView = keyedStateNamed(loaded, operator, state)
        ? undefined
        : findOperatorState(loaded, operator, state);
      if (opView) return { loaded, opView, fs };
      const view = openState(loaded, operator, state);
      // A read pass first: a damaged block fails the command before it prints anything.
      try {
        for (const _ of dumpState(loaded, fs, view)) { /* reading checks checksums and decodes */ }
      } catch (e) {
        readError(loaded, e);
      }
      return { loaded, view, fs };
    });
    const { loaded, fs: pinned } = read;
    if (read.opView) return dumpOperator(loaded, read.opView, format, io);
    const view = read.view!;
    const ns = view.namespaceId !== null, map = view.kind === "map";
    if (format === "csv") {
      io.out(
        ["key", ...(ns ? ["namespace"] : []), ...(map ? ["user_key"] : []), "value"].join(","),
      );
    }
    try {
      for (const e of dumpState(loaded, pinned, view)) {
        if (format === "jsonl") io.out(JSON.stringify(entryJson(e, view)));
        else {
          io.out(
            [
              csvCell(e.key),
              ...(ns ? [csvCell(e.namespace)] : []),
              ...(map ? [csvCell(e.userKey)] : []),
              csvCell(e.value),
            ].join(","),
          );
        }
      }
    } catch (e) {
      readError(loaded, e);
    }
    notes(io, view);
    return Promise.resolve(0);
  },
};

/** Whether operator `operator` has keyed state `state` (it wins over operator state of that name). */
function keyedStateNamed(loaded: LoadedManifest, operator: string, state: string): boolean {
  return loaded.manifest.operators[operator]?.subtasks.some((s) =>
    s.keyed?.states.some((m) => m.name === state)
  ) ?? false;
}

function dumpOperator(
  loaded: LoadedManifest,
  view: OperatorStateView,
  format: string,
  io: CliIo,
): Promise<number> {
  let items: OperatorStateItem[];
  try {
    items = [...dumpOperatorState(view)];
  } catch (e) {
    readError(loaded, e);
  }
  const columns = view.mode === "broadcast"
    ? ["key", "value"] as const
    : view.mode === "split"
    ? ["subtask", "value"] as const
    : ["value"] as const;
  if (format === "csv") io.out(columns.join(","));
  for (const item of items) {
    if (format === "csv") io.out(columns.map((c) => csvCell(item[c])).join(","));
    else {
      const o: Record<string, unknown> = {};
      for (const c of columns) o[c] = toJsonValue(item[c]);
      io.out(JSON.stringify(o));
    }
  }
  for (const n of view.notes) io.err(`note: ${n}`);
  return Promise.resolve(0);
}

function dumpTimerLines(
  path: string,
  fs: DenoCheckpointFs,
  operator: string,
  format: string,
  io: CliIo,
): Promise<number> {
  const notes: string[] = [];
  // Timers are few next to state: read whole, so a damaged checkpoint prints nothing.
  const timers = readSnapshot(path, operator, fs, (loaded, fs) => {
    try {
      return [...dumpTimers(loaded, fs, operator, notes)];
    } catch (e) {
      if (e instanceof WeirError && !(e instanceof CorruptionError)) throw e;
      readError(loaded, e);
    }
  });
  const ns = timers.some((t) => "namespace" in t);
  const columns = ["key", "domain", "timestamp", ...(ns ? ["namespace"] as const : [])] as const;
  if (format === "csv") io.out(columns.join(","));
  for (const t of timers) {
    if (format === "csv") io.out(columns.map((c) => csvCell(t[c])).join(","));
    else {
      const o: Record<string, unknown> = {
        key: toJsonValue(t.key),
        domain: t.domain,
        timestamp: toJsonValue(t.timestamp),
      };
      if ("namespace" in t) o.namespace = toJsonValue(t.namespace);
      io.out(JSON.stringify(o));
    }
  }
  for (const n of notes) io.err(`note: ${n}`);
  return Promise.resolve(0);
}
