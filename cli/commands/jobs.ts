/**
 * `weir jobs list --url URL` and `weir cancel --url URL --job ID`: a running
 * job's admin API from the command line (Flink's `flink list` and
 * `flink cancel`, over Flink's REST paths).
 *
 * @module
 */
import { CheckpointError } from "../../core/errors.ts";
import { adminCall, adminToken } from "../admin_client.ts";
import { adminUrlFlag, jobIdFlag, parseCommand } from "../args.ts";
import type { CliIo, Command } from "../command.ts";
import { table, time } from "../format.ts";

const LIST_HELP = `Usage: weir jobs list --url URL [--token TOKEN] [--json]

Lists the jobs the admin API at URL serves (GET URL/jobs/overview): id,
status, name, start time and how long it has run.

Options:
  --url URL      the admin API, e.g. http://127.0.0.1:8081
  --token TOKEN  bearer token, when the job runs with --admin-token
                 (default: $WEIR_ADMIN_TOKEN when set)
  --json         Flink's overview JSON ({"jobs": [...]})
  -h, --help     show this help`;

const CANCEL_HELP = `Usage: weir cancel --url URL --job ID [--token TOKEN]

Cancels job ID through the admin API at URL (PATCH URL/jobs/ID?mode=cancel,
as Flink's "flink cancel"): the job stops at once, without a savepoint and
without committing output after its last completed checkpoint. To stop with
a savepoint, use "weir savepoint --stop".

Options:
  --url URL      the admin API, e.g. http://127.0.0.1:8081
  --job ID       the job id, 32 hexadecimal digits (see weir jobs list)
  --token TOKEN  bearer token, when the job runs with --admin-token
                 (default: $WEIR_ADMIN_TOKEN when set)
  -h, --help     show this help`;

interface JobOverview {
  jid: string;
  name: string;
  state: string;
  "start-time": number;
  duration: number;
}

/** `weir jobs list --url URL`. */
export const jobsList: Command = {
  name: "jobs list",
  summary: "list the jobs a running admin API serves",
  help: LIST_HELP,
  async run(args: string[], io: CliIo): Promise<number> {
    const p = parseCommand(args, this.name, {
      url: { type: "string" },
      token: { type: "string" },
      json: { type: "boolean" },
    }, []);
    if (p.help) {
      io.out(LIST_HELP);
      return 0;
    }
    const base = adminUrlFlag(p, this.name);
    const answer = await adminCall(`${base}/jobs/overview`, {}, adminToken(p.values.token));
    if (!Array.isArray(answer.jobs)) {
      throw new CheckpointError(`${base}/jobs/overview answered without a "jobs" list`);
    }
    if (p.values.json) {
      io.out(JSON.stringify(answer, null, 2));
      return 0;
    }
    const jobs = answer.jobs as JobOverview[];
    if (jobs.length === 0) {
      io.out(`No jobs at ${base}`);
      return 0;
    }
    const rows = jobs.map((j) => [
      j.jid,
      j.state,
      j.name,
      time(j["start-time"]),
      `${(j.duration / 1000).toFixed(1)} s`,
    ]);
    for (const l of table(["ID", "STATUS", "NAME", "STARTED", "DURATION"], rows)) io.out(l);
    return 0;
  },
};

/** `weir cancel --url URL --job ID`. */
export const cancel: Command = {
  name: "cancel",
  summary: "cancel a running job through its admin API (no savepoint)",
  help: CANCEL_HELP,
  async run(args: string[], io: CliIo): Promise<number> {
    const p = parseCommand(args, this.name, {
      url: { type: "string" },
      job: { type: "string" },
      token: { type: "string" },
    }, []);
    if (p.help) {
      io.out(CANCEL_HELP);
      return 0;
    }
    const base = adminUrlFlag(p, this.name);
    const job = jobIdFlag(p, this.name);
    await adminCall(
      `${base}/jobs/${encodeURIComponent(job)}?mode=cancel`,
      { method: "PATCH" },
      adminToken(p.values.token),
    );
    io.out(`Cancelled job ${job}`);
    return 0;
  },
};
