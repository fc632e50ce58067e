import assert from "node:assert/strict";
import {
  checkpointDirName,
  checkpointPaths,
  METADATA_FILE,
  parseCheckpointDirName,
  SAVEPOINTS_DIR,
  SHARED_DIR,
} from "./paths.ts";

Deno.test("paths: chk-<id> names round-trip", () => {
  for (const id of [0, 1, 12, 999_999, 2 ** 40]) {
    assert.equal(parseCheckpointDirName(checkpointDirName(id)), id);
  }
  assert.equal(checkpointDirName(7), "chk-7");
});

Deno.test("paths: names that are not checkpoints parse as undefined", () => {
  for (
    const name of [
      "shared",
      "savepoints",
      "chk-",
      "chk-x",
      "chk--1",
      "chk-1.tmp",
      ".chk-1",
      "chk-1/",
      "CHK-1",
      "chk-1234567890123456",
    ]
  ) {
    assert.equal(parseCheckpointDirName(name), undefined, name);
  }
});

Deno.test("paths: layout under a root, trailing slashes ignored", () => {
  for (const root of ["/data/ck", "/data/ck/", "/data/ck//"]) {
    const p = checkpointPaths(root);
    assert.equal(p.root, "/data/ck");
    assert.equal(p.shared, `/data/ck/${SHARED_DIR}`);
    assert.equal(p.savepoints, `/data/ck/${SAVEPOINTS_DIR}`);
    assert.equal(p.checkpoint(3), "/data/ck/chk-3");
    assert.equal(p.metadata(3), `/data/ck/chk-3/${METADATA_FILE}`);
    assert.equal(p.savepoint("sp1"), "/data/ck/savepoints/sp1");
  }
});
