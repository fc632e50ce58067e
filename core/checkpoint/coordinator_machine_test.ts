import assert from "node:assert/strict";
import type { CheckpointConfig, OperatorSubtaskSnapshot } from "./coordinator.ts";
import {
  type CoordinatorCommand,
  type CoordinatorEvent,
  type CoordinatorState,
  initialCoordinatorState,
  type Instant,
  step,
} from "./coordinator_machine.ts";

const CONFIG: CheckpointConfig = {
  dir: "/ckpt",
  intervalMs: 100,
  mode: "exactly-once",
  timeoutMs: 1000,
  minPauseMs: 0,
  maxConcurrent: 1,
  tolerableFailures: 0,
  retained: 1,
  retainOnCancellation: false,
  cancellationTimeoutMs: 180_000,
};

function fresh(config: Partial<CheckpointConfig> = {}, taskCount = 2): CoordinatorState {
  return initialCoordinatorState(
    {
      config: { ...CONFIG, ...config },
      taskCount,
      jobName: "job",
      stateBackend: "heap",
      maxParallelism: 128,
      operatorInfo: (uid) => ({ name: `op ${uid}`, parallelism: 2, source: uid === "src" }),
    },
    1,
  );
}

const at = (mono: number): Instant => ({ mono, epoch: 1_000_000 + mono });

/** Steps through `events`; the final state and every command, in order. */
function run(
  state: CoordinatorState,
  ...events: CoordinatorEvent[]
): { state: CoordinatorState; commands: CoordinatorCommand[] } {
  const commands: CoordinatorCommand[] = [];
  for (const e of events) {
    const r = step(state, e);
    state = r.state;
    commands.push(...r.commands);
  }
  return { state, commands };
}

const types = (cs: readonly CoordinatorCommand[]) => cs.map((c) => c.type);

function snapshot(
  uid: string,
  index: number,
  segments: [string, number][],
): OperatorSubtaskSnapshot {
  return {
    uid,
    subtaskIndex: index,
    operatorState: {},
    keyed: {
      keyGroupRange: { start: 0, end: 127 },
      segments: segments.map(([name, size]) => ({ name, size })),
    } as unknown as OperatorSubtaskSnapshot["keyed"],
  };
}

/** Both tasks acknowledge and write their part of `id` at time `t`. */
function ackAll(
  id: number,
  t: number,
  segments: [string, number][][] = [[], []],
): CoordinatorEvent[] {
  return [0, 1].flatMap((task): CoordinatorEvent[] => [
    { type: "barrierAck", at: at(t), task, id, name: `t${task}`, alignmentMs: 1, syncMs: 2 },
    {
      type: "snapshotDone",
      at: at(t),
      task,
      id,
      snapshots: [snapshot("op", task, segments[task] ?? [])],
    },
  ]);
}

function written(id: number, t: number): CoordinatorEvent {
  return { type: "manifestWritten", at: at(t), id, path: `/ckpt/chk-${id}` };
}

Deno.test("coordinator machine: a tick triggers; a checkpoint completes after every ack, snapshot and the manifest write", () => {
  let { state, commands } = run(fresh(), { type: "tick", at: at(10) });
  assert.deepEqual(commands, [
    { type: "scheduleTimeout", id: 1, delayMs: 1000 },
    {
      type: "injectBarrier",
      id: 1,
      options: { savepoint: false, aligned: true },
      request: undefined,
    },
  ]);
  const events = ackAll(1, 20, [[["a", 10]], [["b", 5]]]);
  // Acks alone, or all but one snapshot, do not complete it.
  ({ state, commands } = run(state, ...events.slice(0, 3)));
  assert.deepEqual(commands, []);
  ({ state, commands } = run(state, events[3]!));
  assert.deepEqual(types(commands), ["writeManifest"]);
  const write = commands[0] as Extract<CoordinatorCommand, { type: "writeManifest" }>;
  assert.equal(write.manifest.checkpointId, 1);
  assert.equal(write.manifest.kind, "checkpoint");
  assert.deepEqual(write.manifest.operators["op"]!.subtasks.map((s) => s.index), [0, 1]);
  assert.equal(write.manifest.stats.stateSize, 15);
  assert.deepEqual(write.manifest.stats.tasks.map((t) => t.task), ["t0", "t1"]);
  assert.equal(write.manifest.stats.tasks[0]!.startDelayMs, 7); // 20 - 10 - 1 - 2
  assert.equal(state.pending.get(1)!.manifest, write.manifest);
  ({ state, commands } = run(state, written(1, 30)));
  assert.deepEqual(types(commands), [
    "cancelTimeout",
    "notifyComplete",
    "collectGarbage",
    "completed",
  ]);
  assert.equal(state.pending.size, 0);
  assert.equal(state.lastCompleted, write.manifest);
  const done = commands[3] as Extract<CoordinatorCommand, { type: "completed" }>;
  assert.equal(done.record.status, "completed");
  assert.equal(done.history.external_path, "/ckpt/chk-1");
  assert.equal(done.history.num_acknowledged_subtasks, 2);
});

