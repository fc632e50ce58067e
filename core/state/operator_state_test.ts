import assert from "node:assert/strict";
import { StateError } from "../errors.ts";
import { ListStateDescriptor, MapStateDescriptor } from "./descriptors.ts";
import {
  type OperatorStateSnapshot,
  OperatorStateStore,
  redistributeOperatorState,
} from "./operator_state.ts";
import { deserialize, serialize, Serializers } from "./serializer.ts";
import { StateTtlConfig } from "./ttl.ts";
import { decodeOperatorState, encodeOperatorState } from "../checkpoint/manifest.ts";
import { rng } from "../../statestore-as/_test_util.ts";

const offsets = new ListStateDescriptor("offsets", Serializers.f64);
const rules = new MapStateDescriptor("rules", Serializers.string, Serializers.f64);

function splitSnapshot(name: string, items: number[], mode: "split" | "union" = "split") {
  return {
    [name]: {
      mode,
      typeId: "list<f64>",
      items: items.map((n) => serialize(Serializers.f64, n)),
    },
  } as OperatorStateSnapshot;
}

function numbers(s: OperatorStateSnapshot, name: string): number[] {
  return s[name]!.items.map((b) => deserialize(Serializers.f64, b));
}

Deno.test("OperatorStateStore: list state add/addAll/update/get/clear", () => {
  const store = new OperatorStateStore("src");
  assert.equal(store.isRestored, false);
  const list = store.getListState(offsets);
  assert.deepEqual(list.get(), [], "empty, as Flink's ListState.get()");
  list.add(1);
  list.addAll([2, 3]);
  assert.deepEqual(list.get(), [1, 2, 3]);
  list.get()!.push(99);
  assert.deepEqual(list.get(), [1, 2, 3], "get() returns a copy");
  list.update([7]);
  assert.deepEqual(list.get(), [7]);
  list.clear();
  assert.deepEqual(list.get(), []);
  assert.equal(store.getListState(offsets), list, "a second registration returns the same state");
});

Deno.test("OperatorStateStore: snapshot → restore for list, union and broadcast state", () => {
  const store = new OperatorStateStore("op");
  store.getListState(offsets).update([1, -0, NaN]);
  store.getUnionListState(new ListStateDescriptor("seen", Serializers.string)).addAll(["a", ""]);
  const b = store.getBroadcastState(rules);
  b.put("x", 1);
  b.putAll([["y", 2], ["", 0]]);
  const snap = store.snapshot();
  assert.equal(snap.offsets!.mode, "split");
  assert.equal(snap.seen!.mode, "union");
  assert.equal(snap.rules!.mode, "broadcast");
  assert.equal(snap.rules!.typeId, "map<string,f64>");

  const restored = new OperatorStateStore("op", snap);
  assert.equal(restored.isRestored, true);
  const list = restored.getListState(offsets).get()!;
  assert.equal(list.length, 3);
  assert.ok(Object.is(list[1], -0) && Number.isNaN(list[2]));
  assert.deepEqual(
    restored.getUnionListState(new ListStateDescriptor("seen", Serializers.string)).get(),
    ["a", ""],
  );
  const rb = restored.getBroadcastState(rules);
  assert.deepEqual([...rb.entries()].sort(), [["", 0], ["x", 1], ["y", 2]]);
  assert.ok(rb.contains("") && !rb.isEmpty());
  rb.remove("x");
  assert.deepEqual([...rb.keys()].sort(), ["", "y"]);
  assert.deepEqual([...rb.values()].sort(), [0, 2]);
  rb.clear();
  assert.ok(rb.isEmpty());
});

Deno.test("OperatorStateStore: restored state not registered again is kept in the next snapshot", () => {
  const first = new OperatorStateStore("op");
  first.getListState(offsets).update([5]);
  first.getListState(new ListStateDescriptor("other", Serializers.f64)).update([6]);
  const second = new OperatorStateStore("op", first.snapshot());
  second.getListState(offsets).add(7);
  const snap = second.snapshot();
  assert.deepEqual(numbers(snap, "offsets"), [5, 7]);
  assert.deepEqual(numbers(snap, "other"), [6]);
});

