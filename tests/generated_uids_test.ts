/**
 * Generated operator uids: an operator without a user-set uid keeps its
 * state (keyed, timers, operator list, broadcast, a source's) when it is
 * renamed, as its uid comes from its kind and position, not its name; and a
 * snapshot written by an earlier weir, whose generated uids were made from
 * names, restores into the same job and is checkpointed again under the new uids.
 */
import assert from "node:assert/strict";
import {
  type BroadcastProcessFunction,
  type CheckpointedFunction,
  CollectSink,
  type FunctionInitializationContext,
  type ListState,
  ListStateDescriptor,
  MapStateDescriptor,
  type RuntimeContext,
  Serializers,
  StreamEnvironment,
  type ValueState,
  ValueStateDescriptor,
} from "../mod.ts";
import { formatManifest, parseManifest } from "../core/checkpoint/manifest.ts";
import { nameBasedUid } from "../core/runtime/graph.ts";
import { runCli } from "../cli/main.ts";
import { QueueSource } from "./_helpers/queue_source.ts";
import { until } from "./_helpers/checkpoint_jobs.ts";

const PREFIX = new MapStateDescriptor("prefix", Serializers.string, Serializers.string);

/** Passes words on with how many this subtask saw in all (operator list state). */
class Seen implements CheckpointedFunction {
  total!: ListState<number>;
  initializeState(ctx: FunctionInitializationContext): void {
    this.total = ctx.operatorStateStore.getListState(
      new ListStateDescriptor("seen", Serializers.f64),
    );
  }
  map(word: string): [string, number] {
    const n = (this.total.get()?.[0] ?? 0) + 1;
    this.total.update([n]);
    return [word, n];
  }
}

/** Counts per word (keyed state), prefixed by the broadcast rule; a timer per word. */
class Tally implements BroadcastProcessFunction<[string, number], string, string> {
  count!: ValueState<number>;
  open(ctx: RuntimeContext): void {
    this.count = ctx.getState(new ValueStateDescriptor("count", Serializers.f64, 0));
  }
  processElement(
    [word, seen]: [string, number],
    ctx: Parameters<
      BroadcastProcessFunction<[string, number], string, string>["processElement"]
    >[1],
    out: { collect(s: string): void },
  ): void {
    const n = this.count.value()! + 1;
    this.count.update(n);
    // Fires at end of input (+∞ watermark): only a restored timer fires for a word not seen since.
    if (n === 1) ctx.timerService().registerEventTimeTimer(1);
    out.collect(`${ctx.getBroadcastState(PREFIX).get("p") ?? ""}${word}\t${n}\t${seen}`);
  }
  processBroadcastElement(
    rule: string,
    ctx: Parameters<
      BroadcastProcessFunction<[string, number], string, string>["processBroadcastElement"]
    >[1],
    out: { collect(s: string): void },
  ): void {
    ctx.getBroadcastState(PREFIX).put("p", rule);
    out.collect(`rule ${rule}`);
  }
  onTimer(
    _t: number,
    ctx: { getCurrentKey(): unknown },
    out: { collect(s: string): void },
  ): void {
    out.collect(`timer ${ctx.getCurrentKey()}`);
  }
}

/** words, rules (sources) → seen (map) → tally (keyed, broadcast) → sink; no uid set. */
function start(dir: string, suffix: string, restore?: string) {
  const words = new QueueSource<string>("words");
  const rules = new QueueSource<string>("rules");
  const out = new CollectSink<string>();
  const logged: string[] = [];
  const env = StreamEnvironment.create({
    parallelism: 1,
    checkpoint: { dir },
    ...(restore ? { restore } : {}),
    restartStrategy: { kind: "none" },
    log: (l) => logged.push(l),
  });
  const ruleStream = env.addSource(rules).name(`rules ${suffix}`);
  env.addSource(words).name(`words ${suffix}`)
    .map(new Seen()).name(`seen ${suffix}`)
    .keyBy(([w]) => w, Serializers.string)
    .connect(ruleStream.broadcast(PREFIX as MapStateDescriptor<unknown, unknown>))
    .process(new Tally()).name(`tally ${suffix}`)
    .addSink(out).name(`sink ${suffix}`);
  const client = env.executeAsync("generated uids");
  return { words, rules, out, client, logged };
}

