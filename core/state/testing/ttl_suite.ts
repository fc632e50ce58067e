/**
 * A backend-agnostic test suite for state TTL: every {@linkcode StateBackend}
 * must give the same answers for every TTL option, driven by a manual clock.
 *
 * @module
 */
import assert from "node:assert/strict";
import { StateError } from "../../errors.ts";
import type {
  KeyedRestore,
  KeyedStateBackend,
  KeyedStateHandle,
  SnapshotStorage,
  StateBackend,
} from "../backend.ts";
import {
  AggregatingStateDescriptor,
  type AnyStateDescriptor,
  ListStateDescriptor,
  MapStateDescriptor,
  ReducingStateDescriptor,
  ValueStateDescriptor,
} from "../descriptors.ts";
import { Serializers } from "../serializer.ts";
import { StateTtlConfig, type StateTtlConfigBuilder } from "../ttl.ts";
import { ManualClock } from "../../runtime/clock.ts";
import { DenoSegmentFs } from "../../../statestore-as/segment_fs.ts";

/** A keyed backend on `clock`, optionally restored. */
export function ttlKeyed(
  backend: StateBackend,
  clock: ManualClock,
  restore?: KeyedRestore,
): KeyedStateBackend {
  return backend.createKeyedBackend({
    operatorUid: "ttl-op",
    subtaskIndex: 0,
    keySerializer: Serializers.key,
    maxParallelism: 128,
    keyGroupRange: { start: 0, end: 127 },
    ttlTimeProvider: clock,
    ...(restore ? { restore } : {}),
  });
}

/** A checkpoint folder for snapshot tests. */
export class TtlShared {
  /** The folder. */
  readonly dir: string = Deno.makeTempDirSync({ prefix: "weir-ttl-test-" });
  /** Its file system. */
  readonly fs: DenoSegmentFs = new DenoSegmentFs();
  #n = 0;
  /** Where a snapshot writes. */
  storage(): SnapshotStorage {
    return { fs: this.fs, dir: this.dir, newSegmentName: () => `ttl-${++this.#n}.seg` };
  }
  /** Restores `handles` from this folder. */
  restore(handles: KeyedStateHandle[]): KeyedRestore {
    return { handles, fs: this.fs, segmentPath: (n) => `${this.dir}/${n}` };
  }
  /** Total bytes of a handle's segments. */
  static size(h: KeyedStateHandle): number {
    return h.segments.reduce((n, s) => n + s.size, 0);
  }
  /** Removes the folder. */
  close(): void {
    this.fs.close();
    Deno.removeSync(this.dir, { recursive: true });
  }
}

function ttl(ms: number, f: (b: StateTtlConfigBuilder) => StateTtlConfigBuilder = (b) => b) {
  return f(StateTtlConfig.newBuilder(ms).disableCleanupInBackground()).build();
}

function withTtl<D extends AnyStateDescriptor>(d: D, config: StateTtlConfig): D {
  d.enableTimeToLive(config);
  return d;
}

/**
 * Registers `Deno.test` cases for TTL on `makeBackend`'s keyed backends:
 * update types, visibility, per-element list TTL, per-entry map TTL,
 * reducing and aggregating state, namespaces, type checks and snapshot
 * round trips (with and without full-snapshot cleanup), also into `other`.
 *
 * Call it at the top level of a test module:
 * `runTtlSuite("heap", () => new HeapStateBackend(), () => lsmBackend())`.
 */
