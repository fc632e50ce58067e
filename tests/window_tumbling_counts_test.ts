/**
 * examples/tumbling_counts.ts: output equals a reference computation (with
 * out-of-order, negative and zero timestamps, late records, allowed
 * lateness), and a run killed with SIGKILL and restored from its latest
 * checkpoint commits exactly what an uncrashed run commits.
 */
import assert from "node:assert/strict";
import { main } from "../examples/tumbling_counts.ts";
import { committedLines } from "./_helpers/word_count_check.ts";
import { rng } from "./_helpers/queue_source.ts";

interface Rec {
  key: string;
  ts: number;
}

function makeInput(n: number, keys: number, seed: number, start = -500): Rec[] {
  const r = rng(seed);
  const out: Rec[] = [];
  let t = start;
  for (let i = 0; i < n; i++) {
    t += Math.floor(r() * 4);
    out.push({ key: `k${Math.floor(r() * keys)}`, ts: t - Math.floor(r() * 60) });
  }
  return out;
}

/** What the job must output: the rules, computed directly. */
function reference(recs: Rec[], w: number, d: number, lateness = 0) {
  let max = -Infinity;
  let wm = -Infinity;
  const counts = new Map<string, number>();
  const fired = new Set<string>();
  const lines: string[] = [];
  const late: string[] = [];
  // Windows not fired yet, by start: few are open at a time.
  const pending = new Map<number, Set<string>>();
  const fireUpTo = (mark: number) => {
    for (const [start, ids] of pending) {
      if (start + w - 1 > mark) continue;
      pending.delete(start);
      for (const id of ids) {
        fired.add(id);
        lines.push(`${id}\t${counts.get(id)}`);
      }
    }
  };
  for (const rec of recs) {
    const start = rec.ts - (((rec.ts % w) + w) % w);
    const id = `${rec.key}\t${start}`;
    if (start + w - 1 + lateness <= wm) late.push(JSON.stringify(rec));
    else {
      counts.set(id, (counts.get(id) ?? 0) + 1);
      if (!fired.has(id) && start + w - 1 > wm) {
        let ids = pending.get(start);
        if (!ids) pending.set(start, ids = new Set());
        ids.add(id);
      }
      // A late firing: the window was already due (its end is at or below the watermark).
      if (fired.has(id) || start + w - 1 <= wm) {
        fired.add(id);
        lines.push(`${id}\t${counts.get(id)}`);
      }
    }
    max = Math.max(max, rec.ts);
    const next = max - d - 1;
    if (next > wm) {
      wm = next;
      fireUpTo(wm);
      // Windows past their cleanup time are dropped: later records for them are late.
    }
  }
  fireUpTo(Infinity);
  return { lines: lines.sort(), late: late.sort() };
}

