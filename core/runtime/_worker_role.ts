/**
 * The worker role of the worker executor. A worker imports the job's main
 * module again; this module (imported by the environment, so evaluated before
 * the job script's body) tells from `self.name` that it runs in such a worker,
 * listens for the main thread's messages at once, and says it is ready: the
 * main thread sends the plan only then, so no message is lost.
 *
 * `env.execute()` in the worker role rebuilds the plan, checks it equals the
 * main thread's, instantiates only this worker's tasks (ring ends for
 * channels to other workers), runs them and reports, and so again for each
 * later attempt of the job (a restart); it never returns. The
 * main thread runs worker 0's share itself with the same code
 * ({@linkcode runShare}), through a link of in-thread queues: it has the
 * script loaded already, so one Web Worker fewer starts.
 *
 * @module
 */
import { thrownMessage } from "../_thrown_message.ts";
import { useHelperPoolPort } from "../../statestore-as/_helper_pool.ts";
import { ConfigError, CorruptionError, JobFailedError } from "../errors.ts";
import { DenoCheckpointFs } from "../checkpoint/checkpoint_fs.ts";
import { CheckpointStorage, loadManifest } from "../checkpoint/storage.ts";
import { CollectSink } from "../connectors/collect_sink.ts";
import { adoptCollectionItems } from "./_collection_items.ts";
import { CommittedCollectSink } from "../connectors/_collect_results.ts";
import { Serializers } from "../state/serializer.ts";
import { Channel } from "./channel.ts";
import { outputSerializerOf, type Transformation } from "./graph.ts";
import { Job, type JobConfig, type JobResult } from "./job.ts";
import { buildPhysicalPlan, type PhysicalPlan } from "./physical_plan.ts";
import { RingInputChannel, RingOutputChannel } from "./remote_channel.ts";
import {
  type FromWorker,
  openLink,
  type SerializedFailure,
  type ToWorker,
  WORKER_NAME_PREFIX,
  type WorkerLink,
  type WorkerRoleHooks,
} from "./_worker_protocol.ts";
import { answerAdmin, reportNow, reportPeriodically } from "./_worker_admin.ts";

interface WorkerScope {
  readonly name?: string;
  postMessage(msg: FromWorker): void;
  addEventListener(type: "message", fn: (e: MessageEvent<ToWorker>) => void): void;
  addEventListener(type: "error", fn: (e: ErrorEvent) => void): void;
  addEventListener(type: "unhandledrejection", fn: (e: PromiseRejectionEvent) => void): void;
  addEventListener(type: "unload", fn: () => void): void;
  close(): void;
}

function detectWorker(): number | undefined {
  if (typeof (globalThis as { WorkerGlobalScope?: unknown }).WorkerGlobalScope === "undefined") {
    return undefined;
  }
  const name = (globalThis as unknown as WorkerScope).name;
  if (typeof name !== "string" || !name.startsWith(WORKER_NAME_PREFIX)) return undefined;
  const index = Number(name.slice(WORKER_NAME_PREFIX.length));
  return Number.isInteger(index) && index >= 0 ? index : undefined;
}

/** This thread's index when it is a worker of the worker executor, else undefined. */
export const workerIndex: number | undefined = detectWorker();

/**
 * A worker's link through its scope. It listens at once and says it is ready:
 * the main thread sends `init` only then, so no message is lost.
 */
