import assert from "node:assert/strict";
import { CheckpointError, IncompatibleStateError } from "../errors.ts";
import type { KeyedStateHandle } from "../state/backend.ts";
import { keyGroupRangeForSubtask } from "../state/key_group.ts";
import { encodeOperatorState, type Manifest, type OperatorManifest } from "./manifest.ts";
import { adoptNameBasedUids, planRestore, type RestoringOperator } from "./restore.ts";

const MAX = 128;

function handle(start: number, end: number, seg: string): KeyedStateHandle {
  return {
    backend: "heap",
    keyGroupRange: { start, end },
    states: [],
    segments: [{ name: seg, size: 1 }],
  };
}

function keyedOp(parallelism: number, name = "count"): OperatorManifest {
  return {
    name,
    parallelism,
    source: false,
    subtasks: Array.from({ length: parallelism }, (_, i) => {
      const r = keyGroupRangeForSubtask(MAX, parallelism, i);
      return { index: i, operatorState: {}, keyed: handle(r.start, r.end, `k${i}.seg`) };
    }),
  };
}

function sourceOp(positions: number[]): OperatorManifest {
  return {
    name: "src",
    parallelism: positions.length,
    source: true,
    subtasks: positions.map((p, i) => ({
      index: i,
      operatorState: encodeOperatorState({
        "source-position": {
          mode: "split",
          typeId: "json",
          items: [new TextEncoder().encode(String(p))],
        },
      }),
    })),
  };
}

function manifest(operators: Record<string, OperatorManifest>, maxParallelism = MAX): Manifest {
  return {
    format: 1,
    kind: "checkpoint",
    checkpointId: 9,
    jobName: "j",
    triggeredAt: 0,
    completedAt: 0,
    maxParallelism,
    stateBackend: "heap",
    mode: "exactly-once",
    segmentDir: "../shared",
    operators,
    segments: {},
    stats: { durationMs: 0, stateSize: 0, checkpointedSize: 0, tasks: [] },
  };
}

function ops(
  uid: string,
  parallelism: number,
  keySerializer: string | null = null,
): RestoringOperator[] {
  return Array.from({ length: parallelism }, (_, i) => ({
    uid,
    parallelism,
    subtaskIndex: i,
    keyGroupRange: keyGroupRangeForSubtask(MAX, parallelism, i),
    keySerializer,
  }));
}

const segsOf = (hs: KeyedStateHandle[]) => hs.map((h) => h.segments[0]!.name).sort();
const checkpointError = (re: RegExp) => (e: unknown) =>
  e instanceof CheckpointError && re.test(e.message);

Deno.test("planRestore: maps state by uid at the same parallelism", () => {
  const plan = planRestore(
    manifest({ count: keyedOp(2), src: sourceOp([5]) }),
    MAX,
    [...ops("count", 2, "string"), ...ops("src", 1)],
    false,
  );
  assert.deepEqual([...plan.keys()].sort(), ["count", "src"]);
  assert.deepEqual(segsOf(plan.get("count")![0]!.keyed), ["k0.seg"]);
  assert.deepEqual(segsOf(plan.get("count")![1]!.keyed), ["k1.seg"]);
  const pos = plan.get("src")![0]!.operatorState["source-position"]!;
  assert.equal(new TextDecoder().decode(pos.items[0]), "5");
});

Deno.test("planRestore: a keyed operator's key serializer cannot change (its keys are stored as their bytes)", () => {
  const saved = manifest({ count: { ...keyedOp(2), keySerializer: "string" } });
  assert.equal(planRestore(saved, MAX, ops("count", 2, "string"), false).size, 1);
  assert.throws(
    () => planRestore(saved, MAX, ops("count", 2, "key"), false),
    (e: unknown) =>
      e instanceof IncompatibleStateError &&
      e.message.includes(
        'operator "count" keeps its keyed state under keys written by the key serializer ' +
          '"string", the job keys it with "key"',
      ),
  );
  // Without keyed state there are no keys to misread.
  const empty = manifest({
    count: {
      ...keyedOp(1),
      keySerializer: "string",
      subtasks: [{ index: 0, operatorState: {} }],
    },
  });
  assert.equal(planRestore(empty, MAX, ops("count", 1, "key"), false).size, 1);
});

