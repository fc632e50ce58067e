import assert from "node:assert/strict";
import { ConfigError } from "../errors.ts";
import type { StateBackend } from "../state/backend.ts";
import { HeapStateBackend } from "../state/heap/heap_backend.ts";
import { Serializers } from "../state/serializer.ts";
import { CollectSink } from "../connectors/collect_sink.ts";
import { ManualClock } from "../runtime/clock.ts";
import { StreamEnvironment } from "./environment.ts";

Deno.test("StreamEnvironment.create: a stateBackend that is not a state backend is a ConfigError naming it", () => {
  for (const bad of ["heap", {}, { name: "heap" }]) {
    assert.throws(
      () => StreamEnvironment.create({ stateBackend: bad as unknown as StateBackend }),
      (e: Error) =>
        e instanceof ConfigError &&
        e.message === `stateBackend must be a state backend (new HeapStateBackend() or new ` +
            `LsmStateBackend(...)), got ${JSON.stringify(bad)}`,
    );
  }
  // The flag takes the names.
  const { env } = StreamEnvironment.fromArgs(["--state-backend", "heap"]);
  assert.equal(env.config.stateBackend.name, "heap");
});

Deno.test("StreamEnvironment.create: a restart strategy, clock, log, restore or timeout of the wrong kind is a ConfigError naming it", () => {
  const cases: [Record<string, unknown>, string][] = [
    [{ restartStrategy: "none" }, 'restartStrategy must be { kind: "none" | "fixed-delay"'],
    [{ restartStrategy: { kind: "always" } }, 'got {"kind":"always"}'],
    [{ clock: {} }, "clock must have now() and schedule(at, callback)"],
    [{ log: "yes" }, 'log must be a function of a line, got "yes"'],
    [{ restore: 5 }, 'restore must be "latest", a checkpoint id or a path, got 5'],
    [{ parallelism: "2" }, 'parallelism must be a positive integer, got "2"'],
    [{ workerStartTimeoutMs: 0 }, "workerStartTimeoutMs must be a positive integer (ms), got 0"],
    [{ ringMemoryBytes: "1G" }, 'ringMemoryBytes must be a positive integer (bytes), got "1G"'],
  ];
  for (const [config, message] of cases) {
    assert.throws(
      () => StreamEnvironment.create(config as never),
      (e: Error) => e instanceof ConfigError && e.message.includes(message),
      JSON.stringify(config),
    );
  }
});

Deno.test("StreamEnvironment.create: a job with a ManualClock runs inline; asking for workers with one is a ConfigError", () => {
  const env = StreamEnvironment.create({ clock: new ManualClock(0), parallelism: 2 });
  assert.equal(env.config.executor, "inline");
  assert.throws(
    () => StreamEnvironment.create({ clock: new ManualClock(0), executor: "workers" }),
    (e: unknown) => e instanceof ConfigError && /ManualClock runs inline/.test(e.message),
  );
});

Deno.test("a job gives each keyed operator subtask an equal share of the state backend's memory", async () => {
  const shares: (number | undefined)[] = [];
  const heap = new HeapStateBackend();
  const recording: StateBackend = {
    name: "heap",
    createKeyedBackend(options) {
      shares.push(options.memoryShare);
      return heap.createKeyedBackend(options);
    },
  };
  const env = StreamEnvironment.create({ stateBackend: recording, executor: "inline" });
  const sink = new CollectSink<number>();
  env.fromElements(1, 2, 3, 4, 5, 6).keyBy((n) => n % 3, Serializers.f64)
    .reduce((a, b) => a + b).setParallelism(3)
    .keyBy((n) => n % 2, Serializers.f64).reduce((a, b) => a + b).setParallelism(2)
    .addSink(sink);
  await env.execute();
  assert.equal(sink.values.length, 6, "each reduce emits once per record");
  // Three subtasks of the first sum and two of the second: five stores share the memory.
  assert.ok(shares.length > 0 && shares.every((s) => s === 1 / 5), `${shares}`);
});

Deno.test("job flags: negative numbers, a parallelism past the key groups and --max-parallelism", () => {
  for (const [flag, value] of [["--parallelism", "-1"], ["--checkpoint-interval", "-5"]]) {
    assert.throws(
      () => StreamEnvironment.fromArgs([flag!, value!, "--checkpoint-dir", "/tmp/x"]),
      (e: unknown) =>
        e instanceof ConfigError &&
        e.message === `${flag} must be a positive integer, got "${value}"`,
    );
  }
  assert.throws(
    () => StreamEnvironment.fromArgs(["--parallelism", "40000"]),
    (e: unknown) =>
      e instanceof ConfigError &&
      e.message === "parallelism must be at most 32768 (the most key groups), got 40000",
  );
  const { env } = StreamEnvironment.fromArgs(["--max-parallelism", "256", "--parallelism", "2"]);
  assert.equal(env.config.maxParallelism, 256);
  assert.throws(() => StreamEnvironment.fromArgs(["--max-parallelism", "0"]), ConfigError);
});

