import assert from "node:assert/strict";
import { ConfigError } from "../errors.ts";
import {
  asciiKeyGroup,
  checkParallelism,
  defaultMaxParallelism,
  keyGroupOf,
  keyGroupOfHash,
  keyGroupRangeForSubtask,
  murmur3,
  subtaskForKeyGroup,
  UPPER_BOUND_MAX_PARALLELISM,
} from "./key_group.ts";
import { stringKeyHash } from "./_key_table.ts";

const utf8 = (s: string) => new TextEncoder().encode(s);

Deno.test("murmur3 matches the reference MurmurHash3_x86_32 vectors", () => {
  // Vectors from the reference implementation (SMHasher) as widely published.
  const vectors: [Uint8Array, number, number][] = [
    [new Uint8Array(0), 0, 0],
    [new Uint8Array(0), 1, 0x514e28b7],
    [new Uint8Array(0), 0xffffffff, 0x81f16f39],
    [new Uint8Array([0, 0, 0, 0]), 0, 0x2362f9de],
    [new Uint8Array([0xff, 0xff, 0xff, 0xff]), 0, 0x76293b50],
    [new Uint8Array([0x21, 0x43, 0x65, 0x87]), 0, 0xf55b516b],
    [new Uint8Array([0x21, 0x43, 0x65, 0x87]), 0x5082edee, 0x2362f9de],
    [new Uint8Array([0x21, 0x43, 0x65]), 0, 0x7e4a8634],
    [new Uint8Array([0x21, 0x43]), 0, 0xa0f7b07a],
    [new Uint8Array([0x21]), 0, 0x72661cf4],
    [utf8("aaaa"), 0x9747b28c, 0x5a97808a],
    [utf8("aaa"), 0x9747b28c, 0x283e0130],
    [utf8("aa"), 0x9747b28c, 0x5d211726],
    [utf8("a"), 0x9747b28c, 0x7fa09ea6],
    [utf8("abcd"), 0x9747b28c, 0xf0478627],
    [utf8("abc"), 0x9747b28c, 0xc84a62dd],
    [utf8("ab"), 0x9747b28c, 0x74875592],
    [utf8("Hello, world!"), 0x9747b28c, 0x24884cba],
    [utf8("The quick brown fox jumps over the lazy dog"), 0x9747b28c, 0x2fa826cd],
    [utf8("hello"), 0, 0x248bfa47],
  ];
  for (const [bytes, seed, want] of vectors) {
    assert.equal(murmur3(bytes, bytes.length, seed), want, `${[...bytes]} seed ${seed}`);
  }
});

Deno.test("murmur3 hashes only the first `length` bytes and returns an unsigned 32-bit int", () => {
  const buf = new Uint8Array([...utf8("hello"), 1, 2, 3]);
  assert.equal(murmur3(buf, 5), murmur3(utf8("hello")));
  for (let i = 0; i < 1000; i++) {
    const h = murmur3(utf8(`key-${i}`));
    assert.ok(Number.isInteger(h) && h >= 0 && h <= 0xffffffff);
  }
});

Deno.test("keyGroupOf spreads keys over every key group", () => {
  const counts = new Array(128).fill(0);
  for (let i = 0; i < 12_800; i++) counts[keyGroupOf(utf8(`user-${i}`), 128)]++;
  // Uniform would be 100 per group; a working hash stays well inside 50..150.
  for (const c of counts) assert.ok(c > 50 && c < 150, `group count ${c}`);
  assert.equal(keyGroupOf(utf8("abcXYZ"), 7, 3), murmur3(utf8("abc")) % 7);
});

Deno.test("keyGroupOfHash is hash % maxParallelism for every unsigned 32-bit hash", () => {
  const hashes = [0, 1, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff];
  let x = 0x9e3779b9;
  for (let i = 0; i < 2000; i++) {
    x = (Math.imul(x ^ (x >>> 15), 0x2c1b3c6d) + i) >>> 0;
    hashes.push(x);
  }
  const maxes = [1, 2, 3, 7, 128, 1000, 4096, 32767, UPPER_BOUND_MAX_PARALLELISM];
  for (const m of maxes) {
    for (const h of hashes) assert.equal(keyGroupOfHash(h, m), h % m, `${h} % ${m}`);
  }
});