function scopeLink(worker: number): WorkerLink {
  const scope = globalThis as unknown as WorkerScope;
  const { link, receive } = openLink(worker, false, (msg) => scope.postMessage(msg));
  let jobName: string | undefined;
  scope.addEventListener("message", (e) => {
    const msg = e.data;
    if (msg.type === "init") jobName = msg.init.plan.jobName;
    // Before any store opens: their background work goes to the main thread's pool.
    if (msg.type === "init" && msg.init.helpers) {
      useHelperPoolPort(msg.init.helpers.port, msg.init.helpers.size);
    }
    receive(msg);
  });
  // What the script does not catch (before execute(), or in async work of its own) fails the
  // job from the main thread in one line, instead of Deno's trace of an error in a worker.
  const uncaught = (e: unknown) =>
    scope.postMessage({
      type: "failure",
      failure: serializeFailure(
        e,
        jobName === undefined
          ? `The job script failed in worker ${worker}`
          : `Job "${jobName}" failed: worker ${worker} died of an error nothing caught`,
      ),
    });
  scope.addEventListener("error", (e) => {
    e.preventDefault();
    uncaught(e.error ?? e.message);
  });
  scope.addEventListener("unhandledrejection", (e) => {
    e.preventDefault();
    uncaught(e.reason);
  });
  // Deno.exit() or close() ends this worker (the main thread's terminate() at the job's end
  // dispatches nothing here): without word of it the job cannot go on, and would wait. Deno.exit()
  // dispatches `unload`; close() dispatches nothing, here or in the main thread, so it is wrapped
  // to tell before the thread stops. Before execute() it is the script's doing (it runs again in
  // every worker), which a restart does not change; after, a user function's, as a lost
  // TaskManager in Flink: the attempt fails and the restart strategy starts fresh workers.
  let told = false;
  const ended = () => {
    if (told) return;
    told = true;
    scope.postMessage({
      type: "ended",
      failure: executing
        ? {
          message: `Job "${jobName}" failed: worker ${worker} ended while the job ran ` +
            "(Deno.exit() or close() in a user function)",
          cause: { name: "Error", message: `worker ${worker} ended` },
        }
        : serializeFailure(
          new ConfigError(
            "the worker ended (Deno.exit() or close() in the job script, which runs again in " +
              "every worker up to execute(): docs/execution.md)",
          ),
          jobName === undefined
            ? `The job script failed in worker ${worker}`
            : `Job "${jobName}" failed: worker ${worker} died of an error nothing caught`,
        ),
    });
  };
  scope.addEventListener("unload", ended);
  const close = scope.close.bind(scope);
  scope.close = () => {
    ended();
    close();
  };
  // Importing the main module again resolves once the script has run to its end: in a worker
  // that serves a job, an awaited execute() never returns, so a script that ends did not reach
  // it. A script may also start its job from work it does not await (`main()` without `await`):
  // that gets a grace period before the job fails, instead of the start timeout's 5 minutes.
  const script = (globalThis as { location?: { href: string } }).location?.href;
  if (script !== undefined) {
    importLoaded(script).then(() => {
      if (executing) return;
      setTimeout(() => {
        if (executing) return;
        uncaught(
          new ConfigError(
            `the job script ended without calling execute() in this worker (nor within ` +
              `${SCRIPT_END_GRACE_MS / 1000} s after): the script runs again in every worker ` +
              "up to execute(), which must be reached there too" + passedOverHint() +
              " (docs/execution.md)",
          ),
        );
      }, SCRIPT_END_GRACE_MS);
    }, () => {/* the error listeners above report it */});
  }
  scope.postMessage({ type: "ready" });
  return link;
}

/**
 * `import(url)` of a module this thread has loaded already (the main module): it resolves when
 * that module's evaluation ends. Built from a string because `deno publish` warns about every
 * `import()` whose specifier it cannot read, and there is nothing here for it to rewrite.
 */
const importLoaded = new Function("url", "return import(url)") as (url: string) => Promise<unknown>;

/** Whether this worker runs its share of a job (set when `execute()` reaches it). */
let executing = false;

/** The script's jobs before the one this worker serves that ended here having run nothing. */
let passedOver = 0;

/** Why a script that ran earlier jobs may not reach the one a worker serves, if it ran any. */
function passedOverHint(): string {
  if (passedOver === 0) return "";
  return `; the script's ${passedOver === 1 ? "job" : `${passedOver} jobs`} before it ended ` +
    "here at once, with no records, so a job the script starts only on an earlier job's " +
    "results is not started in a worker: run such a script with --executor inline";
}
/** How long a script that ended may still take to call `execute()` from work it did not await. */
const SCRIPT_END_GRACE_MS = 10_000;

const link: WorkerLink | undefined = workerIndex === undefined ? undefined : scopeLink(workerIndex);

/** Shares of the worker executor this (main) thread runs now. */
let mainThreadShares = 0;

/**
 * Whether subtasks opened on this thread now belong to a worker executor's
 * job, whose other workers share this process's directory locks: in a
 * worker, or while the main thread runs its share.
 */
