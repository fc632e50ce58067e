/**
 * The entry point of a job: {@linkcode StreamEnvironment} creates sources and
 * runs the dataflow built from them.
 *
 * @module
 */
import { ConfigError, JobCancelledError } from "../errors.ts";
import { ArraySource, checkIterable, IterableSource } from "../connectors/collection_source.ts";
import type { Source } from "../connectors/source.ts";
import { type GeneratorOptions, GeneratorSource } from "../connectors/generator_source.ts";
import { FileSource, type FileSourceEncoding } from "../connectors/file_source.ts";
import {
  type ReaderWatermarks,
  SourceWatermarksOperator,
  WatermarkedSource,
} from "../connectors/_watermarked_source.ts";
import { checkWatermarkStrategy, type WatermarkStrategy } from "../time/watermark_strategy.ts";
import type { StateBackend } from "../state/backend.ts";
import { HeapStateBackend } from "../state/heap/heap_backend.ts";
import { LsmStateBackend } from "../state/lsm/lsm_backend.ts";
import { defaultMaxParallelism, UPPER_BOUND_MAX_PARALLELISM } from "../state/key_group.ts";
import { type Clock, ManualClock, SystemClock } from "../runtime/clock.ts";
import { outputSerializerOf, type Transformation } from "../runtime/graph.ts";
import { type ExecutorKind, Job, type JobResult } from "../runtime/job.ts";
import {
  nextJobIndex,
  runInWorker,
  runShare,
  type ShareConfig,
  workerIndex,
} from "../runtime/_worker_role.ts";
import type { WorkerLink } from "../runtime/_worker_protocol.ts";
import { currentSite, defaultExecution } from "./_default_execution.ts";
import { checkUserFunction } from "./_user_function.ts";
import { noteSkipped } from "../../statestore-as/_skip_note.ts";
import { buildPhysicalPlan, type PhysicalPlan } from "../runtime/physical_plan.ts";
import { type JobClient, runJob } from "../runtime/job_runner.ts";
import type { CheckpointConfig, StopOptions } from "../checkpoint/coordinator.ts";
import type { CheckpointFs } from "../checkpoint/checkpoint_fs.ts";
import {
  checkRestartStrategy,
  DEFAULT_EXPONENTIAL_DELAY,
  type RestartStrategy,
} from "../checkpoint/restart_strategy.ts";
import { DEFAULT_REPEATED_FAILURE_LIMIT } from "../checkpoint/failure_classifier.ts";
import {
  type CollectOptions,
  DataStream,
  type GraphBuilder,
  OPERATOR_OPTIONS,
  type OperatorOptions,
} from "./data_stream.ts";
import { CommittedCollectSink, FirstRecordsSink } from "../connectors/_collect_results.ts";
import { type Serializer, Serializers } from "../state/serializer.ts";
import {
  type CheckpointStorageSpec,
  type FlagOptions,
  type FlagValues,
  type JobFlags,
  parseCheckpointStorage,
  parseJobFlags,
} from "./flags.ts";
import { CheckpointMirror } from "../checkpoint/storage/checkpoint_mirror.ts";
import { openRemoteStore } from "../checkpoint/storage/open_remote_store.ts";
import { redactUrl } from "../checkpoint/storage/remote_store.ts";
import { checkAdminExposure } from "../admin/exposure.ts";
import { checkOptionNames, shownValue } from "../_options.ts";

/**
 * How a job runs. Every field has a default.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type EnvironmentConfig, HeapStateBackend, ManualClock, StreamEnvironment } from "@weir/weir";
 * const config: EnvironmentConfig = {
 *   parallelism: 2,
 *   maxParallelism: 256,
 *   stateBackend: new HeapStateBackend(),
 *   clock: new ManualClock(0),
 * };
 * const env = StreamEnvironment.create(config);
 * assert.equal(env.config.parallelism, 2);
 * assert.equal(env.config.stateBackend.name, "heap");
 * ```
 */
export interface EnvironmentConfig {
  /**
   * Default parallelism of operators. Unset: the number of cores
   * (`navigator.hardwareConcurrency`, at most 85) when the job may run on
   * workers, as Flink's local environment; else 1 (`executor: "inline"`,
   * under `deno test`, with a `ManualClock`).
   */
  parallelism?: number;
  /**
   * Where subtasks run (`--executor`): `workers` on Deno Web Workers, one per
   * core at most, each importing the job's main module again (see
   * docs/execution.md for the contract); `inline` on this thread. Unset:
   * `workers` when the parallelism is above 1 and the job runs as a script,
   * `inline` at parallelism 1, under `deno test` (whose workers would import
   * the test file), with a `ManualClock` and where workers could not read the script or weir
   * (docs/execution.md, "Defaults").
   */
  executor?: ExecutorKind;
  /**
   * With the worker executor: how long a Web Worker may take from its start
   * until its script calls `execute()` (300000 ms, as Flink's
   * `slot.request.timeout`). Past it the job fails, naming the worker and
   * what it was doing; restoring its state afterwards is not counted.
   */
  workerStartTimeoutMs?: number;
  /**
   * With the worker executor: the bytes that the rings of all channels
   * between workers share (256 MiB), as Flink's network memory. Each ring
   * holds 512 KiB while they fit, less at high parallelism (a keyed edge has
   * p × p channels), and never under 32 KiB, whatever this says.
   */
  ringMemoryBytes?: number;
  /**
   * Number of key groups (Flink's default for the parallelism: at least 128; on a restore, the
   * snapshot's).
   */
  maxParallelism?: number;
  /** Keyed state backend (the LSM backend). */
  stateBackend?: StateBackend;
  /**
   * Processing-time clock (the system clock); tests pass a `ManualClock`, and
   * a job with one runs inline (at parallelism 1 unless given): only this
   * thread can advance it.
   */
  clock?: Clock;
  /** Records a channel between tasks buffers before its producer waits (8192). */
  channelCapacity?: number;
  /** Checkpointing (off unless given). */
  checkpoint?: CheckpointingOptions;
  /** `"latest"` (needs `checkpoint.dir`) or the path of a checkpoint or savepoint. */
  restore?: string;
  /**
   * Restore even when the snapshot holds state of operators the job lacks, or
   * keyed state of an operator the job no longer keys (that state is dropped).
   */
  allowNonRestoredState?: boolean;
  /** Print the physical plan as JSON and exit instead of running (`--print-plan`). */
  printPlan?: boolean;
  /**
   * Let `restore: "latest"` (and restarts) fall back past damaged checkpoints
   * whose exactly-once output was committed, emitting that output again
   * (false: such a fallback fails with an error that says so).
   */
  allowDuplicateOutput?: boolean;
  /**
   * What to do when the job fails (none without checkpointing; Flink's
   * exponential-delay defaults with it).
   */
  restartStrategy?: RestartStrategy;
  /**
   * The same failure (same task, same error) this many times in a row, each
   * after restoring the same checkpoint (or none), is deterministic: the job
   * stops instead of restarting (3).
   */
  repeatedFailureLimit?: number;
  /** Where the job reports restores and restarts (stderr). */
  log?: (line: string) => void;
  /** The admin HTTP API (off unless given; `executeAsync` serves it while the job runs). */
  admin?: AdminOptions;
}

