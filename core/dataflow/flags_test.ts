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

Deno.test("parseJobFlags: a flag that takes one value, given twice, is a ConfigError naming it, not the last value kept", () => {
  const cases: [string[], string][] = [
    [["--parallelism", "2", "--parallelism", "3"], "parallelism"],
    [["--checkpoint-dir", "a", "--checkpoint-dir", "b"], "checkpoint-dir"],
    [["--admin-port", "0", "--admin-token", "s3cret", "--admin-token", "other"], "admin-token"],
    [["--input", "a", "-i", "b"], "input"],
  ];
  for (const [args, name] of cases) {
    assert.throws(
      () => parseJobFlags(args, { input: { type: "string", short: "i" } }),
      (e) =>
        e instanceof ConfigError &&
        e.message ===
          `Job flag --${name} is given more than once: it takes one value, give it once`,
      args.join(" "),
    );
  }
  // A `multiple` flag collects its values; a switch said twice is still on.
  const { flags, values } = parseJobFlags(
    ["--tag", "a", "--tag", "b", "--print-plan", "--print-plan"],
    { tag: { type: "string", multiple: true } },
  );
  assert.deepEqual([values["tag"], flags.printPlan], [["a", "b"], true]);
});