Deno.test("OperatorStateStore: a type or mode mismatch on restore throws StateError", () => {
  const store = new OperatorStateStore("src");
  store.getListState(offsets).update([1]);
  store.getBroadcastState(rules).put("a", 1);
  const snap = store.snapshot();
  const cases: [string, (s: OperatorStateStore) => unknown][] = [
    [
      "other element type",
      (s) => s.getListState(new ListStateDescriptor("offsets", Serializers.string)),
    ],
    ["union instead of split", (s) => s.getUnionListState(offsets)],
    [
      "broadcast instead of list",
      (s) =>
        s.getBroadcastState(new MapStateDescriptor("offsets", Serializers.string, Serializers.f64)),
    ],
    [
      "other map types",
      (s) =>
        s.getBroadcastState(
          new MapStateDescriptor("rules", Serializers.string, Serializers.string),
        ),
    ],
  ];
  for (const [what, register] of cases) {
    assert.throws(
      () => register(new OperatorStateStore("src", snap)),
      (e: unknown) =>
        e instanceof StateError && /Cannot restore operator state/.test(e.message) &&
        e.message.includes('"src"'),
      what,
    );
  }
});

Deno.test("OperatorStateStore: one name registered twice with another type throws StateError", () => {
  const store = new OperatorStateStore("op");
  store.getListState(offsets);
  assert.throws(
    () => store.getUnionListState(offsets),
    (e: unknown) => e instanceof StateError && /registered as split list<f64>/.test(e.message),
  );
  assert.throws(
    () => store.getListState(new ListStateDescriptor("offsets", Serializers.bigint)),
    StateError,
  );
});

Deno.test("redistributeOperatorState: even split 2 → 3 keeps order and sizes", () => {
  const next = redistributeOperatorState(
    [splitSnapshot("s", [1, 2, 3, 4]), splitSnapshot("s", [5, 6, 7])],
    3,
  );
  assert.deepEqual(next.map((s) => numbers(s, "s")), [[1, 2, 3], [4, 5], [6, 7]]);
});

Deno.test("redistributeOperatorState: at the same parallelism each subtask keeps its own split list (Flink)", () => {
  const old = [splitSnapshot("s", [1, 2, 3]), splitSnapshot("s", [4])];
  assert.deepEqual(redistributeOperatorState(old, 2).map((s) => numbers(s, "s")), [[1, 2, 3], [4]]);
});

Deno.test("redistributeOperatorState: 3 → 1 concatenates; more subtasks than items leaves some empty", () => {
  const old = [splitSnapshot("s", [1]), splitSnapshot("s", []), splitSnapshot("s", [2, 3])];
  assert.deepEqual(redistributeOperatorState(old, 1).map((s) => numbers(s, "s")), [[1, 2, 3]]);
  assert.deepEqual(
    redistributeOperatorState([splitSnapshot("s", [1, 2])], 4).map((s) => numbers(s, "s")),
    [[1], [2], [], []],
  );
});

Deno.test("redistributeOperatorState: union gives everything to every subtask", () => {
  const old = [splitSnapshot("u", [1, 2], "union"), splitSnapshot("u", [3], "union")];
  const next = redistributeOperatorState(old, 3);
  assert.equal(next.length, 3);
  for (const s of next) {
    assert.equal(s.u!.mode, "union");
    assert.deepEqual(numbers(s, "u"), [1, 2, 3]);
  }
});

