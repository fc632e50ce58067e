/**
 * Async I/O: enriches every line of a file with a lookup over HTTP.
 *
 *   deno run -A examples/async_enrich.ts --input FILE --output DIR --lookup-url URL
 *     [--capacity N] [--timeout-ms MS] [--unordered] [common flags]
 *
 * Reads FILE through the replayable file source; for each non-empty line
 * `id` it fetches URL with `{}` replaced by the URL-encoded id (at most
 * `--capacity` requests in flight, default 100; failed requests are retried
 * with exponential backoff; a lookup not answered within `--timeout-ms`,
 * default 10000, fails the job) and emits `id<TAB>response body` to the
 * exactly-once file sink at DIR (`DIR/part-*`). In-flight lookups are part
 * of each checkpoint, so after a crash `--restore latest` looks up again
 * exactly what was not yet written: every line appears once in the output.
 *
 * @module
 */
import {
  AsyncDataStream,
  AsyncRetryStrategies,
  ConfigError,
  ExactlyOnceFileSink,
  runMain,
  StreamEnvironment,
} from "../mod.ts";

/** Builds and runs the job with `args`. */
export async function main(args: string[]): Promise<void> {
  const { env, values } = StreamEnvironment.fromArgs(args, {
    input: { type: "string" },
    output: { type: "string" },
    "lookup-url": { type: "string" },
    capacity: { type: "string" },
    "timeout-ms": { type: "string" },
    unordered: { type: "boolean" },
  });
  const input = values.input as string | undefined;
  const output = values.output as string | undefined;
  const url = values["lookup-url"] as string | undefined;
  if (!input) throw new ConfigError("--input FILE is required");
  if (!output) throw new ConfigError("--output DIR is required");
  if (!url?.includes("{}") || !URL.canParse(url.replace("{}", "id"))) {
    throw new ConfigError(
      `--lookup-url must be a URL with {} where the id goes (http://host/users/{}), got ${
        url === undefined ? "none" : `"${url}"`
      }`,
    );
  }
  const lookup = async (id: string, signal: AbortSignal): Promise<string[]> => {
    const res = await fetch(url.replace("{}", encodeURIComponent(id)), { signal });
    const body = await res.text();
    if (!res.ok) throw new Error(`lookup of ${id}: HTTP ${res.status}: ${body}`);
    return [`${id}\t${body}`];
  };
  const ids = env.readTextFile(input).uid("lines").filter((line: string) => line !== "")
    .uid("ids");
  const wait = values.unordered ? AsyncDataStream.unorderedWait : AsyncDataStream.orderedWait;
  wait(
    ids,
    lookup,
    Number(values["timeout-ms"] ?? 10_000),
    Number(values.capacity ?? 100),
    AsyncRetryStrategies.exponentialBackoff({ maxRetries: 5, initialDelayMs: 5, maxDelayMs: 200 }),
  ).uid("lookup")
    .addSink(new ExactlyOnceFileSink<string>({ dir: output }), { uid: "sink" });
  await env.execute("async enrich");
}

if (import.meta.main) await runMain("async_enrich", main);
