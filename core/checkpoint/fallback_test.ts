import assert from "node:assert/strict";
import { decideFallback, type FallbackFacts } from "./fallback.ts";

const base: FallbackFacts = {
  dir: "/data/ck",
  mode: "exactly-once",
  restoring: { id: 4, kind: "checkpoint", transactionalOutput: true },
  skipped: [{
    id: 5,
    kind: "checkpoint",
    why: "segment h1-7.seg is missing",
    transactionalOutput: true,
  }],
  allowDuplicateOutput: false,
};

Deno.test("fallback: nothing skipped restores", () => {
  assert.deepEqual(decideFallback({ ...base, skipped: [] }), { kind: "restore" });
});

Deno.test("fallback: past committed output in exactly-once mode is refused, naming what and how", () => {
  const d = decideFallback(base);
  assert.equal(d.kind, "refuse");
  if (d.kind !== "refuse") return;
  for (
    const part of [
      "checkpoint 4",
      "checkpoint 5",
      "h1-7.seg",
      "/data/ck",
      "--allow-duplicate-output",
    ]
  ) {
    assert.ok(d.message.includes(part), `${part} in: ${d.message}`);
  }
});

Deno.test("fallback: --allow-duplicate-output restores and says loudly what is emitted again", () => {
  const d = decideFallback({ ...base, allowDuplicateOutput: true });
  assert.equal(d.kind, "accept-duplicates");
  if (d.kind !== "accept-duplicates") return;
  assert.deepEqual(d.skipped, [5]);
  assert.match(d.message, /^WARNING: .*checkpoint 5.*AGAIN/);
});

Deno.test("fallback: at-least-once mode allows duplicates anyway", () => {
  assert.deepEqual(decideFallback({ ...base, mode: "at-least-once" }), { kind: "restore" });
});

Deno.test("fallback: a skipped snapshot that committed nothing is no reason to refuse", () => {
  const skipped = [{ ...base.skipped[0]!, transactionalOutput: false }];
  assert.deepEqual(decideFallback({ ...base, skipped }), { kind: "restore" });
});

Deno.test("fallback: an unreadable manifest counts as committed when the job writes transactionally", () => {
  const skipped = [{ ...base.skipped[0]!, transactionalOutput: undefined }];
  assert.equal(decideFallback({ ...base, skipped }).kind, "refuse");
  const plain = { id: 4, kind: "checkpoint" as const, transactionalOutput: false };
  assert.equal(decideFallback({ ...base, skipped, restoring: plain }).kind, "restore");
  // Nothing intact to tell: assume the worst.
  assert.equal(decideFallback({ ...base, skipped, restoring: undefined }).kind, "refuse");
});

Deno.test("fallback: only the committed skipped snapshots are named", () => {
  const d = decideFallback({
    ...base,
    skipped: [
      { id: 7, kind: "savepoint", why: "bad manifest", transactionalOutput: true },
      { id: 6, kind: "checkpoint", why: "seg missing", transactionalOutput: false },
      { id: 5, kind: "checkpoint", why: "seg short", transactionalOutput: true },
    ],
    allowDuplicateOutput: true,
  });
  assert.equal(d.kind, "accept-duplicates");
  if (d.kind === "accept-duplicates") assert.deepEqual(d.skipped, [7, 5]);
});
