/**
 * Writes the golden checkpoints in `tests/testdata/golden_v2/` (manifest
 * format 2, with state schemas): one per state backend, of the job in
 * `tests/_helpers/schema_jobs.ts` keeping value, list and map state of
 * `GOLDEN_SERIALIZER` for `GOLDEN_WORDS`. `tests/golden_checkpoint_test.ts`
 * restores them; they are committed so that every later version of weir is
 * checked against this format. Regenerate only on purpose (a new format
 * gets a new folder):
 *
 * ```sh
 * deno run -A tests/testdata/make_golden.ts [FOLDER]
 * ```
 *
 * `golden_v2_before_schemas/` is the same job written by weir before
 * snapshots recorded schemas (commit 49874a8): run this script with
 * `--no-check` in a checkout of that commit, with FOLDER pointing here.
 *
 * @module
 */
import { CollectSink } from "../../core/connectors/collect_sink.ts";
import {
  BACKENDS,
  GOLDEN_FRESH,
  GOLDEN_SERIALIZER,
  GOLDEN_WORDS,
  Keep,
  runKeep,
} from "../_helpers/schema_jobs.ts";

const root = Deno.args[0] ? `${Deno.args[0]}/` : new URL("./golden_v2/", import.meta.url).pathname;
for (const [name, backend] of Object.entries(BACKENDS)) {
  const dir = `${root}${name}`;
  try {
    Deno.removeSync(dir, { recursive: true });
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  await runKeep({
    backend: backend(),
    dir,
    outDir: "",
    fn: new Keep(GOLDEN_SERIALIZER, GOLDEN_FRESH),
    words: GOLDEN_WORDS,
    restore: false,
    // Stateless: the checkpoint names no output files of this machine.
    sink: new CollectSink<string>(),
  });
  // The history names this machine's paths; a checkpoint does not need it.
  Deno.removeSync(`${dir}/_history.jsonl`);
  console.log(`wrote ${dir}`);
}