Deno.test("planRestore: keyed state of an operator the job no longer keys fails unless allowNonRestoredState", () => {
  const saved = manifest({ count: { ...keyedOp(2), keySerializer: "string" } });
  assert.throws(
    () => planRestore(saved, MAX, ops("count", 2, null), false),
    checkpointError(
      /keyed state of operator "count", which is not keyed in the job .*allow-non-restored-state/,
    ),
  );
  const logged: string[] = [];
  assert.equal(planRestore(saved, MAX, ops("count", 2, null), true, (l) => logged.push(l)).size, 1);
  assert.deepEqual(logged, [
    'checkpoint 9: dropping the keyed state of operator "count", which is not keyed in the job ' +
    "(--allow-non-restored-state)",
  ]);
});

Deno.test("planRestore: a different number of key groups is an error naming both", () => {
  assert.throws(
    () => planRestore(manifest({}, 256), MAX, [], false),
    checkpointError(/checkpoint 9: it has 256 key groups, the job has maxParallelism 128/),
  );
});

Deno.test("planRestore: state of a missing operator fails unless allowNonRestoredState", () => {
  const m = manifest({ count: keyedOp(1), gone: keyedOp(1, "gone") });
  assert.throws(
    () => planRestore(m, MAX, ops("count", 1, "string"), false),
    checkpointError(/operator\(s\) "gone" that the job does not have.*allow-non-restored-state/),
  );
  const logged: string[] = [];
  const plan = planRestore(m, MAX, ops("count", 1, "string"), true, (l) => logged.push(l));
  assert.deepEqual([...plan.keys()], ["count"]);
  assert.deepEqual(logged, [
    'checkpoint 9: dropping the state of operator(s) "gone", which the job does not have ' +
    "(--allow-non-restored-state)",
  ]);
  // An operator without state in the snapshot needs no flag.
  const stateless: OperatorManifest = {
    name: "map",
    parallelism: 1,
    source: false,
    subtasks: [{ index: 0, operatorState: {} }],
  };
  assert.equal(
    planRestore(
      manifest({ count: keyedOp(1), map: stateless }),
      MAX,
      ops("count", 1, "string"),
      false,
    ).size,
    1,
  );
});

Deno.test("planRestore: a source's parallelism cannot change", () => {
  assert.throws(
    () => planRestore(manifest({ src: sourceOp([1, 2]) }), MAX, ops("src", 3), false),
    checkpointError(/source "src" ran with parallelism 2, the job gives it 3/),
  );
});

Deno.test("planRestore: a source that keeps splits may change its parallelism; all see every split", () => {
  const splitSource: OperatorManifest = {
    name: "kafka",
    parallelism: 2,
    source: true,
    subtasks: [["t:0", "t:2"], ["t:1"]].map((splits, i) => ({
      index: i,
      operatorState: encodeOperatorState({
        "source-splits": {
          mode: "union",
          typeId: "json",
          items: splits.map((s) => new TextEncoder().encode(JSON.stringify(s))),
        },
      }),
    })),
  };
  const plan = planRestore(manifest({ src: splitSource }), MAX, ops("src", 3), false);
  const restores = plan.get("src")!;
  assert.equal(restores.length, 3);
  for (const r of restores) {
    const items = r.operatorState["source-splits"]!.items.map((b) =>
      JSON.parse(new TextDecoder().decode(b))
    );
    assert.deepEqual(items.toSorted(), ["t:0", "t:1", "t:2"]);
  }
});

Deno.test("planRestore: scaling out hands each subtask the handles overlapping its key groups", () => {
  const plan = planRestore(manifest({ count: keyedOp(2) }), MAX, ops("count", 3, "string"), false);
  const got = plan.get("count")!.map((r) => segsOf(r.keyed));
  // Old ranges 0-63 and 64-127; new 0-42, 43-85, 86-127.
  assert.deepEqual(got, [["k0.seg"], ["k0.seg", "k1.seg"], ["k1.seg"]]);
});

Deno.test("planRestore: scaling in merges handles; overlap is by key-group range", () => {
  const plan = planRestore(manifest({ count: keyedOp(4) }), MAX, ops("count", 1, "string"), false);
  assert.deepEqual(segsOf(plan.get("count")![0]!.keyed), ["k0.seg", "k1.seg", "k2.seg", "k3.seg"]);
  const plan2 = planRestore(manifest({ count: keyedOp(4) }), MAX, ops("count", 2, "string"), false);
  assert.deepEqual(plan2.get("count")!.map((r) => segsOf(r.keyed)), [
    ["k0.seg", "k1.seg"],
    ["k2.seg", "k3.seg"],
  ]);
  // Every new subtask's range is covered by the handles it gets.
  for (const p of [1, 2, 3, 5, 7, 128]) {
    const plan3 = planRestore(
      manifest({ count: keyedOp(3) }),
      MAX,
      ops("count", p, "string"),
      false,
    );
    plan3.get("count")!.forEach((r, i) => {
      const mine = keyGroupRangeForSubtask(MAX, p, i);
      for (let kg = mine.start; kg <= mine.end; kg++) {
        assert.ok(
          r.keyed.some((h) => h.keyGroupRange.start <= kg && kg <= h.keyGroupRange.end),
          `p=${p} subtask ${i} misses key group ${kg}`,
        );
      }
      for (const h of r.keyed) {
        assert.ok(h.keyGroupRange.start <= mine.end && mine.start <= h.keyGroupRange.end);
      }
    });
  }
});