Deno.test("a stream of another environment as an input is a ConfigError, not another stream read twice", () => {
  const env = StreamEnvironment.create();
  const other = StreamEnvironment.create();
  const mine = env.fromElements(1);
  const theirs = other.fromElements(2);
  const refused = (e: unknown) =>
    e instanceof ConfigError &&
    /input "Collection Source" belongs to another StreamEnvironment/.test(e.message);
  // Nodes are numbered per environment: the union read this environment's node 0 twice.
  assert.throws(() => mine.union(theirs), refused);
  assert.throws(
    () => mine.connect(theirs).map({ map1: (n: number) => n, map2: (n: number) => n }),
    refused,
  );
});

Deno.test("StreamEnvironment.create, checkpoint, admin and executeAndCollect: a misspelt option is a ConfigError naming it, not a default in force", async () => {
  // `deno run` does not type-check: these used to run with the default parallelism, no
  // periodic checkpoints, no token, and every record.
  const cases: [() => unknown, string][] = [
    [
      () => StreamEnvironment.create({ parallelizm: 4 } as never),
      'StreamEnvironment.create: unknown option "parallelizm" (did you mean "parallelism"?)',
    ],
    [
      () => StreamEnvironment.create({ checkpoint: { dir: "/tmp/c", intervalMS: 100 } } as never),
      'checkpoint: unknown option "intervalMS" (did you mean "intervalMs"?)',
    ],
    [
      () => StreamEnvironment.create({ admin: { port: 0, tokn: "s3cret" } } as never),
      'admin: unknown option "tokn" (did you mean "token"?)',
    ],
    [
      () => StreamEnvironment.create({ workers: 2 } as never),
      'StreamEnvironment.create: unknown option "workers"; the options are parallelism, executor,',
    ],
    [
      () => StreamEnvironment.create(4 as never),
      "StreamEnvironment.create takes an object of options, got 4",
    ],
  ];
  for (const [create, message] of cases) {
    assert.throws(
      create,
      (e) => e instanceof ConfigError && e.message.startsWith(message),
      message,
    );
  }
  const env = StreamEnvironment.create({ parallelism: 1 });
  await assert.rejects(
    env.fromElements(1, 2).executeAndCollect({ limt: 1 } as never),
    (e) =>
      e instanceof ConfigError &&
      e.message === 'executeAndCollect: unknown option "limt" (did you mean "limit"?)',
  );
});

Deno.test("StreamEnvironment.create: a number option given as a string, NaN or Infinity is named as given, not as a valid-looking number or null", () => {
  // "got 256" for the string "256" read as a valid value; NaN and Infinity showed as null.
  const cases: [Record<string, unknown>, string][] = [
    [{ maxParallelism: "256" }, 'maxParallelism must be an integer in 1..32768, got "256"'],
    [{ parallelism: NaN }, "parallelism must be a positive integer, got NaN"],
    [{ parallelism: Infinity }, "parallelism must be a positive integer, got Infinity"],
    [{ channelCapacity: "10" }, 'channelCapacity must be a positive integer, got "10"'],
    [{ ringMemoryBytes: NaN }, "ringMemoryBytes must be a positive integer (bytes), got NaN"],
    [
      { checkpoint: { dir: "/tmp/c", intervalMs: "100" } },
      'checkpoint.intervalMs must be an integer ≥ 1, got "100"',
    ],
    [{ admin: { port: "8081" } }, 'admin.port must be a port number 0..65535, got "8081"'],
  ];
  for (const [config, message] of cases) {
    assert.throws(
      () => StreamEnvironment.create({ parallelism: 1, ...config } as never),
      (e) => e instanceof ConfigError && e.message === message,
      message,
    );
  }
});

Deno.test("an operator added after the environment ran its job is a ConfigError, not one that never runs", async () => {
  const env = StreamEnvironment.create({ parallelism: 1, log: () => {} });
  const numbers = env.fromElements(1, 2);
  const sink = new CollectSink<number>();
  numbers.addSink(sink);
  await env.execute("first");
  assert.deepEqual(sink.values, [1, 2]);
  // Flink's execute() would run these in a next job; this environment runs one job only.
  assert.throws(
    () => numbers.map((n) => n * 10).addSink(new CollectSink<number>()),
    (e) =>
      e instanceof ConfigError &&
      /^Operator "Map" was added after this environment ran its job, so it would never run/
        .test(e.message),
  );
});
