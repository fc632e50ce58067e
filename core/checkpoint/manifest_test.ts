import assert from "node:assert/strict";
import { CheckpointError } from "../errors.ts";
import {
  decodeOperatorState,
  encodeOperatorState,
  formatManifest,
  type Manifest,
  MANIFEST_FORMAT,
  parseManifest,
} from "./manifest.ts";

function manifest(): Manifest {
  return {
    format: MANIFEST_FORMAT,
    kind: "checkpoint",
    checkpointId: 4,
    jobName: "j",
    triggeredAt: 1,
    completedAt: 2,
    maxParallelism: 128,
    stateBackend: "lsm",
    mode: "exactly-once",
    segmentDir: "../shared",
    operators: {
      count: {
        name: "count",
        parallelism: 1,
        source: false,
        subtasks: [{
          index: 0,
          operatorState: encodeOperatorState({
            s: { mode: "split", typeId: "json", items: [new Uint8Array([0, 255, 7])] },
          }),
          keyed: {
            backend: "lsm",
            keyGroupRange: { start: 0, end: 127 },
            states: [],
            segments: [{ name: "a.seg", size: 10 }],
          },
        }],
      },
    },
    segments: { "a.seg": { size: 10 } },
    stats: { durationMs: 3, stateSize: 10, checkpointedSize: 10, tasks: [] },
  };
}

const WHERE = "/ck/chk-4/_metadata";

function rejects(text: string, ...parts: string[]): void {
  assert.throws(() => parseManifest(text, WHERE), (e: unknown) => {
    assert.ok(e instanceof CheckpointError, String(e));
    assert.ok(e.message.includes(WHERE), e.message);
    for (const p of parts) assert.ok(e.message.includes(p), `${e.message} lacks ${p}`);
    return true;
  });
}

Deno.test("manifest: format and parse round-trip", () => {
  const m = manifest();
  const parsed = parseManifest(formatManifest(m), WHERE);
  assert.match(parsed.checksum!, /^sha256:[0-9a-f]{64}$/);
  const { checksum: _, ...rest } = parsed;
  assert.deepEqual(rest, JSON.parse(JSON.stringify(m)));
  // Formatting a manifest read back (a savepoint of it) gives the same bytes.
  assert.equal(formatManifest(parsed), formatManifest(m));
});

Deno.test("manifest: one flipped bit anywhere is found (or the file no longer parses)", () => {
  const bytes = new TextEncoder().encode(formatManifest(manifest()));
  const decoder = new TextDecoder();
  for (let i = 0; i < bytes.length; i++) {
    for (const bit of [0, 1, 5]) {
      const damaged = bytes.slice();
      damaged[i]! ^= 1 << bit;
      assert.throws(
        () => parseManifest(decoder.decode(damaged), WHERE),
        (e: unknown) => e instanceof CheckpointError && e.message.includes(WHERE),
        `byte ${i} bit ${bit} went unnoticed`,
      );
    }
  }
});

Deno.test('manifest: the issue\'s flip ("keyed" -> "jeyed") is a checksum mismatch', () => {
  const text = formatManifest(manifest());
  assert.ok(text.includes('"keyed"'));
  rejects(text.replace('"keyed"', '"jeyed"'), "damaged", "checksum mismatch");
  rejects(text.replace(/,\n "checksum": "[^"]*"/, ""), "damaged", "has none");
  rejects(text.replace(/"checksum": "sha256:./, '"checksum": "sha256:x'), "damaged", "malformed");
});

Deno.test("manifest: format 1 (older versions, no checksum) is still read", () => {
  const { format: _, ...fields } = manifest();
  const v1 = JSON.stringify({ format: 1, ...fields }, null, 1);
  const m = parseManifest(v1, WHERE);
  assert.equal(m.format, 1);
  assert.equal(m.checksum, undefined);
  assert.deepEqual(Object.keys(m.segments), ["a.seg"]);
});

Deno.test("manifest: bad JSON names the file", () => {
  rejects("{ not json", "not valid JSON");
  rejects("", "not valid JSON");
});

Deno.test("manifest: a non-object names the file", () => {
  rejects("null", "not a manifest");
  rejects("42", "not a manifest");
});

Deno.test("manifest: an unknown format version names the file and both versions", () => {
  rejects(
    JSON.stringify({ ...manifest(), format: 3 }),
    "format 3",
    `reads 1 and ${MANIFEST_FORMAT}`,
  );
  const { format: _, ...noFormat } = manifest();
  rejects(JSON.stringify(noFormat), "format undefined");
});

Deno.test("manifest: each missing required field is named", () => {
  for (const field of ["checkpointId", "maxParallelism", "operators", "segments", "segmentDir"]) {
    const m: Record<string, unknown> = { ...manifest() };
    delete m[field];
    rejects(formatManifest(m as unknown as Manifest), `"${field}" is missing`);
  }
});

Deno.test("manifest: operator state items survive base64 (all byte values)", () => {
  const items = [new Uint8Array(0), Uint8Array.from({ length: 256 }, (_, i) => i)];
  const big = new Uint8Array(100_000).map((_, i) => (i * 31) & 0xff);
  const enc = encodeOperatorState({
    a: { mode: "union", typeId: "t", items },
    b: { mode: "split", typeId: "u", items: [big] },
  });
  const dec = decodeOperatorState(JSON.parse(JSON.stringify(enc)));
  assert.deepEqual(dec.a!.items, items);
  assert.deepEqual(dec.b!.items[0], big);
  assert.equal(dec.a!.mode, "union");
});

Deno.test("manifest: an unknown operator state mode is a CheckpointError naming the state", () => {
  assert.throws(
    () => decodeOperatorState({ positions: { mode: "weird", typeId: "t", items: [] } }),
    (e: unknown) => e instanceof CheckpointError && /"positions".*"weird"/.test(e.message),
  );
});
