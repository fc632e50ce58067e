/**
 * The table of one heap state namespace: key → stored value, with the
 * subset of `Map`'s interface the heap backend uses. Short string keys are
 * found by a hash computed here, in a `Map` keyed by numbers: a `Map` keyed
 * by strings looks every new string object up in V8's string table first,
 * and keys usually arrive as new strings (parsed from a line, decoded from a
 * channel), so that lookup is most of a state access. Other keys go to a
 * plain `Map`.
 *
 * Iteration follows insertion order, except that keys whose hashes collide
 * come right after the first of them.
 *
 * @module
 */

/** Longer strings use the plain `Map`: V8 hashes a string once, this table on every access. */
const MAX_HASHED_LENGTH = 64;

/** A per-process seed: which keys collide is not the same from run to run. */
const SEED = (Math.random() * 0x100000000) | 0;

/** FNV-1a over the UTF-16 code units of `s`, seeded. */
function hashString(s: string): number {
  let h = SEED ^ 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h;
}

interface Entry {
  readonly key: string;
  value: unknown;
  /** The next key with the same hash. */
  next: Entry | undefined;
  /** Deleted: an iteration standing on it skips it (its `next` still leads on). */
  removed: boolean;
}

/** A key → value table for heap state (see the module doc). */
export class KeyTable {
  /** Chains of short string keys, by hash. */
  readonly #strings = new Map<number, Entry>();
  readonly #hash: (s: string) => number;
  /** Every other key. */
  #other: Map<unknown, unknown> | undefined;
  #size = 0;
  /**
   * The string entry last found or added: keyed state reads a key's value and
   * then writes it (`value()` then `update()`), so the write finds its entry
   * here without hashing the key again. Never a removed entry.
   */
  #last: Entry | undefined;

  /** An empty table; `hash` hashes short string keys (tests give one that collides). */
  constructor(hash: (s: string) => number = hashString) {
    this.#hash = hash;
  }

  /** Entries in the table. */
  get size(): number {
    return this.#size;
  }

  /** The value of `key`, or undefined. */
  get(key: unknown): unknown {
    if (typeof key === "string" && key.length <= MAX_HASHED_LENGTH) {
      const last = this.#last;
      if (last !== undefined && last.key === key) return last.value;
      for (let e = this.#strings.get(this.#hash(key)); e !== undefined; e = e.next) {
        if (e.key === key) {
          this.#last = e;
          return e.value;
        }
      }
      return undefined;
    }
    return this.#other?.get(key);
  }

  /** Whether `key` has a value. */
  has(key: unknown): boolean {
    if (typeof key === "string" && key.length <= MAX_HASHED_LENGTH) {
      if (this.#last?.key === key) return true;
      for (let e = this.#strings.get(this.#hash(key)); e !== undefined; e = e.next) {
        if (e.key === key) return true;
      }
      return false;
    }
    return this.#other?.has(key) ?? false;
  }

  /** Sets the value of `key`. */
  set(key: unknown, value: unknown): this {
    if (typeof key === "string" && key.length <= MAX_HASHED_LENGTH) {
      const last = this.#last;
      if (last !== undefined && last.key === key) {
        last.value = value;
        return this;
      }
      const h = this.#hash(key);
      let e = this.#strings.get(h);
      if (e !== undefined) {
        for (;;) {
          if (e.key === key) {
            e.value = value;
            this.#last = e;
            return this;
          }
          if (e.next === undefined) break;
          e = e.next;
        }
      }
      const added: Entry = { key, value, next: undefined, removed: false };
      if (e === undefined) this.#strings.set(h, added);
      else e.next = added;
      this.#last = added;
      this.#size++;
      return this;
    }
    const other = this.#other ??= new Map();
    const before = other.size;
    other.set(key, value);
    this.#size += other.size - before;
    return this;
  }

  /**
   * Removes `key`; whether it was there. An iteration in progress goes on
   * with the entries still there, as over a `Map`.
   */
  delete(key: unknown): boolean {
    if (typeof key === "string" && key.length <= MAX_HASHED_LENGTH) {
      const h = this.#hash(key);
      let prev: Entry | undefined;
      for (let e = this.#strings.get(h); e !== undefined; prev = e, e = e.next) {
        if (e.key !== key) continue;
        e.removed = true;
        if (this.#last === e) this.#last = undefined;
        if (prev !== undefined) prev.next = e.next;
        else if (e.next !== undefined) this.#strings.set(h, e.next);
        else this.#strings.delete(h);
        this.#size--;
        return true;
      }
      return false;
    }
    if (this.#other?.delete(key) !== true) return false;
    this.#size--;
    return true;
  }

  /** Calls `fn` with each value and key. */
  forEach(fn: (value: unknown, key: unknown) => void): void {
    for (const head of this.#strings.values()) {
      for (let e: Entry | undefined = head; e !== undefined; e = e.next) {
        if (!e.removed) fn(e.value, e.key);
      }
    }
    this.#other?.forEach((v, k) => fn(v, k));
  }

  /** The keys. */
  *keys(): IterableIterator<unknown> {
    for (const [k] of this.entries()) yield k;
  }

  /** The [key, value] entries. */
  *entries(): IterableIterator<[unknown, unknown]> {
    for (const head of this.#strings.values()) {
      for (let e: Entry | undefined = head; e !== undefined; e = e.next) {
        if (!e.removed) yield [e.key, e.value];
      }
    }
    if (this.#other !== undefined) yield* this.#other.entries();
  }

  /** The [key, value] entries. */
  [Symbol.iterator](): IterableIterator<[unknown, unknown]> {
    return this.entries();
  }
}
