/**
 * The messages between the main thread (checkpoint coordinator, job runner)
 * and the workers of the worker executor, and the hooks a worker's `Job`
 * reaches the main thread through. Plain data only (structured clone): no
 * closures or shared promises cross, so the same protocol could cross
 * processes later.
 *
 * @module
 */
import type { CollectionItemsByVertex } from "./_collection_items.ts";
import type { CheckpointConfig } from "../checkpoint/coordinator.ts";
import type { InputChannel, OutputChannel } from "./channel.ts";
import type {
  BarrierAck,
  CoordinatorToTask,
  Decline,
  EnumeratorToReader,
  ReaderToEnumerator,
  SnapshotDone,
  TaskToCoordinator,
} from "./control_messages.ts";
import type { PhysicalPlan } from "./physical_plan.ts";
import type { SharedRing } from "./shared_ring.ts";
import type { SubtaskReport, SubtaskStateAnswer, ThreadReport } from "./subtask_report.ts";

/** `self.name` prefix of the executor's workers; the rest is the worker's index. */
export const WORKER_NAME_PREFIX = "weir-worker/";

/** What a worker is started with. */
export interface WorkerInit {
  /** Index of the worker. */
  readonly worker: number;
  /** Which of the script's jobs this is (0: its first `execute()`): the worker skips those before. */
  readonly jobIndex: number;
  /** The main thread's plan; the worker's own must equal it. */
  readonly plan: PhysicalPlan;
  /** Plan task ids this worker runs. */
  readonly tasks: readonly number[];
  /** Shared rings by plan channel id, for channels between this worker and another. */
  readonly rings: Readonly<Record<number, SharedRing>>;
  /** Checkpointing: where segments go (the coordinator stays in the main thread). */
  readonly checkpoint?: { readonly dir: string; readonly config: CheckpointConfig };
  /** The checkpoint or savepoint folder to restore, resolved by the main thread. */
  readonly restoreDir?: string;
  /** The main thread's items of the collection sources this worker runs. */
  readonly collections: CollectionItemsByVertex;
  /**
   * The main thread's helper pool (the stores' background threads, one pool
   * per process): a port to submit through, and its size.
   */
  readonly helpers?: { readonly port: MessagePort; readonly size: number };
}

/** Main thread → worker. */
export type ToWorker =
  | { readonly type: "init"; readonly init: WorkerInit }
  | CoordinatorToTask
  | EnumeratorToReader
  | { readonly type: "finalTriggered"; readonly task: number }
  | { readonly type: "stop"; readonly name: string; readonly drain: boolean }
  | { readonly type: "run" }
  | { readonly type: "finish" }
  | { readonly type: "cancel" }
  | AdminToWorker;

/** Main thread → worker, for the admin API (answered by `_worker_admin.ts`). */
export type AdminToWorker =
  /** Report the subtasks now (answered with a `report` of the same `request`). */
  | { readonly type: "report"; readonly request: number }
  /** Read one key's state on a subtask this worker runs. */
  | {
    readonly type: "queryState";
    readonly request: number;
    readonly uid: string;
    readonly subtaskIndex: number;
    readonly stateName: string;
    readonly key: unknown;
    readonly timeoutMs: number;
  };

/** Worker → main thread, for the admin API. */
export type AdminFromWorker =
  /** The worker's subtasks and its thread; `request` null for the periodic reports. */
  | {
    readonly type: "report";
    readonly request: number | null;
    readonly subtasks: readonly SubtaskReport[];
    readonly thread: ThreadReport;
  }
  | { readonly type: "stateAnswer"; readonly request: number; readonly answer: SubtaskStateAnswer };

/** Worker → main thread. */
export type FromWorker =
  | { readonly type: "ready" }
  /** The script called `execute()`: the start timeout is over for this worker. */
  | { readonly type: "executing" }
  | { readonly type: "opened"; readonly live: string[] }
  | BarrierAck
  /** With the segments the worker's backends use now. */
  | (SnapshotDone & { readonly live: string[] })
  | Decline
  | ReaderToEnumerator
  | { readonly type: "sourceEnded"; readonly task: number }
  | {
    readonly type: "collect";
    readonly vertex: number;
    readonly values: unknown[];
    readonly timestamps: (number | undefined)[];
  }
  /** A committed transaction of `executeAndCollect`'s sink (with checkpoints). */
  | {
    readonly type: "collectCommitted";
    readonly vertex: number;
    readonly id: string;
    readonly values: unknown[];
    /** The checkpoint the transaction was pre-committed for (Infinity: the end of input). */
    readonly checkpoint: number;
  }
  | { readonly type: "tasksEnded" }
  | { readonly type: "finished"; readonly recordsIn: Record<string, number> }
  | { readonly type: "failure"; readonly failure: SerializedFailure }
  /** The worker's thread ends (Deno.exit() or close()): why; no `closed` follows. */
  | { readonly type: "ended"; readonly failure: SerializedFailure }
  | { readonly type: "closed" }
  | AdminFromWorker;

