/**
 * Helpers of the schema evolution tests: a keyed job whose state serializer
 * the test chooses (value, list and map state of it), run to the end of its
 * input with the exactly-once file sink, and the schemas old and new jobs
 * use.
 *
 * @module
 */
import type {
  Collector,
  KeyedProcessFunction,
  RuntimeContext,
} from "../../core/dataflow/functions.ts";
import { StreamEnvironment } from "../../core/dataflow/environment.ts";
import { ExactlyOnceFileSink } from "../../core/connectors/exactly_once_file_sink.ts";
import type { SinkFunction } from "../../core/connectors/sink.ts";
import {
  ListStateDescriptor,
  MapStateDescriptor,
  ValueStateDescriptor,
} from "../../core/state/descriptors.ts";
import { type Serializer, Serializers } from "../../core/state/serializer.ts";
import type { ListState, MapState, ValueState } from "../../core/state/state.ts";
import type { StateBackend } from "../../core/state/backend.ts";
import type { StateTtlConfig } from "../../core/state/ttl.ts";
import type { RestartStrategy } from "../../core/checkpoint/restart_strategy.ts";
import { HeapStateBackend } from "../../core/state/heap/heap_backend.ts";
import { LsmStateBackend } from "../../core/state/lsm/lsm_backend.ts";
import { QueueSource } from "./queue_source.ts";

/** A state value: a count `n` and whatever fields a schema adds. */
export type Counted = { n: number } & Record<string, unknown>;

/**
 * Keeps per word a value `acc` (`n` counts the word), the list of every
 * value it had (`history`) and the values by occurrence (`byCount`, a map),
 * all with `serializer`. Emits `word<TAB>previous acc<TAB>history<TAB>map`
 * (JSON), so the output shows what the state read back.
 */
export class Keep implements KeyedProcessFunction<string, string, string> {
  acc!: ValueState<Counted>;
  history!: ListState<Counted>;
  byCount!: MapState<number, Counted>;
  /** The states' serializer. */
  readonly serializer: Serializer<Counted>;
  /** A word's first value (before its count is set). */
  readonly fresh: Counted;

  /** The states' time to live, if any. */
  readonly ttl: StateTtlConfig | undefined;

  /**
   * State values use `serializer`; a word's first value is `fresh` with
   * `n: 1`; with `ttl` every state has that time to live.
   */
  constructor(serializer: Serializer<Counted>, fresh: Counted, ttl?: StateTtlConfig) {
    this.serializer = serializer;
    this.fresh = fresh;
    this.ttl = ttl;
  }

  /** Declares the three states. */
  open(ctx: RuntimeContext): void {
    const s = this.serializer;
    const acc = new ValueStateDescriptor("acc", s);
    const history = new ListStateDescriptor("history", s);
    const byCount = new MapStateDescriptor("byCount", Serializers.f64, s);
    if (this.ttl) { for (const d of [acc, history, byCount]) d.enableTimeToLive(this.ttl); }
    this.acc = ctx.getState(acc);
    this.history = ctx.getListState(history);
    this.byCount = ctx.getMapState(byCount);
  }

  /** Bumps the count, keeping the other fields. */
  processElement(word: string, _ctx: unknown, out: Collector<string>): void {
    const prev = this.acc.value();
    const next = { ...(prev ?? this.fresh), n: (prev?.n ?? 0) + 1 };
    const history = [...(this.history.get() ?? [])];
    const map = [...this.byCount.entries()].sort((a, b) => a[0] - b[0]).map((e) => e[1]);
    this.acc.update(next);
    this.history.add(next);
    this.byCount.put(next.n, next);
    out.collect([word, prev ?? null, history, map].map((x) => JSON.stringify(x)).join("\t"));
  }
}

/** The two backends, by name. */
export const BACKENDS: Record<string, () => StateBackend> = {
  heap: () => new HeapStateBackend(),
  lsm: () => new LsmStateBackend(),
};

/**
 * Runs `fn` over `words` to the end of input (a final checkpoint commits
 * the output in `outDir`, or `sink` takes it), restoring the latest
 * checkpoint in `dir` when `restore`. Rejects when the job fails.
 */
export async function runKeep(o: {
  backend: StateBackend;
  dir: string;
  outDir: string;
  fn: Keep;
  words: readonly string[];
  restore: boolean;
  sink?: SinkFunction<string>;
  /** No restarts unless given. */
  restartStrategy?: RestartStrategy;
  /** The words' key serializer (`Serializers.string` unless given). */
  keySerializer?: Serializer<string>;
}): Promise<void> {
  const src = new QueueSource<string>("words");
  const env = StreamEnvironment.create({
    stateBackend: o.backend,
    checkpoint: { dir: o.dir, retained: 2 },
    ...(o.restore ? { restore: "latest" } : {}),
    restartStrategy: o.restartStrategy ?? { kind: "none" },
    log: () => {},
  });
  env.addSource(src, { uid: "src" })
    .keyBy((w) => w, o.keySerializer ?? Serializers.string)
    .process<string>(o.fn).uid("keep")
    .addSink(o.sink ?? new ExactlyOnceFileSink<string>({ dir: o.outDir }), { uid: "sink" });
  src.push(...o.words);
  src.end();
  await env.execute("keep");
}

/** A user serializer of `{ n }`, version 1: `n` as u32. */
export const counterV1: Serializer<Counted> = {
  id: "counter",
  version: 1,
  write: (v, out) => out.writeU32(v.n),
  read: (input) => ({ n: input.readU32() }),
};

/**
 * Version 2 of {@linkcode counterV1}: `n` as f64 and a `unit`; its
 * migration from version 1 rewrites `n` and adds the unit `"times"`.
 */
export const counterV2: Serializer<Counted> = {
  id: "counter",
  version: 2,
  write(v, out) {
    out.writeF64(v.n);
    out.writeString(String(v.unit));
  },
  read: (input) => ({ n: input.readF64(), unit: input.readString() }),
  migrations: {
    1: (input, out) => {
      out.writeF64(input.readU32());
      out.writeString("times");
    },
  },
};

/** The serializer of the golden checkpoints' state (tests/testdata/make_golden.ts). */
export const GOLDEN_SERIALIZER = Serializers.record({
  n: Serializers.i32,
  tag: Serializers.string,
}) as Serializer<Counted>;

/** A word's first value in the golden checkpoints. */
export const GOLDEN_FRESH: Counted = { n: 0, tag: "golden" };

/** The words the golden checkpoints counted. */
export const GOLDEN_WORDS: readonly string[] = ["a", "b", "a", "c", "a"];
