import assert from "node:assert/strict";
import { IncompatibleStateError } from "../errors.ts";
import { ByteWriter } from "./bytes.ts";
import { ListStateDescriptor, MapStateDescriptor, ValueStateDescriptor } from "./descriptors.ts";
import { deserialize, serialize, Serializers } from "./serializer.ts";
import { decodeList, encodeList, type StateMeta } from "./state_keys.ts";
import { restoredStateMigration, stateMeta, withContents } from "./_state_migration.ts";

const { f64, i32, string } = Serializers;

Deno.test("state migration: unchanged state needs none; its meta records the schemas", () => {
  const d = new MapStateDescriptor("m", string, Serializers.record({ a: f64 }));
  const meta = stateMeta(3, d, undefined);
  assert.deepEqual(meta.schemas?.userKey, { id: "string", version: 1 });
  assert.deepEqual(meta.schemas?.value.fields, ["a"]);
  assert.equal(restoredStateMigration(meta, d, undefined, "op"), undefined);
});

Deno.test("state migration: list state migrates every element of a stored list", () => {
  const old = stateMeta(1, new ListStateDescriptor("l", i32), undefined);
  const d = new ListStateDescriptor("l", f64);
  const migrate = restoredStateMigration(old, d, undefined, "op")!;
  assert.deepEqual(decodeList(f64, migrate(encodeList(i32, [1, -2, 3]))), [1, -2, 3]);
});

Deno.test("state migration: a snapshot without schemas migrates by its type id", () => {
  const legacy: StateMeta = {
    id: 1,
    name: "v",
    kind: "value",
    typeId: "value<record<a:i32,b:string>>",
    namespace: null,
  };
  const d = new ValueStateDescriptor("v", Serializers.record({ a: f64 }));
  const migrate = restoredStateMigration(legacy, d, undefined, "op")!;
  const oldBytes = serialize(Serializers.record({ a: i32, b: string }), { a: 4, b: "x" });
  assert.deepEqual(deserialize(d.serializer, migrate(oldBytes)), { a: 4 });
});

Deno.test("state migration: map keys, kinds and namespaces cannot change", () => {
  const old = stateMeta(1, new MapStateDescriptor("m", i32, string), undefined);
  assert.throws(
    () => restoredStateMigration(old, new MapStateDescriptor("m", f64, string), undefined, "op"),
    (e: unknown) =>
      e instanceof IncompatibleStateError &&
      /state "m" of operator "op": its map key schema changed incompatibly, from i32 \(version 1\) in the snapshot to f64 \(version 1\) in the job: map keys cannot be migrated/
        .test(e.message),
  );
  assert.throws(
    () => restoredStateMigration(old, new ListStateDescriptor("m", string), undefined, "op"),
    /the snapshot holds map<i32,string> \(namespace null\), the job asks for list<string> \(namespace null\); the kind of a state and its namespace cannot change/,
  );
  assert.throws(
    () => restoredStateMigration(old, new MapStateDescriptor("m", i32, string), f64, "op"),
    /the kind of a state and its namespace cannot change/,
  );
});

Deno.test("state migration: a value that does not fit the recorded schema is a clear error", () => {
  const old = stateMeta(1, new ValueStateDescriptor("v", i32), undefined);
  const migrate = restoredStateMigration(old, new ValueStateDescriptor("v", f64), undefined, "op")!;
  const w = new ByteWriter();
  w.writeU32(1);
  w.writeU8(9);
  assert.throws(() => migrate(w.toBytes()), /a stored value has 1 bytes left after migrating it/);
});

Deno.test("state migration: a state marked with its function's kind restores only into that kind", () => {
  const d = (what: string) =>
    withContents(new ValueStateDescriptor<unknown>("window-contents", Serializers.plain), what);
  const reduce = stateMeta(1, d("reduce"), Serializers.f64);
  assert.equal(reduce.contents, "reduce");
  assert.equal(restoredStateMigration(reduce, d("reduce"), Serializers.f64, "w"), undefined);
  assert.throws(
    () => restoredStateMigration(reduce, d("aggregate"), Serializers.f64, "w"),
    (e: unknown) =>
      e instanceof IncompatibleStateError &&
      /state "window-contents" of operator "w": the snapshot holds the state of a reduce function, the job has an aggregate function under this uid/
        .test(e.message),
  );
  // A snapshot from before the mark (none recorded) restores into either, as it did.
  const { contents: _, ...older } = reduce;
  for (const what of ["reduce", "aggregate"]) {
    assert.equal(restoredStateMigration(older, d(what), Serializers.f64, "w"), undefined);
  }
  // An unmarked state records none.
  const plain = new ValueStateDescriptor<unknown>("v", Serializers.plain);
  assert.equal("contents" in stateMeta(2, plain, undefined), false);
});
