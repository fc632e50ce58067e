import assert from "node:assert/strict";
import { planRetention } from "./retention.ts";
import { rng } from "../../tests/_helpers/queue_source.ts";

const sets = (o: Record<number, string[]>) =>
  new Map(Object.entries(o).map(([k, v]) => [Number(k), new Set(v)]));

Deno.test("retention: keeps the newest N, deletes the rest and unreferenced segments", () => {
  const plan = planRetention({
    completed: sets({ 3: ["a", "b"], 1: ["x", "a"], 2: ["a", "c"] }),
    retain: 2,
    live: new Set(),
    onDisk: ["a", "b", "c", "x", "orphan"],
  });
  assert.deepEqual(plan.checkpoints, [1]);
  assert.deepEqual(plan.segments.sort(), ["orphan", "x"]);
});

Deno.test("retention: live segments and segments shared with kept checkpoints survive", () => {
  const plan = planRetention({
    completed: sets({ 1: ["a", "b"], 2: ["b"] }),
    retain: 1,
    live: new Set(["a", "new"]),
    onDisk: ["a", "b", "new"],
  });
  assert.deepEqual(plan.checkpoints, [1]);
  assert.deepEqual(plan.segments, []);
});

Deno.test("retention: retain < 1 still keeps the newest checkpoint", () => {
  const plan = planRetention({
    completed: sets({ 1: ["a"], 2: ["b"] }),
    retain: 0,
    live: new Set(),
    onDisk: ["a", "b"],
  });
  assert.deepEqual(plan.checkpoints, [1]);
  assert.deepEqual(plan.segments, ["a"]);
});

Deno.test("retention: no checkpoints deletes only what no backend uses", () => {
  const plan = planRetention({
    completed: new Map(),
    retain: 3,
    live: new Set(["a"]),
    onDisk: ["a", "b"],
  });
  assert.deepEqual(plan, { checkpoints: [], segments: ["b"] });
});

Deno.test("retention: random histories never delete a needed segment", () => {
  const r = rng(7);
  for (let round = 0; round < 300; round++) {
    const names = Array.from({ length: 12 }, (_, i) => `s${i}`);
    const pick = () => new Set(names.filter(() => r() < 0.3));
    const completed = new Map<number, Set<string>>();
    const n = Math.floor(r() * 6);
    for (let i = 0; i < n; i++) completed.set(Math.floor(r() * 50), pick());
    const live = pick();
    const retain = 1 + Math.floor(r() * 3);
    const plan = planRetention({ completed, retain, live, onDisk: names });
    const ids = [...completed.keys()].sort((a, b) => a - b);
    const kept = ids.filter((id) => !plan.checkpoints.includes(id));
    assert.equal(kept.length, Math.min(ids.length, retain));
    assert.deepEqual(kept, ids.slice(ids.length - kept.length), "the newest are kept");
    const deleted = new Set(plan.segments);
    for (const s of live) assert.ok(!deleted.has(s), `live ${s} deleted`);
    for (const id of kept) {
      for (const s of completed.get(id)!) assert.ok(!deleted.has(s), `${s} of kept ${id} deleted`);
    }
    // Everything else is collected.
    const needed = new Set([...live, ...kept.flatMap((id) => [...completed.get(id)!])]);
    assert.deepEqual(plan.segments, names.filter((s) => !needed.has(s)));
  }
});
