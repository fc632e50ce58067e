import assert from "node:assert/strict";
import { ConfigError } from "../errors.ts";
import { parseJobFlags } from "./flags.ts";

Deno.test("parseJobFlags: a misspelt flag option is a ConfigError naming the flag, not a flag that keeps one value", () => {
  assert.throws(
    () =>
      parseJobFlags(["--input", "a", "--input", "b"], {
        input: { type: "string", mutliple: true } as never,
      }),
    (e) =>
      e instanceof ConfigError &&
      e.message === 'Job flag --input: unknown option "mutliple" (did you mean "multiple"?)',
  );
  assert.throws(() => parseJobFlags([], { input: "string" as never }), ConfigError);
  const { values } = parseJobFlags(["--input", "a", "-i", "b"], {
    input: { type: "string", multiple: true, short: "i", default: [] },
  });
  assert.deepEqual(values["input"], ["a", "b"]);
});
