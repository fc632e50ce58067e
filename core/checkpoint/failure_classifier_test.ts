import assert from "node:assert/strict";
import { type AttemptFailure, classifyFailure, type FailurePolicy } from "./failure_classifier.ts";

const policy: FailurePolicy = {
  strategy: { kind: "fixed-delay", attempts: 1000, delayMs: 5 },
  repeatedFailureLimit: 3,
};

const failure = (over: Partial<AttemptFailure> = {}): AttemptFailure => ({
  at: 0,
  signature: 'task "parse (1/1)": bad line 7',
  restoredFrom: "/ck/chk-4",
  configError: false,
  ...over,
});

const reasonOf = (d: ReturnType<typeof classifyFailure>): string => {
  assert.equal(d.restart, false, JSON.stringify(d));
  return (d as { reason: string }).reason;
};

Deno.test("classifyFailure: the same failure from the same checkpoint stops at the limit", () => {
  const f = failure();
  assert.deepEqual(classifyFailure([f], policy, 0), { restart: true, delayMs: 5 });
  assert.deepEqual(classifyFailure([f, f], policy, 0), { restart: true, delayMs: 5 });
  const reason = reasonOf(classifyFailure([f, f, f], policy, 0));
  assert.match(reason, /same failure happened 3 times in a row, each after restoring \/ck\/chk-4/);
  assert.match(reason, /deterministic/);
});

Deno.test("classifyFailure: repeats count without a checkpoint too", () => {
  const f = failure({ restoredFrom: undefined });
  assert.match(
    reasonOf(classifyFailure([f, f, f], policy, 0)),
    /each after starting without a checkpoint/,
  );
});

Deno.test("classifyFailure: progress or a different failure resets the count", () => {
  // A newer checkpoint between the failures: the job made progress.
  const moved = [failure(), failure(), failure({ restoredFrom: "/ck/chk-5" })];
  assert.ok(classifyFailure(moved, policy, 0).restart);
  assert.ok(classifyFailure([...moved, failure({ restoredFrom: "/ck/chk-5" })], policy, 0).restart);
  // Another task or another error: not the same failure.
  const other = [failure(), failure({ signature: "sink: disk full" }), failure()];
  assert.ok(classifyFailure(other, policy, 0).restart);
  // Only the trailing run counts.
  const trailing = [failure(), failure(), failure({ signature: "x" }), failure(), failure()];
  assert.ok(classifyFailure(trailing, policy, 0).restart);
  assert.equal(classifyFailure([...trailing, failure()], policy, 0).restart, false);
});

Deno.test("classifyFailure: a configuration error never restarts", () => {
  const reason = reasonOf(classifyFailure([failure({ configError: true })], policy, 0));
  assert.match(reason, /configuration error/);
});

Deno.test("classifyFailure: the limit is configurable", () => {
  const f = failure();
  const once = { ...policy, repeatedFailureLimit: 1 };
  assert.equal(classifyFailure([f], once, 0).restart, false);
  const five = { ...policy, repeatedFailureLimit: 5 };
  assert.ok(classifyFailure([f, f, f, f], five, 0).restart);
  assert.equal(classifyFailure([f, f, f, f, f], five, 0).restart, false);
});

Deno.test("classifyFailure: otherwise the restart strategy decides", () => {
  const strict: FailurePolicy = {
    strategy: { kind: "fixed-delay", attempts: 1, delayMs: 7 },
    repeatedFailureLimit: 3,
  };
  const a = failure({ signature: "a", at: 1 }), b = failure({ signature: "b", at: 2 });
  assert.deepEqual(classifyFailure([a], strict, 1), { restart: true, delayMs: 7 });
  assert.match(reasonOf(classifyFailure([a, b], strict, 2)), /fixed-delay allows 1 restarts/);
  const none: FailurePolicy = { strategy: { kind: "none" }, repeatedFailureLimit: 3 };
  assert.match(reasonOf(classifyFailure([a], none, 1)), /none/);
  assert.throws(() => classifyFailure([], policy, 0), RangeError);
});

Deno.test("classifyFailure: writing a new segment failing the same way is the same failure, whatever the file's name", () => {
  const writing = (name: string) =>
    failure({
      signature: `task count (1/1): writing segment ${name} failed: No space left on device`,
    });
  // In the LSM backend's working folder: one of its own in every attempt.
  const names = [
    "/tmp/weir-lsm-d71d5a4e7629fabe/c6bd6921-00000001.seg",
    "/tmp/weir-lsm-3701b4fc1ec1ec8a/76931e0d-00000001.seg",
    "/tmp/weir-lsm-b3bcb825ec81aa82/hfb715d35-00000003.seg",
  ];
  assert.match(
    reasonOf(classifyFailure(names.map(writing), policy, 0)),
    /same failure happened 3 times in a row/,
  );
  // Another operation on a segment is another failure.
  const other = failure({
    signature: "task count (1/1): reading segment c6bd6921-00000001.seg failed",
  });
  assert.equal(
    classifyFailure([writing(names[0]!), writing(names[1]!), other], policy, 0).restart,
    true,
  );
});
