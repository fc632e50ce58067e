/**
 * A key → value table for keyed state, with the subset of `Map`'s interface
 * the backends use: the heap backend keeps one per state namespace, the LSM
 * backend its value cache in one per state. Short string keys are
 * found by a hash computed here, in an open-addressing table of their own: a
 * `Map` keyed by strings looks every new string object up in V8's string
 * table first, and keys usually arrive as new strings (parsed from a line,
 * decoded from a channel), so that lookup is most of a state access. Other
 * keys go to a plain `Map`.
 *
 * A keyed channel computes each string key's hash (`stringKeyHash`) with its
 * key group, in the same pass over its chars, and sends it with the record;
 * the backend passes it in (`get(key, hash)`), so the receiving subtask does
 * not hash the key again. So the hash has no per-process seed: every worker
 * must compute the same one. (Key groups have none either, nor Flink's: keys
 * chosen to collide would slow a table as they would crowd one subtask.)
 *
 * Layout of the string keys. A lookup of a key touches three cache lines (its
 * slot, its key and value, the stored key's chars), where a `Map` of hashes
 * to entry objects touched five: with keys in random order each is a miss.
 *
 * ```
 * slots:   Int32Array, 2 per slot: | hash | entry + 1 (0: empty) |
 *          linear probing, at most half full; a deletion shifts the rest of
 *          its probe run back, so there are no tombstones
 * entries: unknown[], 2 per entry: | key | value |
 *          in insertion order; a deleted entry's key is REMOVED until the
 *          entries are compacted (once more are deleted than live)
 * ```
 *
 * Iteration follows insertion order, strings first, as a `Map`'s does for
 * each kind: an entry added while iterating is visited, a deleted one is not.
 * An iteration suspended across a compaction (a TTL cleanup's cursor) goes
 * on where it stood: each compaction leaves, for the array it replaced, where
 * every entry went.
 *
 * @module
 */

/** Longer strings use the plain `Map`: V8 hashes a string once, this table on every access. */
const MAX_HASHED_LENGTH = 64;

/** FNV-1a's offset basis (as a signed 32-bit integer) and prime. */
export const FNV_OFFSET = 0x811c9dc5 | 0;
export const FNV_PRIME = 0x01000193;

/**
 * The hash a key table finds string key `s` by: FNV-1a over its UTF-16 code units, a signed
 * 32-bit integer (`asciiKeyGroup` computes the same beside a key group).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { stringKeyHash } from "./_key_table.ts";
 * assert.equal(stringKeyHash("a"), Math.imul(0x811c9dc5 ^ 0x61, 0x01000193));
 * ```
 */
export function stringKeyHash(s: string): number {
  let h = FNV_OFFSET;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), FNV_PRIME);
  return h;
}

/**
 * The hash a keyed channel sends with `key` for the key tables: its {@linkcode stringKeyHash} if
 * the tables find it by hash (a string of at most 64 chars), else 0 (the tables look other keys up
 * without one), so a long key costs no pass over its chars for a hash nobody reads.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { stringKeyHash, tableHash } from "./_key_table.ts";
 * assert.equal(tableHash("user-1"), stringKeyHash("user-1"));
 * assert.equal(tableHash("x".repeat(65)), 0);
 * assert.equal(tableHash(7), 0);
 * ```
 */
export function tableHash(key: unknown): number {
  return typeof key === "string" && key.length <= MAX_HASHED_LENGTH ? stringKeyHash(key) : 0;
}

/** The key of a deleted entry, until compaction drops it. */
const REMOVED: unique symbol = Symbol("removed");

/** Slots of a new table (a window's namespace table often holds a few keys). */
const INITIAL_SLOTS = 8;

/**
 * Where a compaction moved the entries of an array it replaced: `at[i]` is
 * the new index of the first live entry at or after old entry `i` (`at[n]`
 * for the end). Kept only while an iteration holds the old array.
 */
