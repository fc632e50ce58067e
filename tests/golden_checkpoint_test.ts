/**
 * Golden checkpoints: the checkpoint folders committed in `tests/testdata`
 * (written by `tests/testdata/make_golden.ts`: `golden_v2` by this version,
 * `golden_v2_before_schemas` by weir before snapshots recorded serializer
 * schemas) keep restoring, on either backend, with the job's serializer
 * unchanged and evolved (a field widened from i32 to f64, a field added);
 * `weir state dump` reads each checkpoint with the schema it recorded.
 */
import assert from "node:assert/strict";
import { cpSync } from "node:fs";
import { committedLines } from "./_helpers/word_count_check.ts";
import {
  BACKENDS,
  type Counted,
  GOLDEN_FRESH,
  GOLDEN_SERIALIZER,
  GOLDEN_WORDS,
  Keep,
  runKeep,
} from "./_helpers/schema_jobs.ts";
import { type Serializer, Serializers } from "../core/state/serializer.ts";
import { runCli } from "../cli/main.ts";

const TESTDATA = new URL("./testdata/", import.meta.url).pathname;

const EVOLVED = Serializers.record({
  n: Serializers.f64,
  tag: Serializers.string,
  unit: Serializers.withDefault(Serializers.string, "none"),
}) as Serializer<Counted>;

/** The values a word had after each of its occurrences in the golden job. */
function goldenValues(word: string, extra: Record<string, unknown>): Counted[] {
  const n = GOLDEN_WORDS.filter((w) => w === word).length;
  return Array.from({ length: n }, (_, i) => ({ ...GOLDEN_FRESH, ...extra, n: i + 1 }));
}

for (const folder of ["golden_v2", "golden_v2_before_schemas"]) {
  for (const written of Object.keys(BACKENDS)) {
    for (const [restored, backend] of Object.entries(BACKENDS)) {
      for (
        const [schema, serializer, extra] of [
          ["unchanged", GOLDEN_SERIALIZER, {}],
          ["evolved", EVOLVED, { unit: "none" }],
        ] as const
      ) {
        Deno.test(`golden ${folder}/${written} restores into ${restored}, schema ${schema}`, async () => {
          const dir = Deno.makeTempDirSync({ prefix: "weir-golden-" });
          try {
            cpSync(`${TESTDATA}${folder}/${written}`, `${dir}/ck`, { recursive: true });
            await runKeep({
              backend: backend(),
              dir: `${dir}/ck`,
              outDir: `${dir}/out`,
              fn: new Keep(serializer, { ...GOLDEN_FRESH, ...extra }),
              words: ["a", "c", "new"],
              restore: true,
            });
            const a = goldenValues("a", extra), c = goldenValues("c", extra);
            const line = (word: string, before: Counted[]) =>
              [word, before.at(-1) ?? null, before, before].map((x) => JSON.stringify(x)).join(
                "\t",
              );
            assert.deepEqual(committedLines(`${dir}/out`).sort(), [
              line("a", a),
              line("c", c),
              line("new", []),
            ]);
          } finally {
            Deno.removeSync(dir, { recursive: true });
          }
        });
      }
    }
  }
}

/** `weir state dump PATH --operator keep --state NAME`: the JSON lines. */
async function dump(path: string, state: string): Promise<unknown[]> {
  const out: string[] = [], err: string[] = [];
  const args = ["state", "dump", path, "--operator", "keep", "--state", state];
  const code = await runCli(args, { out: (l) => out.push(l), err: (l) => err.push(l) });
  assert.equal(code, 0, err.join("\n"));
  return out.join("\n").split("\n").filter((l) => l !== "").map((l) => JSON.parse(l))
    .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
}

for (const folder of ["golden_v2", "golden_v2_before_schemas"]) {
  Deno.test(`weir state dump reads ${folder} and its evolved successor, each with its own schema`, async () => {
    const dir = Deno.makeTempDirSync({ prefix: "weir-golden-" });
    try {
      cpSync(`${TESTDATA}${folder}/lsm`, `${dir}/ck`, { recursive: true });
      const before = [
        { key: "a", value: { n: 3, tag: "golden" } },
        { key: "b", value: { n: 1, tag: "golden" } },
        { key: "c", value: { n: 1, tag: "golden" } },
      ];
      assert.deepEqual(await dump(`${dir}/ck/chk-1`, "acc"), before);
      // The job moves on to the evolved schema; its checkpoint records that one.
      await runKeep({
        backend: BACKENDS.lsm!(),
        dir: `${dir}/ck`,
        outDir: `${dir}/out`,
        fn: new Keep(EVOLVED, { ...GOLDEN_FRESH, unit: "new" }),
        words: ["b"],
        restore: true,
      });
      assert.deepEqual(await dump(`${dir}/ck/chk-1`, "acc"), before);
      assert.deepEqual(await dump(`${dir}/ck`, "acc"), [
        { key: "a", value: { n: 3, tag: "golden", unit: "none" } },
        { key: "b", value: { n: 2, tag: "golden", unit: "none" } },
        { key: "c", value: { n: 1, tag: "golden", unit: "none" } },
      ]);
      assert.deepEqual(await dump(`${dir}/ck`, "history"), [
        { key: "a", value: [1, 2, 3].map((n) => ({ n, tag: "golden", unit: "none" })) },
        { key: "b", value: [1, 2].map((n) => ({ n, tag: "golden", unit: "none" })) },
        { key: "c", value: [{ n: 1, tag: "golden", unit: "none" }] },
      ]);
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  });
}

Deno.test("weir checkpoints inspect shows the recorded schema versions, or that none were recorded", async () => {
  for (
    const [folder, schema] of [
      ["golden_v2", "version 1"],
      ["golden_v2_before_schemas", "(not recorded)"],
    ] as const
  ) {
    const out: string[] = [];
    const path = `${TESTDATA}${folder}/heap/chk-1`;
    const io = { out: (l: string) => out.push(l), err: () => {} };
    assert.equal(await runCli(["checkpoints", "inspect", path], io), 0);
    const row = out.find((l) => l.includes("value<record<n:i32,tag:string>>"));
    assert.deepEqual(row?.trim().split(/\s{2,}/), [
      "keep",
      "acc",
      "value",
      "value<record<n:i32,tag:string>>",
      schema,
      "-",
    ]);
  }
});
