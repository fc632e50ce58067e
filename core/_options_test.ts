import assert from "node:assert/strict";
import { ConfigError } from "./errors.ts";
import { FileSource } from "./connectors/file_source.ts";
import { GeneratorSource } from "./connectors/generator_source.ts";
import { LsmStateBackend } from "./state/lsm/lsm_backend.ts";
import { StreamEnvironment } from "./dataflow/environment.ts";

Deno.test("sources and the LSM backend: a misspelt option is a ConfigError naming it, not a default in force", () => {
  // `deno run` does not type-check: a generator's misspelt `count` left it unbounded (a job
  // that never ends), a file source's or backend's option its default.
  const env = StreamEnvironment.create({ parallelism: 1 });
  const cases: [() => unknown, string][] = [
    [
      () => new GeneratorSource({ cont: 5, generate: (n: number) => n } as never),
      'GeneratorSource: unknown option "cont" (did you mean "count"?)',
    ],
    [
      () => env.generate({ rate: 5, generate: (n: number) => n } as never),
      'GeneratorSource: unknown option "rate"; the options are count, ratePerSecond, seed, generate',
    ],
    [
      () => new FileSource({ path: "in.txt", chunkByte: 5 } as never),
      'FileSource: unknown option "chunkByte" (did you mean "chunkBytes"?)',
    ],
    [
      () => env.readTextFile("in.txt", { encodng: "latin1" } as never),
      'readTextFile: unknown option "encodng" (did you mean "encoding"?)',
    ],
    [
      () => new LsmStateBackend({ memtableByte: 1 << 20 } as never),
      'LsmStateBackend: unknown option "memtableByte" (did you mean "memtableBytes"?)',
    ],
  ];
  for (const [make, message] of cases) {
    assert.throws(make, (e) => e instanceof ConfigError && e.message === message, message);
  }
});