interface Moved {
  readonly to: unknown[];
  readonly at: Int32Array;
}
const moves = new WeakMap<unknown[], Moved>();

/** A key → value table for keyed state (see the module doc). */
export class KeyTable<V = unknown> {
  readonly #hash: (s: string) => number;
  /** Per slot: the hash, and the entry's index + 1 (0: an empty slot). */
  #slots = new Int32Array(2 * INITIAL_SLOTS);
  #mask = INITIAL_SLOTS - 1;
  /** Per entry: its key (REMOVED once deleted) and its value, in insertion order. */
  #entries: unknown[] = [];
  /** Live string entries. */
  #strings = 0;
  /** Every other key. */
  #other: Map<unknown, V> | undefined;
  /**
   * The string last found or added, and its entry's position in `#entries`:
   * keyed state reads a key's value and then writes it (`value()` then
   * `update()`), so the write finds it here without hashing the key again.
   * Never a deleted entry.
   */
  #lastKey: string | undefined;
  #lastAt = 0;

  /** An empty table; `hash` hashes short string keys (tests give one that collides). */
  constructor(hash: (s: string) => number = stringKeyHash) {
    this.#hash = hash;
  }

  /** Entries in the table. */
  get size(): number {
    return this.#strings + (this.#other?.size ?? 0);
  }

