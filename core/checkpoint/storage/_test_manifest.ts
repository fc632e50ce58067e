/**
 * Test helper: a loaded manifest of one operator `op` (parallelism 1, string
 * keys) whose only subtask has the keyed state `handle`, in `dir`.
 *
 * @module
 */
import type { KeyedStateHandle } from "../../state/backend.ts";
import type { Manifest } from "../manifest.ts";
import type { LoadedManifest } from "../storage.ts";

/** The loaded manifest of a checkpoint whose one keyed subtask is `handle`. */
export function loadedWithOneSubtask(dir: string, handle: KeyedStateHandle): LoadedManifest {
  const manifest = {
    maxParallelism: 128,
    segments: Object.fromEntries(handle.segments.map((s) => [s.name, s.size])),
    operators: {
      op: {
        name: "op",
        parallelism: 1,
        source: false,
        keySerializer: "string",
        subtasks: [{ index: 0, keyed: handle, operatorState: {} }],
      },
    },
  } as unknown as Manifest;
  return { manifest, dir, segmentPath: (n) => `${dir}/${n}` };
}
