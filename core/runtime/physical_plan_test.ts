import assert from "node:assert/strict";
import {
  FileSource,
  KafkaSink,
  KafkaSource,
  OutputTag,
  StreamEnvironment,
  TextFileSink,
} from "../../mod.ts";
import type { Collector, DataStream } from "../../mod.ts";
import type { PhysicalPlan } from "./physical_plan.ts";
import { ConfigError } from "../errors.ts";

/** A job with a side output, a two-input operator, a global edge and a keyed edge. */
function build(parallelism: number): PhysicalPlan {
  const env = StreamEnvironment.create({ parallelism, maxParallelism: 128 });
  const odd = new OutputTag<number>("odd");
  const numbers = env.fromElements(1, 2, 3, 4).setParallelism(parallelism).uid("numbers").process({
    processElement(n: number, ctx, out: Collector<number>) {
      if (n % 2) ctx.output(odd, n);
      else out.collect(n);
    },
  }).uid("split");
  const words = env.fromElements("a", "b").setParallelism(parallelism).uid("words");
  numbers.getSideOutput(odd).global().map((n: number) => n * 10).uid("tens").print();
  numbers.connect(words).process({
    processElement1(n: number, _c: unknown, out: Collector<string>) {
      out.collect(String(n));
    },
    processElement2(w: string, _c: unknown, out: Collector<string>) {
      out.collect(w);
    },
  }).uid("both").keyBy((s: string) => s).map((s: string) => s).uid("keyed").print();
  return env.getExecutionPlan("plan test");
}

Deno.test("physical plan: the same script gives the same plain-data plan", () => {
  const a = build(2), b = build(2);
  assert.deepEqual(a, b);
  assert.deepEqual(structuredClone(a), a);
  assert.deepEqual(JSON.parse(JSON.stringify(a)), a);
});

Deno.test("physical plan: chains, channels, inputs and key-group ranges", () => {
  const plan = build(2);
  const vertex = (uid: string) => plan.vertices.find((v) => v.uid === uid)!;
  // Forward edges with equal parallelism chain; side outputs, connect and keyBy do not.
  assert.equal(vertex("numbers").chain, vertex("split").chain);
  assert.notEqual(vertex("split").chain, vertex("tens").chain);
  assert.equal(vertex("keyed").keySerializer, "key");
  assert.equal(vertex("both").keySerializer, null);

  const edgeInto = (uid: string) => plan.edges.findIndex((e) => e.to === vertex(uid).id);
  const globalEdge = edgeInto("tens");
  assert.equal(plan.edges[globalEdge]!.partitioning, "global");
  assert.equal(plan.edges[globalEdge]!.sideOutput, "odd");
  const globalChannels = plan.channels.filter((c) => c.edge === globalEdge);
  assert.equal(globalChannels.length, 2, "both producers send to subtask 0 only");
  assert.ok(globalChannels.every((c) => plan.tasks[c.toTask]!.subtaskIndex === 0));

  const keyedEdge = edgeInto("keyed");
  assert.equal(plan.edges[keyedEdge]!.partitioning, "hash");
  assert.equal(plan.channels.filter((c) => c.edge === keyedEdge).length, 4);

  // The two-input task reads input 0 and input 1 channels.
  const bothTasks = plan.tasks.filter((t) => t.chain === vertex("both").chain);
  for (const t of bothTasks) {
    const inputs = t.inputs.map((c) => plan.edges[plan.channels[c]!.edge]!.input);
    assert.deepEqual([...new Set(inputs)].sort(), [0, 1]);
  }
  // Every task lists exactly the channels that point at it.
  for (const t of plan.tasks) {
    assert.deepEqual(t.inputs, plan.channels.filter((c) => c.toTask === t.id).map((c) => c.id));
  }
  // A chain's subtasks split the key groups without gaps or overlaps.
  for (const chain of plan.chains) {
    const ranges = plan.tasks.filter((t) => t.chain === chain.id).map((t) => t.keyGroupRange);
    assert.equal(ranges[0]!.start, 0);
    assert.equal(ranges.at(-1)!.end, 127);
    for (let i = 1; i < ranges.length; i++) assert.equal(ranges[i]!.start, ranges[i - 1]!.end + 1);
  }
});