Deno.test("coordinator machine: a segment already in the last completed checkpoint is not new", () => {
  let { state, commands } = run(
    fresh(),
    { type: "tick", at: at(0) },
    ...ackAll(1, 1, [[["a", 10]], []]),
  );
  ({ state } = run(state, written(1, 2), { type: "tick", at: at(3) }));
  ({ commands } = run(state, ...ackAll(2, 4, [[["a", 10], ["c", 3]], []])));
  const write = commands[0] as Extract<CoordinatorCommand, { type: "writeManifest" }>;
  assert.equal(write.manifest.stats.stateSize, 13);
  assert.equal(write.manifest.stats.checkpointedSize, 3);
});

Deno.test("coordinator machine: ticks start no more than maxConcurrent checkpoints", () => {
  const one = run(fresh({ maxConcurrent: 1 }), { type: "tick", at: at(0) }, {
    type: "tick",
    at: at(100),
  });
  assert.equal(types(one.commands).filter((t) => t === "injectBarrier").length, 1);
  const two = run(
    fresh({ maxConcurrent: 2 }),
    { type: "tick", at: at(0) },
    { type: "tick", at: at(100) },
    { type: "tick", at: at(200) },
  );
  assert.deepEqual([...two.state.pending.keys()], [1, 2]);
  // A manual trigger is not limited (as Flink's savepoints and manual checkpoints).
  const manual = run(one.state, { type: "trigger", at: at(150), request: 7 });
  assert.deepEqual([...manual.state.pending.keys()], [1, 2]);
  assert.equal(manual.state.pending.get(2)!.request, 7);
});

Deno.test("coordinator machine: a tick within minPauseMs of the last checkpoint's end starts none", () => {
  let { state } = run(
    fresh({ minPauseMs: 500 }),
    { type: "tick", at: at(1000) },
    ...ackAll(1, 1010),
  );
  ({ state } = run(state, written(1, 1100)));
  assert.equal(state.lastEnd, 1100);
  let r = run(state, { type: "tick", at: at(1599) });
  assert.deepEqual(r.commands, []);
  r = run(state, { type: "tick", at: at(1600) });
  assert.deepEqual(types(r.commands), ["scheduleTimeout", "injectBarrier"]);
  // A failed checkpoint's end counts too.
  ({ state } = run(r.state, { type: "decline", at: at(1700), id: 2, reason: "no" }));
  assert.deepEqual(run(state, { type: "tick", at: at(2199) }).commands, []);
  assert.equal(run(state, { type: "tick", at: at(2200) }).state.pending.size, 1);
});

Deno.test("coordinator machine: a timeout aborts the checkpoint and counts as a failure", () => {
  const { state } = run(fresh({ tolerableFailures: 1 }), { type: "tick", at: at(0) });
  const r = run(state, { type: "timeout", at: at(1000), id: 1 });
  assert.deepEqual(types(r.commands), [
    "cancelTimeout",
    "notifyAborted",
    "aborted",
    "collectGarbage",
  ]);
  const aborted = r.commands[2] as Extract<CoordinatorCommand, { type: "aborted" }>;
  assert.equal(aborted.reason, "timed out after 1000 ms");
  assert.equal(aborted.history.status, "FAILED");
  assert.equal(aborted.history.end_to_end_duration, 1000);
  assert.equal(r.state.consecutiveFailures, 1);
  assert.equal(r.state.pending.size, 0);
});

Deno.test("coordinator machine: the job fails when consecutive failures exceed tolerableFailures; a completion resets the count", () => {
  let { state, commands } = run(
    fresh({ tolerableFailures: 1 }),
    { type: "tick", at: at(0) },
    { type: "decline", at: at(1), id: 1, reason: "first" },
    { type: "tick", at: at(2) },
    ...ackAll(2, 3),
    written(2, 4),
    { type: "tick", at: at(5) },
    { type: "decline", at: at(6), id: 3, reason: "second" },
  );
  assert.ok(!types(commands).includes("failJob"));
  assert.equal(state.consecutiveFailures, 1);
  ({ state, commands } = run(
    state,
    { type: "tick", at: at(7) },
    { type: "timeout", at: at(8), id: 4 },
  ));
  const fail = commands.find((c) => c.type === "failJob");
  assert.deepEqual(fail, {
    type: "failJob",
    reason: "2 consecutive checkpoints failed (tolerable: 1); last: timed out after 1000 ms",
  });
});

