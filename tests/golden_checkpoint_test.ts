/**
 * Golden checkpoints: the checkpoint folders committed in `tests/testdata`
 * (written by `tests/testdata/make_golden.ts`: `golden_v2` by this version,
 * `golden_v2_before_schemas` by weir before snapshots recorded serializer
 * schemas) keep restoring, on either backend, with the job's serializer
 * unchanged and evolved (a field widened from i32 to f64, a field added).
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