Deno.test("keyGroupOf is the key group of the key's murmur3 hash", () => {
  const keys = ["", "a", "user-1", "héllo", "x".repeat(100)];
  for (let i = 0; i < 500; i++) keys.push(`k${i * 7919}`);
  for (const key of keys) {
    const h = murmur3(utf8(key));
    for (const m of [1, 100, 128, 1000, 32767, 32768]) {
      assert.equal(keyGroupOf(utf8(key), m), h % m, `${key} in ${m}`);
    }
  }
  // Only the first `length` bytes.
  assert.equal(keyGroupOf(utf8("user-1 and more"), 1000, 6), murmur3(utf8("user-1")) % 1000);
});

Deno.test("keyGroupRangeForSubtask partitions 0..maxParallelism-1 for every parallelism", () => {
  for (const maxP of [1, 2, 3, 7, 10, 128, 300]) {
    for (let p = 1; p <= maxP; p++) {
      let next = 0;
      for (let i = 0; i < p; i++) {
        const r = keyGroupRangeForSubtask(maxP, p, i);
        // Contiguous, in order, no gaps, no overlaps; never empty since p <= maxP.
        assert.equal(r.start, next, `maxP ${maxP} p ${p} i ${i}`);
        assert.ok(r.end >= r.start);
        // Sizes differ by at most one.
        const size = r.end - r.start + 1;
        assert.ok(
          size === Math.floor(maxP / p) || size === Math.ceil(maxP / p),
          `size ${size} for maxP ${maxP} p ${p}`,
        );
        for (let g = r.start; g <= r.end; g++) {
          assert.equal(subtaskForKeyGroup(g, maxP, p), i, `group ${g} maxP ${maxP} p ${p}`);
        }
        next = r.end + 1;
      }
      assert.equal(next, maxP);
    }
  }
});

Deno.test("key group ranges at the upper bound of max parallelism", () => {
  const maxP = UPPER_BOUND_MAX_PARALLELISM;
  for (const p of [1, 3, 1000, maxP]) {
    let next = 0;
    for (let i = 0; i < p; i++) {
      const r = keyGroupRangeForSubtask(maxP, p, i);
      assert.equal(r.start, next);
      assert.equal(subtaskForKeyGroup(r.start, maxP, p), i);
      assert.equal(subtaskForKeyGroup(r.end, maxP, p), i);
      next = r.end + 1;
    }
    assert.equal(next, maxP);
  }
  // Flink's figures: maxParallelism 128, parallelism 3 → 0..42, 43..85, 86..127.
  assert.deepEqual(
    [0, 1, 2].map((i) => keyGroupRangeForSubtask(128, 3, i)),
    [{ start: 0, end: 42 }, { start: 43, end: 85 }, { start: 86, end: 127 }],
  );
});

Deno.test("defaultMaxParallelism follows Flink: 1.5 × p rounded up to 2^n, in 128..32768", () => {
  const cases: [number, number][] = [
    [1, 128],
    [2, 128],
    [85, 128],
    [86, 256],
    [170, 256],
    [171, 256],
    [172, 512],
    [200, 512],
    [1000, 2048],
    [21845, 32768],
    [21846, 32768],
    [32768, 32768],
  ];
  for (const [p, want] of cases) assert.equal(defaultMaxParallelism(p), want, `p ${p}`);
});

Deno.test("checkParallelism rejects bad values with a ConfigError naming the operator", () => {
  checkParallelism(1, 1, "op");
  checkParallelism(128, 128, "op");
  const bad: [number, number][] = [
    [0, 128],
    [1.5, 128],
    [2, 1],
    [1, 0],
    [1, UPPER_BOUND_MAX_PARALLELISM + 1],
    [1, 2.5],
  ];
  for (const [p, m] of bad) {
    assert.throws(
      () => checkParallelism(p, m, "counter"),
      (e: unknown) => e instanceof ConfigError && e.message.includes('"counter"'),
      `${p}/${m}`,
    );
  }
});

