/**
 * State schema evolution through a real job: a checkpoint written by a job
 * with one state serializer restores into the same job with a changed one
 * (field added with a default, field removed, fields reordered, i32 widened
 * to f64, a user serializer's version 1 → 2), on both backends, with value,
 * list and map state and the exactly-once file sink; state with TTL migrates
 * its values and keeps their timestamps; an incompatible change fails naming
 * the state and both schemas.
 */
import assert from "node:assert/strict";
import { committedLines } from "./_helpers/word_count_check.ts";
import {
  BACKENDS,
  type Counted,
  counterV1,
  counterV2,
  Keep,
  runKeep,
} from "./_helpers/schema_jobs.ts";
import { type Serializer, Serializers } from "../core/state/serializer.ts";
import type { ByteWriter } from "../core/state/bytes.ts";
import { StateTtlConfig } from "../core/state/ttl.ts";
import { runCli } from "../cli/main.ts";

const { f64, i32, string } = Serializers;

/** One supported schema change: the old and the new serializer, and first values. */
interface SchemaChange {
  /** What changes. */
  readonly name: string;
  /** The serializer of the job that wrote the checkpoint. */
  readonly old: Serializer<Counted>;
  /** A word's first value under `old` (n is set by the job). */
  readonly oldFresh: Counted;
  /** The serializer of the restored job. */
  readonly now: Serializer<Counted>;
  /** A word's first value under `now`. */
  readonly nowFresh: Counted;
  /** What `{ n, ...oldFresh }` written by the old job reads as in the new one. */
  readonly migrated: (n: number) => Counted;
}

/** Every supported change. */
const SCHEMA_CHANGES: readonly SchemaChange[] = [
  {
    name: "field added with a default",
    old: Serializers.record({ n: f64 }) as Serializer<Counted>,
    oldFresh: { n: 0 },
    now: Serializers.record({
      n: f64,
      unit: Serializers.withDefault(string, "none"),
    }) as Serializer<
      Counted
    >,
    nowFresh: { n: 0, unit: "new" },
    migrated: (n) => ({ n, unit: "none" }),
  },
  {
    name: "field removed",
    old: Serializers.record({ n: f64, tag: string }) as Serializer<Counted>,
    oldFresh: { n: 0, tag: "t" },
    now: Serializers.record({ n: f64 }) as Serializer<Counted>,
    nowFresh: { n: 0 },
    migrated: (n) => ({ n }),
  },
  {
    name: "fields reordered",
    old: Serializers.record({ n: f64, tag: string }) as Serializer<Counted>,
    oldFresh: { n: 0, tag: "t" },
    now: Serializers.record({ tag: string, n: f64 }) as Serializer<Counted>,
    nowFresh: { n: 0, tag: "u" },
    migrated: (n) => ({ n, tag: "t" }),
  },
  {
    name: "i32 widened to f64",
    old: Serializers.record({ n: i32 }) as Serializer<Counted>,
    oldFresh: { n: 0 },
    now: Serializers.record({ n: f64 }) as Serializer<Counted>,
    nowFresh: { n: 0 },
    migrated: (n) => ({ n }),
  },
  {
    name: "user serializer version 1 to 2",
    old: counterV1,
    oldFresh: { n: 0 },
    now: counterV2,
    nowFresh: { n: 0, unit: "new" },
    migrated: (n) => ({ n, unit: "times" }),
  },
];

/** The line the job emits for a word it saw `n` times before, each value being `value(i)`. */
function line(word: string, n: number, value: (i: number) => Counted): string {
  const prev = n === 0 ? null : value(n);
  const all = Array.from({ length: n }, (_, i) => value(i + 1));
  return [word, prev, all, all].map((x) => JSON.stringify(x)).join("\t");
}

/** JSON with the keys sorted, so field order does not matter. */
function canonical(l: string): string {
  const sortKeys = (v: unknown): unknown =>
    Array.isArray(v) ? v.map(sortKeys) : v !== null && typeof v === "object"
      ? Object.fromEntries(
        Object.entries(v).sort(([a], [b]) => a.localeCompare(b)).map(([k, x]) => [k, sortKeys(x)]),
      )
      : v;
  return l.split("\t").map((p, i) => i === 0 ? p : JSON.stringify(sortKeys(JSON.parse(p))))
    .join("\t");
}