/** An error as data: enough to rebuild the classes the restart logic looks at. */
export interface SerializedFailure {
  /** The job-level message (`Job "x" failed in task T on worker W: ...`). */
  readonly message: string;
  /** The task that failed (T), when one did. */
  readonly taskName?: string;
  /**
   * The root cause's class name, message, stack (where the worker's code threw), and for a
   * CorruptionError its file and block.
   */
  readonly cause: {
    readonly name: string;
    readonly message: string;
    readonly stack?: string;
    readonly file?: string;
    readonly block?: number;
  };
}

/**
 * How a `Job` running in a worker reaches the rest of the job: the tasks and
 * channel ends it instantiates, and the coordinator in the main thread.
 */
export interface WorkerRoleHooks {
  /** This worker's index (0: the main thread's share); a failure names it. */
  readonly worker: number;
  /** Plan task ids this worker runs. */
  readonly tasks: ReadonlySet<number>;
  /**
   * This worker's ends of plan channel `id`: an in-worker channel when both
   * tasks are here, a ring end when one is, nothing when neither is.
   */
  channel(id: number): { out?: OutputChannel; in?: InputChannel; close(): void } | undefined;
  /**
   * Every task here has opened (restored its state); resolves once every
   * worker's have, so no task runs before all opened (as inline: a sink's
   * subtask 0 cleans up leftovers at open).
   */
  opened(): Promise<void>;
  /** A task's message to the coordinator (BarrierAck, SnapshotDone, Decline) or to an enumerator. */
  report(msg: TaskToCoordinator | ReaderToEnumerator): void;
  /** A task here ended (finished, cancelled or failed): its state changed. */
  taskEnded(): void;
  /** A source task's input ended; resolves once it may send end of input. */
  sourceEnded(task: number): Promise<void>;
  /** Every task here ended; resolves once the main thread says to finish (or cancel). */
  tasksEnded(): Promise<void>;
}

/**
 * How a worker's share of the job talks with the executor: through a Web
 * Worker's own scope, or, for the share the main thread runs itself (worker
 * 0), through queues on that thread. Messages keep their order either way.
 */
export interface WorkerLink {
  /** The worker's index. */
  readonly worker: number;
  /** Whether this share runs on the main thread, whose sinks are the script's own objects. */
  readonly onMainThread: boolean;
  /** Resolves with the executor's first `init` (a Web Worker serves one job of its script). */
  readonly init: Promise<WorkerInit>;
  /**
   * The next `init` not taken yet: one per attempt of the job, as a Web Worker serves every
   * attempt of its job run (the executor hands it back to the run's pool between them).
   */
  nextInit(): Promise<WorkerInit>;
  /** Sends to the executor. */
  post(msg: FromWorker): void;
  /** Hands the executor's later messages to `handler`, after those that came before. */
  listen(handler: (msg: ToWorker) => void): void;
}

/**
 * A worker's end of a link, sending with `post`: `receive` takes each message
 * from the executor (`init` starts an attempt: it resolves `nextInit`, and the
 * messages after it wait in order until that attempt's share `listen`s).
 */
export function openLink(
  worker: number,
  onMainThread: boolean,
  post: (msg: FromWorker) => void,
): { link: WorkerLink; receive(msg: ToWorker): void } {
  const first = Promise.withResolvers<WorkerInit>();
  const inits: WorkerInit[] = [];
  let waiting: ((init: WorkerInit) => void) | undefined;
  const early: ToWorker[] = [];
  let handler: ((msg: ToWorker) => void) | undefined;
  let attempts = 0;
  return {
    link: {
      worker,
      onMainThread,
      init: first.promise,
      nextInit() {
        const init = inits.shift();
        if (init) return Promise.resolve(init);
        return new Promise((resolve) => (waiting = resolve));
      },
      post,
      listen(h) {
        handler = h;
        for (const msg of early.splice(0)) h(msg);
      },
    },
    receive(msg) {
      if (msg.type !== "init") {
        if (handler) handler(msg);
        else early.push(msg);
        return;
      }
      // A later attempt: what follows is its own, and nothing of the previous attempt's. Before
      // the first, the executor may have sent messages already (a barrier of a checkpoint
      // triggered while the worker loaded): they are this attempt's.
      if (attempts++ > 0) early.length = 0;
      first.resolve(msg.init);
      handler = undefined;
      if (waiting) {
        waiting(msg.init);
        waiting = undefined;
      } else inits.push(msg.init);
    },
  };
}
