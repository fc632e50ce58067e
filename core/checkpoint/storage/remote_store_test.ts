import assert from "node:assert/strict";
import { redactUrl } from "./remote_store.ts";
import { parseCheckpointStorage, parseJobFlags } from "../../dataflow/flags.ts";
import { ConfigError } from "../../errors.ts";
import { jobOf } from "./open_remote_store.ts";
import { StreamEnvironment } from "../../dataflow/environment.ts";

Deno.test("redactUrl drops the password and the parameters", () => {
  assert.equal(
    redactUrl("postgres://weir:s3cret@db:5432/weir?job=wc&sslmode=require"),
    "postgres://weir@db:5432/weir",
  );
  assert.equal(
    redactUrl("redis://default:s3cret@127.0.0.1:6379?job=x"),
    "redis://default@127.0.0.1:6379",
  );
  assert.ok(!redactUrl("not a url://u:s3cret@h").includes("s3cret"));
});

Deno.test("--checkpoint-storage: file:DIR is --checkpoint-dir DIR; databases keep their URL", () => {
  assert.deepEqual(parseCheckpointStorage("file:/tmp/ck"), { kind: "file", dir: "/tmp/ck" });
  assert.deepEqual(parseCheckpointStorage("file:///tmp/ck"), { kind: "file", dir: "/tmp/ck" });
  assert.equal(parseCheckpointStorage("postgresql://h/db").kind, "postgres");
  assert.equal(parseCheckpointStorage("rediss://h:1").kind, "redis");
  const file = parseJobFlags(["--checkpoint-storage", "file:ck", "--checkpoint-interval", "5"]);
  assert.equal(file.flags.checkpointDir, "ck");
  assert.equal(file.flags.checkpointInterval, 5);
  const pg = parseJobFlags(["--checkpoint-storage", "postgres://u:p@h/db", "--restore", "latest"]);
  assert.equal(pg.flags.checkpointStorage, "postgres://u:p@h/db");
  assert.equal(pg.flags.restore, "latest");
  assert.throws(
    () => parseJobFlags(["--checkpoint-storage", "file:a", "--checkpoint-dir", "b"]),
    ConfigError,
  );
});

Deno.test("--checkpoint-storage: a database URL that does not parse is a ConfigError that does not repeat it", () => {
  for (const spec of ["redis://[::1", "postgres://u:s3cret@[h/db"]) {
    assert.throws(
      () => parseCheckpointStorage(spec),
      (e: unknown) =>
        e instanceof ConfigError &&
        e.message.startsWith("--checkpoint-storage is not a valid URL") &&
        !e.message.includes("s3cret"),
    );
  }
});

Deno.test("--checkpoint-storage: an unknown scheme is a ConfigError that does not repeat the value", () => {
  assert.throws(
    () => parseCheckpointStorage("mysql://root:s3cret@h/db"),
    (e: unknown) =>
      e instanceof ConfigError && e.message.includes('"mysql"') && !e.message.includes("s3cret"),
  );
});

Deno.test("the URL's job parameter names the job", () => {
  assert.equal(jobOf("postgres://h/db?job=word-count"), "word-count");
  assert.equal(jobOf("redis://h:1"), undefined);
});

Deno.test("a job's checkpoint config names its database without the password", async () => {
  const { StreamEnvironment } = await import("../../dataflow/environment.ts");
  const env = StreamEnvironment.create({
    checkpoint: { dir: "", storage: "postgres://weir:s3cret@db:5432/weir?job=wc" },
  });
  const config = env.config.checkpoint!;
  try {
    assert.equal(config.database, "postgres://weir@db:5432/weir");
    assert.ok(!JSON.stringify(config).includes("s3cret"));
    // executeAsync needs the database read first.
    env.fromElements(1).map((n: number) => n);
    assert.throws(() => env.executeAsync("wc"), /openCheckpointStorage/);
  } finally {
    Deno.removeSync(config.dir, { recursive: true });
  }
});

Deno.test("--checkpoint-storage: a database URL parameter other than job, or an empty or repeated job, is a ConfigError (with the nearest name), not dropped", () => {
  const message = (name: string, near: string) =>
    `The checkpoint storage URL's parameters: unknown option "${name}"${near}`;
  const cases: [string, string][] = [
    ["postgres://u:s3cret@h/db?Job=wc", message("Job", ' (did you mean "job"?)')],
    ["redis://h:6379?jobs=wc", message("jobs", ' (did you mean "job"?)')],
    ["postgres://h/db?job=wc&sslmode=require", message("sslmode", "; the options are job")],
    [
      "redis://h?job=",
      "The checkpoint storage URL's parameter job must be given once, with a value",
    ],
    [
      "redis://h?job=a&job=b",
      "The checkpoint storage URL's parameter job must be given once, with a value",
    ],
  ];
  for (const [url, want] of cases) {
    const refused = (e: unknown) => e instanceof ConfigError && e.message === want;
    assert.throws(() => parseCheckpointStorage(url), refused, url);
    assert.throws(() => parseJobFlags(["--checkpoint-storage", url]), refused, url);
    assert.throws(
      () => StreamEnvironment.create({ checkpoint: { dir: "ck", storage: url }, log: () => {} }),
      refused,
      url,
    );
  }
});
