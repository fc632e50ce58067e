import assert from "node:assert/strict";
import type {
  KeyedRestore,
  KeyedStateBackend,
  KeyedStateHandle,
  SnapshotStorage,
  StateBackend,
} from "../state/backend.ts";
import { Serializers } from "../state/serializer.ts";
import { HeapStateBackend } from "../state/heap/heap_backend.ts";
import { LsmStateBackend } from "../state/lsm/lsm_backend.ts";
import { DenoSegmentFs } from "../../statestore-as/segment_fs.ts";
import { TimeWindow } from "../time/window.ts";
import { InternalTimerService, type TimeDomain, type Timer } from "./timers.ts";

/** A checkpoint folder: snapshot storage plus the restore view of its handles. */
class Shared {
  readonly dir = Deno.makeTempDirSync({ prefix: "weir-timers-test-" });
  readonly fs = new DenoSegmentFs();
  #n = 0;
  storage(): SnapshotStorage {
    return { fs: this.fs, dir: this.dir, newSegmentName: () => `t-${++this.#n}.seg` };
  }
  restore(handles: KeyedStateHandle[]): KeyedRestore {
    return { handles, fs: this.fs, segmentPath: (n) => `${this.dir}/${n}` };
  }
  close(): void {
    this.fs.close();
    Deno.removeSync(this.dir, { recursive: true });
  }
}

type Fired = [TimeDomain, number, unknown, string];

/** A timer service over `backend` (a restored one when the backend is), recording firings. */
function service(backend: KeyedStateBackend, fired: Fired[]) {
  return new InternalTimerService<TimeWindow>(
    {
      now: () => 0,
      scheduleProcessingTime: () => () => {},
      setCurrentKey: (k) => backend.setCurrentKey(k),
      currentKey: () => backend.currentKey(),
      backend,
      maxParallelism: 128,
    },
    {
      onTimer: (t: Timer<TimeWindow>, d: TimeDomain) =>
        void fired.push([d, t.timestamp, backend.currentKey(), `${t.namespace.start}`]),
    },
    Serializers.key,
    TimeWindow.serializer,
  );
}

function keyed(make: StateBackend, restore?: KeyedRestore): KeyedStateBackend {
  return make.createKeyedBackend({
    operatorUid: "timers",
    subtaskIndex: 0,
    keySerializer: Serializers.key,
    maxParallelism: 128,
    keyGroupRange: { start: 0, end: 127 },
    ...(restore ? { restore } : {}),
  });
}

for (const [name, make] of [["heap", HeapStateBackend], ["lsm", LsmStateBackend]] as const) {
  Deno.test(`timers (${name}): a restore fires exactly the timers pending at the snapshot, in order`, async () => {
    const shared = new Shared();
    try {
      const a = keyed(new make());
      const firedA: Fired[] = [];
      const s = service(a, firedA);
      const w = (start: number) => new TimeWindow(start, start + 10);
      const reg = (key: string, start: number, ts: number) => {
        a.setCurrentKey(key);
        s.registerEventTimeTimer(w(start), ts);
      };
      reg("k1", 0, 9);
      reg("k2", 0, 9);
      reg("k1", 0, 9); // a duplicate
      reg("k3", 10, 19);
      a.setCurrentKey("k4");
      s.registerNewEventTimeTimer(w(10), 19);
      s.advanceWatermark(9); // fires k1 and k2 before any snapshot: never written
      assert.deepEqual(firedA.map((f) => f[2]), ["k1", "k2"]);
      const h1 = await a.snapshot(1, shared.storage());
      // After the snapshot: one pending timer fires, one is deleted, two are new.
      reg("k5", 20, 29);
      reg("k6", 20, 25);
      a.setCurrentKey("k6");
      s.deleteEventTimeTimer(w(20), 25);
      a.setCurrentKey("k3");
      s.deleteEventTimeTimer(w(10), 19);
      reg("k7", 30, 39);
      s.advanceWatermark(29); // fires k4, k5
      assert.deepEqual(firedA.slice(2).map((f) => f[2]), ["k4", "k5"]);
      const h2 = await a.snapshot(2, shared.storage());

      // Restoring checkpoint 1: k3 and k4 at 19 (in registration order), nothing else.
      const b = keyed(new make(), shared.restore([h1]));
      const firedB: Fired[] = [];
      const sb = service(b, firedB);
      assert.equal(sb.size("event-time"), 2);
      b.setCurrentKey("k3");
      sb.registerEventTimeTimer(w(10), 19); // already restored: not added again
      sb.advanceWatermark(100);
      assert.deepEqual(firedB, [
        ["event-time", 19, "k3", "10"],
        ["event-time", 19, "k4", "10"],
      ]);

      // Restoring checkpoint 2: only k7 (k3 deleted, k4 and k5 fired after checkpoint 1).
      const c = keyed(new make(), shared.restore([h2]));
      const firedC: Fired[] = [];
      const sc = service(c, firedC);
      assert.deepEqual(sc.pending("event-time").map((t) => t.key), ["k7"]);
      sc.advanceWatermark(100);
      assert.deepEqual(firedC, [["event-time", 39, "k7", "30"]]);
      for (const x of [a, b, c]) x.dispose();
    } finally {
      shared.close();
    }
  });
}
