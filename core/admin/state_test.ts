import assert from "node:assert/strict";
import {
  HeapStateBackend,
  type KeyedProcessFunction,
  LsmStateBackend,
  type MapState,
  MapStateDescriptor,
  type RuntimeContext,
  Serializers,
  StateTtlConfig,
  StreamEnvironment,
  type ValueState,
  ValueStateDescriptor,
} from "../../mod.ts";
import { createAdminApp, jobClientRuntime } from "./mod.ts";
import { QueueSource } from "../../tests/_helpers/queue_source.ts";

const big = new ValueStateDescriptor("big", Serializers.bigint);
const odd = new MapStateDescriptor("odd", Serializers.f64, Serializers.f64);
const fresh = new ValueStateDescriptor("fresh", Serializers.f64);
fresh.enableTimeToLive(StateTtlConfig.newBuilder(60_000).build());

/** Keeps, per key, a bigint, a map with keys JSON has no form for, and a value with a TTL. */
class Keep implements KeyedProcessFunction<number, number, never> {
  big!: ValueState<bigint>;
  odd!: MapState<number, number>;
  fresh!: ValueState<number>;
  open(ctx: RuntimeContext): void {
    this.big = ctx.getState(big);
    this.odd = ctx.getMapState(odd);
    this.fresh = ctx.getState(fresh);
  }
  processElement(n: number): void {
    this.big.update(BigInt(n) * 10n ** 20n);
    this.odd.put(NaN, 1);
    this.odd.put(-Infinity, 2);
    this.fresh.update(n);
  }
}

for (const backend of ["heap", "lsm"] as const) {
  Deno.test(`queryable state (${backend}): bigints and NaN as strings, -0 the key 0, a TTL state refused`, async () => {
    const source = new QueueSource<number>();
    const env = StreamEnvironment.create({
      parallelism: 2,
      stateBackend: backend === "heap" ? new HeapStateBackend() : new LsmStateBackend(),
      log: () => {},
    });
    env.addSource(source).keyBy((n) => n, Serializers.f64).process(new Keep()).uid("keep");
    const client = env.executeAsync("queries");
    const app = createAdminApp(jobClientRuntime(client));
    const get = async (path: string) => {
      const res = await app.request(path);
      return { status: res.status, body: await res.json() };
    };
    try {
      source.push(0, 3);
      const id = (await get("/jobs")).body.jobs[0].id;
      let r = await get(`/jobs/${id}/state/keep/big?key=3`);
      for (let i = 0; i < 500 && r.status === 404; i++) {
        await new Promise((ok) => setTimeout(ok, 10));
        r = await get(`/jobs/${id}/state/keep/big?key=3`);
      }
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.value, "300000000000000000000");
      // Entries in the backend's order: heap insertion, lsm the keys' bytes.
      const entries = (await get(`/jobs/${id}/state/keep/odd?key=3`)).body.value;
      assert.deepEqual(entries.map(String).sort(), ["-Infinity,2", "NaN,1"]);
      const zero = await get(`/jobs/${id}/state/keep/big?key=-0`);
      assert.equal(zero.status, 200, JSON.stringify(zero.body));
      assert.equal(zero.body.value, "0");
      const ttl = await get(`/jobs/${id}/state/keep/fresh?key=3`);
      assert.equal(ttl.status, 409);
      assert.match(ttl.body.errors[0], /"fresh" of operator "keep" has a time-to-live/);
    } finally {
      source.end();
      await client.done;
    }
  });
}