/**
 * Where the admin API listens (`--admin-port`, `--admin-host`, `--admin-token`,
 * `--admin-insecure`, `--savepoint-dir`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type AdminOptions, StreamEnvironment } from "@weir/weir";
 * const admin: AdminOptions = { port: 0, host: "127.0.0.1", token: "s3cret" };
 * const env = StreamEnvironment.create({ admin, log: () => {} });
 * env.fromElements(1).map((n: number) => n);
 * const client = env.executeAsync("with admin");
 * await client.done;
 * assert.equal(env.config.admin?.token, "s3cret");
 * ```
 */
export interface AdminOptions {
  /** Port; 0 picks a free one. */
  port: number;
  /** Interface to bind (127.0.0.1). */
  host?: string;
  /** Bearer token requests need (`WEIR_ADMIN_TOKEN` when the flag is absent). */
  token?: string;
  /** Origins allowed cross-origin requests (CORS is off unless given). */
  corsOrigins?: string[];
  /** Serve a non-loopback `host` without a token (refused otherwise). */
  insecure?: boolean;
  /**
   * A further directory savepoint requests' `target-directory` may point into
   * (the checkpoint directory's `savepoints/` always may).
   */
  savepointDir?: string;
}

/**
 * Checkpointing options, as Flink's; only `dir` is required.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type CheckpointingOptions, StreamEnvironment } from "@weir/weir";
 * const dir = Deno.makeTempDirSync();
 * const checkpoint: CheckpointingOptions = {
 *   dir,
 *   intervalMs: 10_000,
 *   mode: "at-least-once",
 *   retained: 3,
 * };
 * const env = StreamEnvironment.create({ checkpoint });
 * assert.equal(env.config.checkpoint?.retained, 3);
 * assert.equal(env.config.checkpoint?.mode, "at-least-once");
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export interface CheckpointingOptions {
  /**
   * The checkpoint directory; with `storage`, the local working copy (a new
   * temporary folder when empty).
   */
  dir: string;
  /**
   * A database to keep checkpoints in (`postgres://…`, `redis://…`; the URL's
   * `job` parameter names the job there, the job name by default). Start the
   * job with `execute()`, which first reads the database's checkpoints.
   */
  storage?: string;
  /** ms between periodic checkpoints (none: only manual and final checkpoints). */
  intervalMs?: number;
  /** `exactly-once` (default, aligned barriers) or `at-least-once`. */
  mode?: "exactly-once" | "at-least-once";
  /** Abort a checkpoint after this many ms (10 minutes). */
  timeoutMs?: number;
  /** Pause between checkpoints in ms (0). */
  minPauseMs?: number;
  /** Checkpoints in flight at once (1). */
  maxConcurrent?: number;
  /** Consecutive failed checkpoints tolerated before the job fails (0). */
  tolerableFailures?: number;
  /** Completed checkpoints kept (1). */
  retained?: number;
  /** Keep checkpoints when the job is cancelled (false). */
  retainOnCancellation?: boolean;
  /**
   * With periodic checkpoints, the main thread's watchdog (Flink's `task.cancellation.timeout`,
   * 180 000): a subtask on the main thread that never returns holds the coordinator too, so
   * its checkpoints cannot time out. Once the thread has not run for the checkpoint interval,
   * `tolerableFailures + 1` times `timeoutMs + minPauseMs`, and this many ms more, the
   * process is killed (SIGKILL; `--restore latest` resumes). 0: never.
   */
  cancellationTimeoutMs?: number;
  /** File system (tests inject faults). */
  fs?: CheckpointFs;
}

export type { JobClient };

// Every option's name, for `checkOptionNames` (the Record type keeps them in step with the types).
const ENVIRONMENT_OPTIONS: Record<keyof EnvironmentConfig, true> = {
  parallelism: true,
  executor: true,
  workerStartTimeoutMs: true,
  ringMemoryBytes: true,
  maxParallelism: true,
  stateBackend: true,
  clock: true,
  channelCapacity: true,
  checkpoint: true,
  restore: true,
  allowNonRestoredState: true,
  printPlan: true,
  allowDuplicateOutput: true,
  restartStrategy: true,
  repeatedFailureLimit: true,
  log: true,
  admin: true,
};
const CHECKPOINT_OPTIONS: Record<keyof CheckpointingOptions, true> = {
  dir: true,
  storage: true,
  intervalMs: true,
  mode: true,
  timeoutMs: true,
  minPauseMs: true,
  maxConcurrent: true,
  tolerableFailures: true,
  retained: true,
  retainOnCancellation: true,
  cancellationTimeoutMs: true,
  fs: true,
};
const ADMIN_OPTIONS: Record<keyof AdminOptions, true> = {
  port: true,
  host: true,
  token: true,
  corsOrigins: true,
  insecure: true,
  savepointDir: true,
};