export function inWorkerShare(): boolean {
  return workerIndex !== undefined || mainThreadShares > 0;
}

/**
 * The first vertex (or channel) where `mine` differs from `theirs`, as a
 * clear ConfigError; none when they are equal. `jobIndex`: the job's place
 * among the script's jobs (0: its first).
 */
export function checkSamePlan(
  theirs: PhysicalPlan,
  mine: PhysicalPlan,
  worker: number,
  jobIndex = 0,
): void {
  if (JSON.stringify(theirs) === JSON.stringify(mine)) return;
  const earlier = jobIndex === 0 ? "" : "; the script's jobs before this one do not run in a " +
    "worker (there they end at once, with no records), so a graph built from their results " +
    "differs: run such a script with --executor inline";
  const contract = "build the graph deterministically before execute(): the script runs again " +
    `in every worker, and the same calls must give the same operators, uids and parallelism${earlier}`;
  const prefix = `The job graph rebuilt in worker ${worker} differs from the main thread's plan`;
  if (theirs.jobName !== mine.jobName) {
    throw new ConfigError(
      `${prefix}: the job is "${mine.jobName}" here, "${theirs.jobName}" there; ${contract}`,
    );
  }
  const n = Math.max(theirs.vertices.length, mine.vertices.length);
  for (let i = 0; i < n; i++) {
    const a = theirs.vertices[i], b = mine.vertices[i];
    if (JSON.stringify(a) === JSON.stringify(b)) continue;
    const show = (v: typeof a) =>
      v
        ? `"${v.name}" [uid ${v.uid}, parallelism ${v.parallelism}` +
          `${v.external === undefined ? "" : `, ${v.external}`}]`
        : "missing";
    // A path the script made before execute() (a temporary folder) is another one in each worker.
    const hint = a && b && a.external !== b.external
      ? " (a path or address the script makes before execute(), such as a temporary folder, " +
        "is another one in each worker: pass it in, or name it the same in every thread)"
      : "";
    throw new ConfigError(
      `${prefix}: operator ${i} is ${show(b)} here but ${show(a)} in the main thread${hint}; ` +
        contract,
    );
  }
  throw new ConfigError(`${prefix}: its edges or chains differ; ${contract}`);
}

function serializeFailure(e: unknown, fallback: string): SerializedFailure {
  let root: unknown = e instanceof Error && e.cause !== undefined ? e.cause : e;
  for (let c: unknown = e; c instanceof Error; c = c.cause) {
    if (c instanceof ConfigError || c instanceof CorruptionError) {
      root = c;
      break;
    }
  }
  const message = thrownMessage(e);
  const r = root instanceof Error ? root : new Error(thrownMessage(root));
  return {
    message: e instanceof Error && e.name === "JobFailedError"
      ? message
      : `${fallback}: ${message}`,
    ...(e instanceof JobFailedError && e.taskName !== undefined ? { taskName: e.taskName } : {}),
    cause: {
      name: r.name,
      message: r.message,
      ...(r.stack !== undefined ? { stack: r.stack } : {}),
      ...(r instanceof CorruptionError ? { file: r.file, block: r.block } : {}),
    },
  };
}

/**
 * Streams a worker's CollectSink records to the main thread's sink, per batch,
 * and the transactions `executeAndCollect`'s committed sink commits.
 */
function forwardCollectSinks(
  nodes: readonly Transformation[],
  post: (msg: FromWorker) => void,
): () => void {
  const pending = new Map<number, { values: unknown[]; timestamps: (number | undefined)[] }>();
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    for (const [vertex, b] of pending) {
      if (b.values.length > 0) post({ type: "collect", vertex, ...b });
    }
    pending.clear();
  };
  for (const n of nodes) {
    const sink = n.sink;
    if (sink instanceof CommittedCollectSink) {
      sink.deliver = (id: string, values: unknown[], checkpoint: number) =>
        post({ type: "collectCommitted", vertex: n.id, id, values, checkpoint });
    }
    if (!(sink instanceof CollectSink)) continue;
    // Subtasks' sink objects inherit from this one, so they all forward.
    sink.invoke = (value: unknown, timestamp: number | undefined) => {
      let b = pending.get(n.id);
      if (!b) pending.set(n.id, b = { values: [], timestamps: [] });
      b.values.push(value);
      b.timestamps.push(timestamp);
      if (!scheduled) {
        scheduled = true;
        queueMicrotask(flush);
      }
    };
  }
  return flush;
}

