import assert from "node:assert/strict";
import type { Source } from "../connectors/source.ts";
import type { SplitEnumerator, SplitEnumeratorContext } from "../connectors/split_enumerator.ts";
import { SourceCoordinator } from "./_source_coordinator.ts";
import type { EnumeratorToReader } from "./control_messages.ts";

/** A source whose enumerator hands out the letters of `splits`, one per request. */
function letters(splits: string[], calls: string[]): Source<string> {
  return {
    name: "letters",
    createReader: () => ({ poll: () => "end", position: () => null, restore() {} }),
    createEnumerator(ctx: SplitEnumeratorContext<unknown>, restored: unknown) {
      const left: string[] = restored === undefined ? [...splits] : [...(restored as string[])];
      const e: SplitEnumerator<unknown, unknown> = {
        start: () => void calls.push("start"),
        addReader: (s) => void calls.push(`addReader ${s}`),
        handleSplitRequest(subtask) {
          const next = left.shift();
          if (next === undefined) ctx.signalNoMoreSplits(subtask);
          else ctx.assignSplits(subtask, [next]);
        },
        addSplitsBack(back, subtask) {
          calls.push(`back ${subtask} ${back.join("")}`);
          left.unshift(...(back as string[]));
        },
        snapshotState: () => [...left],
        notifyCheckpointComplete: (id) => void calls.push(`complete ${id}`),
        notifyCheckpointAborted: (id) => void calls.push(`aborted ${id}`),
        close: () => void calls.push("close"),
      };
      return e;
    },
  };
}

function setup(splits: string[], restored?: { state?: unknown; splits?: unknown[] }) {
  const calls: string[] = [];
  const sent: EnumeratorToReader[] = [];
  const failures: Error[] = [];
  const sources = new SourceCoordinator([{
    uid: "src",
    source: letters(splits, calls) as Source<unknown>,
    parallelism: 2,
    ...(restored?.state !== undefined ? { restoredState: restored.state } : {}),
    ...(restored?.splits ? { restoredSplits: restored.splits } : {}),
  }], { send: (m) => void sent.push(m), fail: (e) => void failures.push(e), now: () => 0 });
  const ask = (subtask: number) => sources.receive({ type: "splitRequest", uid: "src", subtask });
  const got = (subtask: number) =>
    sent.filter((m) => m.subtask === subtask).map((m) =>
      m.type === "addSplits" ? m.splits.join("") : "end"
    );
  return { sources, calls, sent, failures, ask, got };
}

Deno.test("SourceCoordinator: messages before start wait for it; registrations and requests reach the enumerator; assignments become messages to the reader", () => {
  const t = setup(["a", "b", "c"]);
  t.sources.receive({ type: "readerRegistered", uid: "src", subtask: 1 });
  t.ask(1);
  assert.deepEqual(t.sent, []);
  t.sources.start();
  assert.deepEqual(t.calls, ["start", "addReader 1"]);
  t.ask(0);
  t.ask(1);
  t.ask(1);
  assert.deepEqual(t.got(1), ["a", "c", "end"]);
  assert.deepEqual(t.got(0), ["b"]);
  assert.deepEqual(t.sent[0], { type: "addSplits", uid: "src", subtask: 1, splits: ["a"] });
  t.sources.receive({ type: "splitRequest", uid: "other", subtask: 0 }); // not an enumerated source
  t.sources.close();
  assert.equal(t.calls.at(-1), "close");
});

Deno.test("SourceCoordinator: a failed reader's splits assigned since the last completed checkpoint go back to the enumerator; older ones are in that checkpoint", () => {
  const t = setup(["a", "b", "c", "d"]);
  t.sources.start();
  t.ask(0); // a: before checkpoint 1's snapshot
  t.sources.snapshot(1);
  t.ask(0); // b: after it
  t.ask(1); // c
  t.sources.notifyCheckpointComplete(1);
  t.sources.snapshot(2);
  t.ask(0); // d: after checkpoint 2's snapshot, which has not completed
  t.sources.readerFailed("src", 0);
  assert.ok(t.calls.includes("back 0 bd"), t.calls.join(", "));
  assert.ok(t.calls.includes("complete 1"));
  t.ask(1);
  t.ask(1);
  assert.deepEqual(t.got(1), ["c", "b", "d"]);
  // Given back once: a second failure has nothing more to return.
  t.sources.readerFailed("src", 0);
  assert.equal(t.calls.filter((c) => c.startsWith("back")).length, 1);
});

