/**
 * The async I/O benchmark's HTTP server, run in a Web Worker: answers
 * `GET /<n>` with `n` after the latency it is sent, then posts its port.
 *
 * @module
 */
import { fixedDelay } from "./_fixed_delay.ts";

const scope = self as unknown as {
  onmessage: ((e: MessageEvent<{ latencyMs: number }>) => void) | null;
  postMessage(port: number): void;
};

scope.onmessage = (e) => {
  const wait = fixedDelay(e.data.latencyMs);
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    async (req) => new Response(await wait(new URL(req.url).pathname.slice(1))),
  );
  scope.postMessage(server.addr.port);
};