for (const [backendName, backend] of Object.entries(BACKENDS)) {
  for (const change of SCHEMA_CHANGES) {
    Deno.test(`schema evolution (${backendName}): ${change.name}`, async () => {
      const dir = Deno.makeTempDirSync({ prefix: "weir-schema-" });
      const outDir = `${dir}/out`;
      try {
        await runKeep({
          backend: backend(),
          dir: `${dir}/ck`,
          outDir,
          fn: new Keep(change.old, change.oldFresh),
          words: ["a", "b", "a", "d"],
          restore: false,
        });
        await runKeep({
          backend: backend(),
          dir: `${dir}/ck`,
          outDir,
          fn: new Keep(change.now, change.nowFresh),
          words: ["a", "c", "b", "a"],
          restore: true,
        });
        // The checkpoint taken after the migration restores as it is, "d"
        // (untouched since the first job) included.
        await runKeep({
          backend: backend(),
          dir: `${dir}/ck`,
          outDir,
          fn: new Keep(change.now, change.nowFresh),
          words: ["b", "d"],
          restore: true,
        });
        const old = (i: number) => ({ ...change.oldFresh, n: i });
        const migrated = change.migrated;
        const expected = [
          // The first job.
          line("a", 0, old),
          line("b", 0, old),
          line("a", 1, old),
          line("d", 0, old),
          // The restored job reads the old state migrated, then its own values.
          line("a", 2, migrated),
          line("c", 0, (i) => ({ ...change.nowFresh, n: i })),
          line("b", 1, migrated),
          line("a", 3, migrated),
          // The third job.
          line("b", 2, migrated),
          line("d", 1, migrated),
        ].map(canonical).sort();
        assert.deepEqual(committedLines(outDir).map(canonical).sort(), expected);
      } finally {
        Deno.removeSync(dir, { recursive: true });
      }
    });
  }

  Deno.test(`schema evolution (${backendName}): an incompatible change names the state and both schemas`, async () => {
    const dir = Deno.makeTempDirSync({ prefix: "weir-schema-" });
    try {
      const old = Serializers.record({ n: Serializers.f64 }) as Serializer<Counted>;
      const now = Serializers.record({ n: Serializers.f64, extra: Serializers.string });
      const base = { backend: backend(), dir: `${dir}/ck`, outDir: `${dir}/out` };
      await runKeep({ ...base, fn: new Keep(old, { n: 0 }), words: ["a"], restore: false });
      await assert.rejects(
        runKeep({
          ...base,
          backend: backend(),
          fn: new Keep(now as Serializer<Counted>, { n: 0, extra: "" }),
          words: ["a"],
          restore: true,
          // No restart makes the snapshot fit: the job fails at once, not after the attempts.
          restartStrategy: { kind: "fixed-delay", attempts: 5, delayMs: 60_000 },
        }),
        (e: Error) => {
          const m = e.message;
          assert.match(m, /not restarting: a configuration error is not fixed by a restart/);
          assert.match(m, /state "acc" of operator "keep"/);
          assert.match(m, /from record<n:f64> \(version 1\) in the snapshot/);
          assert.match(m, /to record<extra:string,n:f64> \(version 1\) in the job/);
          assert.match(m, /field "extra" was added without a default/);
          assert.match(m, /Serializers\.withDefault/);
          return true;
        },
      );
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  });

  Deno.test(`schema evolution (${backendName}): a new version without a migration is refused`, async () => {
    const dir = Deno.makeTempDirSync({ prefix: "weir-schema-" });
    try {
      const v1 = SCHEMA_CHANGES.find((c) => c.name.startsWith("user serializer"))!;
      const noMigration: Serializer<Counted> = {
        id: "counter",
        version: 2,
        write: (v, out: ByteWriter) => out.writeF64(v.n),
        read: (input) => ({ n: input.readF64() }),
      };
      const base = { dir: `${dir}/ck`, outDir: `${dir}/out` };
      await runKeep({
        ...base,
        backend: backend(),
        fn: new Keep(v1.old, { n: 0 }),
        words: ["a"],
        restore: false,
      });
      await assert.rejects(
        runKeep({
          ...base,
          backend: backend(),
          fn: new Keep(noMigration, { n: 0 }),
          words: ["a"],
          restore: true,
        }),
        /counter \(version 1\) in the snapshot to counter \(version 2\) in the job: "counter" has no migration from version 1 to 2/,
      );
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  });
}

/** A key serializer of words, `version` 1 or 2 (which appends a byte; 2 declares the migration). */
function wordKeys(version: 1 | 2): Serializer<string> {
  return {
    id: "word",
    version,
    write(v, out) {
      out.writeString(v);
      if (version === 2) out.writeU8(0);
    },
    read(input) {
      const w = input.readString();
      if (version === 2) input.readU8();
      return w;
    },
    ...(version === 2
      ? {
        migrations: {
          1: (input, out) => {
            out.writeString(input.readString());
            out.writeU8(0);
          },
        },
      }
      : {}),
  };
}

for (const [backendName, backend] of Object.entries(BACKENDS)) {
  Deno.test(`schema evolution (${backendName}): a key serializer of another version is refused, keys are not migrated`, async () => {
    const dir = Deno.makeTempDirSync({ prefix: "weir-schema-" });
    try {
      const base = { dir: `${dir}/ck`, outDir: `${dir}/out` };
      const fn = () => new Keep(Serializers.record({ n: f64 }) as Serializer<Counted>, { n: 0 });
      await runKeep({
        ...base,
        backend: backend(),
        fn: fn(),
        words: ["a", "a"],
        restore: false,
        keySerializer: wordKeys(1),
      });
      // Its keys would be other bytes in other key groups: "a" would start again from nothing.
      await assert.rejects(
        runKeep({
          ...base,
          backend: backend(),
          fn: fn(),
          words: ["a"],
          restore: true,
          keySerializer: wordKeys(2),
        }),
        (e: Error) => {
          assert.match(
            e.message,
            /operator "keep" keeps its keyed state under keys written by the key serializer word \(version 1\), the job keys it with word \(version 2\): keys cannot be migrated/,
          );
          return true;
        },
      );
      // The snapshot's own key serializer restores it.
      await runKeep({
        ...base,
        backend: backend(),
        fn: fn(),
        words: ["a"],
        restore: true,
        keySerializer: wordKeys(1),
      });
      const lines = committedLines(base.outDir);
      assert.equal(lines.length, 3);
      assert.ok(lines.some((l) => l.startsWith('"a"\t{"n":2}')), lines.join("\n"));
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  });
}

/** `weir state dump` of the latest checkpoint's "acc" state (with TTL: `{ v, ts }` per key). */
async function dumpAcc(dir: string): Promise<Map<string, { v: unknown; ts: number }>> {
  const out: string[] = [];
  const args = ["state", "dump", dir, "--operator", "keep", "--state", "acc"];
  assert.equal(await runCli(args, { out: (l) => out.push(l), err: () => {} }), 0);
  const lines = out.join("\n").split("\n").filter((l) => l !== "").map((l) => JSON.parse(l));
  return new Map(lines.map((e) => [e.key, e.value]));
}

const TTL = StateTtlConfig.newBuilder(3_600_000).cleanupInLsmCompactFilter().build();

for (const [backendName, backend] of Object.entries(BACKENDS)) {
  Deno.test(`schema evolution (${backendName}): state with TTL migrates its values and keeps their timestamps`, async () => {
    const dir = Deno.makeTempDirSync({ prefix: "weir-schema-" });
    try {
      const old = Serializers.record({ n: Serializers.i32 }) as Serializer<Counted>;
      const now = Serializers.record({
        n: Serializers.f64,
        unit: Serializers.withDefault(Serializers.string, "none"),
      }) as Serializer<Counted>;
      const base = { dir: `${dir}/ck`, outDir: `${dir}/out` };
      await runKeep({
        ...base,
        backend: backend(),
        fn: new Keep(old, { n: 0 }, TTL),
        words: ["a", "a", "b"],
        restore: false,
      });
      const before = await dumpAcc(base.dir);
      await runKeep({
        ...base,
        backend: backend(),
        fn: new Keep(now, { n: 0, unit: "new" }, TTL),
        words: ["a"],
        restore: true,
      });
      const migrated = (n: number) => ({ n, unit: "none" });
      assert.deepEqual(
        committedLines(base.outDir).map(canonical).sort(),
        [
          line("a", 0, (n) => ({ n })),
          line("a", 1, (n) => ({ n })),
          line("b", 0, (n) => ({ n })),
          line("a", 2, migrated),
        ].map(canonical).sort(),
      );
      // "b", untouched since, kept its last-access time through the migration.
      const after = await dumpAcc(base.dir);
      assert.ok(typeof before.get("b")?.ts === "number");
      assert.deepEqual(after.get("b"), { ...before.get("b")!, v: { n: 1, unit: "none" } });
      // Without TTL, the same state is refused: TTL cannot be switched off on restore.
      await assert.rejects(
        runKeep({
          ...base,
          backend: backend(),
          fn: new Keep(now, { n: 0 }),
          words: ["a"],
          restore: true,
        }),
        /state "acc" of operator "keep": the snapshot holds value<record<n:f64,unit:string>>\+ttl, the job asks for value<record<n:f64,unit:string>>; TTL cannot be enabled or disabled/,
      );
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  });
}