Deno.test("redistributeOperatorState: broadcast state comes whole to every subtask", () => {
  const a = new OperatorStateStore("op");
  a.getBroadcastState(rules).putAll([["x", 1], ["y", 2]]);
  const b = new OperatorStateStore("op");
  b.getBroadcastState(rules).putAll([["x", 1], ["y", 2]]);
  for (const p of [1, 2, 5]) {
    const next = redistributeOperatorState([a.snapshot(), b.snapshot()], p);
    assert.equal(next.length, p);
    for (const s of next) {
      const m = new OperatorStateStore("op", s).getBroadcastState(rules);
      assert.deepEqual([...m.entries()].sort(), [["x", 1], ["y", 2]]);
    }
  }
});

Deno.test("redistributeOperatorState: several states, and a state only some subtasks have", () => {
  const old: OperatorStateSnapshot[] = [
    { ...splitSnapshot("s", [1, 2]), ...splitSnapshot("u", [9], "union") },
    splitSnapshot("s", [3]),
  ];
  const next = redistributeOperatorState(old, 2);
  assert.deepEqual(next.map((s) => numbers(s, "s")), [[1, 2], [3]]);
  assert.deepEqual(next.map((s) => numbers(s, "u")), [[9], [9]]);
});

Deno.test("property: split redistribution loses and duplicates nothing, for random sizes", () => {
  const rand = rng(42);
  for (let round = 0; round < 300; round++) {
    const from = 1 + Math.floor(rand() * 8);
    const to = 1 + Math.floor(rand() * 8);
    let id = 0;
    const old = Array.from({ length: from }, () => {
      const n = Math.floor(rand() * 20);
      return splitSnapshot("s", Array.from({ length: n }, () => id++));
    });
    const next = redistributeOperatorState(old, to);
    assert.equal(next.length, to);
    const parts = next.map((s) => numbers(s, "s"));
    // In order, each exactly once.
    assert.deepEqual(parts.flat(), Array.from({ length: id }, (_, i) => i), `${from} → ${to}`);
    // Even across a rescale (sizes differ by at most one); kept as they were at the same
    // parallelism.
    const sizes = parts.map((p) => p.length);
    if (from === to) assert.deepEqual(parts, old.map((s) => numbers(s, "s")));
    else assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1, `sizes ${sizes}`);
    // Going back to the old parallelism still loses nothing.
    const back = redistributeOperatorState(next, from).flatMap((s) => numbers(s, "s"));
    assert.deepEqual(back, Array.from({ length: id }, (_, i) => i));
  }
});

Deno.test("OperatorStateStore: list, union and broadcast state migrate to an evolved schema through the manifest", () => {
  const oldRecord = Serializers.record({ n: Serializers.i32, tag: Serializers.string });
  const newRecord = Serializers.record({
    n: Serializers.f64,
    unit: Serializers.withDefault(Serializers.string, "none"),
  });
  const before = new OperatorStateStore("op");
  before.getListState(new ListStateDescriptor("split", oldRecord)).add({ n: 1, tag: "x" });
  before.getUnionListState(new ListStateDescriptor("union", oldRecord)).add({ n: 2, tag: "y" });
  before.getBroadcastState(new MapStateDescriptor("rules", Serializers.string, oldRecord))
    .put("r", { n: 3, tag: "z" });
  // Through the manifest's encoding, as a checkpoint stores it.
  const snapshot = decodeOperatorState(encodeOperatorState(before.snapshot()));
  assert.deepEqual(snapshot["split"]!.schemas?.value.fields, ["n", "tag"]);
  const after = new OperatorStateStore("op", snapshot);
  assert.deepEqual(after.getListState(new ListStateDescriptor("split", newRecord)).get(), [
    { n: 1, unit: "none" },
  ]);
  assert.deepEqual(after.getUnionListState(new ListStateDescriptor("union", newRecord)).get(), [
    { n: 2, unit: "none" },
  ]);
  const rulesAfter = after.getBroadcastState(
    new MapStateDescriptor("rules", Serializers.string, newRecord),
  );
  assert.deepEqual([...rulesAfter.entries()], [["r", { n: 3, unit: "none" }]]);
  // The next snapshot records the new schema.
  assert.deepEqual(after.snapshot()["split"]!.schemas?.value.fields, ["n", "unit"]);
});

