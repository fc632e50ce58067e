/**
 * The CLI against checkpoints written by real jobs: in-process through
 * `runCli`, and as a subprocess (`deno run -A cli/main.ts`) for exit codes
 * and output as a user sees them.
 */
import assert from "node:assert/strict";
import {
  type CheckpointedFunction,
  CollectSink,
  type FunctionInitializationContext,
  HeapStateBackend,
  type KeyedProcessFunction,
  type ListState,
  ListStateDescriptor,
  LsmStateBackend,
  type MapState,
  MapStateDescriptor,
  type RuntimeContext,
  type Serializer,
  Serializers,
  type StateBackend,
  StateTtlConfig,
  StreamEnvironment,
  type ValueState,
  ValueStateDescriptor,
} from "../mod.ts";
import { QueueSource, waitFor } from "../tests/_helpers/queue_source.ts";
import { runCli } from "./main.ts";

const CLI = new URL("./main.ts", import.meta.url).pathname;

interface Ev {
  user: string;
  item: string;
  price: number;
  qty: number;
}

/** A serializer the CLI cannot rebuild from its id. */
const point: Serializer<{ x: number; y: number }> = {
  id: "point",
  version: 1,
  write(v, out) {
    out.writeF64(v.x);
    out.writeF64(v.y);
  },
  read: (r) => ({ x: r.readF64(), y: r.readF64() }),
};

class Track implements KeyedProcessFunction<string, Ev, string> {
  count!: ValueState<number>;
  items!: ListState<string>;
  spent!: MapState<string, number>;
  last!: ValueState<{ x: number; y: number }>;
  lastBuy!: ValueState<[string, number]>;

  open(ctx: RuntimeContext): void {
    this.count = ctx.getState(new ValueStateDescriptor("count", Serializers.f64, 0));
    this.items = ctx.getListState(new ListStateDescriptor("items", Serializers.string));
    this.spent = ctx.getMapState(
      new MapStateDescriptor("spent", Serializers.string, Serializers.f64),
    );
    this.last = ctx.getState(new ValueStateDescriptor("last", point));
    this.lastBuy = ctx.getState(
      new ValueStateDescriptor("lastBuy", Serializers.tuple(Serializers.string, Serializers.f64)),
    );
  }

  processElement(e: Ev): void {
    this.count.update(this.count.value()! + 1);
    if (e.item === "RESET") {
      this.items.clear();
      return;
    }
    this.items.add(e.item);
    this.spent.put(e.item, (this.spent.get(e.item) ?? 0) + e.price);
    this.last.update({ x: e.price, y: e.qty });
    this.lastBuy.update([e.item, e.price]);
  }
}

class SumByQty implements KeyedProcessFunction<number, Ev, string> {
  total!: ValueState<number>;
  open(ctx: RuntimeContext): void {
    this.total = ctx.getState(new ValueStateDescriptor("total", Serializers.f64, 0));
  }
  processElement(e: Ev): void {
    this.total.update(this.total.value()! + e.price);
  }
}

/** What the job's state should hold after `events`. */
function model(events: Ev[]) {
  const users = new Map<
    string,
    { count: number; items: string[]; spent: Map<string, number>; lastBuy?: [string, number] }
  >();
  const byQty = new Map<number, number>();
  for (const e of events) {
    const u = users.get(e.user) ??
      users.set(e.user, { count: 0, items: [], spent: new Map() }).get(e.user)!;
    u.count++;
    if (e.item === "RESET") {
      u.items = [];
      continue;
    }
    u.items.push(e.item);
    u.spent.set(e.item, (u.spent.get(e.item) ?? 0) + e.price);
    u.lastBuy = [e.item, e.price];
    byQty.set(e.qty, (byQty.get(e.qty) ?? 0) + e.price);
  }
  return { users, byQty };
}

function batch(from: number, to: number): Ev[] {
  const out: Ev[] = [];
  for (let i = from; i < to; i++) {
    out.push({ user: `u${i % 5}`, item: `i${i % 3}`, price: i, qty: i % 4 });
  }
  return out;
}

/**
 * Runs the job: checkpoint 1 after batch 1, checkpoint 2 after batch 2 (u3's
 * list cleared), savepoint "sp" and the final checkpoint 3 at end of input.
 */
async function writeCheckpoints(dir: string, backend: StateBackend): Promise<Ev[]> {
  const src = new QueueSource<Ev>("events");
  const env = StreamEnvironment.create({
    parallelism: 2,
    stateBackend: backend,
    checkpoint: { dir, retained: 10 },
  });
  const events = env.addSource(src, { uid: "events" });
  events.keyBy((e) => e.user).process(new Track()).uid("track")
    .addSink(new CollectSink<string>(), { uid: "sink1" });
  events.keyBy((e) => e.qty, Serializers.i32).process(new SumByQty()).uid("byqty")
    .addSink(new CollectSink<string>(), { uid: "sink2" });
  const client = env.executeAsync("cli fixture");
  const all: Ev[] = [];
  const feed = async (evs: Ev[]) => {
    all.push(...evs);
    src.push(...evs);
    await waitFor(() => src.emitted === all.length, "the source to emit");
  };
  await feed(batch(0, 40));
  await client.triggerCheckpoint();
  await feed([{ user: "u3", item: "RESET", price: 0, qty: 0 }, ...batch(40, 60)]);
  await client.triggerCheckpoint();
  await client.triggerSavepoint("sp");
  src.end();
  await client.done;
  return all;
}

interface Run {
  code: number;
  out: string[];
  err: string[];
}

async function cli(...args: string[]): Promise<Run> {
  const out: string[] = [], err: string[] = [];
  const code = await runCli(args, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join("\n").split("\n"), err };
}

async function sub(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CLI, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const d = new TextDecoder();
  return { code: r.code, stdout: d.decode(r.stdout), stderr: d.decode(r.stderr) };
}

const fixtures = new Map<string, Promise<{ dir: string; events: Ev[] }>>();
const fixtureDirs = new Map<string, string>();
// The fixtures serve several tests: removed when the test process ends.
addEventListener("unload", () => {
  for (const dir of fixtureDirs.values()) Deno.removeSync(dir, { recursive: true });
});
function fixture(backend: "lsm" | "heap"): Promise<{ dir: string; events: Ev[] }> {
  let f = fixtures.get(backend);
  if (!f) {
    const dir = Deno.makeTempDirSync({ prefix: `weir-cli-${backend}-` });
    fixtureDirs.set(backend, dir);
    f = writeCheckpoints(
      dir,
      backend === "lsm" ? new LsmStateBackend() : new HeapStateBackend(),
    ).then((events) => ({ dir, events }));
    fixtures.set(backend, f);
  }
  return f;
}

function copyTree(from: string, to: string): void {
  Deno.mkdirSync(to, { recursive: true });
  for (const e of Deno.readDirSync(from)) {
    if (e.isDirectory) copyTree(`${from}/${e.name}`, `${to}/${e.name}`);
    else Deno.copyFileSync(`${from}/${e.name}`, `${to}/${e.name}`);
  }
}