/** Jobs this thread's script has started (see {@linkcode nextJobIndex}). */
let jobsStarted = 0;

/**
 * The index of the job a script starts now: 0 for its first `execute()`,
 * and so on. A Web Worker serves one job of the script, which runs again in
 * it: the index tells that job from those the script ran before it.
 */
export function nextJobIndex(): number {
  return jobsStarted++;
}

/**
 * Runs this worker's part of the job `nodes` (the worker role of
 * `env.execute()`) when it is the job this worker serves: reports to the main
 * thread and never settles. A job the script ran before that one (the main
 * thread ran it) resolves at once with an empty result, as if it read
 * nothing; one after it (a job started alongside) never settles.
 *
 * The worker serves every attempt of its job run, one `init` each, with the
 * graph this execute() got: the script does not run again on a restart, as
 * a Flink TaskManager outlives its job's restarts (and Deno frees a worker's
 * thread only when its main module has finished evaluating, which an awaited
 * execute() here never does).
 */
export async function runInWorker(
  nodes: readonly Transformation[],
  config: ShareConfig,
  jobIndex: number,
): Promise<JobResult> {
  const serving = (await link!.init).jobIndex;
  if (jobIndex < serving) {
    passedOver++;
    return { name: config.name, durationMs: 0, cancelled: false, recordsIn: {} };
  }
  if (jobIndex === serving) {
    executing = true;
    link!.post({ type: "executing" });
    for (;;) await runShare(link!, nodes, config);
  }
  return new Promise<never>(() => {});
}

/** What a share's `Job` runs with: the script's config; checkpoints and restore come in `init`. */
export type ShareConfig = Omit<JobConfig, "checkpoint" | "restore" | "workerRole" | "executor">;

/**
 * Runs one worker's share of an attempt of the job `nodes` through `link`
 * (its next `init`): in a Web Worker, or on the main thread for worker 0
 * (whose sinks and collection items are the script's own, so nothing is
 * forwarded or adopted). Resolves once the share's job ended and answered
 * the executor's `cancel` (which ends every attempt) with `closed`.
 */
