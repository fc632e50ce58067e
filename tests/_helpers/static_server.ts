/**
 * A static file server for tests: serves a folder over HTTP on 127.0.0.1
 * with the content types Deno's module loader keys on, so the repository can
 * be imported from an `http:` URL the way a published package is.
 *
 * @module
 */

const CONTENT_TYPES: Record<string, string> = {
  ts: "application/typescript; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  json: "application/json; charset=utf-8",
  wasm: "application/wasm",
  md: "text/markdown; charset=utf-8",
};

/** A running server: its base URL (ends with `/`), the requested paths, and how to stop it. */
export interface StaticServer {
  readonly url: string;
  readonly requested: string[];
  close(): Promise<void>;
}

/** Serves the files under `root` (a folder path) on a free port of 127.0.0.1. */
export function serveFolder(root: string): StaticServer {
  const requested: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const path = decodeURIComponent(new URL(req.url).pathname);
    requested.push(path);
    if (path.split("/").includes("..")) return new Response("bad path", { status: 400 });
    try {
      const body = await Deno.readFile(`${root}${path}`);
      const ext = path.slice(path.lastIndexOf(".") + 1);
      return new Response(body, {
        headers: { "content-type": CONTENT_TYPES[ext] ?? "application/octet-stream" },
      });
    } catch (e) {
      if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.IsADirectory) {
        return new Response("not found", { status: 404 });
      }
      throw e;
    }
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}/`,
    requested,
    close: () => server.shutdown(),
  };
}