async function run(recs: Rec[], args: string[]): Promise<{ lines: string[]; late: string[] }> {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/in.jsonl`, recs.map((r) => JSON.stringify(r)).join("\n"));
    await main(["--input", `${dir}/in.jsonl`, "--output", `${dir}/out`, ...args]);
    return {
      lines: committedLines(`${dir}/out`).sort(),
      late: committedLines(`${dir}/out/late`).sort(),
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("tumbling_counts equals the reference: out-of-order, negative timestamps, late records", async () => {
  const recs = makeInput(3_000, 7, 11);
  const want = reference(recs, 50, 20);
  assert.ok(want.late.length > 20, "the input has late records");
  assert.ok(recs.some((r) => r.ts < 0) && recs.some((r) => r.ts === 0 || r.ts > 0));
  for (const backend of ["heap", "lsm"]) {
    const got = await run(recs, [
      "--window-ms",
      "50",
      "--out-of-orderness-ms",
      "20",
      "--parallelism",
      "2",
      "--state-backend",
      backend,
    ]);
    assert.deepEqual(got.lines, want.lines, backend);
    assert.deepEqual(got.late, want.late, backend);
  }
});

Deno.test("tumbling_counts with --allowed-lateness-ms: late records fire their window again", async () => {
  const recs = makeInput(2_000, 5, 12);
  const want = reference(recs, 40, 5, 30);
  const strict = reference(recs, 40, 5, 0);
  assert.ok(want.lines.length > strict.lines.length, "late firings happen");
  assert.ok(want.late.length < strict.late.length);
  const got = await run(recs, [
    "--window-ms",
    "40",
    "--out-of-orderness-ms",
    "5",
    "--allowed-lateness-ms",
    "30",
  ]);
  assert.deepEqual(got.lines, want.lines);
  assert.deepEqual(got.late, want.late);
});

Deno.test("tumbling_counts: a line that is not {key, ts} (bad JSON or another shape) fails the job, naming the line", async () => {
  for (const bad of ["not json", '{"key": 1, "ts": 2}']) {
    const dir = await Deno.makeTempDir();
    try {
      await Deno.writeTextFile(`${dir}/in.jsonl`, `{"key": "a", "ts": 1}\n${bad}\n`);
      await assert.rejects(
        main(["--input", `${dir}/in.jsonl`, "--output", `${dir}/out`, "--window-ms", "10"]),
        (e: Error) => e.message.includes(`Input line is not {"key": string, "ts": number}: ${bad}`),
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  }
});

Deno.test("tumbling_counts killed with SIGKILL and restored from the latest checkpoint commits what an uncrashed run commits", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // Sized so that the job outlives its second checkpoint (windows got fast).
    const recs = makeInput(200_000, 300, 13);
    await Deno.writeTextFile(`${dir}/in.jsonl`, recs.map((r) => JSON.stringify(r)).join("\n"));
    const example = new URL("../examples/tumbling_counts.ts", import.meta.url).pathname;
    const args = (out: string, chk: string) => [
      "run",
      "-A",
      example,
      "--input",
      `${dir}/in.jsonl`,
      "--window-ms",
      "100",
      "--out-of-orderness-ms",
      "30",
      "--output",
      out,
      "--parallelism",
      "2",
      "--checkpoint-dir",
      chk,
      "--checkpoint-interval",
      "100",
    ];
    // Crash after a checkpoint completed, mid-stream.
    const child = new Deno.Command(Deno.execPath(), {
      args: args(`${dir}/out`, `${dir}/chk`),
      stdout: "null",
      stderr: "null",
    }).spawn();
    // Retention keeps the newest checkpoint only: wait for checkpoint 2 or later.
    let exited = false;
    child.status.then(() => void (exited = true));
    const deadline = Date.now() + 20_000;
    let latest = 0;
    while (Date.now() < deadline && latest < 2 && !exited) {
      await new Promise((r) => setTimeout(r, 10));
      try {
        for (const e of Deno.readDirSync(`${dir}/chk`)) {
          const m = /^chk-(\d+)$/.exec(e.name);
          if (m) latest = Math.max(latest, Number(m[1]));
        }
      } catch { /* not created yet */ }
    }
    assert.ok(!exited, "the job ran long enough to be killed mid-stream");
    child.kill("SIGKILL");
    const status = await child.status;
    assert.ok(latest >= 2, "checkpoints completed before the kill");
    assert.notEqual(status.code, 0, "the job was killed before it finished");
    const restored = await new Deno.Command(Deno.execPath(), {
      args: [...args(`${dir}/out`, `${dir}/chk`), "--restore", "latest"],
      stdout: "null",
      stderr: "piped",
    }).output();
    assert.equal(restored.code, 0, new TextDecoder().decode(restored.stderr));
    const clean = await new Deno.Command(Deno.execPath(), {
      args: args(`${dir}/clean`, `${dir}/chk-clean`),
      stdout: "null",
      stderr: "piped",
    }).output();
    assert.equal(clean.code, 0, new TextDecoder().decode(clean.stderr));
    const crashed = committedLines(`${dir}/out`).sort();
    const uncrashed = committedLines(`${dir}/clean`).sort();
    assert.deepEqual(crashed, uncrashed);
    assert.deepEqual(
      committedLines(`${dir}/out/late`).sort(),
      committedLines(`${dir}/clean/late`).sort(),
    );
    assert.deepEqual(uncrashed, reference(recs, 100, 30).lines);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
