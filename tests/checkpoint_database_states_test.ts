/**
 * Every kind of keyed state round-trips through checkpoints kept in
 * PostgreSQL and Redis, on both working backends: value, list and map state
 * written at parallelism 2 are read back after a restore at parallelism 3,
 * and the database shows them decoded (map keys as `user_key`, lists as
 * arrays); a removed map entry and a cleared value disappear from the view.
 */
import assert from "node:assert/strict";
import {
  type Collector,
  type KeyedProcessFunction,
  ListStateDescriptor,
  MapStateDescriptor,
  type RuntimeContext,
  Serializers,
  StreamEnvironment,
  ValueStateDescriptor,
} from "../mod.ts";
import type { ListState, MapState, ValueState } from "../core/state/state.ts";
import { HeapStateBackend } from "../core/state/heap/heap_backend.ts";
import { LsmStateBackend } from "../core/state/lsm/lsm_backend.ts";
import { CollectSink } from "../core/connectors/collect_sink.ts";
import { QueueSource } from "./_helpers/queue_source.ts";
import { startPostgres, startRedis } from "./_helpers/db_servers.ts";
import { type DatabaseKind, psql, redisCli } from "./_helpers/database_state.ts";

/** Per key: a sum (value), every number seen (list), the last number per residue (map). */
class AllKinds implements KeyedProcessFunction<string, number, string> {
  sum!: ValueState<number>;
  seen!: ListState<number>;
  last!: MapState<string, number>;
  open(ctx: RuntimeContext): void {
    this.sum = ctx.getState(new ValueStateDescriptor("sum", Serializers.f64));
    this.seen = ctx.getListState(new ListStateDescriptor("seen", Serializers.f64));
    this.last = ctx.getMapState(
      new MapStateDescriptor("last", Serializers.string, Serializers.f64),
    );
  }
  processElement(n: number, _ctx: unknown, out: Collector<string>): void {
    if (n < 0) {
      // A negative number reports the key's state as restored.
      out.collect(JSON.stringify({
        n,
        sum: this.sum.value() ?? null,
        seen: [...(this.seen.get() ?? [])].sort((a, b) => a - b),
        last: Object.fromEntries([...this.last.entries()].sort()),
      }));
      return;
    }
    if (n % 10 === 9) this.sum.clear();
    else this.sum.update((this.sum.value() ?? 0) + n);
    this.seen.add(n);
    this.last.put(`r${n % 3}`, n);
    if (n % 7 === 0) this.last.remove("r1");
  }
}

const KEYS = 5;
const keyOf = (n: number) => `k${Math.abs(n) % KEYS}`;

/** The state AllKinds holds after `input`, per key. */
function model(input: number[]) {
  const m = new Map<string, { sum: number | null; seen: number[]; last: Record<string, number> }>();
  for (const n of input) {
    const s = m.get(keyOf(n)) ?? { sum: null, seen: [], last: {} };
    m.set(keyOf(n), s);
    s.sum = n % 10 === 9 ? null : (s.sum ?? 0) + n;
    s.seen.push(n);
    s.last[`r${n % 3}`] = n;
    if (n % 7 === 0) delete s.last["r1"];
  }
  for (const s of m.values()) {
    s.seen.sort((a, b) => a - b);
    s.last = Object.fromEntries(Object.entries(s.last).sort());
  }
  return m;
}

function run(url: string, parallelism: number, backend: "heap" | "lsm", restore?: string) {
  const src = new QueueSource<number>("numbers");
  const out = new CollectSink<string>();
  const env = StreamEnvironment.create({
    parallelism,
    stateBackend: backend === "heap" ? new HeapStateBackend() : new LsmStateBackend(),
    checkpoint: { dir: "", storage: url },
    ...(restore ? { restore } : {}),
    allowNonRestoredState: true,
    restartStrategy: { kind: "none" },
    log: () => {},
  });
  env.addSource(src, { uid: `src-${parallelism}` })
    .keyBy(keyOf, Serializers.string)
    .process<string>(new AllKinds()).uid("kinds")
    .addSink(out, { uid: "sink" });
  return { env, src, out };
}

type KeyState = { sum: number | null; seen: number[]; last: Record<string, number> };

/** The rows of `key` in the database match `want`. */
function checkView(kind: DatabaseKind, url: string, job: string, key: string, want: KeyState) {
  if (kind === "postgres") {
    const rows = psql(
      url,
      `SELECT state_name, user_key::text, value::text FROM weir_state_latest
       WHERE job_id = '${job}' AND key = '"${key}"'::jsonb ORDER BY 1, 2`,
    );
    const seenRow = rows.find((r) => r[0] === "seen")!;
    seenRow[2] = JSON.stringify((JSON.parse(seenRow[2]!) as number[]).sort((x, y) => x - y));
    assert.deepEqual(rows, [
      ...Object.entries(want.last).map(([r, n]) => ["last", `"${r}"`, String(n)]),
      ["seen", "", JSON.stringify(want.seen)],
      ...(want.sum === null ? [] : [["sum", "", String(want.sum)]]),
    ]);
    return;
  }
  const last = redisCli(url, "HGETALL", `weir:${job}:state:kinds:last`);
  const fields: [string, number][] = [];
  for (let i = 0; i + 1 < last.length; i += 2) {
    const f = JSON.parse(last[i]!) as [string, null, string];
    if (f[0] === key) fields.push([f[2], Number(last[i + 1])]);
  }
  assert.deepEqual(fields.sort(), Object.entries(want.last).sort());
  const sum = redisCli(url, "HGET", `weir:${job}:state:kinds:sum`, `["${key}",null,null]`);
  assert.deepEqual(sum, want.sum === null ? [] : [String(want.sum)]);
}

for (const kind of ["postgres", "redis"] as DatabaseKind[]) {
  Deno.test(`${kind} checkpoint storage: value, list and map state round-trip on heap and lsm, decoded in the database`, async () => {
    const server = kind === "postgres" ? await startPostgres() : await startRedis();
    try {
      for (const backend of ["heap", "lsm"] as const) {
        const job = `kinds-${backend}`;
        const url = `${server.url}?job=${job}`;
        const input = Array.from({ length: 42 }, (_, i) => i * 3 + 1);
        const want = model(input);
        const a = run(url, 2, backend);
        a.src.push(...input);
        a.src.end();
        await a.env.execute(job);

        // Read back after a restore at another parallelism.
        const b = run(url, 3, backend, "latest");
        b.src.push(...Array.from({ length: KEYS }, (_, i) => -(i + 1)));
        b.src.end();
        await b.env.execute(job);
        const got = new Map(b.out.values.map((l) => {
          const { n, ...state } = JSON.parse(l);
          return [keyOf(n), state];
        }));
        assert.equal(got.size, KEYS);
        for (const [k, s] of want) assert.deepEqual(got.get(k), s, `${backend} ${k}`);

        // The database shows the state decoded, as of the latest checkpoint.
        checkView(kind, server.url, job, "k0", want.get("k0")!);
        // A cleared value and a removed map entry leave the view (k4 had both before).
        assert.ok(want.get("k4")!.sum !== null && "r1" in want.get("k4")!.last);
        const c = run(url, 1, backend, "latest");
        c.src.push(189);
        c.src.end();
        await c.env.execute(job);
        const after = model([...input, 189]).get("k4")!;
        assert.ok(after.sum === null && !("r1" in after.last));
        checkView(kind, server.url, job, "k4", after);
      }
    } finally {
      await server.stop();
    }
  });
}
