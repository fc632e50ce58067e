/**
 * `weir ui --checkpoint-dir DIR`: serves the dashboard for a finished or
 * stopped job from its checkpoint directory, read-only.
 *
 * @module
 */
import { checkAdminExposure } from "../../core/admin/exposure.ts";
import { serveAdmin } from "../../core/admin/server.ts";
import { numberFlag, parseCommand, requireFlag, UsageError } from "../args.ts";
import type { CliIo, Command } from "../command.ts";
import { historyRuntime } from "../history_runtime.ts";

const HELP = `Usage: weir ui --checkpoint-dir DIR [--port PORT] [--host HOST] [--token TOKEN]

Serves the dashboard and the admin API (read-only) for the job whose
checkpoints are in DIR, after it finished, stopped or crashed: its operators
(from the newest completed checkpoint), the checkpoint history with restores
and failures (DIR/_history.jsonl), each checkpoint's detail, and queryable
state read from the newest checkpoint. Nothing can be triggered. Prints
"admin: http://HOST:PORT" on stderr and serves until interrupted (Ctrl-C).

Options:
  --checkpoint-dir DIR  the job's checkpoint directory
  --port PORT           port (0, the default, picks a free one)
  --host HOST           interface (127.0.0.1; another needs --token)
  --token TOKEN         bearer token requests need
  -h, --help            show this help`;

/** `weir ui --checkpoint-dir DIR`. */
export const ui: Command = {
  name: "ui",
  summary: "serve the dashboard for a checkpoint directory (read-only)",
  help: HELP,
  async run(args: string[], io: CliIo): Promise<number> {
    const p = parseCommand(args, this.name, {
      "checkpoint-dir": { type: "string" },
      port: { type: "string" },
      host: { type: "string" },
      token: { type: "string" },
    }, []);
    if (p.help) {
      io.out(HELP);
      return 0;
    }
    const dir = requireFlag(p, "checkpoint-dir", this.name);
    const port = numberFlag(p, "port", this.name, true) ?? 0;
    const token = p.values.token;
    if (typeof p.values.host === "string") {
      try {
        checkAdminExposure(p.values.host, typeof token === "string" ? token : undefined, false);
      } catch {
        // The job's rule, in this command's flags (it has no --admin-token or --admin-insecure).
        throw new UsageError(
          `--host ${p.values.host} is reachable beyond this machine: give --token TOKEN`,
          this.name,
        );
      }
    }
    const runtime = historyRuntime(dir);
    const server = serveAdmin(runtime, {
      port,
      ...(typeof p.values.host === "string" ? { host: p.values.host } : {}),
      ...(typeof token === "string" ? { token } : {}),
      // The same `admin: http://HOST:PORT` line a job prints.
      announce: (line) => io.err(line),
    });
    // Until interrupted: the process ends on SIGINT/SIGTERM.
    await new Promise<void>((resolve) => {
      const stop = () => resolve();
      Deno.addSignalListener("SIGINT", stop);
      Deno.addSignalListener("SIGTERM", stop);
    });
    await server.shutdown();
    return 0;
  },
};
