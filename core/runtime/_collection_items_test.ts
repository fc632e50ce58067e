import assert from "node:assert/strict";
import { ArraySource, IterableSource } from "../connectors/collection_source.ts";
import { ConfigError } from "../errors.ts";
import type { Transformation } from "./graph.ts";
import type { PhysicalPlan } from "./physical_plan.ts";
import {
  adoptCollectionItems,
  collectionItemsForWorkers,
  valuesDigest,
} from "./_collection_items.ts";

class Point {
  constructor(readonly x: number) {}
}

Deno.test("valuesDigest: the same values give the same digest; any difference another", () => {
  const build = () => {
    const shared = { k: 1 };
    return [
      "s",
      0,
      -0,
      10n,
      true,
      null,
      undefined,
      new Date(5),
      new Uint8Array([1, 2, 3]),
      new Map([["a", [shared, shared]]]),
      new Set([1, 2]),
      new Point(3),
      { nested: { list: [1, { deep: "x" }] } },
    ];
  };
  assert.equal(valuesDigest(build()), valuesDigest(build()));
  const variants: ((v: unknown[]) => void)[] = [
    (v) => v.reverse(),
    (v) => (v[2] = 0), // -0 is not 0
    (v) => (v[3] = 11n),
    (v) => (v[7] = new Date(6)),
    (v) => ((v[8] as Uint8Array)[2] = 4),
    (v) => (v[9] as Map<string, unknown>).set("b", 1),
    (v) => (v[11] = { x: 3 }), // a plain object is not a Point
    (
      v,
    ) => (((v[12] as { nested: { list: unknown[] } }).nested.list[1] as { deep: string }).deep =
      "y"),
    (v) => v.pop(),
  ];
  for (const change of variants) {
    const v = build();
    change(v);
    assert.notEqual(valuesDigest(v), valuesDigest(build()), String(change));
  }
  assert.notEqual(valuesDigest(["ab", "c"]), valuesDigest(["a", "bc"]));
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  assert.equal(valuesDigest([cyclic]), valuesDigest([cyclic]));
});

/** A plan and nodes of one array source (vertex 0) whose two subtasks run on workers 0 and 1. */
function oneSource(items: unknown[], outputSerializer?: unknown) {
  const node = {
    id: 0,
    name: "Collection Source",
    source: new ArraySource(items),
    ...(outputSerializer ? { outputSerializer } : {}),
  } as unknown as Transformation;
  const plan = {
    vertices: [{ id: 0, uid: "numbers", chain: 0 }],
    tasks: [{ id: 0, chain: 0 }, { id: 1, chain: 0 }],
  } as unknown as PhysicalPlan;
  return { node, plan };
}

Deno.test("collection items: a worker reads the main thread's items, whatever it built itself", () => {
  const main = oneSource(["a", new Date(1), 2n]);
  const shipped = collectionItemsForWorkers([main.node], main.plan, [0, 1], 2);
  assert.ok(shipped.every((w) => "encoded" in w[0]!));
  const worker = oneSource([]);
  adoptCollectionItems([worker.node], worker.plan, shipped[1]!, 1);
  assert.deepEqual((worker.node.source as ArraySource<unknown>).items, ["a", new Date(1), 2n]);
});

Deno.test("collection items: items no serializer carries are checked by digest, and a difference names the source", () => {
  const main = oneSource([new Point(1), new Point(2)]);
  const shipped = collectionItemsForWorkers([main.node], main.plan, [0, 0], 2);
  assert.deepEqual(shipped[1], {}, "worker 1 runs none of its subtasks");
  assert.ok("digest" in shipped[0]![0]!);
  const alike = oneSource([new Point(1), new Point(2)]);
  adoptCollectionItems([alike.node], alike.plan, shipped[0]!, 0);
  assert.ok((alike.node.source as ArraySource<Point>).items[0] instanceof Point, "kept its own");
  const other = oneSource([new Point(1)]);
  assert.throws(
    () => adoptCollectionItems([other.node], other.plan, shipped[0]!, 0),
    (e: Error) =>
      e instanceof ConfigError &&
      e.message.startsWith(
        `The items of "Collection Source" [uid numbers] built in worker 0 differ from the main ` +
          `thread's (1 items`,
      ),
  );
});

Deno.test("collection items: the source's own serializer carries what the plain one cannot", () => {
  const point = {
    id: "point",
    version: 1,
    write: (p: Point, out: { writeF64(n: number): void }) => out.writeF64(p.x),
    read: (input: { readF64(): number }) => new Point(input.readF64()),
  };
  const main = oneSource([new Point(4)], point);
  const shipped = collectionItemsForWorkers([main.node], main.plan, [0, 1], 2);
  const worker = oneSource([], point);
  adoptCollectionItems([worker.node], worker.plan, shipped[0]!, 0);
  const [p] = (worker.node.source as ArraySource<Point>).items;
  assert.ok(p instanceof Point && p.x === 4);
});

Deno.test("collection items: a Set or Map given to fromCollection goes as its items; other iterables as the worker built them", async () => {
  const node = (iterable: Iterable<unknown>) =>
    ({
      id: 0,
      name: "Collection Source",
      source: new IterableSource(iterable),
    }) as unknown as Transformation;
  const { plan } = oneSource([]);
  const shipped = collectionItemsForWorkers([node(new Set(["a", "b"]))], plan, [0, 0], 1);
  assert.ok("encoded" in shipped[0]![0]!);
  const worker = node(new Set());
  adoptCollectionItems([worker], plan, shipped[0]!, 0);
  const reader = worker.source!.createReader({ subtaskIndex: 0, parallelism: 1, now: () => 0 });
  const out: unknown[] = [];
  await reader.poll({ collect: (v) => out.push(v) }, 10);
  assert.deepEqual(out, ["a", "b"]);

  function* generated() {
    yield 1;
  }
  assert.deepEqual(collectionItemsForWorkers([node(generated())], plan, [0, 0], 1), [{}]);
});
