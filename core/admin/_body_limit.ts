/**
 * The admin API's limit on request bodies: a body declared or found larger
 * than `maxBytes` gets 413 before it is buffered whole. A body sent without
 * a length (chunked) is read here, as far as `maxBytes + 1` bytes, and kept
 * for {@linkcode bodyText}. (hono's `bodyLimit` rebuilds such a request with
 * `new Request(raw, …)`, which reads its `signal`, and Deno.serve then prints
 * a warning about that signal's legacy behaviour once per process.)
 *
 * @module
 */
import type { Context, MiddlewareHandler } from "./_hono.ts";

/** Bodies sent without a length, read by the limit. */
const readBodies = new WeakMap<Request, Uint8Array>();

/** The request's body as text: the one the limit read, else read now. */
export function bodyText(c: Context): Promise<string> {
  const read = readBodies.get(c.req.raw);
  return read === undefined ? c.req.text() : Promise.resolve(new TextDecoder().decode(read));
}

/** A middleware that answers `tooLarge(c)` for a body over `maxBytes`. */
export function limitBody(
  maxBytes: number,
  tooLarge: (c: Context) => Response,
): MiddlewareHandler {
  return async (c, next) => {
    const raw = c.req.raw;
    if (raw.body === null) return await next();
    const declared = raw.headers.get("content-length");
    if (declared !== null) {
      if (Number(declared) > maxBytes) return tooLarge(c);
      return await next();
    }
    const reader = raw.body.getReader();
    const chunks: Uint8Array[] = [];
    let size = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > maxBytes) {
        await reader.cancel();
        return tooLarge(c);
      }
      chunks.push(value);
    }
    const body = new Uint8Array(size);
    let at = 0;
    for (const chunk of chunks) {
      body.set(chunk, at);
      at += chunk.byteLength;
    }
    readBodies.set(raw, body);
    return await next();
  };
}
