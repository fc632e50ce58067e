import assert from "node:assert/strict";
import { Spare } from "./_spare.ts";

Deno.test("Spare: keeps one value until taken, replaced, cleared or its time is up", async () => {
  const s = new Spare<string>(30);
  assert.equal(s.take(), undefined);
  s.put("a");
  s.put("b");
  assert.equal(s.peek(), "b");
  assert.equal(s.take(), "b");
  assert.equal(s.peek(), undefined);
  s.put("c");
  s.clear();
  assert.equal(s.take(), undefined);
  s.put("d");
  await new Promise((r) => setTimeout(r, 80));
  assert.equal(s.peek(), undefined, "dropped after 30 ms");
});