Deno.test("planRestore: operator state is redistributed (split, union, broadcast)", () => {
  const enc = (s: string) => new TextEncoder().encode(s);
  const dec = (b: Uint8Array) => new TextDecoder().decode(b);
  const op: OperatorManifest = {
    name: "op",
    parallelism: 2,
    source: false,
    subtasks: [1, 0].map((i) => ({
      index: i,
      operatorState: encodeOperatorState({
        split: { mode: "split", typeId: "s", items: [enc(`a${i}`), enc(`b${i}`)] },
        union: { mode: "union", typeId: "s", items: [enc(`u${i}`)] },
        bc: { mode: "broadcast", typeId: "s", items: [enc("same")] },
      }),
    })),
  };
  const plan = planRestore(manifest({ op }), MAX, ops("op", 3), false).get("op")!;
  // Subtasks are ordered by index before splitting: a0 b0 a1 b1 over 3 subtasks.
  assert.deepEqual(plan.map((r) => r.operatorState.split!.items.map(dec)), [["a0", "b0"], ["a1"], [
    "b1",
  ]]);
  for (const r of plan) {
    assert.deepEqual(r.operatorState.union!.items.map(dec), ["u0", "u1"]);
    assert.deepEqual(r.operatorState.bc!.items.map(dec), ["same"]);
    assert.deepEqual(r.keyed, []);
  }
  const one = planRestore(manifest({ op }), MAX, ops("op", 1), false).get("op")!;
  assert.deepEqual(one[0]!.operatorState.split!.items.map(dec), ["a0", "b0", "a1", "b1"]);
});

Deno.test("planRestore: new operators without saved state get nothing", () => {
  const plan = planRestore(manifest({ count: keyedOp(1) }), MAX, [
    ...ops("count", 1, "string"),
    ...ops("fresh", 2),
  ], false);
  assert.equal(plan.has("fresh"), false);
});

Deno.test("adoptNameBasedUids: an earlier weir's name-made uid moves to the uid generated now, exactly", () => {
  const m = manifest({
    "count-3": keyedOp(1, "Count"),
    // A user-set uid that looks name-made: another operator of the job has it.
    "tally-5": keyedOp(1, "tally"),
    "sum-7": keyedOp(1, "Sum"),
    "sum-total-7": keyedOp(1, "sum total"),
  });
  const logged: string[] = [];
  const adopted = adoptNameBasedUids(
    m,
    [
      // Renamed since: its recorded name gives the old uid.
      { uid: "operator-3", id: 3, name: "Count words" },
      { uid: "operator-5", id: 5, name: "tally" },
      // Two entries have a name-made uid at 7 and neither is its name now: none is picked.
      { uid: "operator-7", id: 7, name: "Total" },
      { uid: "operator-8", id: 8, name: "Other" },
    ],
    new Set(["operator-3", "operator-5", "operator-7", "operator-8", "tally-5"]),
    (l) => logged.push(l),
  );
  assert.deepEqual(Object.keys(adopted.operators).sort(), [
    "operator-3",
    "sum-7",
    "sum-total-7",
    "tally-5",
  ]);
  assert.equal(adopted.operators["operator-3"], m.operators["count-3"]);
  assert.deepEqual(logged, [
    `checkpoint 9: restoring the state of operator "count-3" (a uid made from its name by an ` +
    `earlier weir) as "operator-3"`,
  ]);
  // Its name now decides between two candidates; an entry under the new uid wins outright.
  const named = adoptNameBasedUids(m, [{ uid: "operator-7", id: 7, name: "Sum" }], new Set());
  assert.deepEqual(Object.keys(named.operators).sort(), [
    "count-3",
    "operator-7",
    "sum-total-7",
    "tally-5",
  ]);
  const current = manifest({ "operator-3": keyedOp(1), "count-3": keyedOp(1, "Count") });
  assert.equal(
    adoptNameBasedUids(current, [{ uid: "operator-3", id: 3, name: "Count" }], new Set()),
    current,
  );
});