Deno.test("asciiKeyGroup is murmur3 of the prefix bytes and the chars, for every length and prefix, beside the chars' string hash", () => {
  const chars = "user-0123456789abcdefghijklmnopqrstuvwxyz~\u007f";
  for (let length = 0; length <= chars.length; length++) {
    const s = chars.slice(chars.length - length);
    for (const prefix of [[], [7], [1, length]]) {
      const bytes = new Uint8Array([...prefix, ...new TextEncoder().encode(s)]);
      const [p0 = 0, p1 = 0] = prefix;
      assert.equal(asciiKeyGroup(s, 0, prefix.length, p0, p1), murmur3(bytes), `${prefix} ${s}`);
      const stringHash = new Int32Array(1);
      assert.equal(
        asciiKeyGroup(s, 100, prefix.length, p0, p1, stringHash),
        keyGroupOf(bytes, 100),
      );
      assert.equal(stringHash[0], stringKeyHash(s), `the string hash of ${s}`);
      // A char above 0x7f anywhere: not ASCII, whatever the block it falls in.
      for (let at = 0; at < length; at++) {
        const t = s.slice(0, at) + "\u00e9" + s.slice(at + 1);
        assert.equal(asciiKeyGroup(t, 128, prefix.length, p0, p1), -1, t);
      }
    }
  }
});

Deno.test("the public key-group helpers refuse a bad argument with a ConfigError naming it, instead of answering NaN, -1 or a group out of range", () => {
  const bytes = new TextEncoder().encode("user-1");
  const cases: [() => unknown, string][] = [
    [
      () => keyGroupOf(bytes, 0),
      "keyGroupOf: maxParallelism must be an integer in 1..32768, got 0",
    ],
    [
      () => keyGroupOf(bytes, -1),
      "keyGroupOf: maxParallelism must be an integer in 1..32768, got -1",
    ],
    [
      () => keyGroupOf(bytes, 1.5),
      "keyGroupOf: maxParallelism must be an integer in 1..32768, got 1.5",
    ],
    [
      () => keyGroupOf(bytes, 32769),
      "keyGroupOf: maxParallelism must be an integer in 1..32768, got 32769",
    ],
    [() => keyGroupOf(bytes, 128, 7), "keyGroupOf: length must be an integer in 0..6, got 7"],
    [
      () => keyGroupRangeForSubtask(0, 2, 0),
      "keyGroupRangeForSubtask: maxParallelism must be an integer in 1..32768, got 0",
    ],
    [
      () => keyGroupRangeForSubtask(128, 0, 0),
      "keyGroupRangeForSubtask: parallelism must be an integer in 1..128, got 0",
    ],
    [
      () => keyGroupRangeForSubtask(128, 2, 2),
      "keyGroupRangeForSubtask: index must be an integer in 0..1, got 2",
    ],
    [
      () => subtaskForKeyGroup(3, -1, 2),
      "subtaskForKeyGroup: maxParallelism must be an integer in 1..32768, got -1",
    ],
    [
      () => subtaskForKeyGroup(3, 128, 200),
      "subtaskForKeyGroup: parallelism must be an integer in 1..128, got 200",
    ],
    [
      () => subtaskForKeyGroup(128, 128, 2),
      "subtaskForKeyGroup: keyGroup must be an integer in 0..127, got 128",
    ],
    [
      () => defaultMaxParallelism(0),
      "defaultMaxParallelism: parallelism must be an integer in 1..32768, got 0",
    ],
  ];
  for (const [call, message] of cases) {
    assert.throws(call, (e) => e instanceof ConfigError && e.message === message, message);
  }
  // The bounds themselves are fine.
  assert.equal(keyGroupOf(bytes, 1), 0);
  assert.deepEqual(keyGroupRangeForSubtask(32768, 32768, 32767), { start: 32767, end: 32767 });
  assert.equal(subtaskForKeyGroup(127, 128, 128), 127);
  assert.equal(defaultMaxParallelism(32768), 32768);
});
