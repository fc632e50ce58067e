/**
 * Private PostgreSQL and Redis servers for tests: each starts on 127.0.0.1 on
 * a free port with its own data folder, and can be killed and restarted (fault
 * tests) and stopped. No test depends on a server someone else started.
 * Debian's `postgresql` (15) and `redis-server` must be installed (.ci/run does).
 * PostgreSQL refuses to run as root: as root, the server runs as the
 * `postgres` user the Debian package creates.
 *
 * @module
 */

/** A running test server. */
export interface TestServer {
  /** Its URL, with credentials. */
  readonly url: string;
  /** The password in `url` (tests check it is never printed). */
  readonly password: string;
  /** The port. */
  readonly port: number;
  /**
   * CPU milliseconds (user and system) the server's processes have used so far,
   * ended ones included (benchmarks report what a checkpoint costs the server).
   */
  cpuMs(): number;
  /** Kills the server at once (SIGKILL for Redis, an immediate shutdown for PostgreSQL). */
  kill(): Promise<void>;
  /**
   * Freezes (SIGSTOP) or thaws (SIGCONT) every process of the server: its
   * connections stay open and nothing answers, as behind a network partition.
   */
  signal(signal: "SIGSTOP" | "SIGCONT"): void;
  /** Starts it again on the same port and data. */
  start(): Promise<void>;
  /** Stops it and removes its data. */
  stop(): Promise<void>;
}

/** Fields of `/proc/<pid>/stat` after the command name, or undefined once it is gone. */
function procStat(pid: number): string[] | undefined {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  } catch {
    return undefined;
  }
}

// procStat() fields (from the state, field 3): utime, stime, cutime, cstime in clock ticks.
const UTIME = 11;
const TICK_MS = 10;

/**
 * CPU milliseconds of process `pid`, its threads and the children it has
 * waited for (with `children`: its live children too).
 */
function processTreeCpuMs(pid: number, children: boolean): number {
  const own = procStat(pid);
  if (!own) return 0;
  let ticks = [0, 1, 2, 3].reduce((sum, i) => sum + Number(own[UTIME + i]), 0);
  if (children) {
    for (const child of childrenOf(pid)) {
      const f = procStat(child);
      if (f) ticks += Number(f[UTIME]) + Number(f[UTIME + 1]);
    }
  }
  return ticks * TICK_MS;
}

/** The live children of `pid`. */
function childrenOf(pid: number): number[] {
  const pids: number[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    // Field 4 (the parent's pid) is the second after the state.
    if (/^\d+$/.test(e.name) && Number(procStat(Number(e.name))?.[1]) === pid) {
      pids.push(Number(e.name));
    }
  }
  return pids;
}

/** A port nothing listens on now. */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

