import assert from "node:assert/strict";
import { ownFunction } from "./_own_function.ts";

Deno.test("ownFunction: the function is its own, with what it binds in scope", () => {
  const counter = { n: 0 };
  const add = ownFunction<(by: number) => number>(
    "add",
    { counter },
    "by",
    "return counter.n += by;",
  );
  const other = ownFunction<(by: number) => number>(
    "add",
    { counter: { n: 100 } },
    "by",
    "return counter.n += by;",
  );
  assert.equal(add(2), 2);
  assert.equal(add(3), 5);
  assert.equal(other(1), 101);
  assert.match(add.name, /^add\d+$/);
  assert.notEqual(add.name, other.name, "two live functions never share a source");
});

Deno.test(
  "ownFunction: building a job's operators again and again (every restart) keeps the heap flat",
  async () => {
    // V8 keeps every source `new Function` compiled for the thread's life: a new source per
    // function grew the heap by ~1.7 KB per function, that is per operator and restart.
    const script = `
      import { ownFunction } from ${JSON.stringify(import.meta.resolve("./_own_function.ts"))};
      const heap = async () => {
        // Collected functions give their numbers back in a task after the collection.
        for (let i = 0; i < 3; i++) {
          globalThis.gc();
          await new Promise((r) => setTimeout(r, 0));
        }
        return Deno.memoryUsage().heapUsed;
      };
      const attempt = () => {
        const out = { recordsOut: 0 };
        const links = [];
        for (let op = 0; op < 100; op++) {
          const link = ownFunction("link", { out, op }, "value", "out.recordsOut += value + op;");
          for (let i = 0; i < 50; i++) link(i);
          links.push(link);
        }
        return links.length;
      };
      for (let a = 0; a < 5; a++) attempt();
      const before = await heap();
      for (let a = 0; a < 60; a++) {
        attempt();
        if (a % 10 === 9) await heap();
      }
      console.log(JSON.stringify({ before, after: await heap() }));
    `;
    const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
      args: ["eval", "--v8-flags=--expose-gc", script],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(code, 0, new TextDecoder().decode(stderr));
    const { before, after } = JSON.parse(new TextDecoder().decode(stdout));
    // 6,000 functions with a source each would hold ~10 MB more.
    assert.ok(after - before < 1 << 20, `the heap grew from ${before} to ${after} bytes`);
  },
);