interface ResolvedConfig {
  parallelism: number;
  executor: ExecutorKind;
  workerStartTimeoutMs: number | undefined;
  ringMemoryBytes: number | undefined;
  maxParallelism: number;
  maxParallelismGiven: boolean;
  channelCapacity: number;
  stateBackend: StateBackend;
  clock: Clock;
  checkpoint: CheckpointConfig | undefined;
  checkpointFs: CheckpointFs | undefined;
  /** The database of `checkpoint.storage`, parsed. */
  checkpointStorage: Exclude<CheckpointStorageSpec, { kind: "file" }> | undefined;
  /** `checkpoint.dir` was made here (a database's working copy) and goes at the end. */
  checkpointDirIsTemporary: boolean;
  restore: string | undefined;
  allowNonRestoredState: boolean;
  printPlan: boolean;
  allowDuplicateOutput: boolean;
  restartStrategy: RestartStrategy;
  repeatedFailureLimit: number;
  log: (line: string) => void;
  admin: AdminOptions | undefined;
}

function count(name: string, v: number | undefined, fallback: number, min: number): number {
  const n = v ?? fallback;
  if (!(Number.isInteger(n) && n >= min)) {
    throw new ConfigError(`checkpoint.${name} must be an integer ≥ ${min}, got ${shownValue(v)}`);
  }
  return n;
}

function remoteStorage(
  url: string | undefined,
): Exclude<CheckpointStorageSpec, { kind: "file" }> | undefined {
  if (url === undefined) return undefined;
  const spec = parseCheckpointStorage(url);
  if (spec.kind === "file") {
    throw new ConfigError("checkpoint.storage names a database; give a folder as checkpoint.dir");
  }
  return spec;
}

/**
 * `--restore` against a database: `latest`, a checkpoint id or a savepoint's
 * name, found in the working folder the database was pulled into.
 */
