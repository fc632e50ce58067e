import assert from "node:assert/strict";
import { ConfigError } from "../errors.ts";
import { StreamEnvironment } from "../dataflow/environment.ts";
import {
  checkRestartStrategy,
  decideRestart,
  DEFAULT_EXPONENTIAL_DELAY,
  type RestartStrategy,
} from "./restart_strategy.ts";

const delayOf = (d: ReturnType<typeof decideRestart>): number => {
  assert.ok(d.restart, `expected a restart, got ${JSON.stringify(d)}`);
  return d.delayMs;
};

Deno.test("restart: none never restarts and says why", () => {
  const d = decideRestart({ kind: "none" }, [5], 5);
  assert.equal(d.restart, false);
  assert.match((d as { reason: string }).reason, /none/);
});

Deno.test("restart: fixed-delay restarts `attempts` times with its delay, then gives up", () => {
  const s: RestartStrategy = { kind: "fixed-delay", attempts: 3, delayMs: 250 };
  const failures: number[] = [];
  for (let i = 1; i <= 3; i++) {
    failures.push(i * 1000);
    assert.equal(delayOf(decideRestart(s, failures, i * 1000)), 250);
  }
  failures.push(4000);
  const d = decideRestart(s, failures, 4000);
  assert.equal(d.restart, false);
  assert.match((d as { reason: string }).reason, /3 restarts/);
  assert.equal(
    decideRestart({ kind: "fixed-delay", attempts: 0, delayMs: 0 }, [1], 1).restart,
    false,
  );
});

Deno.test("restart: failure-rate counts failures inside the window only", () => {
  const s: RestartStrategy = {
    kind: "failure-rate",
    maxFailuresPerInterval: 2,
    intervalMs: 1000,
    delayMs: 40,
  };
  assert.equal(delayOf(decideRestart(s, [0], 0)), 40);
  assert.equal(delayOf(decideRestart(s, [0, 100], 100)), 40);
  const third = decideRestart(s, [0, 100, 200], 200);
  assert.equal(third.restart, false);
  assert.match((third as { reason: string }).reason, /3 failures within 1000 ms exceed 2/);
  // The old failures leave the window: allowed again.
  assert.equal(delayOf(decideRestart(s, [0, 100, 1500], 1500)), 40);
  assert.equal(delayOf(decideRestart(s, [0, 100, 1101, 1150], 1150)), 40);
  assert.equal(decideRestart(s, [0, 100, 1101, 1150, 1160], 1160).restart, false);
});

const expo = (over: Partial<Extract<RestartStrategy, { kind: "exponential-delay" }>> = {}) => ({
  kind: "exponential-delay" as const,
  initialBackoffMs: 100,
  maxBackoffMs: 1000,
  backoffMultiplier: 2,
  resetBackoffThresholdMs: 10_000,
  jitterFactor: 0,
  attempts: 100,
  ...over,
});

Deno.test("restart: exponential-delay grows by the multiplier up to the cap", () => {
  const s = expo();
  const failures: number[] = [];
  const delays: number[] = [];
  for (let i = 0; i < 7; i++) {
    failures.push(i * 10);
    delays.push(delayOf(decideRestart(s, failures, i * 10)));
  }
  assert.deepEqual(delays, [100, 200, 400, 800, 1000, 1000, 1000]);
  const s3 = expo({ backoffMultiplier: 3, maxBackoffMs: 100_000 });
  assert.equal(delayOf(decideRestart(s3, [0, 1, 2], 2)), 900);
});

Deno.test("restart: exponential-delay resets after a quiet period", () => {
  const s = expo();
  assert.equal(delayOf(decideRestart(s, [0, 10, 20], 20)), 400);
  // 20 → 20_021 is quieter than the 10 s threshold: back to the initial backoff.
  assert.equal(delayOf(decideRestart(s, [0, 10, 20, 20_021], 20_021)), 100);
  assert.equal(delayOf(decideRestart(s, [0, 10, 20, 20_021, 20_030], 20_030)), 200);
});

Deno.test("restart: exponential-delay gives up after its attempts", () => {
  const s = expo({ attempts: 2 });
  assert.ok(decideRestart(s, [0, 1], 1).restart);
  const d = decideRestart(s, [0, 1, 2], 2);
  assert.equal(d.restart, false);
  assert.match((d as { reason: string }).reason, /2 restarts/);
});

Deno.test("restart: exponential-delay counts its attempts since the backoff last reset (Flink's attempts-before-reset-backoff)", () => {
  const s = expo({ attempts: 3 });
  // Failures an hour apart: each starts the backoff again, and never runs out of attempts.
  const hourly = Array.from({ length: 6 }, (_, i) => i * 3_600_000);
  for (let i = 1; i <= hourly.length; i++) {
    assert.equal(delayOf(decideRestart(s, hourly.slice(0, i), hourly[i - 1]!)), 100);
  }
  // Three in a burst are allowed, a fourth is not.
  const d = decideRestart(s, [0, 1, 2, 3], 3);
  assert.equal(d.restart, false);
  assert.match((d as { reason: string }).reason, /3 restarts before its backoff resets/);
  // After a quiet period, three more.
  const later = [0, 1, 2, 3, 30_000, 30_001, 30_002];
  assert.equal(delayOf(decideRestart(s, later.slice(0, 5), 30_000)), 100);
  assert.equal(delayOf(decideRestart(s, later, 30_002)), 400);
  assert.equal(decideRestart(s, [...later, 30_003], 30_003).restart, false);
});