async function run(cmd: string[], what: string): Promise<void> {
  const out = await new Deno.Command(cmd[0]!, {
    args: cmd.slice(1),
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  if (!out.success) {
    throw new Error(`${what} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
}

async function waitForPort(port: number, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      const c = await Deno.connect({ hostname: "127.0.0.1", port });
      c.close();
      return;
    } catch {
      if (Date.now() > deadline) throw new Error(`${what} did not listen on ${port}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

const PG_BIN = (() => {
  for (const v of ["17", "16", "15", "14", "13"]) {
    const bin = `/usr/lib/postgresql/${v}/bin`;
    try {
      Deno.statSync(`${bin}/initdb`);
      return bin;
    } catch {
      // next version
    }
  }
  return "/usr/lib/postgresql/15/bin";
})();

/**
 * A data folder initdb made (user `weir`, scram-sha-256, its password), once per process:
 * each server starts on its own copy, which costs a tenth of an initdb.
 */
let pgTemplate: Promise<{ data: string; password: string }> | undefined;

function pgTemplateData(asUser: (cmd: string[]) => string[]) {
  return pgTemplate ??= (async () => {
    const dir = Deno.makeTempDirSync({ prefix: "weir-pg-template-" });
    // Removed as the process (or the test file's isolate) ends.
    globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));
    const password = `pw-${crypto.randomUUID().slice(0, 8)}`;
    Deno.writeTextFileSync(`${dir}/pw`, password);
    if (Deno.uid() === 0) await run(["chown", "-R", "postgres", dir], "chown");
    await run(
      asUser([
        `${PG_BIN}/initdb`,
        "-D",
        `${dir}/data`,
        "-U",
        "weir",
        "--auth=scram-sha-256",
        `--pwfile=${dir}/pw`,
        "--no-sync",
      ]),
      "initdb",
    );
    return { data: `${dir}/data`, password };
  })();
}

/** Starts a private PostgreSQL (user `weir`, a password, database `postgres`). */
export async function startPostgres(): Promise<TestServer> {
  const root = Deno.uid() === 0;
  const asUser = (cmd: string[]) => root ? ["runuser", "-u", "postgres", "--", ...cmd] : cmd;
  const template = await pgTemplateData(asUser);
  const dir = Deno.makeTempDirSync({ prefix: "weir-pg-" });
  const data = `${dir}/data`;
  const password = template.password;
  await run(["cp", "-a", template.data, data], "cp");
  if (root) await run(["chown", "postgres", dir], "chown");
  const port = freePort();
  const ctl = (args: string[]) => run(asUser([`${PG_BIN}/pg_ctl`, "-D", data, ...args]), "pg_ctl");
  const start = async () => {
    await ctl([
      "-o",
      `-p ${port} -k ${dir} -h 127.0.0.1 -F -c max_connections=50`,
      "-l",
      `${dir}/log`,
      "-w",
      "start",
    ]);
    await waitForPort(port, "postgres");
  };
  await start();
  const postmaster = () => Number(Deno.readTextFileSync(`${data}/postmaster.pid`).split("\n")[0]);
  return {
    url: `postgres://weir:${password}@127.0.0.1:${port}/postgres`,
    password,
    port,
    // The postmaster and its server processes (one per connection, the WAL writer, …).
    cpuMs: () => processTreeCpuMs(postmaster(), true),
    signal: (signal) => {
      const postmasterPid = postmaster();
      for (const pid of [postmasterPid, ...childrenOf(postmasterPid)]) {
        try {
          Deno.kill(pid, signal);
        } catch (e) {
          // A server process that ended since the listing (its connection closed).
          if (!(e instanceof Deno.errors.NotFound)) throw e;
        }
      }
    },
    kill: () => ctl(["-m", "immediate", "-w", "stop"]),
    start,
    stop: async () => {
      await ctl(["-m", "immediate", "-w", "stop"]).catch(() => {});
      Deno.removeSync(dir, { recursive: true });
    },
  };
}

/** Starts a private Redis (no persistence, a password). */
export async function startRedis(): Promise<TestServer> {
  const dir = Deno.makeTempDirSync({ prefix: "weir-redis-" });
  const password = `pw-${crypto.randomUUID().slice(0, 8)}`;
  const port = freePort();
  let child: Deno.ChildProcess | undefined;
  const start = async () => {
    child = new Deno.Command("redis-server", {
      args: [
        "--port",
        String(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        dir,
        "--requirepass",
        password,
      ],
      stdout: "null",
      stderr: "null",
    }).spawn();
    await waitForPort(port, "redis-server");
  };
  const kill = async () => {
    if (!child) return;
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
    await child.status;
    child = undefined;
  };
  await start();
  return {
    url: `redis://default:${password}@127.0.0.1:${port}`,
    password,
    port,
    cpuMs: () => child ? processTreeCpuMs(child.pid, false) : 0,
    signal: (signal) => child?.kill(signal),
    kill,
    start,
    stop: async () => {
      await kill();
      Deno.removeSync(dir, { recursive: true });
    },
  };
}
