/**
 * A lookup service for async I/O tests: an HTTP server on 127.0.0.1 that
 * answers `GET /lookup/ID` with `value-ID`, slowly (`?delay=MS`), failing the
 * first requests of an id (`?fail=N` answers 503 N times), or not until
 * released (held ids). It counts requests per id and the most in flight.
 *
 * @module
 */

/** A running lookup server. */
export interface LookupServer {
  /** Base URL, no trailing slash. */
  readonly url: string;
  /** Requests per id. */
  readonly requests: Map<string, number>;
  /** Requests being answered now. */
  readonly inFlight: number;
  /** The most requests in flight at once so far. */
  readonly maxInFlight: number;
  /** Requests for these ids wait until {@linkcode LookupServer.release}. */
  hold(...ids: string[]): void;
  /** Answers held requests and stops holding. */
  release(): void;
  /** Stops the server. */
  close(): Promise<void>;
}

/** Starts a lookup server on a free port. */
export function startLookupServer(): LookupServer {
  const requests = new Map<string, number>();
  const held = new Set<string>();
  let releaseHeld: () => void = () => {};
  let heldGate = new Promise<void>((r) => releaseHeld = r);
  let inFlight = 0;
  let maxInFlight = 0;
  // Delayed answers still waiting; close() ends them so that shutdown does not wait out the
  // delays of requests whose clients gave up (the request's own signal would tell, but reading it
  // makes Deno warn about its legacy abort behaviour).
  const delayed = new Set<() => void>();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const url = new URL(req.url);
    const id = url.pathname.slice("/lookup/".length);
    const n = (requests.get(id) ?? 0) + 1;
    requests.set(id, n);
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    try {
      const delay = Number(url.searchParams.get("delay") ?? 0);
      if (delay > 0 || held.has(id)) {
        let end = () => {};
        const delayEnded = new Promise<void>((r) => {
          const timer = setTimeout(r, delay);
          end = () => (clearTimeout(timer), r());
        });
        delayed.add(end);
        await (held.has(id) ? heldGate : delayEnded);
        delayed.delete(end);
      }
      if (n <= Number(url.searchParams.get("fail") ?? 0)) {
        return new Response(`failure ${n} of ${id}`, { status: 503 });
      }
      return new Response(`value-${id}`);
    } finally {
      inFlight--;
    }
  });
  const { port } = server.addr;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    get inFlight() {
      return inFlight;
    },
    get maxInFlight() {
      return maxInFlight;
    },
    hold(...ids) {
      for (const id of ids) held.add(id);
    },
    release() {
      held.clear();
      releaseHeld();
      heldGate = new Promise<void>((r) => releaseHeld = r);
    },
    async close() {
      releaseHeld();
      for (const end of delayed) end();
      await server.shutdown();
    },
  };
}

/** An async function that looks `id` up on `server` (`query(id)` is appended to the URL). */
export function httpLookup(
  server: LookupServer,
  query: (id: number) => string = () => "",
): (id: number, signal: AbortSignal) => Promise<string[]> {
  return async (id, signal) => {
    const res = await fetch(`${server.url}/lookup/${id}${query(id)}`, { signal });
    const body = await res.text();
    if (!res.ok) throw new Error(`HTTP ${res.status}: ${body}`);
    return [body];
  };
}
