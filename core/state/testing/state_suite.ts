/**
 * A backend-agnostic test suite for keyed state: every {@linkcode StateBackend}
 * (heap, LSM, ...) must pass it, so user code behaves the same on all of them.
 *
 * @module
 */
import assert from "node:assert/strict";
import { SerializationError, StateError } from "../../errors.ts";
import type { KeyedStateBackend, StateBackend } from "../backend.ts";
import {
  AggregatingStateDescriptor,
  ListStateDescriptor,
  MapStateDescriptor,
  ReducingStateDescriptor,
  ValueStateDescriptor,
} from "../descriptors.ts";
import { keyGroupOf } from "../key_group.ts";
import { tableHash } from "../_key_table.ts";
import { serialize, type Serializer, Serializers } from "../serializer.ts";
import { StateTtlConfig } from "../ttl.ts";
import { rng } from "../../../statestore-as/_test_util.ts";

function keyed(make: () => StateBackend): KeyedStateBackend {
  return make().createKeyedBackend({
    operatorUid: "suite-op",
    subtaskIndex: 0,
    keySerializer: Serializers.key,
    maxParallelism: 128,
    keyGroupRange: { start: 0, end: 127 },
  });
}

/** A canonical form of a key, to compare key sets regardless of instance and field order. */
function canon(k: unknown): string {
  return [...serialize(Serializers.key, k)].join(",");
}

function keySet(keys: Iterable<unknown>): string[] {
  return [...keys].map(canon).sort();
}

function sortedEntries<K, V>(it: Iterable<[K, V]>): [string, V][] {
  return [...it].map(([k, v]) => [canon(k), v] as [string, V]).sort((a, b) =>
    a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0
  );
}

/**
 * Registers `Deno.test` cases that check a state backend against the keyed
 * state contract: Value, List, Map, Reducing and Aggregating state, scoping by
 * key and namespace, `keys`, `stateNames`, the errors, and a randomized
 * comparison against a model. Call it at the top level of a test module.
 *
 * @param name Prefix of every test name, e.g. `"heap"`.
 * @param makeBackend Creates a fresh backend for each test.
 *
 * Usage, at the top level of a `*_test.ts` module:
 * `runStateSuite("heap", () => new HeapStateBackend())`.
 */