  /** The slot of string `key` (hash `h`), or `~slot` of the empty slot where it would go. */
  #find(key: string, h: number): number {
    const slots = this.#slots, mask = this.#mask, entries = this.#entries;
    for (let i = h & mask;; i = (i + 1) & mask) {
      const e = slots[2 * i + 1]!;
      if (e === 0) return ~i;
      if (slots[2 * i] === h && entries[2 * (e - 1)] === key) return i;
    }
  }

  /** The position in `#entries` of the entry in slot `slot`. */
  #at(slot: number): number {
    return 2 * (this.#slots[2 * slot + 1]! - 1);
  }

  /** The value of `key` (whose hash is `hash`, when the caller has it), or undefined. */
  get(key: unknown, hash?: number): V | undefined {
    if (typeof key === "string" && key.length <= MAX_HASHED_LENGTH) {
      if (key === this.#lastKey) return this.#entries[this.#lastAt + 1] as V;
      const slot = this.#find(key, hash ?? this.#hash(key));
      if (slot < 0) return undefined;
      const at = this.#at(slot);
      this.#lastKey = key;
      this.#lastAt = at;
      return this.#entries[at + 1] as V;
    }
    return this.#other?.get(key);
  }

  /** Whether `key` has a value. */
  has(key: unknown): boolean {
    if (typeof key === "string" && key.length <= MAX_HASHED_LENGTH) {
      return key === this.#lastKey || this.#find(key, this.#hash(key)) >= 0;
    }
    return this.#other?.has(key) ?? false;
  }

  /** Sets the value of `key` (whose hash is `hash`, when the caller has it). */
  set(key: unknown, value: V, hash?: number): this {
    if (typeof key === "string" && key.length <= MAX_HASHED_LENGTH) {
      if (key === this.#lastKey) {
        this.#entries[this.#lastAt + 1] = value;
        return this;
      }
      const h = hash ?? this.#hash(key);
      const slot = this.#find(key, h);
      let at;
      if (slot >= 0) {
        at = this.#at(slot);
        this.#entries[at + 1] = value;
      } else {
        at = this.#entries.length;
        this.#entries.push(key, value);
        this.#slots[2 * ~slot] = h;
        this.#slots[2 * ~slot + 1] = at / 2 + 1;
        if (++this.#strings * 2 > this.#mask + 1) this.#reslot(2 * (this.#mask + 1), undefined);
      }
      this.#lastKey = key;
      this.#lastAt = at;
      return this;
    }
    (this.#other ??= new Map()).set(key, value);
    return this;
  }

  /**
   * Removes `key` (whose hash is `hash`, when the caller has it); whether it was there. An
   * iteration in progress goes on with the entries still there, as over a `Map`.
   */
  delete(key: unknown, hash?: number): boolean {
    if (typeof key === "string" && key.length <= MAX_HASHED_LENGTH) {
      const slot = this.#find(key, hash ?? this.#hash(key));
      if (slot < 0) return false;
      const at = this.#at(slot);
      this.#entries[at] = REMOVED;
      this.#entries[at + 1] = undefined;
      if (at === this.#lastAt) this.#lastKey = undefined;
      this.#strings--;
      this.#unslot(slot);
      if (this.#entries.length > 4 * this.#strings + 32) this.#compact();
      return true;
    }
    return this.#other?.delete(key) ?? false;
  }

  /** Empties slot `i` and shifts the rest of its probe run back, so lookups need no tombstones. */
  #unslot(i: number): void {
    const slots = this.#slots, mask = this.#mask;
    for (let j = (i + 1) & mask; slots[2 * j + 1] !== 0; j = (j + 1) & mask) {
      const home = slots[2 * j]! & mask;
      // The entry in j stays when its home lies cyclically in (i, j]: a probe from there
      // would not pass the hole at i.
      if (i <= j ? i < home && home <= j : i < home || home <= j) continue;
      slots[2 * i] = slots[2 * j]!;
      slots[2 * i + 1] = slots[2 * j + 1]!;
      i = j;
    }
    slots[2 * i] = 0;
    slots[2 * i + 1] = 0;
  }

  /**
   * Rebuilds the slots with `size` slots from the current ones (the hashes
   * are kept there: no key is hashed again); `moved` renumbers the entries.
   */
  #reslot(size: number, moved: Int32Array | undefined): void {
    const old = this.#slots;
    const slots = new Int32Array(2 * size), mask = size - 1;
    for (let s = 0; s < old.length; s += 2) {
      const e = old[s + 1]!;
      if (e === 0) continue;
      const h = old[s]!;
      let i = h & mask;
      while (slots[2 * i + 1] !== 0) i = (i + 1) & mask;
      slots[2 * i] = h;
      slots[2 * i + 1] = moved === undefined ? e : moved[e - 1]! + 1;
    }
    this.#slots = slots;
    this.#mask = mask;
  }

  /** Drops deleted entries; leaves where the rest went, for iterations of the old array. */
  #compact(): void {
    const old = this.#entries;
    const n = old.length / 2;
    const at = new Int32Array(n + 1);
    const live: unknown[] = [];
    for (let i = 0; i < n; i++) {
      at[i] = live.length / 2;
      if (old[2 * i] !== REMOVED) live.push(old[2 * i], old[2 * i + 1]);
    }
    at[n] = live.length / 2;
    moves.set(old, { to: live, at });
    this.#entries = live;
    this.#lastKey = undefined;
    let size = INITIAL_SLOTS;
    while (size < 2 * this.#strings + 2) size *= 2;
    this.#reslot(Math.min(size, this.#mask + 1), at);
  }

  /** Calls `fn` with each value and key. */
  forEach(fn: (value: V, key: unknown) => void): void {
    for (const [k, v] of this.entries()) fn(v, k);
  }

  /** The keys. */
  *keys(): IterableIterator<unknown> {
    for (const [k] of this.entries()) yield k;
  }

  /** The [key, value] entries. */
  *entries(): IterableIterator<[unknown, V]> {
    let entries = this.#entries;
    for (let i = 0;; i++) {
      // Compacted while suspended: follow the entries to where they went.
      while (entries !== this.#entries) {
        const m = moves.get(entries)!;
        i = m.at[i]!;
        entries = m.to;
      }
      if (2 * i >= entries.length) break;
      const key = entries[2 * i];
      if (key !== REMOVED) yield [key, entries[2 * i + 1] as V];
    }
    if (this.#other !== undefined) yield* this.#other.entries();
  }

  /** The [key, value] entries. */
  [Symbol.iterator](): IterableIterator<[unknown, V]> {
    return this.entries();
  }
}
