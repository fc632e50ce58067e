/**
 * Base64 for record bytes kept in (JSON) checkpoint state.
 *
 * @module
 */

/** Bytes as base64. */
export function encodeBase64(bytes: Uint8Array): string {
  return (bytes as Uint8Array & { toBase64(): string }).toBase64();
}

/** Base64 back to bytes. */
export function decodeBase64(text: string): Uint8Array<ArrayBuffer> {
  return (Uint8Array as unknown as { fromBase64(s: string): Uint8Array<ArrayBuffer> }).fromBase64(
    text,
  );
}