Deno.test("checkpoints list: a completed checkpoint whose _metadata is gone is damaged (exit 1), as restore sees it", async () => {
  const { dir: fixtureDir } = await fixture("heap");
  const dir = Deno.makeTempDirSync({ prefix: "weir-cli-gone-" });
  try {
    copyTree(fixtureDir, dir);
    Deno.removeSync(`${dir}/chk-4/_metadata`);
    // A crash's leftover: never completed, so incomplete, not damaged.
    Deno.mkdirSync(`${dir}/chk-9`);
    for (const flags of [[], ["--verify"]]) {
      const list = await cli("checkpoints", "list", dir, "--json", ...flags);
      assert.equal(list.code, 1, flags.join());
      const rows = JSON.parse(list.out.join("\n"));
      const row = (id: number) => rows.find((r: { id: number }) => r.id === id);
      assert.equal(row(4).status, "damaged");
      assert.match(
        row(4).problems[0],
        /completion is in .*_history\.jsonl, but .*chk-4\/_metadata is gone/,
      );
      assert.equal(row(9).status, "incomplete");
    }
    // The whole folder gone too: still damaged.
    Deno.removeSync(`${dir}/chk-4`, { recursive: true });
    const list = await cli("checkpoints", "list", dir);
    assert.equal(list.code, 1);
    assert.match(list.out.join("\n"), /chk-4 +damaged: its completion is in/);
    // gc is not blocked by it: no manifest, no segments to keep for it.
    const gc = await cli("checkpoints", "gc", dir, "--json");
    assert.equal(gc.code, 0, gc.err.join("\n"));
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

for (const backend of ["lsm", "heap"] as const) {
  Deno.test(`checkpoints list and inspect (${backend})`, async () => {
    const { dir } = await fixture(backend);
    const list = await cli("checkpoints", "list", dir, "--json");
    assert.equal(list.code, 0);
    const rows = JSON.parse(list.out.join("\n"));
    assert.deepEqual(
      rows.map((r: { id: number; kind: string; status: string }) =>
        `${r.kind} ${r.id} ${r.status}`
      ),
      [
        "checkpoint 1 completed",
        "checkpoint 2 completed",
        "checkpoint 4 completed",
        "savepoint 3 completed",
      ],
    );
    assert.ok(
      rows.every((r: { segments: number; stateSize: number }) => r.segments > 0 && r.stateSize > 0),
    );
    const human = await cli("checkpoints", "list", dir);
    assert.match(
      human.out[0]!,
      /^ID +KIND +COMPLETED +STATE SIZE +INCREMENTAL +SEGMENTS +PATH +STATUS$/,
    );
    assert.match(human.out[1]!, /^ 1 +checkpoint .* chk-1 +completed$/);

    const inspect = await cli("checkpoints", "inspect", `${dir}/chk-2`, "--json");
    const j = JSON.parse(inspect.out.join("\n"));
    assert.equal(j.status, "completed");
    assert.equal(j.manifest.operators.track.keySerializer, "key");
    assert.equal(j.manifest.operators.byqty.keySerializer, "i32");
    assert.equal(j.manifest.operators.events.keySerializer, undefined);
    const text = (await cli("checkpoints", "inspect", `${dir}/chk-2`)).out.join("\n");
    for (
      const s of ["count", "items", "spent", "last", "lastBuy", "map<string,f64>", "0-63", "64-127"]
    ) {
      assert.ok(text.includes(s), `inspect shows ${s}`);
    }
    assert.match(text, /^checkpoint 2 of job "cli fixture": completed$/m);
  });

  Deno.test(`checkpoints list shows savepoints inside a target directory (${backend})`, async () => {
    const { dir: fixtureDir } = await fixture(backend);
    const dir = Deno.makeTempDirSync({ prefix: "weir-cli-target-" });
    try {
      // What `POST .../savepoints {"target-directory": "mine/deep"}` writes, and a savepoint
      // still being written (segments, no _metadata yet) beside it.
      copyTree(`${fixtureDir}/savepoints/sp`, `${dir}/savepoints/mine/deep/sp`);
      Deno.mkdirSync(`${dir}/savepoints/half`, { recursive: true });
      Deno.writeTextFileSync(`${dir}/savepoints/half/a.seg`, "x");
      const list = await cli("checkpoints", "list", dir, "--json");
      assert.equal(list.code, 0, list.err.join("\n"));
      assert.deepEqual(
        JSON.parse(list.out.join("\n")).map((r: { id: number; path: string; status: string }) =>
          `${r.id} ${r.path.slice(dir.length)} ${r.status}`
        ),
        ["null /savepoints/half incomplete", "3 /savepoints/mine/deep/sp completed"],
      );
      const human = await cli("checkpoints", "list", dir);
      assert.match(
        human.out.join("\n"),
        /^3 +savepoint .* savepoints\/mine\/deep\/sp +completed$/m,
      );
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  });

  Deno.test(`state get --key-json reads the key as JSON, as its help shows (${backend})`, async () => {
    const { dir, events } = await fixture(backend);
    const { users } = model(events);
    const sp = `${dir}/savepoints/sp`;
    const help = (await cli("state", "get", "--help")).out.join("\n");
    // The help's example is a command line that parses: --key-json is a switch, K follows --key.
    assert.match(help, /--key 42 --key-json/);
    const [user, u] = [...users][0]!;
    const args = ["state", "get", sp, "--operator", "track", "--state", "count"];
    const json = await cli(...args, "--key", JSON.stringify(user), "--key-json");
    assert.deepEqual([json.code, json.out], [0, [String(u.count)]]);
    const misuse = await cli(...args, "--key-json", JSON.stringify(user));
    assert.equal(misuse.code, 2);
  });

  Deno.test(`state get and dump match the job's state (${backend})`, async () => {
    const { dir, events } = await fixture(backend);
    const { users, byQty } = model(events);
    const sp = `${dir}/savepoints/sp`;
    for (const [user, u] of users) {
      const count = await cli(
        "state",
        "get",
        sp,
        "--operator",
        "track",
        "--state",
        "count",
        "--key",
        user,
      );
      assert.deepEqual([count.code, count.out], [0, [String(u.count)]]);
      const items = await cli(
        "state",
        "get",
        sp,
        "--operator",
        "track",
        "--state",
        "items",
        "--key",
        user,
        "--json",
      );
      if (u.items.length === 0) {
        // u3's list was cleared after checkpoint 1: the delete hides older segments' entries.
        assert.equal(items.code, 1);
        assert.equal(JSON.parse(items.out[0]!).found, false);
      } else {
        assert.equal(items.code, 0);
        assert.deepEqual(JSON.parse(items.out[0]!).entries, [{ value: u.items }]);
      }
      const spent = await cli(
        "state",
        "get",
        sp,
        "--operator",
        "track",
        "--state",
        "spent",
        "--key",
        user,
        "--json",
      );
      const got = JSON.parse(spent.out[0]!).entries.map((
        e: { userKey: string; value: number },
      ) => [e.userKey, e.value]);
      assert.deepEqual(new Map(got), u.spent);
      const lastBuy = await cli(
        "state",
        "get",
        sp,
        "--operator",
        "track",
        "--state",
        "lastBuy",
        "--key",
        user,
      );
      assert.deepEqual(JSON.parse(lastBuy.out[0]!), u.lastBuy);
    }
    // An i32-keyed operator: --key is read as a number.
    for (const [qty, total] of byQty) {
      const r = await cli(
        "state",
        "get",
        sp,
        "--operator",
        "byqty",
        "--state",
        "total",
        "--key",
        String(qty),
      );
      assert.deepEqual([r.code, r.out], [0, [String(total)]]);
    }
    // The whole state, dumped, equals the model.
    const dump = await cli("state", "dump", sp, "--operator", "track", "--state", "count");
    const counts = new Map(dump.out.map((l) => JSON.parse(l)).map((e) => [e.key, e.value]));
    assert.deepEqual(counts, new Map([...users].map(([k, u]) => [k, u.count])));
    const spentDump = await cli(
      "state",
      "dump",
      sp,
      "--operator",
      "track",
      "--state",
      "spent",
      "--format",
      "csv",
    );
    assert.equal(spentDump.out[0], "key,user_key,value");
    const expectedRows = [...users].flatMap(([k, u]) =>
      [...u.spent].map(([i, v]) => `${k},${i},${v}`)
    );
    assert.deepEqual(spentDump.out.slice(1).sort(), expectedRows.sort());
    // Checkpoint 1 still holds the state of batch 1 only.
    const early = model(events.slice(0, 40));
    const c1 = await cli(
      "state",
      "get",
      `${dir}/chk-1`,
      "--operator",
      "track",
      "--state",
      "items",
      "--key",
      "u3",
    );
    assert.deepEqual(JSON.parse(c1.out[0]!), early.users.get("u3")!.items);
  });

  Deno.test(`state of a custom serializer is shown as base64 with a note (${backend})`, async () => {
    const { dir, events } = await fixture(backend);
    const r = await cli(
      "state",
      "get",
      dir,
      "--operator",
      "track",
      "--state",
      "last",
      "--key",
      "u1",
      "--json",
    );
    assert.equal(r.code, 0);
    const v = JSON.parse(r.out[0]!).entries[0].value;
    const bytes = Uint8Array.from(atob(v.base64), (c) => c.charCodeAt(0));
    const view = new DataView(bytes.buffer);
    const lastU1 = events.filter((e) => e.user === "u1").at(-1)!;
    // The serializer's own bytes: x then y, as ByteWriter writes f64s (big-endian).
    assert.equal(bytes.length, 16);
    assert.deepEqual([view.getFloat64(0), view.getFloat64(8)], [lastU1.price, lastU1.qty]);
    assert.ok(r.err.some((l) => l.includes('"point" is custom')));
  });
}

Deno.test("checkpoints gc: dry run, --delete, --keep, never a referenced segment", async () => {
  const { dir: original } = await fixture("lsm");
  const dir = Deno.makeTempDirSync({ prefix: "weir-cli-gc-" });
  try {
    copyTree(original, dir);
    const shared = `${dir}/shared`;
    const referenced = (ids: number[]) => {
      const s = new Set<string>();
      for (const id of ids) {
        const m = JSON.parse(Deno.readTextFileSync(`${dir}/chk-${id}/_metadata`));
        for (const n of Object.keys(m.segments)) s.add(n);
      }
      return s;
    };
    Deno.writeFileSync(`${shared}/orphan-1.seg`, new Uint8Array(10));
    Deno.mkdirSync(`${dir}/chk-9`); // an aborted checkpoint: no _metadata
    const before = new Set(Deno.readDirSync(shared).map((e) => e.name));

    // Fresh files are left alone by default (a running job may be writing them).
    const young = await cli("checkpoints", "gc", dir, "--json");
    assert.deepEqual(JSON.parse(young.out.join("\n")).segments, []);
    assert.deepEqual(JSON.parse(young.out.join("\n")).skippedYoungerThanMinAge, {
      segments: ["orphan-1.seg"],
      incomplete: ["chk-9"],
    });
    // ... and says so, rather than "Nothing to delete".
    const youngText = await cli("checkpoints", "gc", dir);
    assert.deepEqual(youngText.out, [
      `Nothing old enough to delete in ${dir}. Skipped 1 unreferenced segment(s) and ` +
      `1 incomplete folder(s) younger than --min-age 60 s (pass a smaller --min-age to include them)`,
    ]);

    const dry = await cli("checkpoints", "gc", dir, "--min-age", "0", "--json");
    const plan = JSON.parse(dry.out.join("\n"));
    assert.equal(plan.dryRun, true);
    assert.deepEqual(plan.segments.map((s: { name: string }) => s.name), ["orphan-1.seg"]);
    assert.deepEqual(plan.incomplete, ["chk-9"]);
    assert.deepEqual(new Set(Deno.readDirSync(shared).map((e) => e.name)), before);

    const del = await cli("checkpoints", "gc", dir, "--min-age", "0", "--delete");
    assert.equal(del.code, 0);
    assert.match(
      del.out.at(-1)!,
      /^Deleted 0 checkpoint\(s\), 1 incomplete folder\(s\), 1 segment\(s\)/,
    );
    const after = new Set(Deno.readDirSync(shared).map((e) => e.name));
    assert.deepEqual(after, new Set([...before].filter((n) => n !== "orphan-1.seg")));
    assert.ok([...referenced([1, 2, 4])].every((n) => after.has(n)));

    // --keep 1: checkpoints 1 and 2 go, with only the segments checkpoint 4 does not use.
    const needed = referenced([4]);
    const keep = await cli(
      "checkpoints",
      "gc",
      dir,
      "--min-age",
      "0",
      "--keep",
      "1",
      "--delete",
      "--json",
    );
    const done = JSON.parse(keep.out.join("\n"));
    assert.deepEqual(done.checkpoints, [1, 2]);
    for (const s of done.segments) assert.ok(!needed.has(s.name));
    const left = new Set(Deno.readDirSync(shared).map((e) => e.name));
    assert.deepEqual(left, needed);
    const list = JSON.parse(
      (await cli("checkpoints", "list", dir, "--json", "--verify")).out.join("\n"),
    );
    assert.deepEqual(list.map((r: { id: number; status: string }) => `${r.id} ${r.status}`), [
      "4 completed",
      "3 completed",
    ]);
    // The savepoint is self-contained and still readable.
    const sp = await cli(
      "state",
      "get",
      `${dir}/savepoints/sp`,
      "--operator",
      "track",
      "--state",
      "count",
      "--key",
      "u0",
    );
    assert.equal(sp.code, 0);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("deno task weir resolves relative paths against the caller's directory", async () => {
  const { dir: original } = await fixture("heap");
  const caller = Deno.makeTempDirSync({ prefix: "weir-cli-caller-" });
  try {
    copyTree(original, `${caller}/ck`);
    const config = new URL("../deno.json", import.meta.url).pathname;
    // As from a shell: `deno task` keeps an INIT_CWD it inherits (this test may itself run
    // under `deno task test`, whose INIT_CWD is the repository).
    const { INIT_CWD: _, ...env } = Deno.env.toObject();
    const r = await new Deno.Command(Deno.execPath(), {
      args: ["task", "--quiet", "--config", config, "weir", "checkpoints", "list", "ck", "--json"],
      cwd: caller,
      clearEnv: true,
      env,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(r.stderr);
    assert.equal(r.code, 0, stderr);
    const rows = JSON.parse(new TextDecoder().decode(r.stdout));
    const ids = rows.map((x: { id: number }) => x.id);
    assert.ok(ids.includes(1) && ids.includes(4), JSON.stringify(ids));
  } finally {
    Deno.removeSync(caller, { recursive: true });
  }
});

Deno.test("checkpoints gc refuses to delete when a manifest is unreadable", async () => {
  const { dir: original } = await fixture("heap");
  const dir = Deno.makeTempDirSync({ prefix: "weir-cli-gc-" });
  try {
    copyTree(original, dir);
    Deno.writeTextFileSync(`${dir}/chk-1/_metadata`, "{ not json");
    const before = Deno.readDirSync(`${dir}/shared`).map((e) => e.name).toArray().sort();
    const r = await cli("checkpoints", "gc", dir, "--min-age", "0", "--keep", "1", "--delete");
    assert.equal(r.code, 1);
    assert.match(r.err[0]!, /^weir: Refusing to collect garbage .*chk-1/);
    assert.deepEqual(Deno.readDirSync(`${dir}/shared`).map((e) => e.name).toArray().sort(), before);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("damaged and missing checkpoints give readable errors", async () => {
  const { dir: original } = await fixture("lsm");
  const dir = Deno.makeTempDirSync({ prefix: "weir-cli-bad-" });
  try {
    copyTree(original, dir);
    const m = JSON.parse(Deno.readTextFileSync(`${dir}/chk-4/_metadata`));
    const victim = Object.keys(m.segments)[0]!;
    Deno.removeSync(`${dir}/shared/${victim}`);
    const list = JSON.parse((await cli("checkpoints", "list", dir, "--json")).out.join("\n"));
    const row4 = list.find((r: { id: number }) => r.id === 4);
    assert.equal(row4.status, "damaged");
    assert.deepEqual(row4.problems, [`segment ${victim} is missing`]);
    const human = (await cli("checkpoints", "list", dir)).out.join("\n");
    assert.match(human, new RegExp(`chk-4 +damaged: segment ${victim} is missing`));
    const get = await cli(
      "state",
      "get",
      `${dir}/chk-4`,
      "--operator",
      "track",
      "--state",
      "count",
      "--key",
      "u0",
    );
    assert.equal(get.code, 1);
    assert.equal(get.err.length, 1);
    assert.match(
      get.err[0]!,
      new RegExp(`^weir: Cannot read checkpoint 4 at .*chk-4: segment ${victim} is missing$`),
    );

    // A segment of the right size with garbage inside: --verify reads it back.
    const m2 = JSON.parse(Deno.readTextFileSync(`${dir}/chk-1/_metadata`));
    const seg = Object.keys(m2.segments)[0]!;
    const size = Deno.statSync(`${dir}/shared/${seg}`).size;
    Deno.writeFileSync(`${dir}/shared/${seg}`, new Uint8Array(size).fill(7));
    const deep = JSON.parse(
      (await cli("checkpoints", "list", dir, "--json", "--verify")).out.join("\n"),
    );
    assert.equal(deep.find((r: { id: number }) => r.id === 1).status, "damaged");
    const dump = await cli(
      "state",
      "dump",
      `${dir}/chk-1`,
      "--operator",
      "track",
      "--state",
      "count",
    );
    assert.equal(dump.code, 1);
    assert.match(dump.err.at(-1)!, /^weir: Cannot read checkpoint 1 at .*chk-1: /);

    Deno.writeTextFileSync(`${dir}/chk-2/_metadata`, "{ truncated");
    const bad = await cli("checkpoints", "inspect", `${dir}/chk-2`);
    assert.equal(bad.code, 1);
    assert.match(bad.err[0]!, /^weir: Cannot read .*chk-2\/_metadata: not valid JSON/);
    const missing = await cli("checkpoints", "inspect", `${dir}/chk-77`);
    assert.deepEqual([missing.code, missing.err], [1, [`weir: ${dir}/chk-77 does not exist`]]);
    const notDir = await cli("checkpoints", "list", `${dir}/nope`);
    assert.deepEqual([notDir.code, notDir.err], [1, [
      `weir: Checkpoint directory ${dir}/nope does not exist`,
    ]]);
    const file = await cli("checkpoints", "list", `${dir}/chk-2/_metadata`);
    assert.deepEqual([file.code, file.err], [1, [
      `weir: ${dir}/chk-2/_metadata is a file, not a checkpoint directory`,
    ]]);
    // A file that is no _metadata, where a snapshot is read: named, not the system's error.
    Deno.writeTextFileSync(`${dir}/notes.txt`, "x");
    for (
      const args of [
        ["checkpoints", "inspect", `${dir}/notes.txt`],
        [
          "state",
          "get",
          `${dir}/notes.txt`,
          "--operator",
          "track",
          "--state",
          "count",
          "--key",
          "u0",
        ],
        ["state", "dump", `${dir}/notes.txt`, "--operator", "track", "--state", "count"],
      ]
    ) {
      const r = await cli(...args);
      assert.deepEqual([r.code, r.err], [1, [
        `weir: ${dir}/notes.txt is a file, not a checkpoint, a savepoint, their _metadata or a ` +
        `checkpoint directory`,
      ]], args.join(" "));
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

for (const backend of ["lsm", "heap"] as const) {
  Deno.test(`a corrupt block: list --verify and inspect exit 1, state dump prints nothing (${backend})`, async () => {
    const { dir: original } = await fixture(backend);
    const dir = Deno.makeTempDirSync({ prefix: "weir-cli-corrupt-" });
    try {
      copyTree(original, dir);
      // One flipped byte in the first block of subtask 1's segments of "track": subtask 0
      // reads fine, so a dump that did not check first would print its entries.
      const m = JSON.parse(Deno.readTextFileSync(`${dir}/chk-4/_metadata`));
      const sub1 = m.operators.track.subtasks.find((s: { index: number }) => s.index === 1);
      const victims: string[] = sub1.keyed.segments.map((s: { name: string }) => s.name);
      assert.ok(victims.length > 0);
      for (const v of victims) {
        const bytes = Deno.readFileSync(`${dir}/shared/${v}`);
        bytes[8]! ^= 0xff;
        Deno.writeFileSync(`${dir}/shared/${v}`, bytes);
      }
      const list = await cli("checkpoints", "list", dir, "--verify");
      assert.equal(list.code, 1, list.out.join("\n"));
      assert.match(list.out.join("\n"), /chk-4 +damaged: segment .* does not read back/);
      const listJson = await cli("checkpoints", "list", dir, "--verify", "--json");
      assert.equal(listJson.code, 1);
      const intact = await cli("checkpoints", "list", original, "--verify");
      assert.equal(intact.code, 0, intact.out.join("\n"));

      const inspect = await cli("checkpoints", "inspect", `${dir}/chk-4`);
      assert.equal(inspect.code, 1);
      assert.match(inspect.out[0]!, /^checkpoint 4 of job "cli fixture": damaged: segment /);
      assert.match(inspect.out.join("\n"), new RegExp(`${victims[0]} +\\d+ +damaged`));
      const inspectJson = await cli("checkpoints", "inspect", `${dir}/chk-4`, "--json");
      assert.equal(inspectJson.code, 1);
      assert.match(JSON.parse(inspectJson.out.join("\n")).status, /^damaged: /);

      const dump = await cli(
        "state",
        "dump",
        `${dir}/chk-4`,
        "--operator",
        "track",
        "--state",
        "count",
      );
      assert.equal(dump.code, 1);
      assert.deepEqual(dump.out, [""], "nothing printed before the failure");
      assert.equal(dump.err.length, 1, dump.err.join("\n"));
      assert.match(dump.err[0]!, /^weir: Cannot read checkpoint 4 at .*chk-4: /);

      // As a user sees it: exit 1 and one line on stderr.
      const proc = await sub("checkpoints", "inspect", `${dir}/chk-4`);
      assert.equal(proc.code, 1, proc.stderr);
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  });
}

Deno.test("state lookups name what exists when an operator, state or key is wrong", async () => {
  const { dir } = await fixture("heap");
  const op = await cli(
    "state",
    "get",
    dir,
    "--operator",
    "nope",
    "--state",
    "count",
    "--key",
    "u0",
  );
  assert.equal(op.code, 1);
  assert.match(op.err[0]!, /no operator "nope" \(operators: events, track, .*byqty/);
  const st = await cli("state", "dump", dir, "--operator", "track", "--state", "nope");
  assert.match(st.err[0]!, /no keyed state "nope" \(states: count, items, spent, last, lastBuy\)/);
  const notKeyed = await cli("state", "dump", dir, "--operator", "events", "--state", "x");
  assert.match(
    notKeyed.err[0]!,
    /Operator "events" .* has no keyed state and no operator state "x" \(operator state: source-position\)$/,
  );
  const key = await cli(
    "state",
    "get",
    dir,
    "--operator",
    "byqty",
    "--state",
    "total",
    "--key",
    "x",
  );
  // A key that does not parse is bad usage (exit 2), not a failure to read (exit 1).
  assert.deepEqual([key.code, key.err], [2, [
    'weir: --key x is not a number (the key serializer is "i32")',
  ]]);
  const absent = await cli(
    "state",
    "get",
    dir,
    "--operator",
    "track",
    "--state",
    "count",
    "--key",
    "nobody",
  );
  assert.equal(absent.code, 1);
  assert.match(
    absent.err[0]!,
    /^weir: key "nobody" has no value in state "count" of operator "track" \(key group \d+, subtask [01]\)$/,
  );
});

Deno.test("bad usage: exit 2 with one line; --help everywhere", async () => {
  const cases: [string[], RegExp][] = [
    [["checkpoints"], /^weir checkpoints: missing command/],
    [["checkpoints", "frob"], /^weir checkpoints: unknown command "frob"/],
    [
      ["checkpoints", "list"],
      /^weir checkpoints list: missing DIR \(see weir checkpoints list --help\)$/,
    ],
    [["checkpoints", "list", "a", "b"], /unexpected argument "b"/],
    [["checkpoints", "gc", "d", "--keep", "x"], /--keep must be an integer of at least 1, got "x"/],
    [["checkpoints", "gc", "d", "--keep", "0"], /--keep must be an integer of at least 1, got "0"/],
    [
      ["checkpoints", "gc", "d", "--keep", "-1"],
      /^weir checkpoints gc: --keep -1: a value that starts with "-" goes as --keep=-1 /,
    ],
    [["checkpoints", "gc", "d", "--keep=-1"], /--keep must be an integer of at least 1, got "-1"/],
    [
      ["checkpoints", "gc", "d", "--keep=1.5"],
      /--keep must be an integer of at least 1, got "1.5"/,
    ],
    [["state", "get", "p", "--operator", "o", "--state", "s"], /--key is required/],
    [
      ["state", "dump", "p", "--operator", "o", "--state", "s", "--format", "xml"],
      /--format must be jsonl or csv/,
    ],
    [["state", "dump", "p", "--wat"], /^weir state dump: Unknown option '--wat'/],
    [["savepoint", "--job", "j"], /^weir savepoint: --url is required/],
    [
      ["savepoint", "--url", "http://u", "--job", "a".repeat(32), "--drain"],
      /^weir savepoint: --drain needs --stop/,
    ],
    [["jobs", "list"], /^weir jobs list: --url is required/],
    [["cancel", "--url", "http://u"], /^weir cancel: --job is required/],
    [["jobs", "list", "--url", "notaurl"], /^weir jobs list: --url must be the admin API's URL/],
    [["ui"], /^weir ui: --checkpoint-dir is required/],
    [
      ["ui", "--checkpoint-dir", "d", "--host", "0.0.0.0"],
      /^weir ui: --host 0\.0\.0\.0 is reachable beyond this machine: give --token TOKEN/,
    ],
    [["frob"], /^weir: unknown command "frob"/],
    // A flag that takes a value, twice: not the last one kept without a word.
    [
      ["checkpoints", "gc", "d", "--keep", "3", "--keep", "1"],
      /^weir checkpoints gc: --keep is given more than once: give it once/,
    ],
    [
      ["state", "get", "p", "--operator", "o", "--state", "s", "--key", "a", "--key=b"],
      /^weir state get: --key is given more than once: give it once/,
    ],
  ];
  for (const [args, re] of cases) {
    const r = await cli(...args);
    assert.equal(r.code, 2, args.join(" "));
    assert.equal(r.err.length, 1, args.join(" "));
    assert.match(r.err[0]!, re);
  }
  for (
    const args of [
      ["--help"],
      ["help", "state", "dump"],
      ["checkpoints", "--help"],
      ["checkpoints", "list", "--help"],
      ["checkpoints", "inspect", "-h"],
      ["checkpoints", "gc", "--help"],
      ["state", "get", "--help"],
      ["state", "dump", "--help"],
      ["savepoint", "--help"],
      ["jobs", "list", "--help"],
      ["cancel", "--help"],
      ["ui", "--help"],
    ]
  ) {
    const r = await cli(...args);
    assert.equal(r.code, 0, args.join(" "));
    assert.match(r.out[0]!, /^(Usage: weir|weir \d)/, args.join(" "));
  }
});

Deno.test("subprocess: word_count's checkpoints, both backends", async () => {
  const tmp = Deno.makeTempDirSync({ prefix: "weir-cli-wc-" });
  try {
    const words = ["apple", "pear", "fig", "kiwi"];
    const lines: string[] = [];
    for (let i = 0; i < 200; i++) lines.push(`${words[i % 4]} ${words[(i * 7) % 4]} lime`);
    Deno.writeTextFileSync(`${tmp}/in.txt`, lines.join("\n") + "\n");
    const expected = new Map<string, number>();
    for (const w of lines.join(" ").split(/\s+/)) {
      if (w) expected.set(w, (expected.get(w) ?? 0) + 1);
    }
    const example = new URL("../examples/word_count.ts", import.meta.url).pathname;
    for (const backend of ["lsm", "heap"]) {
      const ck = `${tmp}/ck-${backend}`;
      const run = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          example,
          "--input",
          `${tmp}/in.txt`,
          "--output",
          `${tmp}/out-${backend}`,
          "--checkpoint-dir",
          ck,
          "--state-backend",
          backend,
          "--parallelism",
          "2",
        ],
        stdout: "null",
        stderr: "piped",
      }).output();
      assert.equal(run.code, 0, new TextDecoder().decode(run.stderr));

      const list = await sub("checkpoints", "list", ck);
      assert.equal(list.code, 0, list.stderr);
      assert.match(list.stdout, /^ID +KIND/);
      assert.match(list.stdout, /checkpoint .* chk-\d+ +completed\n$/);
      const inspect = await sub("checkpoints", "inspect", ck, "--json");
      assert.equal(JSON.parse(inspect.stdout).manifest.stateBackend, backend);

      const get = await sub(
        "state",
        "get",
        ck,
        "--operator",
        "count",
        "--state",
        "count",
        "--key",
        "lime",
      );
      assert.deepEqual([get.code, get.stdout], [0, `${expected.get("lime")}\n`]);
      const dump = await sub(
        "state",
        "dump",
        ck,
        "--operator",
        "count",
        "--state",
        "count",
        "--format",
        "csv",
      );
      assert.equal(dump.code, 0);
      const rows = dump.stdout.trim().split("\n");
      assert.equal(rows[0], "key,value");
      assert.deepEqual(
        new Map(rows.slice(1).map((r) => [r.split(",")[0], Number(r.split(",")[1])])),
        expected,
      );

      const bad = await sub("state", "get", ck, "--operator", "count");
      assert.equal(bad.code, 2);
      assert.equal(bad.stdout, "");
      assert.equal(bad.stderr, "weir state get: --state is required (see weir state get --help)\n");
      const missing = await sub("checkpoints", "inspect", `${tmp}/nothing`);
      assert.deepEqual([missing.code, missing.stderr], [
        1,
        `weir: ${tmp}/nothing does not exist\n`,
      ]);
    }
  } finally {
    Deno.removeSync(tmp, { recursive: true });
  }
});

/** Job ids of the fake admin API (32 hex digits, as the CLI requires). */
const JOB1 = "1".repeat(32), FAILING = "f".repeat(32), NOPE = "0".repeat(32);

Deno.test("savepoint: triggers, polls and prints the location (fake admin API)", async () => {
  const requests: string[] = [];
  let polls = 0;
  let body: unknown;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const url = new URL(req.url);
    requests.push(`${req.method} ${url.pathname}`);
    if (
      req.method === "POST" &&
      (url.pathname === `/jobs/${JOB1}/savepoints` || url.pathname === `/jobs/${JOB1}/stop`)
    ) {
      body = await req.json();
      return Response.json({ "request-id": "r-42" });
    }
    if (req.method === "GET" && url.pathname === `/jobs/${JOB1}/savepoints/r-42`) {
      polls++;
      return Response.json(
        polls < 3
          ? { status: { id: "IN_PROGRESS" } }
          : { status: { id: "COMPLETED" }, operation: { location: "/ck/savepoints/sp-1" } },
      );
    }
    if (url.pathname.startsWith(`/jobs/${FAILING}/savepoints`)) {
      return req.method === "POST" ? Response.json({ "request-id": "r-1" }) : Response.json({
        status: { id: "COMPLETED" },
        operation: {
          "failure-cause": {
            class: "CheckpointError",
            "stack-trace": "CheckpointError: disk full\n  at x",
          },
        },
      });
    }
    return Response.json({ errors: [`Job ${url.pathname.split("/")[2]} not found`] }, {
      status: 404,
    });
  });
  const url = `http://127.0.0.1:${server.addr.port}`;
  try {
    // --stop is Flink's stop: POST .../stop, without drain unless asked.
    const ok = await cli("savepoint", "--url", url, "--job", JOB1, "--stop");
    assert.equal(ok.code, 0, ok.err.join("\n"));
    assert.deepEqual(ok.out, ["Savepoint completed: /ck/savepoints/sp-1"]);
    assert.deepEqual(body, { drain: false });
    assert.deepEqual(requests, [
      `POST /jobs/${JOB1}/stop`,
      ...Array(3).fill(`GET /jobs/${JOB1}/savepoints/r-42`),
    ]);
    polls = 0;
    const drained = await cli(
      ...["savepoint", "--url", url, "--job", JOB1, "--stop", "--drain", "--target-dir", "/y"],
    );
    assert.equal(drained.code, 0, drained.err.join("\n"));
    assert.deepEqual(body, { drain: true, targetDirectory: "/y" });
    polls = 0;
    const json = await sub(
      "savepoint",
      "--url",
      url,
      "--job",
      JOB1,
      "--json",
      "--target-dir",
      "/x",
    );
    assert.deepEqual([json.code, JSON.parse(json.stdout)], [0, {
      requestId: "r-42",
      location: "/ck/savepoints/sp-1",
    }]);
    assert.deepEqual(body, { "target-directory": "/x" });

    const failed = await cli("savepoint", "--url", url, "--job", FAILING);
    assert.deepEqual([failed.code, failed.err.at(-1)], [
      1,
      `weir: Savepoint of job ${FAILING} failed: CheckpointError: disk full`,
    ]);
    const unknown = await cli("savepoint", "--url", url, "--job", NOPE);
    assert.equal(unknown.code, 1);
    assert.match(
      unknown.err[0]!,
      /^weir: POST .*\/jobs\/0{32}\/savepoints failed: 404 Not Found: Job 0{32} not found$/,
    );
  } finally {
    await server.shutdown();
  }
  const down = await cli("savepoint", "--url", url, "--job", JOB1);
  assert.equal(down.code, 1);
  assert.match(
    down.err[0]!,
    /^weir: Cannot reach the admin API at http:\/\/127\.0\.0\.1:\d+\/jobs\/1{32}\/savepoints: /,
  );
});

Deno.test("a malformed --job is bad usage (exit 2), refused before any request", async () => {
  const requests: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    requests.push(`${req.method} ${new URL(req.url).pathname}`);
    return Response.json({ errors: ["unexpected"] }, { status: 400 });
  });
  const url = `http://127.0.0.1:${server.addr.port}`;
  try {
    for (const job of ["xyz", "g".repeat(32), "a".repeat(31), `${"a".repeat(32)}/x`]) {
      for (
        const args of [
          ["cancel", "--url", url, "--job", job],
          ["savepoint", "--url", url, "--job", job],
          ["savepoint", "--url", url, "--job", job, "--stop"],
        ]
      ) {
        const r = await cli(...args);
        assert.equal(r.code, 2, args.join(" "));
        assert.deepEqual(r.err, [
          `weir ${args[0]}: --job must be a job id, 32 hexadecimal digits (see weir jobs list), ` +
          `got "${job}" (see weir ${args[0]} --help)`,
        ]);
      }
    }
    assert.deepEqual(requests, []);
  } finally {
    await server.shutdown();
  }
});

Deno.test("state get and dump print a value with a TTL as stored, with its time, as their help says", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "weir-cli-ttl-" });
  try {
    const ttl = StateTtlConfig.newBuilder(3_600_000).build();
    class Last implements KeyedProcessFunction<string, string, string> {
      last!: ValueState<string>;
      open(ctx: RuntimeContext): void {
        const d = new ValueStateDescriptor("last", Serializers.string);
        d.enableTimeToLive(ttl);
        this.last = ctx.getState(d);
      }
      processElement(word: string): void {
        this.last.update(word.toUpperCase());
      }
    }
    const before = Date.now();
    const env = StreamEnvironment.create({ parallelism: 1, checkpoint: { dir } });
    env.fromCollection(["a", "b"]).uid("words").keyBy((w) => w).process(new Last()).uid("last")
      .addSink(new CollectSink<string>(), { uid: "sink" });
    await env.execute("ttl");
    const get = await cli(
      "state",
      "get",
      dir,
      "--operator",
      "last",
      "--state",
      "last",
      "--key",
      "a",
    );
    assert.equal(get.code, 0, get.err.join("\n"));
    const stored = JSON.parse(get.out[0]!);
    assert.equal(stored.v, "A");
    assert.ok(stored.ts >= before && stored.ts <= Date.now(), get.out[0]);
    const dump = await cli("state", "dump", dir, "--operator", "last", "--state", "last");
    assert.deepEqual(
      dump.out.filter((l) => l).map((l) => JSON.parse(l).value.v).sort(),
      ["A", "B"],
    );
    const help = (await cli("state", "get", "--help")).out.join("\n");
    assert.match(help, /\{"v": value, "ts": ms\}/);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test('state dump --format csv tells the key 1 from the key "1" (a cell that reads as JSON is JSON)', async () => {
  const dir = Deno.makeTempDirSync({ prefix: "weir-cli-csv-" });
  try {
    class Last implements KeyedProcessFunction<unknown, [unknown, string], string> {
      last!: ValueState<string>;
      open(ctx: RuntimeContext): void {
        this.last = ctx.getState(new ValueStateDescriptor("last", Serializers.string));
      }
      processElement([, v]: [unknown, string]): void {
        this.last.update(v);
      }
    }
    const env = StreamEnvironment.create({ parallelism: 1, checkpoint: { dir } });
    const input: [unknown, string][] = [[1, "number"], ["1", "7"], ["a,b", 'say "hi"'], [
      "true",
      "",
    ]];
    env.fromCollection(input).uid("in").keyBy(([k]) => k).process(new Last()).uid("last")
      .addSink(new CollectSink<string>(), { uid: "sink" });
    await env.execute("csv keys");
    const dump = await cli(
      "state",
      "dump",
      dir,
      "--operator",
      "last",
      "--state",
      "last",
      "--format",
      "csv",
    );
    assert.equal(dump.code, 0, dump.err.join("\n"));
    assert.equal(dump.out[0], "key,value");
    assert.deepEqual(dump.out.slice(1).sort(), [
      '"""1""","""7"""',
      '"""true""",',
      '"a,b","say ""hi"""',
      "1,number",
    ]);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("state dump reads operator list, union and broadcast state, as Flink's SavepointReader", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "weir-cli-opstate-" });
  try {
    class Count implements CheckpointedFunction {
      seen = 0;
      list!: ListState<number>;
      union!: ListState<string>;
      initializeState(ctx: FunctionInitializationContext): void {
        const store = ctx.operatorStateStore;
        this.list = store.getListState(new ListStateDescriptor("seen", Serializers.f64));
        this.union = store.getUnionListState(new ListStateDescriptor("tags", Serializers.string));
      }
      snapshotState(): void {
        this.list.update([this.seen, -this.seen]);
        this.union.update([`n=${this.seen}`]);
      }
      map(n: number): number {
        this.seen++;
        return n;
      }
    }
    const limits = new MapStateDescriptor("limits", Serializers.string, Serializers.f64);
    const env = StreamEnvironment.create({ parallelism: 2, checkpoint: { dir } });
    const numbers = env.fromCollection([1, 2, 3, 4, 5]).uid("numbers")
      .rebalance().map(new Count()).uid("count");
    const rules = env.fromCollection([["max", 5], ["1", 1]] as [string, number][]).uid("rules")
      .broadcast(limits);
    numbers.connect(rules).process({
      processElement(n: number, _ctx, out) {
        out.collect(n);
      },
      processBroadcastElement([k, v]: [string, number], ctx) {
        ctx.getBroadcastState(limits).put(k, v);
      },
    }).uid("limit").addSink(new CollectSink<number>(), { uid: "sink" });
    await env.execute("operator state");
    const dump = async (op: string, state: string, ...more: string[]) => {
      const r = await cli("state", "dump", dir, "--operator", op, "--state", state, ...more);
      assert.equal(r.code, 0, r.err.join("\n"));
      return r.out.filter((l) => l !== "");
    };
    // Split list state: every subtask's elements, with the subtask.
    const seen = (await dump("count", "seen")).map((l) => JSON.parse(l));
    assert.deepEqual(seen.map((e) => e.subtask), [0, 0, 1, 1]);
    const counts = seen.filter((e) => e.value >= 0).map((e) => e.value);
    assert.equal(counts[0] + counts[1], 5);
    assert.deepEqual(seen.map((e) => e.value), [counts[0], -counts[0], counts[1], -counts[1]]);
    assert.deepEqual(await dump("count", "seen", "--format", "csv"), [
      "subtask,value",
      `0,${counts[0]}`,
      `0,${-counts[0]}`,
      `1,${counts[1]}`,
      `1,${-counts[1]}`,
    ]);
    // Union list state: the union of every subtask's elements.
    assert.deepEqual(
      (await dump("count", "tags")).map((l) => JSON.parse(l)),
      [{ value: `n=${counts[0]}` }, { value: `n=${counts[1]}` }],
    );
    // Broadcast state: its entries once, not once per subtask.
    assert.deepEqual(
      (await dump("limit", "limits")).map((l) => JSON.parse(l)).sort((a, b) =>
        a.key < b.key ? -1 : 1
      ),
      [{ key: "1", value: 1 }, { key: "max", value: 5 }],
    );
    assert.deepEqual((await dump("limit", "limits", "--format", "csv")).sort(), [
      '"""1""",1',
      "key,value",
      "max,5",
    ]);
    // state get looks keyed state up by key: operator state says how to read it instead.
    const get = await cli(
      "state",
      "get",
      dir,
      "--operator",
      "limit",
      "--state",
      "limits",
      "--key",
      "max",
    );
    assert.equal(get.code, 1);
    assert.match(get.err[0]!, /is operator state \(broadcast\).*weir state dump/);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("state dump reads on when a running job deletes the checkpoint it reads (subsumed)", async () => {
  const { dir } = await fixture("lsm");
  const tmp = Deno.makeTempDirSync({ prefix: "weir-cli-subsumed-" });
  try {
    copyTree(dir, tmp);
    const args = ["state", "dump", tmp, "--operator", "track", "--state", "items"];
    const expected = await cli(...args);
    assert.equal(expected.code, 0);
    const out: string[] = [], err: string[] = [];
    const code = await runCli(args, {
      out: (l) => {
        // What retention does once a newer checkpoint completes: the folder, then its segments.
        if (out.length === 0) {
          for (const e of Deno.readDirSync(tmp)) {
            if (e.name.startsWith("chk-")) Deno.removeSync(`${tmp}/${e.name}`, { recursive: true });
          }
          Deno.removeSync(`${tmp}/shared`, { recursive: true });
        }
        out.push(l);
      },
      err: (l) => err.push(l),
    });
    assert.deepEqual([code, err], [0, []]);
    assert.deepEqual(out.join("\n").split("\n"), expected.out);
  } finally {
    Deno.removeSync(tmp, { recursive: true });
  }
});

Deno.test("state get and dump mark a TTL value that has expired (expired: true), not as live", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "weir-cli-ttl-expired-" });
  try {
    class Keep implements KeyedProcessFunction<string, string, string> {
      short!: ValueState<string>;
      long!: ListState<string>;
      open(ctx: RuntimeContext): void {
        const short = new ValueStateDescriptor("short", Serializers.string);
        // No background cleanup: the expired values stay in the checkpoint.
        short.enableTimeToLive(StateTtlConfig.newBuilder(1).disableCleanupInBackground().build());
        this.short = ctx.getState(short);
        const long = new ListStateDescriptor("long", Serializers.string);
        long.enableTimeToLive(StateTtlConfig.newBuilder(3_600_000).build());
        this.long = ctx.getListState(long);
      }
      processElement(word: string): void {
        this.short.update(word);
        this.long.add(word);
      }
    }
    // The heap backend keeps expired values until they are read or cleaned up.
    const env = StreamEnvironment.create({
      parallelism: 1,
      stateBackend: new HeapStateBackend(),
      checkpoint: { dir },
    });
    env.fromCollection(["a", "b"]).uid("words").keyBy((w) => w).process(new Keep()).uid("keep")
      .addSink(new CollectSink<string>(), { uid: "sink" });
    await env.execute("ttl expired");
    const end = Date.now();
    await waitFor(() => Date.now() > end + 1, "the 1 ms TTL to pass");
    const short = await cli("state", "dump", dir, "--operator", "keep", "--state", "short");
    assert.equal(short.code, 0, short.err.join("\n"));
    const values = short.out.filter((l) => l).map((l) => JSON.parse(l).value);
    assert.deepEqual(values.map((v) => [v.v, v.expired]).sort(), [["a", true], ["b", true]]);
    const get = await cli(
      "state",
      "get",
      dir,
      "--operator",
      "keep",
      "--state",
      "short",
      "--key",
      "a",
    );
    assert.equal(JSON.parse(get.out[0]!).expired, true);
    // Values within their TTL are not marked.
    const long = await cli(
      "state",
      "get",
      dir,
      "--operator",
      "keep",
      "--state",
      "long",
      "--key",
      "b",
    );
    assert.deepEqual(
      JSON.parse(long.out[0]!).map((e: { v: string; expired?: boolean }) => [e.v, e.expired]),
      [["b", undefined]],
    );
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

for (const backend of ["heap", "lsm"] as const) {
  Deno.test(`state dump --timers lists the registered timers, as Flink's registeredEventTimeTimers (${backend})`, async () => {
    const dir = Deno.makeTempDirSync({ prefix: "weir-cli-timers-" });
    try {
      const fn: KeyedProcessFunction<string | number, [string | number, number], string> = {
        processElement([, t], ctx) {
          ctx.timerService().registerEventTimeTimer(t);
          if (t === 7) ctx.timerService().registerProcessingTimeTimer(8.64e15);
        },
      };
      const src = new QueueSource<[string | number, number]>("in");
      const env = StreamEnvironment.create({
        parallelism: 2,
        stateBackend: backend === "lsm" ? new LsmStateBackend() : new HeapStateBackend(),
        checkpoint: { dir },
      });
      env.addSource(src, { uid: "in" }).keyBy(([k]) => k).process(fn).uid("timers")
        .addSink(new CollectSink<string>(), { uid: "sink" });
      const client = env.executeAsync("timers");
      src.push(["a", 5], ["a", 7], [1, 3], ["1", 4]);
      await waitFor(() => src.emitted === 4, "the source to emit");
      await client.triggerSavepoint("sp");
      src.end();
      await client.done;
      const r = await cli(
        "state",
        "dump",
        `${dir}/savepoints/sp`,
        "--operator",
        "timers",
        "--timers",
      );
      assert.equal(r.code, 0, r.err.join("\n"));
      const timers = r.out.filter((l) => l).map((l) => JSON.parse(l));
      const key = (t: { key: unknown; domain: string; timestamp: number }) =>
        JSON.stringify([t.key, t.domain, t.timestamp]);
      assert.deepEqual(
        timers.map(key).sort(),
        [
          [1, "event-time", 3],
          ["1", "event-time", 4],
          ["a", "event-time", 5],
          ["a", "event-time", 7],
          ["a", "processing-time", 8.64e15],
        ].map((t) => JSON.stringify(t)).sort(),
      );
      const csv = await cli(
        "state",
        "dump",
        `${dir}/savepoints/sp`,
        "--operator",
        "timers",
        "--timers",
        "--format",
        "csv",
      );
      assert.equal(csv.out[0], "key,domain,timestamp");
      assert.ok(csv.out.includes('"""1""",event-time,4'), csv.out.join("\n"));
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  });
}

function existsSync(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

Deno.test("checkpoints list --verify, inspect and gc beside a running job checkpointing every 20 ms: a checkpoint it replaces meanwhile is not damaged", async () => {
  const ck = Deno.makeTempDirSync({ prefix: "weir-cli-running-" });
  const job = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("../tests/_helpers/admin_job.ts", import.meta.url).pathname,
      "--checkpoint-dir",
      ck,
      "--checkpoint-interval",
      "20",
      "--retained-checkpoints",
      "1",
      "--state-backend",
      "lsm",
      "--parallelism",
      "2",
      "--rate",
      "100000",
    ],
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    const newest = () =>
      Math.max(
        -1,
        ...[...Deno.readDirSync(ck)].map((e) => /^chk-(\d+)$/.exec(e.name)?.[1])
          .filter((id) => id !== undefined && existsSync(`${ck}/chk-${id}/_metadata`))
          .map(Number),
      );
    await waitFor(() => newest() >= 0, "the job's first checkpoint", 30_000);
    const first = newest();
    const failures: string[] = [];
    // Until the job has replaced its checkpoint 40 times while the commands read it.
    while (newest() < first + 40) {
      for (
        const args of [
          ["checkpoints", "list", ck, "--verify", "--json"],
          ["checkpoints", "inspect", ck, "--json"],
          ["checkpoints", "gc", ck, "--delete", "--min-age", "0", "--json"],
        ]
      ) {
        const r = await cli(...args);
        const noise = r.err.filter((l) => !/^note: chk-\d+.* deleted while read/.test(l));
        if (r.code !== 0 || noise.length > 0) {
          failures.push(`${args[1]}: ${r.code} ${r.out.join("")} ${noise}`);
        } else if (args[1] === "list") {
          const rows = JSON.parse(r.out.join("\n"));
          assert.ok(
            rows.some((s: { status: string }) => s.status === "completed"),
            r.out.join("\n"),
          );
        }
      }
    }
    assert.deepEqual(failures, []);
  } finally {
    job.kill("SIGKILL");
    await job.status;
  }
  // gc --delete beside it left every checkpoint whole: the job resumes from the latest.
  const list = await cli("checkpoints", "list", ck, "--verify");
  assert.equal(list.code, 0, list.out.join("\n"));
  Deno.removeSync(ck, { recursive: true });
});

Deno.test('state get prints the string "1" apart from the number 1 (a string that reads as JSON, or not as itself, prints as JSON)', async () => {
  const dir = Deno.makeTempDirSync({ prefix: "weir-cli-get-text-" });
  try {
    class Keep implements KeyedProcessFunction<string, [string, unknown, unknown], string> {
      value!: ValueState<unknown>;
      map!: MapState<unknown, unknown>;
      open(ctx: RuntimeContext): void {
        this.value = ctx.getState(new ValueStateDescriptor("value", Serializers.key));
        this.map = ctx.getMapState(new MapStateDescriptor("map", Serializers.key, Serializers.key));
      }
      processElement([, k, v]: [string, unknown, unknown]): void {
        this.value.update(v);
        this.map.put(k, v);
      }
    }
    const env = StreamEnvironment.create({ parallelism: 1, checkpoint: { dir } });
    const input: [string, unknown, unknown][] = [
      ["n", 1, 1],
      ["n", "1", "1"],
      ["n", "plain", "two\nlines"],
      ["n", " pad", ""],
      ["s", "x", "1"],
      ["t", "x", "true"],
      ["p", "x", "plain"],
    ];
    env.fromCollection(input).uid("in").keyBy(([k]) => k).process(new Keep()).uid("keep")
      .addSink(new CollectSink<string>(), { uid: "sink" });
    await env.execute("get text");
    const get = (state: string, key: string) =>
      cli("state", "get", dir, "--operator", "keep", "--state", state, "--key", key);
    const one = async (key: string) => {
      const r = await get("value", key);
      assert.equal(r.code, 0, r.err.join("\n"));
      return r.out;
    };
    assert.deepEqual(await one("s"), ['"1"']);
    assert.deepEqual(await one("t"), ['"true"']);
    assert.deepEqual(await one("p"), ["plain"]);
    const map = await get("map", "n");
    assert.equal(map.code, 0, map.err.join("\n"));
    assert.deepEqual(map.out[0]!.split(/ {2,}/), ["MAP KEY", "VALUE"]);
    const rows = map.out.slice(1).map((l) => l.split(/ {2,}/)).sort();
    assert.deepEqual(rows, [
      ['" pad"', '""'],
      ['"1"', '"1"'],
      ["1", "1"],
      ["plain", '"two\\nlines"'],
    ]);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
