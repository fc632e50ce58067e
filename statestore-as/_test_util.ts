/**
 * Helpers shared by the store's tests.
 *
 * @module
 */

/** Deterministic PRNG (mulberry32), so randomized tests replay by seed (all of weir's tests use this one). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const HEX_BYTES = Array.from({ length: 256 }, (_, x) => x.toString(16).padStart(2, "0"));

/** Bytes as lowercase hex: strings of it order like the bytes. */
export function hex(b: Uint8Array): string {
  // A table and concatenation: model tests call this millions of times.
  let s = "";
  for (let i = 0; i < b.length; i++) s += HEX_BYTES[b[i]!];
  return s;
}
