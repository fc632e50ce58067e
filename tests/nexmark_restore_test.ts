/**
 * The join operators survive a crash: examples/nexmark.ts running a query
 * built on a join (q3: regular join, q7: interval join, q8: window coGroup)
 * is killed with SIGKILL after a checkpoint, restored from its latest
 * checkpoint, and its committed output equals the reference computed over the
 * same (seeded) events: nothing lost or doubled.
 */
import assert from "node:assert/strict";
import type { NexmarkEvent } from "../bench/nexmark/model.ts";
import type { Row } from "../bench/nexmark/query.ts";
import { nexmarkReference } from "./_helpers/nexmark_reference.ts";

const EXAMPLE = new URL("../examples/nexmark.ts", import.meta.url).pathname;

function run(args: string[]): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", EXAMPLE, ...args],
    stdout: "null",
    stderr: "piped",
  }).spawn();
}

async function waitForCheckpoint(dir: string, child: Deno.ChildProcess): Promise<void> {
  for (let i = 0; i < 600; i++) {
    try {
      for await (const e of Deno.readDir(dir)) {
        if (e.name.startsWith("chk-")) {
          await Deno.stat(`${dir}/${e.name}/_metadata`);
          return;
        }
      }
    } catch { /* not there yet */ }
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill("SIGKILL");
  throw new Error("no checkpoint completed within 30 s");
}

async function rows(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    if (!e.name.startsWith("part-")) continue;
    for (const line of (await Deno.readTextFile(`${dir}/${e.name}`)).split("\n")) {
      if (line !== "") out.push(canonical(JSON.parse(line)));
    }
  }
  return out.sort();
}

function canonical(r: Row): string {
  return JSON.stringify(Object.entries(r).sort(([a], [b]) => (a < b ? -1 : 1)));
}

const EVENTS = ["--events", "60000", "--tps", "2000", "--seed", "11"];

let dumped: Promise<NexmarkEvent[]> | undefined;
/**
 * The events, from an uncrashed run's dump: they depend on the seed, count
 * and rate only, so one run serves every query.
 */
function events(): Promise<NexmarkEvent[]> {
  return dumped ??= (async () => {
    const dir = await Deno.makeTempDir({ prefix: "nexmark-dump-" });
    try {
      const dump = await run(["--query", "q3", ...EVENTS, "--dump", `${dir}/events.jsonl`])
        .output();
      assert.ok(dump.success, new TextDecoder().decode(dump.stderr));
      return (await Deno.readTextFile(`${dir}/events.jsonl`)).split("\n")
        .filter((l) => l !== "").map((l) => JSON.parse(l) as NexmarkEvent);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  })();
}

for (const [query, backend] of [["q3", "lsm"], ["q7", "heap"], ["q8", "lsm"]] as const) {
  Deno.test(`nexmark ${query} (${backend}): killed and restored, the output is exactly the reference`, async () => {
    const dir = await Deno.makeTempDir({ prefix: "nexmark-restore-" });
    try {
      const common = ["--query", query, ...EVENTS];
      const job = [
        ...common,
        "--output",
        `${dir}/out`,
        "--checkpoint-dir",
        `${dir}/chk`,
        "--checkpoint-interval",
        "100",
        "--state-backend",
        backend,
        "--parallelism",
        "2",
      ];
      const first = run([...job, "--rate", "15000"]);
      await waitForCheckpoint(`${dir}/chk`, first);
      await new Promise((r) => setTimeout(r, 300));
      first.kill("SIGKILL");
      const status = await first.status;
      assert.equal(status.success, false, "the first run was killed before it finished");
      const second = await run([...job, "--restore", "latest"]).output();
      assert.ok(second.success, new TextDecoder().decode(second.stderr));
      const want = nexmarkReference(await events()).get(query)!.map(canonical).sort();
      assert.ok(want.length > 0);
      assert.deepEqual(await rows(`${dir}/out`), want);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}
