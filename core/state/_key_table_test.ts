import assert from "node:assert/strict";
import { KeyTable } from "./_key_table.ts";

/** A seeded generator, so a failing sequence repeats. */
function random(seed: number): () => number {
  return () => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed / 2 ** 32;
  };
}

/** Keys of every route: short and long strings (new objects each time), numbers, objects. */
function keyPool(): unknown[] {
  const obj = { id: 1 };
  const keys: unknown[] = [obj, 0, -0, 1, NaN, 2n, true, null, undefined, "", "x".repeat(64)];
  for (let i = 0; i < 40; i++) keys.push(`user-${i}`, `long-${i}-${"y".repeat(70)}`, i + 0.5);
  return keys;
}

/** A fresh copy of a string key: equal, but a different string object. */
function fresh(k: unknown): unknown {
  return typeof k === "string" ? [...k].join("") : k;
}

function checkAgainstMap(
  table: KeyTable,
  steps: number,
  seed: number,
  keys: unknown[] = keyPool(),
): void {
  const model = new Map<unknown, unknown>();
  const next = random(seed);
  for (let step = 0; step < steps; step++) {
    const key = fresh(keys[Math.floor(next() * keys.length)]);
    const op = next();
    if (op < 0.5) {
      table.set(key, step);
      model.set(key, step);
    } else if (op < 0.75) {
      assert.equal(table.delete(key), model.delete(key), `delete ${String(key)} at step ${step}`);
    } else {
      assert.equal(table.get(key), model.get(key), `get ${String(key)} at step ${step}`);
      assert.equal(table.has(key), model.has(key), `has ${String(key)} at step ${step}`);
    }
    assert.equal(table.size, model.size, `size at step ${step}`);
  }
  const entries = [...table];
  const forEach: [unknown, unknown][] = [];
  table.forEach((v, k) => forEach.push([k, v]));
  assert.deepEqual(forEach, entries);
  assert.deepEqual([...table.keys()], entries.map(([k]) => k));
  // The model's order puts strings and other keys together; the table's strings come first.
  const strings = (e: [unknown, unknown]) => typeof e[0] === "string" && e[0].length <= 64;
  const model_ = [...model];
  assert.deepEqual(entries, [...model_.filter(strings), ...model_.filter((e) => !strings(e))]);
}

Deno.test("KeyTable keeps what a Map keeps, for strings short and long, numbers and objects", () => {
  for (let seed = 1; seed <= 20; seed++) checkAgainstMap(new KeyTable(), 2000, seed);
});

Deno.test("KeyTable keeps colliding string keys apart (every key one hash)", () => {
  for (let seed = 1; seed <= 20; seed++) checkAgainstMap(new KeyTable(() => 7), 2000, seed);
  for (let seed = 1; seed <= 5; seed++) {
    checkAgainstMap(new KeyTable((s) => s.length % 3), 2000, seed);
  }
});

Deno.test("KeyTable: a key read or written again right away (the entry it remembers) stays correct", () => {
  // Three keys, so the same key often comes twice in a row, across sets, gets and deletes.
  const few = ["a", "b", "c"];
  for (const hash of [undefined, () => 7]) {
    for (let seed = 1; seed <= 20; seed++) {
      checkAgainstMap(new KeyTable(hash), 500, seed, few);
    }
  }
  const t = new KeyTable();
  t.set("k", 1);
  assert.equal(t.get("k"), 1);
  assert.ok(t.delete("k"));
  t.set("k", 2); // after its remembered entry was deleted: a new entry
  assert.equal(t.size, 1);
  assert.deepEqual([...t], [["k", 2]]);
});

Deno.test("KeyTable: colliding keys iterate in insertion order; removing one keeps the rest findable", () => {
  const t = new KeyTable((s) => s.length);
  for (const k of ["a", "bb", "c", "dd", "e"]) t.set(k, k.toUpperCase());
  assert.deepEqual([...t.keys()], ["a", "bb", "c", "dd", "e"]);
  assert.ok(t.delete("a")); // the first of a probe run: the others shift back
  assert.ok(t.delete("e")); // the last
  assert.equal(t.delete("e"), false);
  assert.deepEqual([...t], [["bb", "BB"], ["c", "C"], ["dd", "DD"]]);
  assert.equal(t.get("c"), "C");
  t.set("a", "again");
  assert.deepEqual([...t.keys()], ["bb", "c", "dd", "a"]);
  assert.equal(t.size, 4);
});

Deno.test("KeyTable: an iteration suspended while most entries are deleted and others added goes on as a Map's", () => {
  // A TTL cleanup keeps its cursor over a table between records while keys come and go; deletes
  // beyond the live entries compact the table under it.
  for (const hash of [undefined, () => 3, (s: string) => s.length]) {
    for (let seed = 1; seed <= 10; seed++) {
      const next = random(seed);
      const table = new KeyTable(hash);
      const model = new Map<unknown, unknown>();
      for (let i = 0; i < 200; i++) {
        table.set(`k${i}`, i);
        model.set(`k${i}`, i);
      }
      const a = table.entries(), b = model.entries();
      for (let step = 0; step < 3000; step++) {
        const key = `k${Math.floor(next() * 400)}`;
        const op = next();
        if (op < 0.45) {
          assert.equal(table.delete(key), model.delete(key));
        } else if (op < 0.75) {
          table.set(key, step);
          model.set(key, step);
        } else {
          const x = a.next(), y = b.next();
          assert.deepEqual(x, y, `seed ${seed} step ${step}`);
          if (y.done) break;
        }
      }
      assert.deepEqual([...{ [Symbol.iterator]: () => a }], [...{ [Symbol.iterator]: () => b }]);
      assert.deepEqual([...table], [...model]);
    }
  }
});

Deno.test("KeyTable: deleting entries while iterating goes on with the rest, as over a Map", () => {
  for (const hash of [undefined, () => 1]) {
    const t = new KeyTable(hash);
    for (let i = 0; i < 10; i++) t.set(`k${i}`, i);
    const seen: unknown[] = [];
    for (const k of t.keys()) {
      seen.push(k);
      t.delete(k); // the current entry
      t.delete(`k${Number(String(k).slice(1)) + 1}`); // and the next one
    }
    assert.deepEqual(seen.length, 5);
    assert.equal(t.size, 0);
    assert.deepEqual([...t], []);
  }
});

Deno.test("KeyTable finds a key from an equal string that is another object", () => {
  const t = new KeyTable();
  const n = 1234;
  t.set(`user-${n}`, 1);
  const again = ["user-", String(n)].join("");
  assert.equal(t.get(again), 1);
  t.set(again, 2);
  assert.equal(t.size, 1);
  assert.equal(t.get(`user-${n}`), 2);
});