Deno.test("physical plan: a file or Kafka source or sink says what it reads or writes; other operators nothing", () => {
  const env = StreamEnvironment.create({ parallelism: 2 });
  env.addSource(new FileSource({ path: "/data/in.txt" })).uid("in")
    .map((l: string) => l).uid("same")
    .addSink(new TextFileSink<string>({ dir: "/data/out" })).uid("out");
  env.addSource(
    new KafkaSource<string>({
      bootstrapServers: "127.0.0.1:9092",
      topics: ["orders"],
      deserializer: (r) => new TextDecoder().decode(r.value ?? new Uint8Array()),
    }),
  ).uid("kafka-in").addSink(
    new KafkaSink<string>({
      bootstrapServers: "127.0.0.1:9092",
      topic: "totals",
      serializer: (s) => ({ value: new TextEncoder().encode(s) }),
    }),
  ).uid("kafka-out");
  const plan = env.getExecutionPlan("io");
  const external = Object.fromEntries(plan.vertices.map((v) => [v.uid, v.external]));
  assert.deepEqual(external, {
    in: "reads /data/in.txt",
    same: undefined,
    out: "writes /data/out",
    "kafka-in": "reads Kafka 127.0.0.1:9092 orders",
    "kafka-out": "writes Kafka 127.0.0.1:9092 totals",
  });
});

Deno.test("physical plan: bad graphs are ConfigErrors that name the operator", () => {
  const env = StreamEnvironment.create({ parallelism: 2 });
  env.fromElements(1).setParallelism(1).forward().map((n: number) => n).print();
  assert.throws(
    () => env.getExecutionPlan(),
    (e) =>
      e instanceof ConfigError &&
      /"Map": a forward edge needs equal parallelism on both sides \(1 → 2\)/.test(e.message),
  );
  const dup = StreamEnvironment.create();
  dup.fromElements(1).uid("x").map((n: number) => n).uid("x");
  assert.throws(() => dup.getExecutionPlan(), /Duplicate operator uid "x"/);
  // Unchecked code: an empty uid (from `.uid()` or an operator's options) or one not a string.
  for (
    const [set, got] of [
      [(s: DataStream<number>) => s.uid(""), '""'],
      [(s: DataStream<number>) => s.uid(5 as never), "5"],
      [(s: DataStream<number>) => s.map((n) => n, { uid: "" }), '""'],
    ] as const
  ) {
    const env = StreamEnvironment.create();
    set(env.fromElements(1)).print();
    assert.throws(
      () => env.getExecutionPlan(),
      (e) =>
        e instanceof ConfigError &&
        new RegExp(`^Operator "[^"]+": a uid must be a non-empty string, got ${got}$`)
          .test(e.message),
    );
  }
});

Deno.test("physical plan: generated uids come from kind and position, not names; set ones are kept", () => {
  const uids = (name: string) => {
    const env = StreamEnvironment.create();
    env.fromElements(1).uid("numbers").map((n: number) => n).name(name).print().name(name);
    return env.getExecutionPlan().vertices.map((v) => v.uid);
  };
  assert.deepEqual(uids("Double"), ["numbers", "operator-1", "sink-2"]);
  assert.deepEqual(uids("Triple"), ["numbers", "operator-1", "sink-2"]);
});

Deno.test("physical plan: --print-plan prints the plan and runs nothing", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/in.txt`, "to be or not to be\n");
    const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        new URL("../../examples/word_count.ts", import.meta.url).pathname,
        "--input",
        `${dir}/in.txt`,
        "--output",
        `${dir}/out`,
        "--parallelism",
        "2",
        "--print-plan",
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(code, 0, new TextDecoder().decode(stderr));
    const plan = JSON.parse(new TextDecoder().decode(stdout)) as PhysicalPlan;
    assert.equal(plan.version, 1);
    assert.ok(plan.vertices.length >= 3 && plan.tasks.length >= 4);
    assert.ok(plan.edges.some((e) => e.partitioning === "hash"));
    const written = await Array.fromAsync(Deno.readDir(`${dir}/out`)).catch(() => []);
    assert.deepEqual(
      written.filter((e) => e.name.startsWith("part-")),
      [],
      "no output: nothing ran",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