export function runStateSuite(name: string, makeBackend: () => StateBackend): void {
  const test = (title: string, fn: () => void) => Deno.test(`${name}: ${title}`, fn);

  test("ValueState: default value, update, clear, update(undefined)", () => {
    const b = keyed(makeBackend);
    const withDefault = b.state(new ValueStateDescriptor("count", Serializers.f64, 0));
    const noDefault = b.state(new ValueStateDescriptor("label", Serializers.string));
    b.setCurrentKey("a");
    assert.equal(withDefault.value(), 0);
    assert.equal(noDefault.value(), undefined);
    withDefault.update(5);
    noDefault.update("");
    assert.equal(withDefault.value(), 5);
    assert.equal(noDefault.value(), "", "an empty string is a value, not an absent one");
    b.setCurrentKey("b");
    assert.equal(withDefault.value(), 0);
    assert.equal(noDefault.value(), undefined);
    b.setCurrentKey("a");
    withDefault.clear();
    assert.equal(withDefault.value(), 0);
    noDefault.update(undefined);
    assert.equal(noDefault.value(), undefined);
    assert.deepEqual([...b.keys("label")], []);
    withDefault.update(0);
    assert.deepEqual([...b.keys("count")], ["a"], "0 is stored, not treated as absent");
    b.dispose();
  });

  test("ValueState: an object default is a copy per key, so changing what value() returned changes no other key's default", () => {
    const b = keyed(makeBackend);
    const record = Serializers.record({ count: Serializers.f64 });
    const acc = b.state(new ValueStateDescriptor("acc", record, { count: 0 }));
    // Serializers.json has no copy(): the default is read back from its bytes.
    const json = b.state(
      new ValueStateDescriptor("json", Serializers.json as Serializer<{ n: number[] }>, { n: [] }),
    );
    const seen: string[] = [];
    for (const k of ["a", "b", "c", "a", "d"]) {
      b.setCurrentKey(k);
      const a = acc.value()!;
      a.count++;
      acc.update(a);
      const j = json.value()!;
      j.n.push(1);
      json.update(j);
      seen.push(`${k}=${a.count}/${j.n.length}`);
    }
    assert.deepEqual(seen, ["a=1/1", "b=1/1", "c=1/1", "a=2/2", "d=1/1"]);
    b.setCurrentKey("e");
    acc.value()!.count = 7; // changed, not updated: no state
    assert.deepEqual(acc.value(), { count: 0 });
    b.dispose();
  });

  test("null: ValueState.update(null) clears; a ListState rejects a null element, naming the state", () => {
    const b = keyed(makeBackend);
    const count = b.state(new ValueStateDescriptor("count", Serializers.f64, 0));
    const any = b.state(new ValueStateDescriptor<unknown>("any", Serializers.json));
    const list = b.state(new ListStateDescriptor("list", Serializers.f64));
    b.setCurrentKey("a");
    count.update(5);
    any.update({ x: 1 });
    count.update(null as never);
    any.update(null);
    assert.equal(count.value(), 0, "cleared: the default");
    assert.equal(any.value(), undefined);
    assert.deepEqual([...b.keys("count"), ...b.keys("any")], []);
    list.add(1);
    const rejected = (f: () => void) =>
      assert.throws(
        f,
        (e) =>
          e instanceof StateError && /cannot add (null|undefined) to a ListState/.test(e.message) &&
          e.message.includes('"list"'),
      );
    rejected(() => list.add(null as never));
    rejected(() => list.add(undefined as never));
    rejected(() => list.addAll([2, null as never]));
    rejected(() => list.update([3, null as never]));
    assert.deepEqual(list.get(), [1], "nothing of a rejected call was added");
    b.dispose();
  });

  test("ValueState: awkward values survive", () => {
    const b = keyed(makeBackend);
    const f = b.state(new ValueStateDescriptor("f", Serializers.f64));
    const big = b.state(new ValueStateDescriptor("big", Serializers.bigint));
    const obj = b.state(new ValueStateDescriptor<unknown>("obj", Serializers.json));
    const bool = b.state(new ValueStateDescriptor("bool", Serializers.boolean));
    const values = [NaN, -0, Infinity, -Infinity];
    values.forEach((v, i) => {
      b.setCurrentKey(i);
      f.update(v);
    });
    values.forEach((v, i) => {
      b.setCurrentKey(i);
      assert.ok(Object.is(f.value(), v), String(v));
    });
    b.setCurrentKey("x");
    big.update(-(2n ** 200n));
    obj.update({ nested: [1, "two", null] });
    bool.update(false);
    assert.equal(big.value(), -(2n ** 200n));
    assert.deepEqual(obj.value(), { nested: [1, "two", null] });
    assert.equal(bool.value(), false, "false is a value");
    b.dispose();
  });

  test("ListState: add, addAll, update, get, clear and the empty list", () => {
    const b = keyed(makeBackend);
    const list = b.state(new ListStateDescriptor("seen", Serializers.string));
    b.setCurrentKey("k");
    assert.deepEqual(list.get(), [], "no list yet: empty, as Flink's ListState.get()");
    list.addAll([]);
    assert.deepEqual(list.get(), [], "adding nothing creates nothing");
    assert.deepEqual([...b.keys("seen")], [], "adding nothing creates no entry");
    list.add("a");
    list.add("");
    list.addAll(["b", "c"]);
    assert.deepEqual(list.get(), ["a", "", "b", "c"]);
    const copy = list.get()!;
    copy.push("mutated");
    assert.deepEqual(list.get(), ["a", "", "b", "c"], "get() returns a copy");
    list.update(new Set(["x", "y"]));
    assert.deepEqual(list.get(), ["x", "y"]);
    b.setCurrentKey("other");
    assert.deepEqual(list.get(), []);
    for (const _ of list.get()) assert.fail("an empty list iterates nothing");
    list.add("o");
    b.setCurrentKey("k");
    list.update([]);
    assert.deepEqual(list.get(), [], "updating to [] clears");
    assert.deepEqual([...b.keys("seen")], ["other"]);
    b.setCurrentKey("other");
    list.clear();
    assert.deepEqual(list.get(), []);
    assert.deepEqual([...b.keys("seen")], []);
    b.dispose();
  });

  test("MapState: put, get, remove, contains, entries, keys, values, isEmpty, putAll, clear", () => {
    const b = keyed(makeBackend);
    const m = b.state(new MapStateDescriptor("pages", Serializers.string, Serializers.f64));
    b.setCurrentKey("user");
    assert.ok(m.isEmpty());
    assert.equal(m.get("p"), undefined);
    assert.equal(m.contains("p"), false);
    assert.deepEqual([...m.entries()], []);
    m.put("p", 1);
    m.put("", 0);
    m.put("p", 2);
    assert.equal(m.get("p"), 2);
    assert.equal(m.get(""), 0);
    assert.ok(m.contains(""), "a zero value is contained");
    assert.ok(!m.isEmpty());
    m.putAll([["q", 3], ["r", 4]]);
    m.putAll(new Map([["s", 5]]));
    assert.deepEqual(
      sortedEntries(m.entries()),
      sortedEntries([["", 0], ["p", 2], ["q", 3], [
        "r",
        4,
      ], ["s", 5]]),
    );
    assert.deepEqual([...m.keys()].sort(), ["", "p", "q", "r", "s"]);
    assert.deepEqual([...m.values()].sort(), [0, 2, 3, 4, 5]);
    m.remove("q");
    m.remove("missing");
    assert.equal(m.contains("q"), false);
    assert.equal(m.get("q"), undefined);
    // Iterators are snapshots: mutating during iteration is safe.
    for (const k of m.keys()) m.remove(k);
    assert.ok(m.isEmpty());
    assert.deepEqual([...b.keys("pages")], [], "a key with an empty map has no state");
    m.put("z", 9);
    b.setCurrentKey("user2");
    assert.ok(m.isEmpty(), "maps are per key");
    m.put("z", 1);
    b.setCurrentKey("user");
    m.clear();
    assert.ok(m.isEmpty());
    b.setCurrentKey("user2");
    assert.equal(m.get("z"), 1);
    assert.deepEqual([...b.keys("pages")], ["user2"]);
    b.dispose();
  });

  test("MapState: f64 user keys 0 and -0 are one user key, 0", () => {
    const b = keyed(makeBackend);
    const m = b.state(new MapStateDescriptor("m", Serializers.f64, Serializers.f64));
    b.setCurrentKey("u");
    m.put(-0, 1);
    m.put(0, 2);
    assert.equal(m.get(-0), 2);
    assert.equal(m.get(0), 2);
    const keys = [...m.keys()];
    assert.equal(keys.length, 1);
    assert.ok(Object.is(keys[0], 0), "the key is 0, whichever was put first");
    m.remove(-0);
    assert.ok(m.isEmpty());
    b.dispose();
  });

  test("MapState: composite user keys compare by value", () => {
    const b = keyed(makeBackend);
    const m = b.state(
      new MapStateDescriptor<unknown, string>("m", Serializers.key, Serializers.string),
    );
    b.setCurrentKey(1);
    m.put(["a", 1], "array");
    m.put({ x: 1, y: [2, 3] }, "object");
    m.put(-0, "zero");
    assert.equal(m.get(["a", 1]), "array", "a new array instance finds the entry");
    assert.equal(m.get({ y: [2, 3], x: 1 }), "object", "field order is irrelevant");
    assert.equal(m.get(0), "zero", "-0 and 0 are one key");
    assert.ok(m.contains(["a", 1]));
    assert.equal(m.get(["a", 2]), undefined);
    m.put(["a", 1], "replaced");
    assert.equal([...m.keys()].length, 3);
    assert.equal(m.get(["a", 1]), "replaced");
    m.remove({ y: [2, 3], x: 1 });
    assert.equal(m.contains({ x: 1, y: [2, 3] }), false);
    b.dispose();
  });

  test("ReducingState: reduces every add, per key", () => {
    const b = keyed(makeBackend);
    const max = b.state(new ReducingStateDescriptor("max", Math.max, Serializers.f64));
    b.setCurrentKey("a");
    assert.equal(max.get(), undefined);
    for (const v of [3, 9, -1, 4]) max.add(v);
    assert.equal(max.get(), 9);
    b.setCurrentKey("b");
    assert.equal(max.get(), undefined);
    max.add(-5);
    assert.equal(max.get(), -5);
    b.setCurrentKey("a");
    max.clear();
    assert.equal(max.get(), undefined);
    max.add(1);
    assert.equal(max.get(), 1);
    b.dispose();
  });

  test("AggregatingState: accumulates and reports the result", () => {
    const b = keyed(makeBackend);
    const avg = b.state(
      new AggregatingStateDescriptor(
        "avg",
        {
          createAccumulator: (): [number, number] => [0, 0],
          add: (v: number, [s, n]: [number, number]): [number, number] => [s + v, n + 1],
          getResult: ([s, n]: [number, number]) => s / n,
        },
        Serializers.tuple(Serializers.f64, Serializers.f64),
      ),
    );
    b.setCurrentKey("a");
    assert.equal(avg.get(), undefined);
    avg.add(2);
    avg.add(4);
    assert.equal(avg.get(), 3);
    b.setCurrentKey("b");
    avg.add(10);
    assert.equal(avg.get(), 10);
    b.setCurrentKey("a");
    avg.clear();
    assert.equal(avg.get(), undefined);
    avg.add(1);
    assert.equal(avg.get(), 1);
    b.dispose();
  });

  test("keys are scoped by value: composite keys, field order, -0", () => {
    const b = keyed(makeBackend);
    const v = b.state(new ValueStateDescriptor("v", Serializers.string));
    b.setCurrentKey(["user", 1]);
    v.update("array key");
    b.setCurrentKey({ a: 1, b: "x" });
    v.update("object key");
    b.setCurrentKey(0);
    v.update("zero");
    b.setCurrentKey(["user", 1]);
    assert.equal(v.value(), "array key");
    b.setCurrentKey({ b: "x", a: 1 });
    assert.equal(v.value(), "object key");
    b.setCurrentKey(-0);
    assert.equal(v.value(), "zero");
    b.setCurrentKey("0");
    assert.equal(v.value(), undefined, "the string '0' is not the number 0");
    b.setCurrentKey(0n);
    assert.equal(v.value(), undefined, "0n is not 0");
    assert.deepEqual(keySet(b.keys("v")), keySet([["user", 1], { a: 1, b: "x" }, 0]));
    b.setCurrentKey(["user", 1]);
    assert.deepEqual(b.currentKey(), ["user", 1]);
    b.dispose();
  });

  test("keys and values keep lone surrogates: keys that differ only there are two keys", () => {
    const b = keyed(makeBackend);
    const v = b.state(new ValueStateDescriptor("v", Serializers.string));
    const keys = ["k\uD800", "k\uDBFF", "k\uFFFD", "k\uD83D\uDE00"];
    for (const k of keys) {
      b.setCurrentKey(k);
      v.update(`${k}|\uDC00`);
    }
    for (const k of keys) {
      b.setCurrentKey(k);
      assert.equal(v.value(), `${k}|\uDC00`);
    }
    assert.deepEqual(keySet(b.keys("v")), keySet(keys));
    b.dispose();
  });

  test("a key made current with its group and hash (as a channel sends them) is the key made current without", () => {
    const b = keyed(makeBackend);
    const v = b.state(new ValueStateDescriptor("v", Serializers.f64));
    const m = b.state(new MapStateDescriptor("m", Serializers.string, Serializers.f64));
    const keys: unknown[] = ["", "a", "user-7", "naïve", "k".repeat(64), "k".repeat(65), 7, -0.5];
    for (let i = 0; i < 300; i++) keys.push(`user-${i * 7919}`, i * 31);
    keys.push(["a", 1], { id: 3 });
    const group = (k: unknown) => keyGroupOf(serialize(Serializers.key, k), 128);
    // Written with them for even keys and without for odd ones, read back the other way, then
    // written again and read: each key's state is one, in whichever way it was set.
    for (const [pass, givenWhen] of [[0, 0], [1, 1], [2, 0]] as const) {
      for (const [i, k] of keys.entries()) {
        if (i % 2 === givenWhen) b.setCurrentKey(k, group(k), tableHash(k));
        else b.setCurrentKey(k);
        if (pass === 0) {
          assert.equal(v.value(), undefined);
          v.update(i);
          m.put("i", i);
        } else {
          assert.equal(v.value(), i + pass - 1, `${String(k)}, pass ${pass}`);
          assert.equal(m.get("i"), i + pass - 1);
          v.update(i + pass);
          m.put("i", i + pass);
        }
        b.endKeyedCall();
      }
    }
    assert.deepEqual(keySet(b.keys("v")), keySet(keys));
    b.dispose();
  });

  test("namespaces scope state within a key", () => {
    const b = keyed(makeBackend);
    const v = b.state(new ValueStateDescriptor("sum", Serializers.f64, 0), Serializers.string);
    const l = b.state(new ListStateDescriptor("items", Serializers.f64), Serializers.key);
    b.setCurrentKey("k");
    v.setNamespace("w1");
    v.update(1);
    v.setNamespace("w2");
    assert.equal(v.value(), 0);
    v.update(2);
    v.setNamespace("w1");
    assert.equal(v.value(), 1);
    b.setCurrentKey("j");
    assert.equal(v.value(), 0);
    v.update(7);
    // keys() spans namespaces and lists each key once.
    assert.deepEqual([...b.keys("sum")].sort(), ["j", "k"]);
    b.setCurrentKey("k");
    v.setNamespace("w2");
    v.clear();
    v.setNamespace("w1");
    assert.equal(v.value(), 1, "clearing one namespace keeps the others");
    // Composite namespaces (e.g. windows) compare by value.
    l.setNamespace([0, 10]);
    l.add(1);
    l.setNamespace([0, 10]);
    l.add(2);
    l.setNamespace([10, 20]);
    assert.deepEqual(l.get(), []);
    l.setNamespace([0, 10]);
    assert.deepEqual(l.get(), [1, 2]);
    b.dispose();
  });

  test("keys(name) and stateNames()", () => {
    const b = keyed(makeBackend);
    assert.deepEqual(b.stateNames(), []);
    assert.deepEqual([...b.keys("nothing")], []);
    const a = b.state(new ValueStateDescriptor("a", Serializers.f64));
    b.state(new ListStateDescriptor("b", Serializers.f64));
    const again = b.state(new ValueStateDescriptor("a", Serializers.f64));
    assert.deepEqual(b.stateNames().sort(), ["a", "b"]);
    for (let i = 0; i < 50; i++) {
      b.setCurrentKey(`k${i}`);
      a.update(i);
    }
    b.setCurrentKey("k3");
    assert.equal(again.value(), 3, "registering a name twice gives the same state");
    assert.equal(new Set(b.keys("a")).size, 50);
    assert.deepEqual([...b.keys("b")], []);
    b.dispose();
  });

  test("errors: state without a current key throws StateError", () => {
    const b = keyed(makeBackend);
    const v = b.state(new ValueStateDescriptor("v", Serializers.f64));
    const l = b.state(new ListStateDescriptor("l", Serializers.f64));
    const m = b.state(new MapStateDescriptor("m", Serializers.string, Serializers.f64));
    const calls: [string, () => unknown][] = [
      ["value", () => v.value()],
      ["update", () => v.update(1)],
      ["clear", () => v.clear()],
      ["list add", () => l.add(1)],
      ["list get", () => l.get()],
      ["map put", () => m.put("a", 1)],
      ["map get", () => m.get("a")],
      ["currentKey", () => b.currentKey()],
    ];
    const check = () => {
      for (const [what, call] of calls) {
        assert.throws(
          call,
          (e: unknown) => e instanceof StateError && /keyed context/.test(e.message),
          what,
        );
      }
    };
    check(); // before any state exists

    b.setCurrentKey("a");
    v.update(1);
    b.clearCurrentKey();
    check();
    b.dispose();
  });

  test("errors: state used after the keyed call ended throws, naming the state and operator", () => {
    const b = keyed(makeBackend);
    const v = b.state(new ValueStateDescriptor("count", Serializers.f64, 0));
    const l = b.state(new ListStateDescriptor("seen", Serializers.string));
    const m = b.state(new MapStateDescriptor("last", Serializers.string, Serializers.f64));
    const r = b.state(
      new ReducingStateDescriptor("max", (x: number, y: number) => Math.max(x, y), Serializers.f64),
    );
    const calls: [string, string, () => unknown][] = [
      ["count", "value", () => v.value()],
      ["count", "update", () => v.update(7)],
      ["count", "clear", () => v.clear()],
      ["seen", "list add", () => l.add("x")],
      ["seen", "list get", () => l.get()],
      ["last", "map put", () => m.put("x", 1)],
      ["last", "map get", () => m.get("x")],
      ["max", "reducing add", () => r.add(1)],
    ];
    const write = (key: string, n: number) => {
      b.setCurrentKey(key);
      v.update(n);
      l.add(key);
      m.put(key, n);
      r.add(n);
    };
    write("a", 1);
    b.endKeyedCall();
    for (const [name, what, call] of calls) {
      assert.throws(
        call,
        (e: unknown) =>
          e instanceof StateError && e.message.includes(`"${name}"`) &&
          e.message.includes('"suite-op"') && /after the call that set its key/.test(e.message),
        what,
      );
    }
    assert.throws(() => b.currentKey(), StateError);
    // Nothing was written by the refused calls, and the next call's key works again:
    // the same key (its bytes reused), then another one, then the first again.
    b.setCurrentKey("a");
    assert.deepEqual([v.value(), l.get(), m.get("a"), r.get()], [1, ["a"], 1, 1]);
    b.endKeyedCall();
    write("b", 2);
    b.endKeyedCall();
    b.setCurrentKey("a");
    assert.deepEqual([v.value(), l.get(), m.get("b"), r.get()], [1, ["a"], undefined, 1]);
    l.add("a2");
    b.setCurrentKey("b");
    assert.deepEqual([v.value(), l.get(), m.get("b"), r.get()], [2, ["b"], 2, 2]);
    b.endKeyedCall();
    b.setCurrentKey(["a", 1]); // an object key: serialized on every set
    v.update(3);
    b.endKeyedCall();
    b.setCurrentKey("a");
    assert.deepEqual(l.get(), ["a", "a2"]);
    b.setCurrentKey(["a", 1]);
    assert.equal(v.value(), 3);
    // clearCurrentKey (no keyed context at all) keeps the general message.
    b.clearCurrentKey();
    assert.throws(
      () => v.value(),
      (e: unknown) => e instanceof StateError && /keyed context/.test(e.message),
    );
    b.dispose();
  });

  test("errors: one name registered with another type throws StateError", () => {
    const b = keyed(makeBackend);
    b.state(new ValueStateDescriptor("s", Serializers.f64));
    const clashes = [
      new ValueStateDescriptor("s", Serializers.string),
      new ListStateDescriptor("s", Serializers.f64),
      new MapStateDescriptor("s", Serializers.string, Serializers.f64),
      new ReducingStateDescriptor("s", (x: number, y: number) => x + y, Serializers.f64),
    ];
    for (const d of clashes) {
      assert.throws(
        () => b.state(d),
        (e: unknown) =>
          e instanceof StateError && e.message.includes('"s"') &&
          e.message.includes("value<f64>") && e.message.includes(d.typeId()),
        d.typeId(),
      );
    }
    b.dispose();
  });

  test("errors: one name registered with and without namespaces throws StateError", () => {
    const b = keyed(makeBackend);
    b.state(new ValueStateDescriptor("global", Serializers.f64));
    b.state(new ValueStateDescriptor("windowed", Serializers.f64), Serializers.f64);
    const ttlDescriptor = new ValueStateDescriptor("ttl", Serializers.f64);
    ttlDescriptor.enableTimeToLive(StateTtlConfig.newBuilder(60_000).build());
    b.state(ttlDescriptor, Serializers.f64);
    const clashes: [() => unknown, string, string][] = [
      [
        () => b.state(new ValueStateDescriptor("global", Serializers.f64), Serializers.f64),
        "global",
        "per key;",
      ],
      [
        () => b.state(new ValueStateDescriptor("windowed", Serializers.f64)),
        "windowed",
        "per key and namespace f64;",
      ],
      [() => b.state(ttlDescriptor), "ttl", "per key and namespace f64;"],
    ];
    for (const [register, stateName, registered] of clashes) {
      assert.throws(
        register,
        (e: unknown) =>
          e instanceof StateError && e.message.includes(`"${stateName}"`) &&
          e.message.includes(`registered ${registered}`) && /names of their own/.test(e.message),
        stateName,
      );
    }
    b.dispose();
  });

  test("errors: an unserializable key is rejected with a clear message", () => {
    const b = keyed(makeBackend);
    const v = b.state(new ValueStateDescriptor("v", Serializers.f64));
    const m = b.state(
      new MapStateDescriptor<unknown, number>("m", Serializers.key, Serializers.f64),
    );
    const bad: [string, unknown][] = [
      ["function", () => 1],
      ["symbol", Symbol("k")],
      ["undefined", undefined],
      ["null", null],
      ["Date", new Date(0)],
      ["array with a function", ["a", () => 1]],
    ];
    const rejected = (what: string) => (e: unknown) =>
      (e instanceof SerializationError || e instanceof StateError) &&
      /key/i.test(e.message) && e.message.length > 20 && !!what;
    for (const [what, key] of bad) {
      assert.throws(
        () => {
          b.setCurrentKey(key);
          v.update(1);
        },
        rejected(what),
        `current key: ${what}`,
      );
    }
    b.setCurrentKey("fine");
    for (const [what, key] of bad) {
      assert.throws(() => m.put(key, 1), rejected(what), `map key: ${what}`);
    }
    assert.ok(m.isEmpty());
    // The rejected keys left no state behind.
    assert.deepEqual([...b.keys("v")], []);
    b.dispose();
  });

  test("property: random operations over random keys match a Map model", () => {
    // Keys come in equivalence classes (fresh instances, other field order, -0).
    const pool: [string, (r: () => number) => unknown][] = [
      ["s:a", () => "a"],
      ["s:", () => ""],
      ["n:0", (r) => (r() < 0.5 ? 0 : -0)],
      ["n:1.5", () => 1.5],
      ["b:7", () => 7n],
      ["t", () => true],
      ["arr", () => ["x", 1, [true]]],
      ["obj", (r) => (r() < 0.5 ? { p: 1, q: "z" } : { q: "z", p: 1 })],
    ];
    const userKeys = ["u1", "u2", "u3", ""];
    const namespaces = ["n1", "n2"];
    for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
      const rand = rng(seed);
      const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
      const b = keyed(makeBackend);
      const value = b.state(new ValueStateDescriptor("value", Serializers.f64, -1));
      const list = b.state(new ListStateDescriptor("list", Serializers.f64));
      const map = b.state(new MapStateDescriptor("map", Serializers.string, Serializers.f64));
      const nsValue = b.state(
        new ValueStateDescriptor("ns", Serializers.string),
        Serializers.string,
      );
      const mValue = new Map<string, number>();
      const mList = new Map<string, number[]>();
      const mMap = new Map<string, Map<string, number>>();
      const mNs = new Map<string, string>();
      let key = pool[0]![0];
      let ns = namespaces[0]!;
      b.setCurrentKey(pool[0]![1](rand));
      nsValue.setNamespace(ns);
      for (let step = 0; step < 3000; step++) {
        const op = Math.floor(rand() * 12);
        const n = Math.floor(rand() * 100);
        switch (op) {
          case 0: {
            const [id, make] = pick(pool);
            key = id;
            b.setCurrentKey(make(rand));
            break;
          }
          case 1:
            value.update(n);
            mValue.set(key, n);
            break;
          case 2:
            if (rand() < 0.5) value.clear();
            else value.update(undefined);
            mValue.delete(key);
            break;
          case 3:
            list.add(n);
            mList.set(key, [...(mList.get(key) ?? []), n]);
            break;
          case 4: {
            const items = Array.from({ length: Math.floor(rand() * 3) }, () => n);
            list.update(items);
            if (items.length) mList.set(key, items);
            else mList.delete(key);
            break;
          }
          case 5:
            list.clear();
            mList.delete(key);
            break;
          case 6: {
            const uk = pick(userKeys);
            map.put(uk, n);
            const mm = mMap.get(key) ?? new Map();
            mm.set(uk, n);
            mMap.set(key, mm);
            break;
          }
          case 7: {
            const uk = pick(userKeys);
            map.remove(uk);
            mMap.get(key)?.delete(uk);
            if (mMap.get(key)?.size === 0) mMap.delete(key);
            break;
          }
          case 8:
            map.clear();
            mMap.delete(key);
            break;
          case 9:
            ns = pick(namespaces);
            nsValue.setNamespace(ns);
            break;
          case 10:
            nsValue.update(`${n}`);
            mNs.set(`${key}|${ns}`, `${n}`);
            break;
          case 11:
            nsValue.clear();
            mNs.delete(`${key}|${ns}`);
            break;
        }
        // Check the current key after every step.
        const where = `seed ${seed} step ${step} key ${key}`;
        assert.equal(value.value(), mValue.get(key) ?? -1, where);
        assert.deepEqual(list.get(), mList.get(key) ?? [], where);
        const mm = mMap.get(key);
        assert.equal(map.isEmpty(), mm === undefined, where);
        for (const uk of userKeys) assert.equal(map.get(uk), mm?.get(uk), where);
        assert.equal(nsValue.value(), mNs.get(`${key}|${ns}`), where);
      }
      // Every key's state, and keys(name), at the end.
      const ids = (m: Map<string, unknown>) => [...m.keys()].sort();
      const backendIds = (name: string) => {
        const byCanon = new Map(pool.map(([id, make]) => [canon(make(rand)), id]));
        return [...b.keys(name)].map((k) => byCanon.get(canon(k))!).sort();
      };
      assert.deepEqual(backendIds("value"), ids(mValue), `seed ${seed}: keys(value)`);
      assert.deepEqual(backendIds("list"), ids(mList), `seed ${seed}: keys(list)`);
      assert.deepEqual(backendIds("map"), ids(mMap), `seed ${seed}: keys(map)`);
      const nsKeys = [...new Set([...mNs.keys()].map((k) => k.split("|")[0]!))].sort();
      assert.deepEqual(backendIds("ns"), nsKeys, `seed ${seed}: keys(ns)`);
      for (const [id, make] of pool) {
        b.setCurrentKey(make(rand));
        assert.equal(value.value(), mValue.get(id) ?? -1);
        assert.deepEqual(list.get(), mList.get(id) ?? []);
        assert.deepEqual(
          sortedEntries(map.entries()),
          sortedEntries(mMap.get(id) ?? new Map<string, number>()),
        );
      }
      b.dispose();
    }
  });
}
