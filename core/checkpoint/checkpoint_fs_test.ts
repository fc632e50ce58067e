import assert from "node:assert/strict";
import { type CheckpointFs, DenoCheckpointFs } from "./checkpoint_fs.ts";
import { CheckpointStorage } from "./storage.ts";
import { ExactlyOnceFileSink } from "../connectors/exactly_once_file_sink.ts";
import { ConfigError } from "../errors.ts";
import { FaultyFs } from "../../tests/_helpers/faulty_fs.ts";

/** A file system mounted read-only: mkdir fails as Deno reports EROFS (a bare `Error` with a code). */
function readOnlyFs(): CheckpointFs {
  const real = new DenoCheckpointFs();
  return Object.assign(Object.create(real) as DenoCheckpointFs, {
    mkdirp(path: string): void {
      throw Object.assign(new Error(`Read-only file system (os error 30): mkdir '${path}'`), {
        code: "EROFS",
      });
    },
  });
}

Deno.test("job folders: a checkpoint or output directory on a read-only file system is a ConfigError naming it", () => {
  const fs = readOnlyFs();
  assert.throws(
    () => new CheckpointStorage("/mnt/ro/ck", fs),
    (e: unknown) =>
      e instanceof ConfigError &&
      e.message ===
        "Checkpoint directory /mnt/ro/ck cannot be made: Read-only file system (os error 30): " +
          "mkdir '/mnt/ro/ck'",
  );
  assert.throws(
    () => new ExactlyOnceFileSink<string>({ dir: "/mnt/ro/out", fs }),
    (e: unknown) =>
      e instanceof ConfigError &&
      e.message.startsWith(
        "Output directory /mnt/ro/out cannot be made: Read-only file system (os error 30)",
      ),
  );
});

Deno.test("writeFileAtomic: a write the disk cannot take leaves neither the file nor its temp file", () => {
  const dir = Deno.makeTempDirSync();
  const fs = new FaultyFs();
  try {
    fs.writeFileAtomic(`${dir}/_metadata`, new TextEncoder().encode("old"));
    fs.arm({ diskFullAfterBytes: 10 });
    assert.throws(
      () => fs.writeFileAtomic(`${dir}/_metadata`, new Uint8Array(100)),
      /ENOSPC/,
    );
    assert.ok(fs.injected > 0);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["_metadata"]);
    assert.equal(Deno.readTextFileSync(`${dir}/_metadata`), "old");
  } finally {
    fs.close();
    Deno.removeSync(dir, { recursive: true });
  }
});
