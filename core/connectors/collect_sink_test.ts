import assert from "node:assert/strict";
import { PrintSink } from "./collect_sink.ts";
import { StreamEnvironment } from "../dataflow/environment.ts";

Deno.test("PrintSink prefixes lines per subtask in a parallel job", async () => {
  const lines: string[] = [];
  const env = StreamEnvironment.create({ parallelism: 2 });
  env.generate({ count: 4, generate: (seq) => seq }).addSink(
    new PrintSink<number>("n", (l) => lines.push(l)),
  );
  await env.execute("print");
  assert.deepEqual(lines.sort(), ["n:1> 0", "n:1> 2", "n:2> 1", "n:2> 3"]);
});

Deno.test("PrintSink writes to stdout by default", async () => {
  const code = `
    import { PrintSink } from "${new URL("./collect_sink.ts", import.meta.url).href}";
    const sink = new PrintSink("p");
    sink.open({ subtaskIndex: 0, parallelism: 1, operatorUid: "x" });
    for (let i = 0; i < 3; i++) sink.invoke({ i });
    sink.flush();
    sink.flush();
  `;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--no-check", code],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  assert.equal(out.code, 0);
  assert.equal(new TextDecoder().decode(out.stdout), 'p> {"i":0}\np> {"i":1}\np> {"i":2}\n');
});

Deno.test("PrintSink prints the records before a failure in the same batch", async () => {
  // Flink's print() writes each record at once: what came before a failing record shows.
  const lines: string[] = [];
  const env = StreamEnvironment.create({ restartStrategy: { kind: "none" } });
  env.fromElements(1, 2, 3, 4)
    .map((n: number) => {
      if (n === 3) throw new Error("bad record 3");
      return n;
    })
    .addSink(new PrintSink<number>("", (l) => lines.push(l)));
  await assert.rejects(env.execute("print then fail"), /bad record 3/);
  assert.deepEqual(lines, ["1", "2"]);
});

Deno.test("PrintSink shows each record as Flink's String.valueOf does, not as JSON that drops or hides it", () => {
  // JSON.stringify printed NaN and Infinity as null, a Map as {}, and failed the job on a bigint.
  class RideAndFare {
    constructor(readonly ride: number, readonly fare: number) {}
    toString() {
      return `<${this.ride} / ${this.fare}>`;
    }
  }
  const lines: string[] = [];
  const sink = new PrintSink<unknown>("", (l) => lines.push(l));
  sink.open({ subtaskIndex: 0, parallelism: 1, operatorUid: "print" });
  const records = [
    "text",
    1.5,
    NaN,
    -Infinity,
    10n,
    true,
    null,
    undefined,
    { id: 1, tags: ["a"] },
    [1, 2],
    new Date(0),
    new RideAndFare(1, 2),
    { id: 10n, tip: NaN },
    new Map([["a", 1]]),
    new Set([1]),
    { a: undefined },
  ];
  for (const r of records) sink.invoke(r);
  sink.flush();
  assert.deepEqual(lines, [
    "text",
    "1.5",
    "NaN",
    "-Infinity",
    "10",
    "true",
    "null",
    "undefined",
    '{"id":1,"tags":["a"]}',
    "[1,2]",
    '"1970-01-01T00:00:00.000Z"',
    "<1 / 2>",
    "{ id: 10n, tip: NaN }",
    'Map(1) { "a" => 1 }',
    "Set(1) { 1 }",
    "{ a: undefined }",
  ]);
});