Deno.test("coordinator machine: a savepoint during a checkpoint completes on its own, commits nothing and is no recovery point", () => {
  let { state, commands } = run(
    fresh({ maxConcurrent: 1 }),
    { type: "tick", at: at(0) },
    { type: "trigger", at: at(1), request: 1, savepointName: "sp" },
  );
  assert.deepEqual(
    commands.filter((c) => c.type === "injectBarrier").map((c) => c.options),
    [{ savepoint: false, aligned: true }, { savepoint: true, aligned: true }],
  );
  ({ state, commands } = run(state, ...ackAll(2, 5)));
  const write = commands[0] as Extract<CoordinatorCommand, { type: "writeManifest" }>;
  assert.equal(write.savepointName, "sp");
  assert.equal(write.manifest.kind, "savepoint");
  ({ state, commands } = run(state, written(2, 6)));
  assert.deepEqual(types(commands), ["cancelTimeout", "completed"]);
  assert.equal((commands[1] as { request?: number }).request, 1);
  assert.equal(state.lastCompleted, undefined);
  // The checkpoint still completes, and commits.
  ({ state, commands } = run(state, ...ackAll(1, 7), written(1, 8)));
  assert.ok(types(commands).includes("notifyComplete"));
  assert.equal(state.lastCompleted?.checkpointId, 1);
});

Deno.test("coordinator machine: a declined savepoint fails its trigger only", () => {
  const r = run(
    fresh({ tolerableFailures: 0 }),
    { type: "trigger", at: at(0), request: 3, savepointName: "sp" },
    { type: "decline", at: at(1), id: 1, reason: "task t0 failed its snapshot: disk full" },
  );
  assert.deepEqual(types(r.commands), [
    "scheduleTimeout",
    "injectBarrier",
    "cancelTimeout",
    "notifyAborted",
    "aborted",
  ]);
  const aborted = r.commands[4] as Extract<CoordinatorCommand, { type: "aborted" }>;
  assert.equal(aborted.request, 3);
  assert.equal(aborted.reason, "task t0 failed its snapshot: disk full");
  assert.equal(r.state.consecutiveFailures, 0);
});

Deno.test("coordinator machine: late acks, snapshots, declines, timeouts and writes of an aborted checkpoint change nothing", () => {
  const { state } = run(
    fresh(),
    { type: "tick", at: at(0) },
    ...ackAll(1, 1).slice(0, 3),
    { type: "decline", at: at(2), id: 1, reason: "no" },
  );
  for (
    const late of [
      ...ackAll(1, 3),
      { type: "decline", at: at(4), id: 1, reason: "again" },
      { type: "timeout", at: at(1000), id: 1 },
      written(1, 5),
      { type: "manifestFailed", at: at(6), id: 1, reason: "x" },
    ] satisfies CoordinatorEvent[]
  ) {
    const r = step(state, late);
    assert.equal(r.state, state, late.type);
    assert.deepEqual(r.commands, [], late.type);
  }
});

Deno.test("coordinator machine: a checkpoint aborted while its manifest was written does not complete", () => {
  const { state } = run(
    fresh(),
    { type: "tick", at: at(0) },
    ...ackAll(1, 1),
    { type: "timeout", at: at(1000), id: 1 },
  );
  const r = step(state, written(1, 1001));
  assert.deepEqual(r.commands, []);
  assert.equal(r.state.lastCompleted, undefined);
});

Deno.test("coordinator machine: a failed manifest write aborts the checkpoint", () => {
  const r = run(
    fresh({ tolerableFailures: 5 }),
    { type: "tick", at: at(0) },
    ...ackAll(1, 1),
    { type: "manifestFailed", at: at(2), id: 1, reason: "Error: database gone" },
  );
  const aborted = r.commands.find((c) => c.type === "aborted");
  assert.equal(aborted?.type === "aborted" && aborted.reason, "Error: database gone");
  assert.equal(r.state.consecutiveFailures, 1);
});

