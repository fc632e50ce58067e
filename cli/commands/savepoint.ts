/**
 * `weir savepoint --url URL --job ID [--stop [--drain]]`: triggers a savepoint
 * of a running job through its admin API (Flink's REST paths) and waits for it.
 *
 * @module
 */
import { CheckpointError } from "../../core/errors.ts";
import { adminCall, adminToken } from "../admin_client.ts";
import { adminUrlFlag, jobIdFlag, numberFlag, parseCommand, UsageError } from "../args.ts";
import type { CliIo, Command } from "../command.ts";

const HELP =
  `Usage: weir savepoint --url URL --job ID [--stop [--drain]] [--target-dir DIR] [--timeout SECONDS] [--token TOKEN] [--json]

Triggers a savepoint of job ID through the admin API at URL
(POST URL/jobs/ID/savepoints, as Flink's REST API), waits until it completes
(GET URL/jobs/ID/savepoints/REQUEST) and prints its location. A plain
savepoint commits no output: it is for forking or moving a job, not a
recovery point. With --stop the job stops with a savepoint instead
(POST URL/jobs/ID/stop, as Flink's "flink stop"): its output is committed and
the job ends. Without --drain, windows and timers not yet fired stay in the
savepoint and resume after a restore (the upgrade path); with --drain the
watermark goes to the end of time first, so they all fire (to end a job for
good).

Options:
  --url URL          the admin API, e.g. http://127.0.0.1:8081
  --job ID           the job id, 32 hexadecimal digits (see weir jobs list)
  --stop             stop the job with the savepoint
  --drain            with --stop: fire every window and timer before the savepoint
  --target-dir DIR   where to write the savepoint (the job's default otherwise)
  --timeout SECONDS  give up waiting after this long (300)
  --token TOKEN      bearer token, when the job runs with --admin-token
                     (default: $WEIR_ADMIN_TOKEN when set)
  --json             {"requestId", "location"} as JSON
  -h, --help         show this help`;

function failureText(cause: unknown): string {
  if (typeof cause === "string") return cause;
  if (cause && typeof cause === "object") {
    const c = cause as Record<string, unknown>;
    const first = typeof c["stack-trace"] === "string"
      ? (c["stack-trace"] as string).split("\n")[0]
      : undefined;
    return String(c.message ?? first ?? c.class ?? JSON.stringify(cause));
  }
  return String(cause);
}

/** `weir savepoint --url URL --job ID [--stop [--drain]]`. */
export const savepoint: Command = {
  name: "savepoint",
  summary: "trigger a savepoint of a running job through its admin API",
  help: HELP,
  async run(args: string[], io: CliIo): Promise<number> {
    const p = parseCommand(args, this.name, {
      url: { type: "string" },
      job: { type: "string" },
      stop: { type: "boolean" },
      drain: { type: "boolean" },
      "target-dir": { type: "string" },
      timeout: { type: "string" },
      token: { type: "string" },
      json: { type: "boolean" },
    }, []);
    if (p.help) {
      io.out(HELP);
      return 0;
    }
    const base = adminUrlFlag(p, this.name);
    const job = jobIdFlag(p, this.name);
    const timeoutMs = (numberFlag(p, "timeout", this.name, false) ?? 300) * 1000;
    const stop = p.values.stop === true;
    if (p.values.drain === true && !stop) {
      throw new UsageError("--drain needs --stop", this.name);
    }
    const token = adminToken(p.values.token);
    const call = (url: string, init?: RequestInit) => adminCall(url, init, token);
    const target = p.values["target-dir"];
    // Flink's bodies: `{"target-directory"}` for a savepoint, `{"targetDirectory", "drain"}` for stop.
    const body: Record<string, unknown> = stop ? { drain: p.values.drain === true } : {};
    if (typeof target === "string") body[stop ? "targetDirectory" : "target-directory"] = target;
    const jobUrl = `${base}/jobs/${encodeURIComponent(job)}/savepoints`;
    const trigger = await call(stop ? `${base}/jobs/${encodeURIComponent(job)}/stop` : jobUrl, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    const requestId = trigger["request-id"];
    if (typeof requestId !== "string" || requestId === "") {
      throw new CheckpointError(`${jobUrl} answered without a "request-id"`);
    }
    if (!p.values.json) io.err(`Savepoint triggered (request ${requestId}); waiting...`);
    const deadline = Date.now() + timeoutMs;
    let delay = 50;
    while (true) {
      const st = await call(`${jobUrl}/${encodeURIComponent(requestId)}`);
      const status = (st.status as { id?: string } | undefined)?.id;
      if (status === "COMPLETED") {
        const op = (st.operation ?? {}) as Record<string, unknown>;
        if (op["failure-cause"] !== undefined) {
          throw new CheckpointError(
            `Savepoint of job ${job} failed: ${failureText(op["failure-cause"])}`,
          );
        }
        const location = op.location;
        if (typeof location !== "string") {
          throw new CheckpointError(`Savepoint of job ${job} completed without a location`);
        }
        if (p.values.json) io.out(JSON.stringify({ requestId, location }));
        else io.out(`Savepoint completed: ${location}`);
        return 0;
      }
      if (status !== "IN_PROGRESS") {
        throw new CheckpointError(`Savepoint request ${requestId} has unknown status "${status}"`);
      }
      if (Date.now() + delay > deadline) {
        throw new CheckpointError(
          `Savepoint of job ${job} did not complete within ${
            timeoutMs / 1000
          } s (request ${requestId})`,
        );
      }
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 1000);
    }
  },
};