Deno.test("OperatorStateStore: an incompatible schema change names the state and both schemas", () => {
  const before = new OperatorStateStore("op");
  before.getListState(new ListStateDescriptor("pos", Serializers.string)).add("a");
  const after = new OperatorStateStore("op", before.snapshot());
  assert.throws(
    () => after.getListState(new ListStateDescriptor("pos", Serializers.f64)),
    (e: unknown) =>
      e instanceof StateError &&
      /operator state "pos" of operator "op".*from string \(version 1\) in the snapshot to f64 \(version 1\) in the job/
        .test(e.message),
  );
});

Deno.test("OperatorStateStore: a snapshot without schemas (older weir) restores as before", () => {
  const store = new OperatorStateStore("src", splitSnapshot("offsets", [4, 5]));
  assert.deepEqual(store.getListState(offsets).get(), [4, 5]);
});

Deno.test("OperatorStateStore: broadcast state finds an array key by an equal one, before and after a restore; 0 and -0 are one key", () => {
  const d = new MapStateDescriptor(
    "limits",
    Serializers.tuple(Serializers.string, Serializers.f64),
    Serializers.f64,
  );
  const store = new OperatorStateStore("op");
  const limits = store.getBroadcastState(d);
  limits.put(["cpu", 1], 90);
  limits.put(["cpu", 1], 95);
  limits.put(["cpu", 0], 20);
  assert.equal(limits.get(["cpu", 1]), 95);
  assert.ok(limits.contains(["cpu", 1]));
  assert.deepEqual([...limits.entries()], [[["cpu", 1], 95], [["cpu", 0], 20]]);
  const numbers = store.getBroadcastState(
    new MapStateDescriptor("n", Serializers.f64, Serializers.f64),
  );
  numbers.put(0, 1);
  numbers.put(-0, 2);
  assert.deepEqual([...numbers.entries()], [[0, 2]]);
  const restored = new OperatorStateStore("op", store.snapshot()).getBroadcastState(d);
  assert.equal(restored.get(["cpu", 1]), 95);
  restored.remove(["cpu", 1]);
  assert.equal(restored.contains(["cpu", 1]), false);
  assert.deepEqual([...restored.keys()], [["cpu", 0]]);
  restored.put(["cpu", 1], 1);
  assert.equal(restored.get(["cpu", 1]), 1);
});

Deno.test("OperatorStateStore: a descriptor with TTL is refused (it would never expire)", () => {
  const store = new OperatorStateStore("src");
  const ttl = StateTtlConfig.newBuilder(1000).build();
  const list = new ListStateDescriptor("offsets", Serializers.f64);
  list.enableTimeToLive(ttl);
  const map = new MapStateDescriptor("rules", Serializers.string, Serializers.f64);
  map.enableTimeToLive(ttl);
  for (const get of [() => store.getListState(list), () => store.getUnionListState(list)]) {
    assert.throws(
      get,
      (e) => e instanceof StateError && /"offsets".*keyed state only/.test(e.message),
    );
  }
  assert.throws(() => store.getBroadcastState(map), StateError);
});

Deno.test("OperatorStateStore: list state refuses null and undefined elements, as keyed list state", () => {
  const store = new OperatorStateStore("buffering-sink");
  const list = store.getListState(offsets);
  list.add(1);
  const refused = (e: unknown) =>
    e instanceof StateError &&
    /cannot add (null|undefined) to a ListState \(state "offsets" of operator "buffering-sink"\)/
      .test(e.message);
  assert.throws(() => list.add(null as never), refused);
  assert.throws(() => list.add(undefined as never), refused);
  assert.throws(() => list.addAll([2, null as never]), refused);
  assert.throws(() => list.update([3, undefined as never]), refused);
  assert.deepEqual(list.get(), [1], "nothing of a refused call was added");
  // Before, the element was kept and every checkpoint failed serializing it.
  assert.doesNotThrow(() => store.snapshot());
});