Deno.test("coordinator machine: stop-with-savepoint waits for the checkpoint in flight, then its savepoint commits", () => {
  let { state, commands } = run(
    fresh(),
    { type: "tick", at: at(0) },
    {
      type: "finalCheckpoint",
      at: at(1),
      request: 9,
      savepointName: "stop-sp",
      stop: { drain: true },
    },
  );
  // Not yet: checkpoint 1 is in flight.
  assert.deepEqual(types(commands), ["scheduleTimeout", "injectBarrier"]);
  // Periodic ticks no longer start checkpoints.
  assert.deepEqual(run(state, { type: "tick", at: at(500) }).commands, []);
  ({ state, commands } = run(state, ...ackAll(1, 2), written(1, 3)));
  assert.deepEqual(types(commands), [
    "writeManifest",
    "cancelTimeout",
    "notifyComplete",
    "collectGarbage",
    "completed",
    "scheduleTimeout",
    "injectBarrier",
  ]);
  const inject = commands.at(-1) as Extract<CoordinatorCommand, { type: "injectBarrier" }>;
  assert.deepEqual(inject, {
    type: "injectBarrier",
    id: 2,
    options: { savepoint: true, aligned: true },
    request: 9,
  });
  ({ state, commands } = run(state, ...ackAll(2, 4)));
  const write = commands[0] as Extract<CoordinatorCommand, { type: "writeManifest" }>;
  assert.equal(write.manifest.stop, true);
  assert.equal(write.manifest.drained, true);
  ({ commands } = run(state, written(2, 5)));
  // Unlike a plain savepoint, it commits.
  assert.deepEqual(types(commands), ["cancelTimeout", "notifyComplete", "completed"]);
});

Deno.test("coordinator machine: the final checkpoint is asked for once", () => {
  const r = run(
    fresh(),
    { type: "finalCheckpoint", at: at(0), request: 1 },
    { type: "finalCheckpoint", at: at(1), request: 2 },
  );
  assert.deepEqual(r.commands.filter((c) => c.type === "injectBarrier").map((c) => c.request), [
    1,
  ]);
});

Deno.test("coordinator machine: shutdown aborts checkpoints in flight without counting them and refuses new ones", () => {
  let { state, commands } = run(
    fresh({ maxConcurrent: 2, tolerableFailures: 0 }),
    { type: "tick", at: at(0) },
    { type: "tick", at: at(1) },
    { type: "finalCheckpoint", at: at(2), request: 4 },
    { type: "shutdown", at: at(3) },
  );
  const aborted = commands.filter((c) => c.type === "aborted");
  assert.deepEqual(aborted.map((c) => [c.id, c.reason]), [[1, "the job stopped"], [
    2,
    "the job stopped",
  ]]);
  assert.ok(!types(commands).includes("failJob"));
  // The final checkpoint waited for them; now it is refused.
  assert.deepEqual(commands.at(-1), {
    type: "rejectTrigger",
    request: 4,
    reason: "Checkpointing has stopped",
  });
  ({ state, commands } = run(state, { type: "trigger", at: at(4), request: 5 }, {
    type: "tick",
    at: at(1000),
  }));
  assert.deepEqual(commands, [{
    type: "rejectTrigger",
    request: 5,
    reason: "Checkpointing has stopped",
  }]);
  assert.equal(state.pending.size, 0);
});

Deno.test("coordinator machine: a task failure aborts checkpoints in flight, naming the task", () => {
  const r = run(
    fresh(),
    { type: "tick", at: at(0) },
    { type: "taskFailure", at: at(1), task: "map (1/2)", reason: "boom" },
  );
  const aborted = r.commands.find((c) => c.type === "aborted");
  assert.equal(aborted?.type === "aborted" && aborted.reason, "task map (1/2) failed: boom");
  assert.equal(r.state.stopped, true);
  assert.equal(r.state.consecutiveFailures, 0);
});

Deno.test("coordinator machine: at-least-once barriers are not aligned", () => {
  const r = run(fresh({ mode: "at-least-once" }), { type: "trigger", at: at(0), request: 1 });
  const inject = r.commands.find((c) => c.type === "injectBarrier");
  assert.deepEqual(inject?.type === "injectBarrier" && inject.options, {
    savepoint: false,
    aligned: false,
  });
});

Deno.test("coordinator machine: garbage collection keeps the segments of checkpoints still in flight", () => {
  const r = run(
    fresh({ maxConcurrent: 2 }),
    { type: "tick", at: at(0) },
    { type: "tick", at: at(1) },
    // Checkpoint 2's first task has written segment "fresh".
    ...ackAll(2, 2, [[["fresh", 4]], []]).slice(0, 2),
    ...ackAll(1, 3),
    written(1, 4),
  );
  const gc = r.commands.find((c) => c.type === "collectGarbage");
  assert.deepEqual(gc, {
    type: "collectGarbage",
    retained: 1,
    inFlight: ["fresh"],
    pending: [2],
  });
});