Deno.test("SourceCoordinator: a restored enumerator gets its state and the readers' unfinished splits back; snapshots are by source uid; a throwing enumerator fails the job", () => {
  const t = setup(["x"], { state: ["c"], splits: ["a", "b"] });
  t.sources.start();
  assert.deepEqual(t.calls.slice(0, 2), ["back -1 ab", "start"]);
  assert.deepEqual(t.sources.snapshot(5), { src: ["a", "b", "c"] });
  const failing = new SourceCoordinator([{
    uid: "bad",
    source: {
      name: "bad",
      createReader: () => ({ poll: () => "end", position: () => null, restore() {} }),
      createEnumerator: () => ({
        start() {
          throw new Error("cannot list /nowhere");
        },
        addReader() {},
        handleSplitRequest() {},
        addSplitsBack() {},
        snapshotState: () => null,
      }),
    },
    parallelism: 1,
  }], { send() {}, fail: (e) => void t.failures.push(e), now: () => 0 });
  failing.start();
  assert.match(String(t.failures[0]), /cannot list \/nowhere/);
});

/** A source whose enumerator runs `work` through `callAsync` and records what happens. */
function asyncSource(
  work: () => Promise<string>,
  intervalMs: number | undefined,
  events: string[],
  closing: Promise<void>,
): Source<unknown> {
  return {
    name: "async",
    createReader: () => ({ poll: () => "end", position: () => null, restore() {} }),
    createEnumerator: (ctx) => ({
      start: () => ctx.callAsync(work, (r) => void events.push(`handled ${r}`), intervalMs),
      addReader() {},
      handleSplitRequest() {},
      addSplitsBack() {},
      snapshotState: () => null,
      close: () => closing.then(() => void events.push("closed")),
    }),
  };
}

Deno.test("SourceCoordinator: callAsync hands the result over in a later turn, repeats after the interval without overlap, and stops at close, which waits for the enumerator's close", async () => {
  const events: string[] = [];
  let runs = 0;
  let running = false;
  const work = async () => {
    assert.ok(!running, "runs never overlap");
    running = true;
    await new Promise((r) => setTimeout(r, 5));
    running = false;
    return `run ${++runs}`;
  };
  const { promise: closing, resolve: closed } = Promise.withResolvers<void>();
  const failures: Error[] = [];
  const sources = new SourceCoordinator([{
    uid: "a",
    source: asyncSource(work, 1, events, closing),
    parallelism: 1,
  }], { send() {}, fail: (e) => void failures.push(e), now: () => 0 });
  sources.start();
  assert.deepEqual(events, [], "not handled in the same turn");
  const deadline = Date.now() + 10_000;
  while (runs < 3) {
    assert.ok(Date.now() < deadline, `callAsync ran ${runs} times, not repeated 3 times`);
    await new Promise((r) => setTimeout(r, 2));
  }
  const done = sources.close();
  let finished = false;
  void done.then(() => finished = true);
  await new Promise((r) => setTimeout(r, 20));
  assert.ok(!finished, "close waits for the enumerator's close");
  const handled = events.length;
  closed();
  await done;
  assert.ok(handled >= 2 && events.slice(0, handled).every((e, i) => e === `handled run ${i + 1}`));
  assert.deepEqual(events.slice(handled), ["closed"], "nothing handled after close");
  assert.ok(runs <= handled + 1);
  assert.deepEqual(failures, []);
});

Deno.test("SourceCoordinator: a rejected callAsync fails the job", async () => {
  const failures: Error[] = [];
  const sources = new SourceCoordinator([{
    uid: "a",
    source: asyncSource(
      () => Promise.reject(new Error("metadata request timed out")),
      undefined,
      [],
      Promise.resolve(),
    ),
    parallelism: 1,
  }], { send() {}, fail: (e) => void failures.push(e), now: () => 0 });
  sources.start();
  await new Promise((r) => setTimeout(r, 0));
  assert.match(String(failures[0]), /metadata request timed out/);
  await sources.close();
});

Deno.test("SourceCoordinator: an aborted checkpoint reaches the enumerator; its splits stay assigned and go back on a reader's failure", () => {
  const t = setup(["a", "b"]);
  t.sources.start();
  t.sources.snapshot(1);
  t.ask(0); // a: after checkpoint 1's snapshot
  t.sources.notifyCheckpointAborted(1);
  assert.ok(t.calls.includes("aborted 1"), t.calls.join(", "));
  assert.ok(!t.calls.includes("complete 1"));
  // Checkpoint 1 holds no split: a failed reader's split assigned since goes back.
  t.sources.readerFailed("src", 0);
  assert.ok(t.calls.includes("back 0 a"), t.calls.join(", "));
});