export async function runShare(
  link: WorkerLink,
  nodes: readonly Transformation[],
  config: ShareConfig,
): Promise<void> {
  const { worker } = link;
  // `closed` is this attempt's last word: what its work still sends after (a state query that
  // resolves late) must not reach the next attempt's executor, which this worker serves then.
  let over = false;
  const post = (msg: FromWorker) => {
    if (!over) link.post(msg);
  };
  const start = await link.nextInit();
  if (link.onMainThread) mainThreadShares++;
  let job: Job | undefined;
  const stopReports = reportPeriodically(() => job, post);
  let ended = false;
  let cancelRequested = false;
  const run = Promise.withResolvers<void>();
  const finish = Promise.withResolvers<void>();
  const finals = new Map<number, () => void>();
  const closed = Promise.withResolvers<void>();
  const closeIfAsked = () => {
    if (!ended || !cancelRequested || over) return;
    post({ type: "closed" });
    over = true;
    closed.resolve();
  };
  const handler = (msg: ToWorker) => {
    switch (msg.type) {
      case "injectBarrier":
      case "notifyComplete":
      case "notifyAborted":
      case "addSplits":
      case "noMoreSplits":
      case "watermarkAlignment":
        job?.deliver(msg);
        return;
      case "finalTriggered":
        finals.get(msg.task)?.();
        return;
      case "stop":
        job?.stopSources(msg.name, { drain: msg.drain });
        return;
      case "run":
        run.resolve();
        return;
      case "finish":
        finish.resolve();
        return;
      case "cancel":
        cancelRequested = true;
        job?.cancel();
        run.resolve();
        finish.resolve();
        closeIfAsked();
        return;
      case "report":
      case "queryState":
        answerAdmin(job, msg, post);
        return;
    }
  };
  // Unless the script gave it, the key groups are the restored snapshot's (`restoredMaxParallelism`),
  // which only the main thread read.
  if (!config.maxParallelismGiven) {
    config = { ...config, maxParallelism: start.plan.maxParallelism };
  }
  try {
    // The main thread's plan came from these very nodes; a Web Worker rebuilds its own and checks it.
    const plan = link.onMainThread ? start.plan : buildPhysicalPlan(nodes, {
      jobName: config.name,
      parallelism: config.parallelism,
      maxParallelism: config.maxParallelism,
    });
    if (!link.onMainThread) {
      checkSamePlan(start.plan, plan, worker, start.jobIndex);
      adoptCollectionItems(nodes, plan, start.collections, worker);
    }
    const tasks = new Set(start.tasks);
    const byId = new Map(nodes.map((n) => [n.id, n]));
    const flushCollect = link.onMainThread ? () => {} : forwardCollectSinks(nodes, post);
    const hooks: WorkerRoleHooks = {
      worker,
      tasks,
      channel(id) {
        const c = plan.channels[id]!;
        const from = tasks.has(c.fromTask), to = tasks.has(c.toTask);
        if (from && to) return new Channel(config.channelCapacity);
        if (!from && !to) return undefined;
        const ring = start.rings[id]!;
        const edge = plan.edges[c.edge]!;
        const producer = byId.get(edge.from)!;
        // A side output's records have their own type, and serializer.
        const serializer = outputSerializerOf(producer, edge.sideOutput) ?? Serializers.plain;
        const stream = edge.sideOutput === null
          ? `operator "${producer.name}"`
          : `side output "${edge.sideOutput}" of operator "${producer.name}"`;
        if (from) {
          const out = new RingOutputChannel(
            ring,
            serializer,
            `${producer.name} -> ${byId.get(edge.to)!.name}`,
            `(it crosses workers: call .returns(serializer) on ${stream} ` +
              `[uid ${plan.vertices.find((v) => v.id === producer.id)!.uid}])`,
          );
          return { out, close: () => out.close() };
        }
        const input = new RingInputChannel(ring, serializer);
        return { in: input, close: () => input.close() };
      },
      opened() {
        post({ type: "opened", live: [...job!.liveSegments()] });
        return run.promise;
      },
      report(msg) {
        if (msg.type !== "snapshotDone") return post(msg);
        reportNow(job!, post);
        post({ ...msg, live: [...job!.liveSegments()] });
      },
      taskEnded() {
        // Not only on the next periodic report: a task that finished just before a cancel
        // would read CANCELED in the admin API (the main thread keeps the latest report).
        reportNow(job!, post);
      },
      sourceEnded(task) {
        flushCollect();
        post({ type: "sourceEnded", task });
        return new Promise((resolve) => finals.set(task, resolve));
      },
      tasksEnded() {
        flushCollect();
        post({ type: "tasksEnded" });
        return finish.promise;
      },
    };
    const fs = new DenoCheckpointFs();
    job = new Job(nodes, {
      ...config,
      ...(start.checkpoint
        ? {
          checkpoint: {
            config: start.checkpoint.config,
            storage: new CheckpointStorage(start.checkpoint.dir, fs),
          },
        }
        : {}),
      ...(start.restoreDir !== undefined
        ? { restore: loadManifest(fs, start.restoreDir, false) }
        : {}),
      workerRole: hooks,
    });
    link.listen(handler);
    const result = await job.run();
    flushCollect();
    post({ type: "finished", recordsIn: result.recordsIn });
  } catch (e) {
    post({
      type: "failure",
      // The main thread's job failed: a script that runs another job in this worker names it wrong.
      failure: serializeFailure(e, `Job "${start.plan.jobName}" failed in worker ${worker}`),
    });
  } finally {
    stopReports();
    ended = true;
    if (link.onMainThread) mainThreadShares--;
    // A cancel that came before the job could take messages (its plan failed to build) is
    // still answered: else the main thread waits its whole grace period for this worker.
    link.listen(handler);
    closeIfAsked();
  }
  // The executor cancels every attempt at its end, finished or not: the next `init` comes after.
  await closed.promise;
}