export function runTtlSuite(
  name: string,
  makeBackend: () => StateBackend,
  makeOther: () => StateBackend,
): void {
  const t = (title: string, fn: () => void | Promise<void>) =>
    Deno.test(`${name} ttl: ${title}`, fn);

  t("value state expires ttl ms after the last write (OnCreateAndWrite)", () => {
    const clock = new ManualClock(1000);
    const b = ttlKeyed(makeBackend(), clock);
    const v = b.state(withTtl(new ValueStateDescriptor("v", Serializers.f64, -1), ttl(100)));
    b.setCurrentKey("a");
    v.update(1);
    clock.advance(60);
    assert.equal(v.value(), 1); // a read does not refresh
    v.update(2); // a write does
    clock.advance(99);
    assert.equal(v.value(), 2);
    clock.advance(1);
    assert.equal(v.value(), -1, "expired: the default");
    b.setCurrentKey("b");
    assert.equal(v.value(), -1);
    b.dispose();
  });

  t("value state with an object default: a copy per key, also after expiry", () => {
    const clock = new ManualClock(1000);
    const b = ttlKeyed(makeBackend(), clock);
    const record = Serializers.record({ count: Serializers.f64 });
    const acc = b.state(withTtl(new ValueStateDescriptor("acc", record, { count: 0 }), ttl(100)));
    const bump = (k: string) => {
      b.setCurrentKey(k);
      const a = acc.value()!;
      a.count++;
      acc.update(a);
      return a.count;
    };
    assert.deepEqual([bump("a"), bump("b"), bump("a")], [1, 1, 2]);
    clock.advance(200);
    assert.deepEqual([bump("a"), bump("c")], [1, 1], "expired: the default again, unchanged");
    b.dispose();
  });

  t("null: value update(null) clears; list state rejects a null element, naming the state", () => {
    const clock = new ManualClock(1000);
    const b = ttlKeyed(makeBackend(), clock);
    const v = b.state(withTtl(new ValueStateDescriptor("v", Serializers.f64, 0), ttl(100)));
    const l = b.state(withTtl(new ListStateDescriptor("l", Serializers.f64), ttl(100)));
    b.setCurrentKey("a");
    v.update(5);
    v.update(null as never);
    assert.equal(v.value(), 0);
    assert.deepEqual([...b.keys("v")], []);
    l.add(1);
    for (const f of [() => l.add(null as never), () => l.addAll([2, null as never])]) {
      assert.throws(f, (e) => e instanceof StateError && e.message.includes('"l"'));
    }
    assert.throws(() => l.update([null as never]), StateError);
    assert.deepEqual(l.get(), [1]);
    b.dispose();
  });

  t("OnReadAndWrite refreshes on reads", () => {
    const clock = new ManualClock(0);
    const b = ttlKeyed(makeBackend(), clock);
    const cfg = ttl(100, (x) => x.updateTtlOnReadAndWrite());
    const v = b.state(withTtl(new ValueStateDescriptor("v", Serializers.string), cfg));
    const l = b.state(withTtl(new ListStateDescriptor("l", Serializers.string), cfg));
    const m = b.state(
      withTtl(new MapStateDescriptor("m", Serializers.string, Serializers.f64), cfg),
    );
    b.setCurrentKey("k");
    v.update("x");
    l.add("e");
    m.put("p", 1);
    for (let i = 0; i < 5; i++) {
      clock.advance(90);
      assert.equal(v.value(), "x");
      assert.deepEqual(l.get(), ["e"]);
      assert.equal(m.get("p"), 1);
    }
    clock.advance(100);
    assert.equal(v.value(), undefined);
    assert.deepEqual(l.get(), []);
    assert.equal(m.get("p"), undefined);
    b.dispose();
  });

  t("ReturnExpiredIfNotCleanedUp returns an expired value once, then it is gone", () => {
    const clock = new ManualClock(0);
    const b = ttlKeyed(makeBackend(), clock);
    const cfg = ttl(10, (x) => x.returnExpiredIfNotCleanedUp());
    const v = b.state(withTtl(new ValueStateDescriptor("v", Serializers.f64), cfg));
    const l = b.state(withTtl(new ListStateDescriptor("l", Serializers.f64), cfg));
    const m = b.state(withTtl(new MapStateDescriptor("m", Serializers.f64, Serializers.f64), cfg));
    b.setCurrentKey("k");
    v.update(7);
    l.add(1);
    m.put(1, 2);
    clock.advance(10);
    assert.equal(v.value(), 7);
    assert.equal(v.value(), undefined, "cleaned up on the first read");
    assert.deepEqual(l.get(), [1]);
    assert.deepEqual(l.get(), []);
    assert.deepEqual([...m.entries()], [[1, 2]]);
    assert.ok(m.isEmpty());
    b.dispose();
  });

  t("NeverReturnExpired hides expired entries", () => {
    const clock = new ManualClock(0);
    const b = ttlKeyed(makeBackend(), clock);
    const v = b.state(withTtl(new ValueStateDescriptor("v", Serializers.f64), ttl(10)));
    b.setCurrentKey("k");
    v.update(7);
    clock.advance(10);
    assert.equal(v.value(), undefined);
    b.dispose();
  });

  t("list state: each element has its own timestamp", () => {
    const clock = new ManualClock(0);
    const b = ttlKeyed(makeBackend(), clock);
    const l = b.state(withTtl(new ListStateDescriptor("l", Serializers.string), ttl(100)));
    b.setCurrentKey("k");
    l.add("a"); // t=0
    clock.advance(40);
    l.addAll(["b", "c"]); // t=40
    clock.advance(40);
    l.add("d"); // t=80
    assert.deepEqual(l.get(), ["a", "b", "c", "d"]);
    clock.set(100);
    assert.deepEqual(l.get(), ["b", "c", "d"]);
    clock.set(140);
    assert.deepEqual(l.get(), ["d"]);
    l.add("e"); // t=140
    clock.set(180);
    assert.deepEqual(l.get(), ["e"]);
    l.update(["x", "y"]); // t=180: all refreshed
    clock.set(279);
    assert.deepEqual(l.get(), ["x", "y"]);
    clock.set(280);
    assert.deepEqual(l.get(), []);
    b.dispose();
  });

  t("map state: each entry has its own timestamp", () => {
    const clock = new ManualClock(0);
    const b = ttlKeyed(makeBackend(), clock);
    const m = b.state(
      withTtl(new MapStateDescriptor("m", Serializers.string, Serializers.f64), ttl(100)),
    );
    b.setCurrentKey("k");
    m.put("a", 1);
    clock.advance(50);
    m.putAll([["b", 2], ["c", 3]]);
    clock.advance(50); // a expires now
    assert.equal(m.get("a"), undefined);
    assert.equal(m.contains("a"), false);
    assert.equal(m.contains("b"), true);
    assert.deepEqual([...m.keys()].sort(), ["b", "c"]);
    m.put("b", 20); // refreshed at 100
    clock.advance(50); // c expires
    assert.deepEqual([...m.entries()], [["b", 20]]);
    assert.deepEqual([...m.values()], [20]);
    assert.equal(m.isEmpty(), false);
    clock.advance(50);
    assert.equal(m.isEmpty(), true);
    m.put("z", 1);
    m.remove("z");
    assert.equal(m.get("z"), undefined);
    b.dispose();
  });

  t(
    "map state OnReadAndWrite: isEmpty and a loop that stops early refresh only what they read",
    () => {
      // As Flink's lazy iterator: checking for emptiness on every record must not keep every entry
      // of the map alive for good.
      const clock = new ManualClock(0);
      const b = ttlKeyed(makeBackend(), clock);
      const m = b.state(withTtl(
        new MapStateDescriptor("m", Serializers.string, Serializers.f64),
        ttl(100, (x) => x.updateTtlOnReadAndWrite()),
      ));
      b.setCurrentKey("k");
      m.putAll([["a", 1], ["b", 2], ["c", 3]]);
      const first = [...m.keys()][0]!; // the backend's order
      clock.set(60);
      assert.equal(m.isEmpty(), false); // refreshes the first entry only
      clock.set(70);
      for (const k of m.keys()) if (k === first) break; // the first again, nothing else
      clock.set(100);
      assert.deepEqual([...m.keys()], [first], "the others expired at 100");
      m.putAll([["x", 1], ["y", 2]]); // t=100
      clock.set(150);
      const seen: string[] = [];
      for (const [k] of m.entries()) {
        seen.push(k);
        if (k === "x") m.remove("y"); // the loop's own changes hold
        if (k === "y") m.remove("x");
      }
      assert.equal(seen.length, 2, `${seen}: the entry the loop removed is not reached`);
      assert.deepEqual([...m.keys()], seen, "nor brought back");
      b.dispose();
    },
  );

  t("reducing and aggregating state start over after expiry", () => {
    const clock = new ManualClock(0);
    const b = ttlKeyed(makeBackend(), clock);
    const sum = b.state(
      withTtl(
        new ReducingStateDescriptor("sum", (x: number, y: number) => x + y, Serializers.f64),
        ttl(10),
      ),
    );
    const avg = b.state(
      withTtl(
        new AggregatingStateDescriptor("avg", {
          createAccumulator: () => [0, 0] as [number, number],
          add: (v: number, [s, n]: [number, number]) => [s + v, n + 1] as [number, number],
          getResult: ([s, n]: [number, number]) => s / n,
        }, Serializers.json as never),
        ttl(10, (x) => x.updateTtlOnReadAndWrite()),
      ),
    );
    b.setCurrentKey("k");
    sum.add(1);
    sum.add(2);
    avg.add(2);
    avg.add(4);
    clock.advance(9);
    assert.equal(sum.get(), 3);
    assert.equal(avg.get(), 3); // refreshes avg at 9
    clock.advance(1);
    assert.equal(sum.get(), undefined);
    sum.add(5);
    assert.equal(sum.get(), 5);
    assert.equal(avg.get(), 3);
    clock.advance(10);
    avg.add(10); // expired accumulator: starts over
    assert.equal(avg.get(), 10);
    clock.advance(5);
    sum.add(1); // the stored 5 (t=10) expired at 20: starts over
    assert.equal(sum.get(), 1);
    b.dispose();
  });

  t(
    "ReturnExpiredIfNotCleanedUp: reducing and aggregating add onto an expired value not cleaned up",
    () => {
      // As Flink: the expired accumulator is still visible, so an add builds on it; a read that
      // returns it cleans it up, and the next add starts over.
      const clock = new ManualClock(0);
      const b = ttlKeyed(makeBackend(), clock);
      const cfg = ttl(10, (x) => x.returnExpiredIfNotCleanedUp());
      const sum = b.state(
        withTtl(
          new ReducingStateDescriptor("sum", (x: number, y: number) => x + y, Serializers.f64),
          cfg,
        ),
      );
      const count = b.state(
        withTtl(
          new AggregatingStateDescriptor("count", {
            createAccumulator: () => 0,
            add: (_v: string, n: number) => n + 1,
            getResult: (n: number) => n,
          }, Serializers.f64),
          cfg,
        ),
      );
      b.setCurrentKey("k");
      sum.add(1);
      sum.add(2);
      count.add("a");
      count.add("b");
      clock.advance(10); // both expired, neither cleaned up
      sum.add(4);
      count.add("c");
      assert.equal(sum.get(), 7);
      assert.equal(count.get(), 3);
      clock.advance(10);
      assert.equal(sum.get(), 7, "expired: returned once");
      assert.equal(count.get(), 3);
      sum.add(5);
      count.add("d");
      assert.equal(sum.get(), 5, "cleaned up by the read: starts over");
      assert.equal(count.get(), 1);
      b.dispose();
    },
  );

  t("reducing state refreshed on read with OnReadAndWrite", () => {
    const clock = new ManualClock(0);
    const b = ttlKeyed(makeBackend(), clock);
    const max = b.state(
      withTtl(
        new ReducingStateDescriptor(
          "max",
          (x: number, y: number) => Math.max(x, y),
          Serializers.f64,
        ),
        ttl(10, (x) => x.updateTtlOnReadAndWrite()),
      ),
    );
    b.setCurrentKey("k");
    max.add(3);
    for (let i = 0; i < 4; i++) {
      clock.advance(8);
      assert.equal(max.get(), 3);
    }
    clock.advance(10);
    assert.equal(max.get(), undefined);
    b.dispose();
  });

  t("TTL state in namespaces", () => {
    const clock = new ManualClock(0);
    const b = ttlKeyed(makeBackend(), clock);
    const v = b.state(
      withTtl(new ValueStateDescriptor("v", Serializers.f64), ttl(10)),
      Serializers.f64,
    );
    b.setCurrentKey("k");
    v.setNamespace(1);
    v.update(1);
    clock.advance(5);
    v.setNamespace(2);
    v.update(2);
    clock.advance(5);
    assert.equal(v.value(), 2);
    v.setNamespace(1);
    assert.equal(v.value(), undefined);
    b.dispose();
  });

  t(
    "registering a name with and without TTL is a StateError; repeated registration is one state",
    () => {
      const clock = new ManualClock(0);
      const b = ttlKeyed(makeBackend(), clock);
      const d = withTtl(new ValueStateDescriptor("v", Serializers.f64), ttl(10));
      const v = b.state(d);
      assert.equal(b.state(d), v);
      b.setCurrentKey("k");
      v.update(4);
      const again = b.state(withTtl(new ValueStateDescriptor("v", Serializers.f64), ttl(10)));
      assert.equal(again.value(), 4);
      assert.throws(
        () => b.state(new ValueStateDescriptor("v", Serializers.f64)),
        (e) => e instanceof StateError && /value<f64>\+ttl/.test(e.message),
      );
      const w = b.state(new ValueStateDescriptor("w", Serializers.f64));
      assert.ok(w);
      assert.throws(
        () => b.state(withTtl(new ValueStateDescriptor("w", Serializers.f64), ttl(10))),
        StateError,
      );
      b.dispose();
    },
  );

  for (const [label, makeTarget] of [["same", makeBackend], ["other", makeOther]] as const) {
    t(`snapshot keeps timestamps: restore into the ${label} backend`, async () => {
      const shared = new TtlShared();
      try {
        const clock = new ManualClock(0);
        const b = ttlKeyed(makeBackend(), clock);
        const cfg = ttl(100);
        const v = b.state(withTtl(new ValueStateDescriptor("v", Serializers.string), cfg));
        const l = b.state(withTtl(new ListStateDescriptor("l", Serializers.f64), cfg));
        const m = b.state(
          withTtl(new MapStateDescriptor("m", Serializers.f64, Serializers.string), cfg),
        );
        b.setCurrentKey("k");
        v.update("x");
        l.add(1);
        m.put(1, "one");
        clock.advance(50);
        l.add(2);
        m.put(2, "two");
        const h = await b.snapshot(1, shared.storage());
        b.dispose();
        assert.ok(h.states.every((s) => s.typeId.endsWith("+ttl")));

        const clock2 = new ManualClock(60);
        const r = ttlKeyed(makeTarget(), clock2, shared.restore([h]));
        const v2 = r.state(withTtl(new ValueStateDescriptor("v", Serializers.string), cfg));
        const l2 = r.state(withTtl(new ListStateDescriptor("l", Serializers.f64), cfg));
        const m2 = r.state(
          withTtl(new MapStateDescriptor("m", Serializers.f64, Serializers.string), cfg),
        );
        r.setCurrentKey("k");
        assert.equal(v2.value(), "x");
        assert.deepEqual(l2.get(), [1, 2]);
        clock2.set(100); // the t=0 writes expire, the t=50 ones stay
        assert.equal(v2.value(), undefined);
        assert.deepEqual(l2.get(), [2]);
        assert.deepEqual([...m2.entries()], [[2, "two"]]);
        r.dispose();

        // Without TTL the same snapshot does not restore.
        const plain = ttlKeyed(makeTarget(), clock2, shared.restore([h]));
        assert.throws(
          () => plain.state(new ValueStateDescriptor("v", Serializers.string)),
          (e) => e instanceof StateError && /value<string>\+ttl/.test(e.message),
        );
        plain.dispose();
      } finally {
        shared.close();
      }
    });
  }

  t("a snapshot without TTL does not restore into a descriptor with TTL", async () => {
    const shared = new TtlShared();
    try {
      const clock = new ManualClock(0);
      const b = ttlKeyed(makeBackend(), clock);
      const v = b.state(new ValueStateDescriptor("v", Serializers.f64));
      b.setCurrentKey("k");
      v.update(1);
      const h = await b.snapshot(1, shared.storage());
      b.dispose();
      const r = ttlKeyed(makeBackend(), clock, shared.restore([h]));
      assert.throws(
        () => r.state(withTtl(new ValueStateDescriptor("v", Serializers.f64), ttl(5))),
        (e) => e instanceof StateError && /value<f64>\+ttl/.test(e.message),
      );
      r.dispose();
    } finally {
      shared.close();
    }
  });
}
