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
import type { CliIo, Command } from "../command.ts";
import { table } from "../format.ts";
import { toJsonValue } from "../../core/state/serializer_ids.ts";
import {
  dumpOperatorState,
  dumpState,
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
every namespace. A state with a TTL prints each value as stored, with its
last write (or read) time: {"v": value, "ts": ms}, expired values not yet
cleaned up included. Exits 1 when the key has no value.

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

const DUMP_HELP = `Usage: weir state dump PATH --operator UID --state NAME [--format jsonl|csv]

Writes every entry of keyed (or operator) state NAME of operator UID, read from the
checkpoint or savepoint at PATH, one line per entry: in jsonl (default)
{"key", "namespace"?, "userKey"?, "value"}; in csv with a header line,
a string as it is unless it reads as JSON, any other value as JSON (the key
1 is 1, the string "1" is "1" in JSON: """1""" in csv).
List state values are arrays; a state with a TTL writes each value as stored,
{"v": value, "ts": ms} (expired ones not yet cleaned up included). Values of
custom serializers, which cannot be rebuilt offline, are written as
{"base64": ...} with a note on stderr. The state is read once before anything
is written, so a damaged checkpoint fails (exit 1) without partial output.

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

function load(path: string, fs: DenoCheckpointFs): LoadedManifest {
  const loaded = resolveSnapshot(path, fs);
  const problems = verifyManifest(fs, loaded);
  if (problems.length > 0) {
    const m = loaded.manifest;
    throw new CheckpointError(
      `Cannot read ${m.kind} ${m.checkpointId} at ${loaded.dir}: ${problems.join("; ")}`,
    );
  }
  return loaded;
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

function text(v: unknown): string {
  const j = toJsonValue(v);
  return typeof j === "string" ? j : JSON.stringify(j);
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
    const loaded = load(p.positionals[0]!, fs);
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
    let result;
    try {
      result = getState(loaded, fs, view, key);
    } catch (e) {
      // Bad keys and unknown serializers explain themselves; storage errors get the path.
      if (e instanceof WeirError && !(e instanceof CorruptionError)) throw e;
      readError(loaded, e);
    }
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
  summary: "write every entry of a keyed or operator state in a checkpoint (jsonl or csv)",
  help: DUMP_HELP,
  run(args: string[], io: CliIo): Promise<number> {
    const p = parseCommand(args, this.name, {
      operator: { type: "string" },
      state: { type: "string" },
      format: { type: "string" },
      json: { type: "boolean" },
    }, ["PATH"]);
    if (p.help) {
      io.out(DUMP_HELP);
      return Promise.resolve(0);
    }
    const operator = requireFlag(p, "operator", this.name);
    const state = requireFlag(p, "state", this.name);
    const format = p.values.format ?? "jsonl";
    if (format !== "jsonl" && format !== "csv") {
      throw new UsageError(`--format must be jsonl or csv, got "${format}"`, this.name);
    }
    if (p.values.json && format === "csv") {
      throw new UsageError("--json and --format csv exclude each other", this.name);
    }
    const fs = new DenoCheckpointFs();
    const loaded = load(p.positionals[0]!, fs);
    const opView = keyedStateNamed(loaded, operator, state)
      ? undefined
      : findOperatorState(loaded, operator, state);
    if (opView) return dumpOperator(loaded, opView, format, io);
    const view = openState(loaded, operator, state);
    const ns = view.namespaceId !== null, map = view.kind === "map";
    // A read pass first: a damaged block fails the command before it prints anything.
    try {
      for (const _ of dumpState(loaded, fs, view)) { /* reading checks checksums and decodes */ }
    } catch (e) {
      readError(loaded, e);
    }
    if (format === "csv") {
      io.out(
        ["key", ...(ns ? ["namespace"] : []), ...(map ? ["user_key"] : []), "value"].join(","),
      );
    }
    try {
      for (const e of dumpState(loaded, fs, view)) {
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