Deno.test("restart: exponential-delay resets only after the threshold plus the previous backoff", () => {
  const s = expo();
  // The failure at 20 got 400 ms: the backoff resets from 20 + 400 + 10_000 on.
  assert.equal(delayOf(decideRestart(s, [0, 10, 20, 10_419], 10_419)), 800);
  assert.equal(delayOf(decideRestart(s, [0, 10, 20, 10_420], 10_420)), 100);
});

Deno.test("restart: exponential-delay's jitter never passes maxBackoffMs nor goes under initialBackoffMs", () => {
  const s = expo({ jitterFactor: 0.1, initialBackoffMs: 1000, maxBackoffMs: 60_000 });
  const burst = Array.from({ length: 10 }, (_, i) => i);
  for (const r of [0, 0.5, 0.9999]) {
    assert.equal(delayOf(decideRestart(s, burst, 9, () => r)), 60_000);
  }
  // Just under the cap: the jitter above it is cut.
  const near = expo({ jitterFactor: 0.1, initialBackoffMs: 1000, maxBackoffMs: 8500 });
  assert.equal(delayOf(decideRestart(near, [0, 1, 2, 3], 3, () => 0.9999)), 8500);
  assert.equal(delayOf(decideRestart(near, [0, 1, 2, 3], 3, () => 0)), 7200);
  assert.equal(delayOf(decideRestart(s, [0], 0, () => 0)), 1000);
});

Deno.test("restart: jitter stays within ±factor of the base delay", () => {
  const s = expo({ jitterFactor: 0.25 });
  // The random source's extremes give the bounds exactly.
  assert.equal(delayOf(decideRestart(s, [0, 1], 1, () => 0)), 150);
  assert.equal(delayOf(decideRestart(s, [0, 1], 1, () => 0.999999)), 250);
  assert.equal(delayOf(decideRestart(s, [0, 1], 1, () => 0.5)), 200);
  let lo = Infinity, hi = -Infinity;
  for (let i = 0; i < 2000; i++) {
    const d = delayOf(decideRestart(s, [0, 1, 2], 2));
    lo = Math.min(lo, d);
    hi = Math.max(hi, d);
  }
  assert.ok(lo >= 300 && hi <= 500, `${lo}..${hi}`);
  assert.ok(hi - lo > 100, "jitter spreads the delays");
});

Deno.test("restart: the default is Flink's exponential delay and passes the check", () => {
  checkRestartStrategy(DEFAULT_EXPONENTIAL_DELAY);
  assert.equal(delayOf(decideRestart(DEFAULT_EXPONENTIAL_DELAY, [0], 0, () => 0.5)), 1000);
});

Deno.test("restart: checkRestartStrategy names the bad parameter", () => {
  const bad: [RestartStrategy, RegExp][] = [
    [
      { kind: "fixed-delay", attempts: -1, delayMs: 0 },
      /fixed-delay: attempts must be a number ≥ 0, got -1/,
    ],
    [{ kind: "fixed-delay", attempts: 1, delayMs: NaN }, /delayMs/],
    [{ kind: "failure-rate", maxFailuresPerInterval: 1, intervalMs: -5, delayMs: 0 }, /intervalMs/],
    [
      { kind: "failure-rate", maxFailuresPerInterval: Infinity, intervalMs: 5, delayMs: 0 },
      /maxFailuresPerInterval/,
    ],
    [expo({ initialBackoffMs: -1 }), /initialBackoffMs/],
    [expo({ maxBackoffMs: -1 }), /maxBackoffMs/],
    [expo({ resetBackoffThresholdMs: -1 }), /resetBackoffThresholdMs/],
    [expo({ backoffMultiplier: 0.5 }), /backoffMultiplier must be ≥ 1/],
    [expo({ jitterFactor: 1.5 }), /jitterFactor must be in 0..1/],
    [expo({ jitterFactor: -0.1 }), /jitterFactor/],
  ];
  for (const [s, re] of bad) {
    assert.throws(
      () => checkRestartStrategy(s),
      (e: unknown) => e instanceof ConfigError && re.test(e.message),
      JSON.stringify(s),
    );
  }
  checkRestartStrategy({ kind: "none" });
  checkRestartStrategy({
    kind: "failure-rate",
    maxFailuresPerInterval: 0,
    intervalMs: 0,
    delayMs: 0,
  });
  checkRestartStrategy(expo());
});

Deno.test("restart: checkRestartStrategy refuses a parameter the kind does not have, naming it", () => {
  const bad: [unknown, string][] = [
    [
      { kind: "fixed-delay", attempts: 3, delayMS: 100, delayMs: 100 },
      'Restart strategy fixed-delay: unknown option "delayMS" (did you mean "delayMs"?)',
    ],
    [
      { kind: "none", attempts: 3 },
      'Restart strategy none: unknown option "attempts"; the options are kind',
    ],
    [
      { kind: "failure-rate", maxFailuresPerInterval: 1, intervalMs: 5, delayMs: 0, attempts: 2 },
      'Restart strategy failure-rate: unknown option "attempts"; the options are kind, ' +
      "maxFailuresPerInterval, intervalMs, delayMs",
    ],
    [
      { ...expo(), attempt: 5 },
      'Restart strategy exponential-delay: unknown option "attempt" (did you mean "attempts"?)',
    ],
  ];
  for (const [s, message] of bad) {
    assert.throws(
      () => checkRestartStrategy(s as RestartStrategy),
      (e: unknown) => e instanceof ConfigError && e.message === message,
      JSON.stringify(s),
    );
  }
  // Through StreamEnvironment.create too, where a job would otherwise run with a default.
  assert.throws(
    () =>
      StreamEnvironment.create({
        restartStrategy: { kind: "fixed-delay", attempts: 3, delayMs: 10, delay: 10 } as never,
      }),
    (e: unknown) => e instanceof ConfigError && /unknown option "delay"/.test(e.message),
  );
});
