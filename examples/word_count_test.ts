import assert from "node:assert/strict";
import { main } from "./word_count.ts";

Deno.test("word_count main resolves to the job's result, with its start-up time", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/input.txt`, "a b a\n\nc  a\n");
    const result = await main([
      ...["--input", `${dir}/input.txt`, "--output", `${dir}/out`],
      ...["--checkpoint-dir", `${dir}/ck`, "--parallelism", "1"],
    ]);
    assert.equal(result.name, "word count");
    assert.equal(result.cancelled, false);
    assert.equal(result.recordsIn["count"], 5);
    assert.ok(result.startupMs !== undefined && result.startupMs >= 0);
    assert.ok(result.startupMs <= result.durationMs);
    const parts = [...Deno.readDirSync(`${dir}/out`)].filter((e) => e.name.startsWith("part-"));
    const lines = parts.flatMap((e) =>
      Deno.readTextFileSync(`${dir}/out/${e.name}`).trim().split("\n")
    );
    assert.deepEqual(lines.toSorted(), ["a\t1", "a\t2", "a\t3", "b\t1", "c\t1"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