Deno.test("coordinator machine: garbage collection names every checkpoint and savepoint in flight, reported or not", () => {
  // A periodic checkpoint, then a manual one and a savepoint overlapping it
  // (they skip maxConcurrent): their tasks may have written segments without
  // reporting them yet.
  const r = run(
    fresh({ maxConcurrent: 1 }),
    { type: "tick", at: at(0) },
    { type: "trigger", at: at(1), request: 1 },
    { type: "trigger", at: at(2), request: 2, savepointName: "sp" },
    // Checkpoint 2's barrier acknowledged, its snapshot not reported yet.
    ...ackAll(2, 3).filter((e) => e.type === "barrierAck"),
    ...ackAll(1, 4),
    written(1, 5),
  );
  const gc = r.commands.filter((c) => c.type === "collectGarbage");
  assert.deepEqual(gc, [{ type: "collectGarbage", retained: 1, inFlight: [], pending: [2, 3] }]);
  // A counted failure collects too, keeping the same.
  const failed = run(r.state, { type: "decline", at: at(6), id: 2, reason: "boom" });
  assert.deepEqual(failed.commands.filter((c) => c.type === "collectGarbage"), [
    { type: "collectGarbage", retained: 1, inFlight: [], pending: [3] },
  ]);
});

Deno.test("coordinator machine: a checkpoint declined as subsumed by a newer one is aborted without counting a failure", () => {
  const r = run(
    fresh({ maxConcurrent: 2, tolerableFailures: 0 }),
    { type: "tick", at: at(0) },
    { type: "tick", at: at(1) },
    { type: "decline", at: at(2), id: 1, reason: "overtaken by 2", subsumed: true },
  );
  assert.deepEqual(types(r.commands).slice(4), ["cancelTimeout", "notifyAborted", "aborted"]);
  assert.equal(r.state.consecutiveFailures, 0);
  assert.deepEqual([...r.state.pending.keys()], [2]);
});

Deno.test("coordinator machine: a failure not tied to one task (a worker's) is the abort reason as it is", () => {
  const r = run(
    fresh(),
    { type: "tick", at: at(0) },
    { type: "taskFailure", at: at(1), reason: 'Job "j" failed in worker 1: boom' },
  );
  const aborted = r.commands.find((c) => c.type === "aborted");
  assert.equal(aborted?.type === "aborted" && aborted.reason, 'Job "j" failed in worker 1: boom');
});

Deno.test("coordinator machine: every abort cause tells the tasks (notifyAborted), once, before the abort is recorded", () => {
  const causes: [string, CoordinatorEvent[]][] = [
    ["decline", [{ type: "decline", at: at(5), id: 1, reason: "snapshot failed" }]],
    ["subsumed", [{ type: "decline", at: at(5), id: 1, reason: "overtaken", subsumed: true }]],
    ["timeout", [{ type: "timeout", at: at(1000), id: 1 }]],
    ["manifest write", [
      ...ackAll(1, 5),
      { type: "manifestFailed", at: at(6), id: 1, reason: "disk full" },
    ]],
    ["task failure", [{ type: "taskFailure", at: at(5), task: "map (1/2)", reason: "boom" }]],
    ["shutdown", [{ type: "shutdown", at: at(5) }]],
  ];
  for (const [cause, events] of causes) {
    const r = run(fresh({ tolerableFailures: 5 }), { type: "tick", at: at(0) }, ...events);
    const notified = r.commands.filter((c) => c.type === "notifyAborted");
    assert.deepEqual(notified, [{ type: "notifyAborted", id: 1 }], cause);
    const kinds = types(r.commands);
    assert.ok(kinds.indexOf("notifyAborted") < kinds.indexOf("aborted"), cause);
    assert.ok(!kinds.includes("notifyComplete"), cause);
    // A late message about the aborted checkpoint announces nothing again.
    const late = run(r.state, { type: "timeout", at: at(2000), id: 1 }, ...ackAll(1, 2001));
    assert.deepEqual(late.commands, [], cause);
  }
});

Deno.test("coordinator machine: a completed checkpoint is not announced as aborted; only the aborted one of two is", () => {
  const r = run(
    fresh({ maxConcurrent: 2, tolerableFailures: 1 }),
    { type: "tick", at: at(0) },
    { type: "tick", at: at(1) },
    { type: "decline", at: at(2), id: 1, reason: "no" },
    ...ackAll(2, 3),
    { type: "manifestWritten", at: at(4), id: 2, path: "/ckpt/chk-2" },
  );
  assert.deepEqual(r.commands.filter((c) => c.type.startsWith("notify")), [
    { type: "notifyAborted", id: 1 },
    { type: "notifyComplete", id: 2 },
  ]);
});
