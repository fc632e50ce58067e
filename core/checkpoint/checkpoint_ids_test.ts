import assert from "node:assert/strict";
import { firstCheckpointId } from "./checkpoint_ids.ts";

Deno.test("checkpoint ids: the first id is above every id in use", () => {
  const none = {
    completed: [],
    savepoints: [],
    history: [],
    restored: undefined,
    previousAttempt: undefined,
  };
  assert.equal(firstCheckpointId(none), 1);
  assert.equal(firstCheckpointId({ ...none, completed: [1, 3] }), 4);
  assert.equal(firstCheckpointId({ ...none, completed: [1], savepoints: [2] }), 3);
  assert.equal(firstCheckpointId({ ...none, history: [9] }), 10);
  assert.equal(firstCheckpointId({ ...none, restored: 12 }), 13);
  assert.equal(firstCheckpointId({ ...none, completed: [2], previousAttempt: 5 }), 6);
});