const NEW_UIDS = ["operator-2", "operator-3", "sink-4", "source-0", "source-1"];

/** First run: a rule, then a, b, a; returns the savepoint taken. */
async function firstRun(dir: string) {
  const j = start(dir, "v1");
  j.rules.push("p:");
  await until(() => j.out.values.length === 1, "the rule");
  j.words.push("a", "b", "a");
  await until(() => j.out.values.length === 4, "the words");
  assert.deepEqual(j.out.values, ["rule p:", "p:a\t1\t1", "p:b\t1\t2", "p:a\t2\t3"]);
  const sp = await j.client.triggerSavepoint("sp1");
  j.client.cancel();
  await j.client.done;
  return sp;
}

/** A restored run: a and c continue every state, b's timer fires; its savepoint's uids. */
async function restoredRun(suffix: string, restore: string) {
  const dir = Deno.makeTempDirSync({ prefix: "weir-uids-restored-" });
  const j = start(dir, suffix, restore);
  j.words.push("a", "c");
  await until(() => j.out.values.length === 2, "the words after the restore");
  const sp = await j.client.triggerSavepoint("sp2");
  j.words.end();
  j.rules.end();
  await j.client.done;
  assert.deepEqual(j.out.values.slice(0, 2), ["p:a\t3\t4", "p:c\t1\t5"]);
  assert.deepEqual(j.out.values.slice(2).sort(), ["timer a", "timer b", "timer c"]);
  assert.deepEqual(Object.keys(sp.manifest.operators).sort(), NEW_UIDS);
  Deno.removeSync(dir, { recursive: true });
  return j.logged;
}

Deno.test("generated uids: renaming operators without a uid keeps every kind of their state", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "weir-uids-" });
  try {
    const sp = await firstRun(dir);
    // Every operator renamed (as a default name changing between versions would).
    await restoredRun("v2", sp.path);
    assert.deepEqual(Object.keys(sp.manifest.operators).sort(), NEW_UIDS);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("generated uids: a savepoint with uids made from names (earlier weir) restores and moves to the new uids", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "weir-uids-" });
  try {
    const sp = await firstRun(dir);
    // As an earlier weir wrote it: each generated uid made from the operator's name and position.
    const m = parseManifest(Deno.readTextFileSync(`${sp.path}/_metadata`), sp.path);
    const operators = Object.fromEntries(
      Object.entries(m.operators).map(([uid, op]) => [
        nameBasedUid(op.name, Number(uid.split("-").at(-1))),
        op,
      ]),
    );
    const oldUids = Object.keys(operators).sort();
    assert.deepEqual(oldUids, ["rules-v1-0", "seen-v1-2", "sink-v1-4", "tally-v1-3", "words-v1-1"]);
    const { checksum: _, ...rest } = m;
    Deno.writeTextFileSync(`${sp.path}/_metadata`, formatManifest({ ...rest, operators }));

    // The CLI reads it offline under the uids it holds.
    const out: string[] = [], err: string[] = [];
    const io = { out: (l: string) => out.push(l), err: (l: string) => err.push(l) };
    const get = ["state", "get", sp.path, "--operator", "tally-v1-3", "--state", "count"];
    assert.equal(await runCli([...get, "--key", "a", "--json"], io), 0, err.join("\n"));
    assert.deepEqual(JSON.parse(out.join("")).entries, [{ value: 2 }]);

    // The same job (same names) and, as well, a renamed one restore it.
    for (const suffix of ["v1", "v2"]) {
      const logged = await restoredRun(suffix, sp.path);
      assert.ok(
        logged.some((l) => l.includes(`operator "tally-v1-3"`) && l.includes(`"operator-3"`)),
        logged.join("\n"),
      );
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