function restoreTarget(dir: string, restore: string): string {
  if (restore === "latest") return restore;
  if (/^\d+$/.test(restore)) return `${dir}/chk-${restore}`;
  const name = restore.replace(/^savepoints\//, "");
  if (!name.includes("/")) return `${dir}/savepoints/${name}`;
  throw new ConfigError(
    `--restore with checkpoints in a database takes latest, a checkpoint id or a savepoint name, got "${restore}"`,
  );
}

function resolveCheckpoint(o: CheckpointingOptions | undefined): CheckpointConfig | undefined {
  if (!o) return undefined;
  checkOptionNames("checkpoint", o, CHECKPOINT_OPTIONS);
  if (o.storage !== undefined && (o.dir === "" || o.dir === undefined)) {
    // A worker of the worker executor uses the main thread's working folder (its init names it).
    o = {
      ...o,
      dir: workerIndex === undefined
        ? Deno.makeTempDirSync({ prefix: "weir-checkpoints-" })
        : "(the main thread's working folder)",
    };
  }
  if (typeof o.dir !== "string" || o.dir === "") {
    throw new ConfigError("checkpoint.dir must name a directory");
  }
  const mode = o.mode ?? "exactly-once";
  if (mode !== "exactly-once" && mode !== "at-least-once") {
    throw new ConfigError(`checkpoint.mode must be exactly-once or at-least-once, got "${mode}"`);
  }
  return {
    dir: o.dir,
    intervalMs: o.intervalMs === undefined ? undefined : count("intervalMs", o.intervalMs, 0, 1),
    mode,
    timeoutMs: count("timeoutMs", o.timeoutMs, 600_000, 1),
    minPauseMs: count("minPauseMs", o.minPauseMs, 0, 0),
    maxConcurrent: count("maxConcurrent", o.maxConcurrent, 1, 1),
    tolerableFailures: count("tolerableFailures", o.tolerableFailures, 0, 0),
    retained: count("retained", o.retained, 1, 1),
    retainOnCancellation: o.retainOnCancellation ?? false,
    cancellationTimeoutMs: count("cancellationTimeoutMs", o.cancellationTimeoutMs, 180_000, 0),
    ...(o.storage !== undefined ? { database: redactUrl(o.storage) } : {}),
  };
}

function checkAdmin(a: AdminOptions | undefined): AdminOptions | undefined {
  if (!a) return undefined;
  checkOptionNames("admin", a, ADMIN_OPTIONS);
  if (!Number.isInteger(a.port) || a.port < 0 || a.port > 65535) {
    throw new ConfigError(`admin.port must be a port number 0..65535, got ${shownValue(a.port)}`);
  }
  if (a.host !== undefined && a.host === "") throw new ConfigError("admin.host must not be empty");
  // Before the job starts: a refused admin API must not leave a job running.
  checkAdminExposure(a.host ?? "127.0.0.1", a.token, a.insecure ?? false);
  return a;
}

function adminFromFlags(flags: JobFlags, base: AdminOptions | undefined): AdminOptions {
  let token = flags.adminToken ?? base?.token;
  if (token === undefined) {
    try {
      token = Deno.env.get("WEIR_ADMIN_TOKEN") || undefined;
    } catch {
      // No env permission: no token from the environment.
    }
  }
  return {
    ...base,
    port: flags.adminPort!,
    ...(flags.adminHost !== undefined ? { host: flags.adminHost } : {}),
    ...(token !== undefined ? { token } : {}),
    ...(flags.adminInsecure ? { insecure: true } : {}),
    ...(flags.savepointDir !== undefined ? { savepointDir: flags.savepointDir } : {}),
  };
}

/**
 * How long the admin API stays up after a stop it was asked for, or after the job failed for
 * good, so clients can read the result (the savepoint; status FAILED and the exceptions).
 */
const STOP_RESULT_GRACE_MS = 3000;

/**
 * The admin server, loaded only when a job asks for the admin API: a job
 * without it, and every worker of the worker executor, never loads hono.
 */
function loadAdminServer() {
  return Promise.all([import("../admin/server.ts"), import("../admin/runtime.ts")]);
}

/**
 * Serves the admin API while the job runs; `done` settles once the server has
 * stopped. The server starts once `server` has loaded: if it cannot listen,
 * the job is cancelled and `done` rejects with that error.
 */
function withAdmin(
  client: JobClient,
  admin: AdminOptions,
  server: ReturnType<typeof loadAdminServer>,
): JobClient {
  let stoppedThroughApi = false;
  const served: JobClient = Object.create(client, {
    stopWithSavepoint: {
      value: (name?: string, stop?: StopOptions) => {
        stoppedThroughApi = true;
        return client.stopWithSavepoint(name, stop);
      },
    },
    cancelWithSavepoint: {
      value: (name?: string) => {
        stoppedThroughApi = true;
        return client.cancelWithSavepoint(name);
      },
    },
  });
  const listening = server.then(([{ serveAdmin }, { jobClientRuntime }]) =>
    serveAdmin(jobClientRuntime(served), {
      port: admin.port,
      ...(admin.host !== undefined ? { host: admin.host } : {}),
      ...(admin.token !== undefined ? { token: admin.token } : {}),
      ...(admin.corsOrigins !== undefined ? { corsOrigins: admin.corsOrigins } : {}),
      ...(admin.insecure !== undefined ? { insecure: admin.insecure } : {}),
      ...(admin.savepointDir !== undefined ? { savepointDir: admin.savepointDir } : {}),
    })
  );
  // Awaited once the server listens: a job that fails before then is no unhandled rejection.
  client.done.catch(() => {});
  const done = (async () => {
    let api;
    try {
      api = await listening;
    } catch (e) {
      // A port in use: the job must not run on without the API it was asked to serve.
      client.cancel();
      await client.done.catch(() => {});
      throw e;
    }
    let failed = false;
    try {
      return await client.done;
    } catch (e) {
      failed = true;
      throw e;
    } finally {
      if (stoppedThroughApi || failed) {
        await new Promise((r) => setTimeout(r, STOP_RESULT_GRACE_MS));
      }
      await api.shutdown();
    }
  })();
  return {
    done,
    get job() {
      return client.job;
    },
    get restarts() {
      return client.restarts;
    },
    get restarting() {
      return client.restarting;
    },
    get failures() {
      return client.failures;
    },
    get endedAttempts() {
      return client.endedAttempts;
    },
    cancel: () => client.cancel(),
    triggerCheckpoint: () => client.triggerCheckpoint(),
    triggerSavepoint: (name?: string, targetDirectory?: string) =>
      client.triggerSavepoint(name, targetDirectory),
    stopWithSavepoint: (name?: string, stop?: StopOptions) => client.stopWithSavepoint(name, stop),
    cancelWithSavepoint: (name?: string) => client.cancelWithSavepoint(name),
  };
}

/**
 * Creates sources and runs the dataflow built from them.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CollectSink, StreamEnvironment } from "@weir/weir";
 * const env = StreamEnvironment.create({ parallelism: 2 });
 * const out = new CollectSink<number>();
 * env.fromCollection([1, 2, 3, 4]).map((x) => x * 10).addSink(out);
 * const result = await env.execute("times ten");
 * assert.ok(out.values.sort((a, b) => a - b).join() === "10,20,30,40");
 * assert.ok(result.name === "times ten");
 * ```
 */
export class StreamEnvironment implements GraphBuilder {
  readonly #nodes: Transformation[] = [];
  readonly #config: ResolvedConfig;
  #executed = false;
  /** This environment's job among the script's jobs (see `nextJobIndex`), once it starts. */
  #jobIndex: number | undefined;
  #mirror: CheckpointMirror | undefined;
  /** The database's closing, after a job it opened for was refused before it ran. */
  #closing: Promise<void> | undefined;
  #adminServer: ReturnType<typeof loadAdminServer> | undefined;

  private constructor(config: ResolvedConfig) {
    this.#config = config;
  }

  /**
   * Creates an environment; checks the config and throws `ConfigError` naming a bad field, or
   * an unknown one (a misspelt option of `config`, `checkpoint` or `admin`).
   */
  static create(config: EnvironmentConfig = {}): StreamEnvironment {
    checkOptionNames("StreamEnvironment.create", config, ENVIRONMENT_OPTIONS);
    if (
      config.executor !== undefined && config.executor !== "inline" &&
      config.executor !== "workers"
    ) {
      throw new ConfigError(`executor must be inline or workers, got "${config.executor}"`);
    }
    // A ManualClock moves only when this thread advances it: a worker would rebuild one of its
    // own that nothing advances, so such a job runs inline (the test driver's deterministic runs).
    const manualClock = config.clock instanceof ManualClock;
    if (manualClock && config.executor === "workers") {
      throw new ConfigError(
        'A job with a ManualClock runs inline: its workers would each have a clock that nothing advances; leave executor unset or "inline"',
      );
    }
    const site = currentSite();
    const { parallelism, executor } = defaultExecution(
      config,
      manualClock ? { ...site, workersPossible: false } : site,
    );
    // Workers would have run it but may not read the script: say so once, as the other extras do.
    if (
      site.unreadable !== undefined && !manualClock &&
      defaultExecution(config, { ...site, workersPossible: true }).executor === "workers"
    ) {
      noteSkipped(
        "running on every core (the job runs inline, on one thread)",
        `--allow-read=${site.unreadable}`,
      );
    }
    if (!Number.isInteger(parallelism) || parallelism < 1) {
      throw new ConfigError(
        `parallelism must be a positive integer, got ${shownValue(parallelism)}`,
      );
    }
    if (parallelism > UPPER_BOUND_MAX_PARALLELISM) {
      throw new ConfigError(
        `parallelism must be at most ${UPPER_BOUND_MAX_PARALLELISM} (the most key groups), got ${parallelism}`,
      );
    }
    const maxParallelism = config.maxParallelism ?? defaultMaxParallelism(parallelism);
    if (
      !Number.isInteger(maxParallelism) || maxParallelism < parallelism ||
      maxParallelism > UPPER_BOUND_MAX_PARALLELISM
    ) {
      throw new ConfigError(
        `maxParallelism must be an integer in ${parallelism}..${UPPER_BOUND_MAX_PARALLELISM}, got ${
          shownValue(maxParallelism)
        }`,
      );
    }
    const channelCapacity = config.channelCapacity ?? 8192;
    if (!Number.isInteger(channelCapacity) || channelCapacity < 1) {
      throw new ConfigError(
        `channelCapacity must be a positive integer, got ${shownValue(channelCapacity)}`,
      );
    }
    const workerStartTimeoutMs = config.workerStartTimeoutMs;
    if (
      workerStartTimeoutMs !== undefined &&
      (!Number.isInteger(workerStartTimeoutMs) || workerStartTimeoutMs < 1)
    ) {
      throw new ConfigError(
        `workerStartTimeoutMs must be a positive integer (ms), got ${
          shownValue(workerStartTimeoutMs)
        }`,
      );
    }
    const ringMemoryBytes = config.ringMemoryBytes;
    if (
      ringMemoryBytes !== undefined && (!Number.isInteger(ringMemoryBytes) || ringMemoryBytes < 1)
    ) {
      throw new ConfigError(
        `ringMemoryBytes must be a positive integer (bytes), got ${shownValue(ringMemoryBytes)}`,
      );
    }
    const checkpoint = resolveCheckpoint(config.checkpoint);
    if (config.restore === "latest" && !checkpoint) {
      throw new ConfigError('restore "latest" needs a checkpoint directory (--checkpoint-dir)');
    }
    const restartStrategy = config.restartStrategy ??
      (checkpoint ? DEFAULT_EXPONENTIAL_DELAY : { kind: "none" });
    checkRestartStrategy(restartStrategy);
    const repeatedFailureLimit = config.repeatedFailureLimit ?? DEFAULT_REPEATED_FAILURE_LIMIT;
    if (!Number.isInteger(repeatedFailureLimit) || repeatedFailureLimit < 1) {
      throw new ConfigError(
        `repeatedFailureLimit must be a positive integer, got ${shownValue(repeatedFailureLimit)}`,
      );
    }
    if (
      config.clock !== undefined &&
      (typeof config.clock?.now !== "function" || typeof config.clock.schedule !== "function")
    ) {
      throw new ConfigError("clock must have now() and schedule(at, callback)");
    }
    if (config.log !== undefined && typeof config.log !== "function") {
      throw new ConfigError(`log must be a function of a line, got ${JSON.stringify(config.log)}`);
    }
    if (config.restore !== undefined && typeof config.restore !== "string") {
      throw new ConfigError(
        `restore must be "latest", a checkpoint id or a path, got ${
          JSON.stringify(config.restore)
        }`,
      );
    }
    const stateBackend = config.stateBackend ?? new LsmStateBackend();
    if (typeof (stateBackend as Partial<StateBackend>).createKeyedBackend !== "function") {
      throw new ConfigError(
        `stateBackend must be a state backend (new HeapStateBackend() or new ` +
          `LsmStateBackend(...)), got ${JSON.stringify(stateBackend)}`,
      );
    }
    const encoder = new TextEncoder();
    return new StreamEnvironment({
      parallelism,
      executor,
      workerStartTimeoutMs,
      ringMemoryBytes,
      maxParallelism,
      maxParallelismGiven: config.maxParallelism !== undefined,
      channelCapacity,
      stateBackend,
      clock: config.clock ?? new SystemClock(),
      checkpoint,
      checkpointFs: config.checkpoint?.fs,
      checkpointStorage: remoteStorage(config.checkpoint?.storage),
      checkpointDirIsTemporary: config.checkpoint?.storage !== undefined &&
        !config.checkpoint.dir,
      restore: config.restore,
      allowNonRestoredState: config.allowNonRestoredState ?? false,
      printPlan: config.printPlan ?? false,
      allowDuplicateOutput: config.allowDuplicateOutput ?? false,
      restartStrategy,
      repeatedFailureLimit,
      log: config.log ?? ((line) => Deno.stderr.writeSync(encoder.encode(`weir: ${line}\n`))),
      admin: checkAdmin(config.admin),
    });
  }

  /**
   * Creates an environment from the common job flags in `args` (default
   * `Deno.args`) and parses the job's own `options` too; `config` supplies
   * what the flags leave open. Throws `ConfigError` for a bad flag.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { StreamEnvironment } from "@weir/weir";
   * const { env, values } = StreamEnvironment.fromArgs(
   *   ["--parallelism", "2", "--input", "in.txt"],
   *   { input: { type: "string" } },
   * );
   * assert.ok(env.config.parallelism === 2 && values.input === "in.txt");
   * ```
   */
  static fromArgs(
    args: string[] = Deno.args,
    options: FlagOptions = {},
    config: EnvironmentConfig = {},
  ): { env: StreamEnvironment; flags: JobFlags; values: FlagValues } {
    const { flags, values } = parseJobFlags(args, options);
    const checkpoint: CheckpointingOptions | undefined =
      flags.checkpointDir !== undefined || flags.checkpointStorage !== undefined
        ? {
          ...config.checkpoint,
          dir: flags.checkpointDir ?? "",
          ...(flags.checkpointStorage !== undefined ? { storage: flags.checkpointStorage } : {}),
          ...(flags.checkpointInterval !== undefined
            ? { intervalMs: flags.checkpointInterval }
            : {}),
          ...(flags.mode !== undefined ? { mode: flags.mode } : {}),
          ...(flags.retainedCheckpoints !== undefined
            ? { retained: flags.retainedCheckpoints }
            : {}),
        }
        : config.checkpoint;
    const env = StreamEnvironment.create({
      ...config,
      ...(flags.parallelism !== undefined ? { parallelism: flags.parallelism } : {}),
      ...(flags.maxParallelism !== undefined ? { maxParallelism: flags.maxParallelism } : {}),
      ...(flags.stateBackend === undefined ? {} : {
        stateBackend: flags.stateBackend === "heap"
          ? new HeapStateBackend()
          : new LsmStateBackend(),
      }),
      ...(checkpoint ? { checkpoint } : {}),
      ...(flags.restore !== undefined ? { restore: flags.restore } : {}),
      ...(flags.allowNonRestoredState ? { allowNonRestoredState: true } : {}),
      ...(flags.printPlan ? { printPlan: true } : {}),
      ...(flags.executor !== undefined ? { executor: flags.executor } : {}),
      ...(flags.allowDuplicateOutput ? { allowDuplicateOutput: true } : {}),
      ...(flags.adminPort !== undefined ? { admin: adminFromFlags(flags, config.admin) } : {}),
    });
    return { env, flags, values };
  }

  /** The resolved config. */
  get config(): Readonly<ResolvedConfig> {
    return this.#config;
  }

  /** @internal */
  addNode(node: Omit<Transformation, "id" | "uid" | "parallelism" | "chainable">): Transformation {
    // The job ran with the operators it had then: one added after would never run.
    if (this.#executed) {
      throw new ConfigError(
        `Operator "${node.name}" was added after this environment ran its job, so it would ` +
          `never run; build the whole job before execute(), or build another job in a new ` +
          `StreamEnvironment`,
      );
    }
    // Nodes are numbered per environment: another one's node would be taken for this one's of its
    // number (a union would read the wrong stream).
    for (const e of node.inputs) {
      if (this.#nodes[e.source.id] !== e.source) {
        throw new ConfigError(
          `Operator "${node.name}": its input "${e.source.name}" belongs to another ` +
            `StreamEnvironment; the streams of one job must come from one environment`,
        );
      }
    }
    const t: Transformation = {
      ...node,
      id: this.#nodes.length,
      uid: undefined,
      parallelism: undefined,
      chainable: true,
    };
    this.#nodes.push(t);
    return t;
  }

  /** Reads from any {@linkcode Source}. */
  addSource<T>(source: Source<T>, opts?: OperatorOptions): DataStream<T> {
    // A Flink SourceFunction (`run`/`cancel`) or a null would otherwise fail only once the job
    // runs, with "createReader is not a function" from inside weir.
    checkUserFunction("addSource", source, ["createReader"], false);
    if (opts !== undefined) {
      checkOptionNames(`Source "${source.name}"`, opts, OPERATOR_OPTIONS);
    }
    const node = this.addNode({
      kind: "source",
      name: opts?.name ?? `Source: ${source.name}`,
      inputs: [],
      source: source as Source<unknown>,
    });
    const stream = new DataStream<T>(this, node);
    if (opts?.uid !== undefined) stream.uid(opts.uid);
    if (opts?.parallelism !== undefined) stream.setParallelism(opts.parallelism);
    return stream;
  }

  /**
   * Reads `source` with watermarks generated inside its readers, per split
   * (Flink's `fromSource`): each split's records go through their own
   * generator of `strategy`, a subtask's watermark is the minimum over its
   * active splits, a split without records for the strategy's idleness
   * timeout stops holding it back (a subtask whose splits are all idle is
   * idle downstream), and with `withWatermarkAlignment` a split whose
   * watermark runs more than the drift ahead of its group's lowest is paused
   * until the others catch up (`SourceReader.pauseOrResumeSplits`; a reader
   * without it pauses as a whole). Readers name a record's split with
   * `out.forSplit(id)` (the file and Kafka sources do); other records count
   * as one split per reader. `opts.uid` and `opts.parallelism` apply to the
   * source (its splits are state under that uid).
   *
   * @example Two splits read in turns, one far behind: the watermark follows the slower
   * ```ts
   * import assert from "node:assert/strict";
   * import { CollectSink, type Source, StreamEnvironment, WatermarkStrategy } from "@weir/weir";
   * const records: [string, number][] = [["a", 1000], ["b", 10], ["a", 2000], ["b", 20]];
   * const source: Source<number> = {
   *   name: "two-splits",
   *   maxParallelism: 1,
   *   createReader() {
   *     let next = 0;
   *     return {
   *       poll(out) {
   *         if (next === 0) ["a", "b"].forEach((split) => out.forSplit?.(split)); // both assigned
   *         const r = records[next++];
   *         if (!r) return "end";
   *         (out.forSplit?.(r[0]) ?? out).collect(r[1]);
   *         return "more";
   *       },
   *       position: () => next,
   *       restore(p) { next = p as number; },
   *     };
   *   },
   * };
   * const strategy = WatermarkStrategy.forMonotonousTimestamps<number>()
   *   .withTimestampAssigner((n) => n)
   *   .withPerRecordWatermarks();
   * const env = StreamEnvironment.create();
   * const seen = new CollectSink<string>();
   * env.fromSource(source, strategy, "two splits", { uid: "two-splits" })
   *   .process<string>({ processElement: (n, ctx, out) => out.collect(`${n}/${ctx.currentWatermark()}`) })
   *   .addSink(seen);
   * await env.execute();
   * // Split "b" holds the watermark back: 9 after its first record, not 999.
   * assert.deepEqual(seen.values, ["1000/-Infinity", "10/-Infinity", "2000/9", "20/9"]);
   * ```
   */
  fromSource<T>(
    source: Source<T>,
    strategy: WatermarkStrategy<T>,
    name: string,
    opts?: OperatorOptions,
  ): DataStream<T> {
    checkUserFunction("fromSource", source, ["createReader"], false);
    checkWatermarkStrategy("fromSource", strategy);
    const readers: ReaderWatermarks<T> = new Map();
    const wrapped = new WatermarkedSource(source, strategy, readers);
    const stream = this.addSource(wrapped, { ...opts, name: `Source: ${name}` });
    // Chained to its source, at its parallelism: it reads the watermarks of its subtask's reader.
    const node = this.addNode({
      kind: "operator",
      name: `${name}: Watermarks`,
      inputs: [stream.edge()],
      createOperator: () => new SourceWatermarksOperator(readers),
      chainedTo: stream.node,
    });
    return new DataStream<T>(this, node);
  }

  /**
   * Reads an array, an iterable or an async iterable in order, on one subtask,
   * as Flink's `fromCollection` (a non-parallel source: its records, their
   * watermarks and so an event-time job's results do not depend on the job's
   * parallelism). An array's source may be given more: `setParallelism(p)`
   * on the returned stream has subtask `i` read every `p`-th item. A one-shot
   * iterator (a generator object) cannot be read again: a restart of the job
   * in this process fails with a `ConfigError`; pass an iterable that starts over. Anything
   * else (null, a string, a number) is a `ConfigError` naming it.
   */
  fromCollection<T>(items: readonly T[] | Iterable<T> | AsyncIterable<T>): DataStream<T> {
    checkIterable("fromCollection", items);
    const source = Array.isArray(items)
      ? new ArraySource<T>(items)
      : new IterableSource<T>(items as Iterable<T> | AsyncIterable<T>);
    return this.addSource(source, { name: "Collection Source", parallelism: 1 });
  }

  /** Reads the given values. */
  fromElements<T>(...items: T[]): DataStream<T> {
    return this.fromCollection(items);
  }

  /**
   * Generates records `generate(seq, random)`, deterministically (see
   * {@linkcode GeneratorSource}); in parallel, subtask `i` makes every `p`-th.
   */
  generate<T>(options: GeneratorOptions<T>): DataStream<T> {
    return this.addSource(new GeneratorSource<T>(options), { name: "Generator Source" });
  }

  /**
   * Reads the lines of a text file (UTF-8 unless `opts.encoding` says
   * otherwise), in parallel by byte ranges (see {@linkcode FileSource}).
   * `path` is a path or a `file:` URL, as Flink's `readTextFile("file:///path")`.
   */
  readTextFile(
    path: string,
    opts?: { chunkBytes?: number; encoding?: Exclude<FileSourceEncoding, "bytes"> },
  ): DataStream<string> {
    if (opts !== undefined) {
      checkOptionNames("readTextFile", opts, { chunkBytes: true, encoding: true });
    }
    const source = new FileSource({ path, chunkBytes: opts?.chunkBytes, encoding: opts?.encoding });
    return this.addSource(source, {
      name: `File Source: ${path}`,
    });
  }

  /**
   * The physical plan `execute` would run: parallelism, chains, tasks with
   * their key-group ranges, channels (plain data). The environment stays
   * usable.
   */
  getExecutionPlan(name = "weir job"): PhysicalPlan {
    const c = this.#config;
    return buildPhysicalPlan(this.#nodes, {
      jobName: name,
      parallelism: c.parallelism,
      maxParallelism: c.maxParallelism,
    });
  }

  /** Builds the job without running it (for inspection and the test driver). */
  build(name: string): Job {
    if (this.#executed) {
      throw new ConfigError(`This environment already ran a job; create a new one for "${name}"`);
    }
    this.#executed = true;
    return new Job(this.#nodes, { name, ...this.#jobConfig() });
  }

  #jobConfig() {
    const c = this.#config;
    return {
      parallelism: c.parallelism,
      maxParallelism: c.maxParallelism,
      maxParallelismGiven: c.maxParallelismGiven,
      channelCapacity: c.channelCapacity,
      stateBackend: c.stateBackend,
      clock: c.clock,
      allowNonRestoredState: c.allowNonRestoredState,
      log: c.log,
    };
  }

  /**
   * Runs the job and resolves when it ends (bounded input, or a stop with a
   * savepoint). Rejects with `JobFailedError` when it fails for good and, as
   * Flink's `execute()`, with `JobCancelledError` when it is cancelled (its
   * `result` says what it did), so a supervisor tells a cancelled job's
   * process from a finished one's (`executeAsync`'s `done` resolves with
   * `cancelled: true` instead).
   * With the worker executor, the script runs again in every worker, where
   * `execute` runs that worker's subtasks and never settles; there the jobs
   * the script started before this one resolve at once, having run nothing
   * (docs/execution.md).
   */
  execute(name = "weir job"): Promise<JobResult> {
    return this.#start(name).then((client) => client.done).then((result) => {
      if (result.cancelled) throw new JobCancelledError(result);
      return result;
    });
  }

  /**
   * Runs the job with a sink that brings `stream`'s records back: what
   * `stream.executeAndCollect(options)` does.
   */
  async executeAndCollect<T>(stream: DataStream<T>, options: CollectOptions = {}): Promise<T[]> {
    // Flink's executeAndCollect(limit) and executeAndCollect(jobName): say what they are here.
    if (typeof options === "number" || typeof options === "string") {
      const name = typeof options === "number" ? "limit" : "jobName";
      throw new ConfigError(
        `executeAndCollect takes an object of options, got ${shownValue(options)}: ` +
          `Flink's executeAndCollect(${shownValue(options)}) is ` +
          `executeAndCollect({ ${name}: ${shownValue(options)} })`,
      );
    }
    checkOptionNames("executeAndCollect", options, { jobName: true, limit: true });
    const { jobName = "weir job", limit = Infinity } = options;
    if (limit !== Infinity && (!Number.isInteger(limit) || limit < 1)) {
      throw new ConfigError(
        `executeAndCollect: limit must be a positive integer, got ${shownValue(limit)}`,
      );
    }
    const sink = this.#config.checkpoint
      ? new CommittedCollectSink<T>(
        limit,
        (outputSerializerOf(stream.node, stream.sideOutput) ?? Serializers.plain) as Serializer<T>,
      )
      : new FirstRecordsSink<T>(limit);
    stream.addSink(sink, { name: "Collect" });
    const client = await this.#start(jobName);
    let full = false;
    // Cancelled from outside (the admin API, `weir cancel`) rejects, as `execute()` does; the
    // cancel that follows a full sink does not.
    const ended = client.done.then((result) => {
      if (result.cancelled && !full) throw new JobCancelledError(result);
      return false;
    });
    if (await Promise.race([ended, sink.full.promise.then(() => full = true)])) {
      client.cancel();
      await client.done;
    }
    return sink.values;
  }

  // Starts the job as `execute` does and resolves with its client once it runs:
  // first it reads the checkpoints kept in a database and loads the admin server,
  // where the config asks for them (`executeAsync` does neither).
  #start(name: string): Promise<JobClient> {
    // Before anything awaits: the script's jobs are numbered in the order it starts them.
    this.#jobIndex ??= nextJobIndex();
    if (this.#pullsCheckpoints() || (this.#servesAdmin() && this.#adminServer === undefined)) {
      return this.#prepare(name).then(() => this.executeAsync(name));
    }
    try {
      return Promise.resolve(this.executeAsync(name));
    } catch (e) {
      // What fails before the first attempt rejects too, as a failed job does (once a database's
      // connections are closed: the script may exit right after).
      return (this.#closing ?? Promise.resolve()).then(() => Promise.reject(e));
    }
  }

  // Pull checkpoints kept in a database into the working folder, and load the admin
  // server before the job starts (so a port in use stops it before it runs).
  async #prepare(name: string): Promise<void> {
    if (this.#pullsCheckpoints()) await this.openCheckpointStorage(name);
    if (this.#servesAdmin()) await (this.#adminServer ??= loadAdminServer());
  }

  /**
   * Whether this thread still has to pull the checkpoints from their database
   * (a worker never does: the main thread restores and names the folder).
   */
  #pullsCheckpoints(): boolean {
    return this.#config.checkpointStorage !== undefined && !this.#mirror &&
      workerIndex === undefined;
  }

  /** Whether this thread serves the admin API (never a worker, never a plan print). */
  #servesAdmin(): boolean {
    const c = this.#config;
    return c.admin !== undefined && workerIndex === undefined && !c.printPlan;
  }

  /**
   * With checkpoints in a database (`checkpoint.storage`), connects and reads
   * its checkpoints of job `name` (or of the URL's `job` parameter), so that
   * `executeAsync` can restore from them. `execute()` does this itself. The
   * connection closes when the job ends.
   */
  async openCheckpointStorage(name = "weir job"): Promise<void> {
    const spec = this.#config.checkpointStorage;
    if (!spec) throw new ConfigError("This environment keeps no checkpoints in a database");
    if (this.#mirror) return;
    const store = await openRemoteStore(spec, name);
    try {
      // Before the mirror discards parts of checkpoints that never completed: another live run's
      // are not leftovers.
      await store.lock();
      this.#mirror = await CheckpointMirror.open(store, this.#config.checkpoint!.dir);
    } catch (e) {
      await store.close().catch(() => {});
      throw e;
    }
  }

  // The job ended: let the database's background work finish, then close it.
  async #closeCheckpointStorage(): Promise<void> {
    await this.#mirror!.close();
    // A working folder this environment made holds only copies of what the database has.
    if (this.#config.checkpointDirIsTemporary) {
      Deno.removeSync(this.#config.checkpoint!.dir, { recursive: true });
    }
  }

  /**
   * Starts the job and returns a client to await, checkpoint, savepoint, stop
   * or cancel it. With checkpointing, a failed job restarts from its latest
   * checkpoint as the restart strategy allows.
   */
  executeAsync(name = "weir job"): JobClient {
    if (this.#executed) {
      throw new ConfigError(`This environment already ran a job; create a new one for "${name}"`);
    }
    const c = this.#config;
    const jobIndex = this.#jobIndex ??= nextJobIndex();
    if (workerIndex !== undefined) {
      // A worker of the worker executor: run this worker's subtasks and never return, or pass
      // over a job the script ran before the one this worker serves.
      this.#executed = true;
      const done = runInWorker(this.#nodes, { name, ...this.#jobConfig() }, jobIndex);
      const never = new Promise<never>(() => {});
      const nodes = this.#nodes;
      const config = { name, ...this.#jobConfig() };
      let planned: Job | undefined;
      return {
        done,
        get job(): Job {
          // A job that runs inline (on the main thread: a ManualClock's, the test driver's)
          // starts no workers, so it is never the job a worker serves: it is one the script ran
          // before, passed over here. Its job is planned as there, and never runs here.
          planned ??= new Job(nodes, config);
          const spread = Math.max(...planned.plan.chains.map((ch) => ch.parallelism)) > 1;
          if (c.executor === "workers" && spread) {
            throw new ConfigError("A worker of the worker executor has no job client");
          }
          return planned;
        },
        restarts: 0,
        restarting: false,
        failures: [],
        endedAttempts: [],
        cancel: () => {},
        triggerCheckpoint: () => never,
        triggerSavepoint: () => never,
        stopWithSavepoint: () => never,
        cancelWithSavepoint: () => never,
      };
    }
    if (c.printPlan) {
      console.log(JSON.stringify(this.getExecutionPlan(name), null, 2));
      Deno.exit(0);
    }
    if (c.checkpointStorage && !this.#mirror) {
      throw new ConfigError(
        "With checkpoints in a database (checkpoint.storage), start the job with execute() or call openCheckpointStorage() first",
      );
    }
    this.#executed = true;
    const share = { name, ...this.#jobConfig() };
    // Worker 0's share runs on this thread, unless its event loop must answer the network (the
    // admin API, a checkpoint database): a thread that runs tasks lets sockets in only at its
    // yields that wait for a timer (task.ts: 100 ms apart), which would delay every request.
    const shareHere = c.admin === undefined && c.checkpointStorage === undefined;
    let client: JobClient;
    try {
      client = this.#run(jobIndex, share, shareHere);
    } catch (e) {
      // Refused before it ran (a fresh start over completed checkpoints, a directory in use):
      // the database's connections, its job lock and the working folder go now, as at the end.
      if (this.#mirror) this.#closing = this.#closeCheckpointStorage().catch(() => {});
      throw e;
    }
    const result = c.admin
      ? withAdmin(client, c.admin, this.#adminServer ??= loadAdminServer())
      : client;
    if (!this.#mirror) return result;
    const done = result.done.finally(() => this.#closeCheckpointStorage());
    return Object.create(result, { done: { value: done } });
  }

  /** Starts the job (see `executeAsync`). */
  #run(
    jobIndex: number,
    share: ShareConfig,
    shareHere: boolean,
  ): JobClient {
    const c = this.#config;
    return runJob(this.#nodes, {
      job: {
        ...share,
        executor: c.executor,
        jobIndex,
        ...(c.workerStartTimeoutMs !== undefined
          ? { workerStartTimeoutMs: c.workerStartTimeoutMs }
          : {}),
        ...(c.ringMemoryBytes !== undefined ? { ringMemoryBytes: c.ringMemoryBytes } : {}),
        ...(shareHere
          ? { shareOnThisThread: (link: WorkerLink) => runShare(link, this.#nodes, share) }
          : {}),
      },
      checkpoint: c.checkpoint,
      fs: c.checkpointFs,
      mirror: this.#mirror,
      restore: c.checkpointStorage && c.restore !== undefined
        ? restoreTarget(c.checkpoint!.dir, c.restore)
        : c.restore,
      allowDuplicateOutput: c.allowDuplicateOutput,
      restartStrategy: c.restartStrategy,
      repeatedFailureLimit: c.repeatedFailureLimit,
      log: c.log,
    });
  }
}
