/**
 * Who owns a folder: a process on a host, written into an owner file as
 * lines `host`, `pid` and, when known, the process's start time (ms since
 * epoch) and what holds it (`job "word count"`). LSM work folders carry one so
 * a later process can remove those of dead processes; locked checkpoint and
 * output folders carry one so a second job's error names the first.
 *
 * @module
 */

/** A process on a host, and what in it owns something. */
export interface ProcessOwner {
  /** Host name. */
  readonly host: string;
  /** Process id. */
  readonly pid: number;
  /** When the process started (ms since epoch), when known. */
  readonly startedAt?: number;
  /** What owns it (`job "word count"`), when known. */
  readonly holder?: string;
}

/** This host's name, or undefined without the permission to ask (`--allow-sys`). */
export function hostname(): string | undefined {
  try {
    return Deno.hostname();
  } catch {
    return undefined;
  }
}

/** This process as an owner; undefined when its host name cannot be read. */
export function thisProcess(holder?: string): ProcessOwner | undefined {
  const host = hostname();
  if (host === undefined) return undefined;
  return {
    host,
    pid: Deno.pid,
    startedAt: Math.round(performance.timeOrigin),
    ...(holder === undefined ? {} : { holder }),
  };
}

/** The owner file's text. */
export function formatOwner(o: ProcessOwner): string {
  const lines = [o.host, String(o.pid)];
  if (o.startedAt !== undefined || o.holder !== undefined) lines.push(String(o.startedAt ?? ""));
  if (o.holder !== undefined) lines.push(o.holder.replace(/\n/g, " "));
  return lines.join("\n");
}

/** Reads an owner file's text; undefined when it names no host and pid. */
export function parseOwner(text: string): ProcessOwner | undefined {
  const [host, pidText, startText, holder] = text.split("\n");
  const pid = Number(pidText);
  if (!host || !Number.isSafeInteger(pid) || pid <= 0) return undefined;
  const startedAt = startText ? Number(startText) : NaN;
  return {
    host,
    pid,
    ...(Number.isFinite(startedAt) ? { startedAt } : {}),
    ...(holder ? { holder } : {}),
  };
}

/** `job "x" (pid 12 on host h, running since <ISO time>)`. */
export function describeOwner(o: ProcessOwner): string {
  const since = o.startedAt === undefined
    ? ""
    : `, running since ${new Date(o.startedAt).toISOString()}`;
  const self = o.pid === Deno.pid && o.host === hostname() ? ", this process" : "";
  return `${o.holder ?? "a process"} (pid ${o.pid} on host ${o.host}${since}${self})`;
}

/** Whether process `pid` of this host may run: only a missing `/proc/<pid>` (Linux) says it does not. */
export function processRuns(pid: number): boolean {
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch (e) {
    return !(e instanceof Deno.errors.NotFound);
  }
}
