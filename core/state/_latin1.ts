/**
 * Bytes as a string of char codes 0-255 and back: a serialized key as a JS
 * Map key (one string per distinct byte sequence).
 *
 * @module
 */

/** Bytes as a string of char codes 0-255 (a loop: spreading bytes into a call is slower for short keys). */
export function latin1(b: Uint8Array): string {
  if (b.length <= 64) {
    let s = "";
    for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i]!);
    return s;
  }
  let s = "";
  for (let i = 0; i < b.length; i += 4096) {
    s += String.fromCharCode(...b.subarray(i, i + 4096));
  }
  return s;
}

/** The bytes of a {@linkcode latin1} string. */
export function latin1Bytes(s: string): Uint8Array {
  const b = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) b[i] = s.charCodeAt(i);
  return b;
}
