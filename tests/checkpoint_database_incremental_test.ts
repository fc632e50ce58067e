/**
 * Incremental checkpoints in PostgreSQL and Redis: a checkpoint after 1% of
 * the keys changed writes about 1% of the rows (counted on the server), a
 * chain of incremental checkpoints with deletes restores to the reference
 * state and the database shows it, and a checkpoint some subtasks wrote
 * their part of but that never completed is invisible and cleaned up.
 */
import assert from "node:assert/strict";
import {
  type Collector,
  type KeyedProcessFunction,
  type RuntimeContext,
  Serializers,
  StreamEnvironment,
  ValueStateDescriptor,
} from "../mod.ts";
import type { ValueState } from "../core/state/state.ts";
import { HeapStateBackend } from "../core/state/heap/heap_backend.ts";
import { LsmStateBackend } from "../core/state/lsm/lsm_backend.ts";
import { CollectSink } from "../core/connectors/collect_sink.ts";
import { openRemoteStore } from "../core/checkpoint/storage/open_remote_store.ts";
import type { RemoteStore, StateRow } from "../core/checkpoint/storage/remote_store.ts";
import { runCli } from "../cli/main.ts";
import { QueueSource } from "./_helpers/queue_source.ts";
import { until } from "./_helpers/checkpoint_jobs.ts";
import { startPostgres, startRedis, type TestServer } from "./_helpers/db_servers.ts";
import {
  checkpointsInDatabase,
  type DatabaseKind,
  psql,
  redisCli,
  redisCommands,
  stateInDatabase,
} from "./_helpers/database_state.ts";

/** `+k` adds one to k's count, `-k` removes k's count, `?k` reports it (`k<TAB>n`, n = 0 when absent). */
class Counts implements KeyedProcessFunction<string, string, string> {
  count!: ValueState<number>;
  open(ctx: RuntimeContext): void {
    this.count = ctx.getState(new ValueStateDescriptor("count", Serializers.f64));
  }
  processElement(op: string, _ctx: unknown, out: Collector<string>): void {
    const key = op.slice(1);
    if (op[0] === "+") this.count.update((this.count.value() ?? 0) + 1);
    else if (op[0] === "-") this.count.clear();
    out.collect(`${key}\t${this.count.value() ?? 0}`);
  }
}

/** The counts `ops` leave, by key. */
function reference(ops: readonly string[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const op of ops) {
    const key = op.slice(1);
    if (op[0] === "+") m.set(key, (m.get(key) ?? 0) + 1);
    else if (op[0] === "-") m.delete(key);
  }
  return m;
}

function job(
  url: string,
  backend: "heap" | "lsm",
  parallelism: number,
  restore?: string,
  retained?: number,
) {
  const src = new QueueSource<string>("ops");
  const out = new CollectSink<string>();
  const env = StreamEnvironment.create({
    parallelism,
    stateBackend: backend === "heap" ? new HeapStateBackend() : new LsmStateBackend(),
    // Checkpoints only when the test triggers them.
    checkpoint: {
      dir: "",
      storage: url,
      intervalMs: 3_600_000,
      ...(retained !== undefined ? { retained } : {}),
    },
    ...(restore ? { restore } : {}),
    allowNonRestoredState: true,
    restartStrategy: { kind: "none" },
    log: () => {},
  });
  env.addSource(src, { uid: `src-${crypto.randomUUID()}` })
    .keyBy((op) => op.slice(1), Serializers.string)
    .process<string>(new Counts()).uid("counts")
    .addSink(out, { uid: "sink" });
  return { env, src, out };
}

async function withServer(kind: DatabaseKind, f: (s: TestServer) => Promise<void>): Promise<void> {
  const server = kind === "postgres" ? await startPostgres() : await startRedis();
  try {
    await f(server);
  } finally {
    await server.stop();
  }
}

/**
 * Runs `f`; returns how many distinct state fields were written to the
 * shadow hashes (HSET pairs and HDEL fields: a checkpoint's parts, then the
 * catch-up after the swap, which writes the same fields again).
 */
async function shadowFieldsWritten(url: string, f: () => Promise<void>): Promise<number> {
  const fields = new Set<string>();
  for (const line of await redisCommands(url, f)) {
    // `<time> [<db> <client>] "hset" "weir:J:shadow:…" "field" "value" …` (or "hdel" … "field" …)
    const m = /\] "(hset|hdel)" "[^"]*:shadow:[^"]*" (.*)$/i.exec(line);
    if (!m) continue;
    const args = m[2]!.match(/"(?:[^"\\]|\\.)*"/g) ?? [];
    const step = m[1]!.toLowerCase() === "hset" ? 2 : 1;
    for (let i = 0; i < args.length; i += step) fields.add(args[i]!);
  }
  return fields.size;
}

const KEYS = 2000;

for (const kind of ["postgres", "redis"] as DatabaseKind[]) {
  for (const backend of ["heap", "lsm"] as const) {
    Deno.test(`${kind} checkpoint storage, ${backend}: a checkpoint after 1% of the keys changed writes about 1% of the rows`, async () => {
      await withServer(kind, async (server) => {
        const name = `churn-${backend}`;
        const url = `${server.url}?job=${name}`;
        const j = job(url, backend, 2);
        await j.env.openCheckpointStorage(name);
        const client = j.env.executeAsync(name);
        const keys = Array.from({ length: KEYS }, (_, i) => `key-${i}`);
        j.src.push(...keys.map((k) => `+${k}`));
        await until(() => j.out.values.length === KEYS, "every key counted");
        const first = await client.triggerCheckpoint();
        // 1% of the keys change: 10 counted again, 10 removed.
        const changed = keys.filter((_, i) => i % 100 === 7);
        const ops = changed.map((k, i) => i % 2 === 0 ? `+${k}` : `-${k}`);
        j.src.push(...ops);
        await until(() => j.out.values.length === KEYS + ops.length, "the changes counted");
        let second = 0;
        let written: number;
        if (kind === "postgres") {
          second = (await client.triggerCheckpoint()).manifest.checkpointId;
          const count = (id: number) =>
            Number(
              psql(
                server.url,
                `SELECT count(*) FROM weir_entries JOIN weir_states USING (state_ref) WHERE job_id = '${name}'
               AND checkpoint_id = ${id}`,
              )[0]![0],
            );
          assert.equal(count(first.manifest.checkpointId), KEYS, "the first one writes all");
          written = count(second);
          // The removed keys are tombstones, not rows of the view.
          const tombstones = Number(
            psql(
              server.url,
              `SELECT count(*) FROM weir_entries JOIN weir_states USING (state_ref) WHERE job_id = '${name}'
             AND checkpoint_id = ${second} AND tombstone`,
            )[0]![0],
          );
          assert.equal(tombstones, ops.filter((o) => o[0] === "-").length);
        } else {
          written = await shadowFieldsWritten(server.url, async () => {
            second = (await client.triggerCheckpoint()).manifest.checkpointId;
          });
        }
        j.src.end();
        await client.done;
        // Exactly the changed entries (an LSM compaction could add a few rewritten ones).
        assert.ok(
          written >= changed.length && written <= 3 * changed.length,
          `checkpoint ${second} wrote ${written} rows for ${changed.length} changed keys`,
        );
        const want = reference([...keys.map((k) => `+${k}`), ...ops]);
        assert.deepEqual(
          new Map([...stateInDatabase(kind, server.url, name, "counts", "count")].sort()),
          new Map([...want].map(([k, v]): [string, number] => [JSON.stringify(k), v]).sort()),
        );
      });
    });

    Deno.test(`${kind} checkpoint storage, ${backend}: restore after a chain of incremental checkpoints with deletes equals the reference`, async () => {
      await withServer(kind, async (server) => {
        const name = `chain-${backend}`;
        const url = `${server.url}?job=${name}`;
        const all: string[] = [];
        const j = job(url, backend, 2);
        await j.env.openCheckpointStorage(name);
        const client = j.env.executeAsync(name);
        let seen = 0;
        for (let round = 0; round < 6; round++) {
          const ops: string[] = [];
          for (let i = 0; i < 60; i++) {
            const k = `k${(i * 37 + round * 11) % 150}`;
            ops.push((i + round) % 5 === 0 ? `-${k}` : `+${k}`);
          }
          all.push(...ops);
          j.src.push(...ops);
          seen += ops.length;
          await until(() => j.out.values.length === seen, `round ${round} counted`);
          await client.triggerCheckpoint();
          const want = reference(all);
          assert.deepEqual(
            new Map([...stateInDatabase(kind, server.url, name, "counts", "count")].sort()),
            new Map([...want].map(([k, v]): [string, number] => [JSON.stringify(k), v]).sort()),
            `the database after round ${round}`,
          );
        }
        j.src.end();
        await client.done;
        // A new job restores the latest checkpoint at another parallelism and reports every key.
        const r = job(url, backend, 3, "latest");
        const probe = Array.from({ length: 150 }, (_, i) => `?k${i}`);
        r.src.push(...probe);
        r.src.end();
        await r.env.execute(name);
        const got = new Map(r.out.values.map((l) => l.split("\t") as [string, string]));
        const want = reference(all);
        for (let i = 0; i < 150; i++) {
          assert.equal(Number(got.get(`k${i}`)), want.get(`k${i}`) ?? 0, `k${i}`);
        }
      });
    });
  }

  Deno.test(`${kind} checkpoint storage: a checkpoint some subtasks wrote their part of but never completed is invisible, then cleaned up`, async () => {
    await withServer(kind, async (server) => {
      const name = "aborted";
      const store: RemoteStore = await openRemoteStore({ kind, url: server.url }, name);
      const row = (key: string, value: string | null): StateRow => ({
        operator: "counts",
        state: "count",
        keyGroup: 1,
        key: JSON.stringify(key),
        namespace: null,
        userKey: null,
        value,
      });
      const manifest = new TextEncoder().encode("{}");
      try {
        // Checkpoint 1: two subtasks' parts, completed.
        await store.writePart(1, { segments: new Map(), rows: [row("a", "1"), row("b", "1")] });
        await store.writePart(1, { segments: new Map(), rows: [row("c", "1")] });
        await store.complete({ id: 1, kind: "checkpoint", manifest });
        const visible = () =>
          new Map([...stateInDatabase(kind, server.url, name, "counts", "count")].sort());
        const one = new Map([['"a"', 1], ['"b"', 1], ['"c"', 1]]);
        assert.deepEqual(visible(), one);
        // Checkpoint 2: one subtask wrote (a changed, b removed, d new); it never completes.
        await store.writePart(2, {
          segments: new Map([["x.seg", new Uint8Array([1, 2, 3])]]),
          rows: [row("a", "2"), row("b", null), row("d", "1")],
        });
        assert.deepEqual(visible(), one, "the unfinished checkpoint is invisible");
        assert.equal(await store.latest(), 1);
        if (kind === "postgres") {
          const view = psql(
            server.url,
            `SELECT DISTINCT checkpoint_id FROM weir_state_latest WHERE job_id = '${name}'`,
          );
          assert.deepEqual(view, [["1"]]);
        }
        // What a job opening the store (CheckpointMirror.open) does first: the parts
        // nobody will complete go.
        await store.discard();
        if (kind === "postgres") {
          assert.deepEqual(
            psql(
              server.url,
              `SELECT key::text, checkpoint_id FROM weir_entries JOIN weir_states USING (state_ref) WHERE job_id = '${name}'
               ORDER BY 1`,
            ),
            [['"a"', "1"], ['"b"', "1"], ['"c"', "1"]],
          );
        } else {
          // Its changes in the shadow are undone: the shadow is as of checkpoint 1 again.
          assert.deepEqual(redisCli(server.url, "GET", `weir:${name}:shadow-of`), ["1"]);
        }
        // The next checkpoint with the same id completes normally.
        await store.writePart(2, { segments: new Map(), rows: [row("c", "5")] });
        await store.complete({ id: 2, kind: "checkpoint", manifest });
        assert.deepEqual(visible(), new Map([['"a"', 1], ['"b"', 1], ['"c"', 5]]));
        // A checkpoint that never completed below one that did (declined, its parts not yet
        // removed when the process died) goes too; the completed ones around it stay.
        await store.writePart(3, { segments: new Map(), rows: [row("a", "9")] });
        await store.writePart(4, { segments: new Map(), rows: [row("b", "4")] });
        await store.complete({ id: 4, kind: "checkpoint", manifest });
        await store.discard();
        if (kind === "postgres") {
          assert.deepEqual(
            psql(
              server.url,
              `SELECT DISTINCT checkpoint_id FROM weir_entries JOIN weir_states USING (state_ref) WHERE job_id = '${name}'
               ORDER BY 1`,
            ),
            [["1"], ["2"], ["4"]],
          );
        }
        assert.deepEqual(visible(), new Map([['"a"', 1], ['"b"', 4], ['"c"', 5]]));
      } finally {
        await store.close();
      }
    });
  });
}

for (const kind of ["postgres", "redis"] as DatabaseKind[]) {
  Deno.test(`${kind} checkpoint storage: weir checkpoints gc on the URL keeps the newest, drops the rest and unfinished parts, leaves a checkpoint in progress alone`, async () => {
    await withServer(kind, async (server) => {
      const name = "gc";
      const url = `${server.url}?job=${name}`;
      const all: string[] = [];
      const j = job(url, "heap", 2, undefined, 10);
      await j.env.openCheckpointStorage(name);
      const client = j.env.executeAsync(name);
      for (let round = 0; round < 4; round++) {
        const ops = Array.from({ length: 40 }, (_, i) => `${i % 9 === round ? "-" : "+"}k${i}`);
        all.push(...ops);
        j.src.push(...ops);
        await until(() => j.out.values.length === all.length, `round ${round}`);
        await client.triggerCheckpoint();
      }
      j.src.end();
      await client.done;
      const ids = checkpointsInDatabase(kind, server.url, name);
      assert.ok(ids.length >= 4, `checkpoints: ${ids}`);
      const latest = ids.at(-1)!;
      // Leftovers: the parts of a checkpoint that failed earlier, and one in progress.
      const store = await openRemoteStore({ kind, url: server.url }, name);
      const row: StateRow = {
        operator: "counts",
        state: "count",
        keyGroup: 1,
        key: '"zz"',
        namespace: null,
        userKey: null,
        value: "7",
      };
      try {
        // (an id below the latest that no checkpoint completed: the job's ids are 1, 2, …)
        await store.writePart(0, {
          segments: new Map([["dead.seg", new Uint8Array(5)]]),
          rows: [row],
        });
        await store.writePart(latest + 1, {
          segments: new Map([["busy.seg", new Uint8Array(5)]]),
          rows: [row],
        });
      } finally {
        await store.close();
      }
      const out: string[] = [];
      const io = { out: (l: string) => out.push(l), err: (l: string) => out.push(l) };
      // A dry run says what would go and deletes nothing.
      assert.equal(
        await runCli(["checkpoints", "gc", url, "--keep", "1", "--json"], io),
        0,
        out.join("\n"),
      );
      const plan = JSON.parse(out.join("\n"));
      assert.equal(plan.dryRun, true);
      assert.deepEqual(plan.checkpoints, ids.slice(0, -1));
      const dropped = plan.segments.map((s: { name: string }) => s.name);
      assert.ok(dropped.includes("dead.seg") && !dropped.includes("busy.seg"), dropped.join());
      assert.deepEqual(checkpointsInDatabase(kind, server.url, name), ids);
      out.length = 0;
      assert.equal(await runCli(["checkpoints", "gc", url, "--keep", "1", "--delete"], io), 0);
      assert.ok(out.some((l) => l.startsWith("Deleted")), out.join("\n"));
      assert.ok(!out.join("\n").includes(server.password));
      assert.deepEqual(checkpointsInDatabase(kind, server.url, name), [latest]);
      if (kind === "postgres") {
        const segments = psql(server.url, `SELECT name FROM weir_segments WHERE job_id = '${name}'`)
          .map((r) => r[0]);
        assert.ok(!segments.includes("dead.seg") && segments.includes("busy.seg"));
        // Rows: only what the latest checkpoint shows, plus the part in progress.
        const rows = psql(
          server.url,
          `SELECT DISTINCT checkpoint_id FROM weir_entries JOIN weir_states USING (state_ref) WHERE job_id = '${name}'
           AND checkpoint_id NOT IN (SELECT checkpoint_id FROM weir_versions
             WHERE job_id = '${name}') ORDER BY 1`,
        );
        assert.deepEqual(rows, [[String(latest + 1)]]);
        const superseded = psql(
          server.url,
          `SELECT count(*) FROM weir_entries e JOIN weir_states s USING (state_ref)
           WHERE s.job_id = '${name}' AND e.checkpoint_id <= ${latest}
             AND EXISTS (SELECT 1 FROM weir_entries n WHERE n.state_ref = e.state_ref
               AND n.entry = e.entry AND n.checkpoint_id > e.checkpoint_id
               AND n.checkpoint_id <= ${latest})`,
        );
        assert.deepEqual(superseded, [["0"]]);
      } else {
        const segments = redisCli(server.url, "SMEMBERS", `weir:${name}:segments`);
        assert.ok(!segments.includes("dead.seg") && segments.includes("busy.seg"));
        // The part in progress is still in the shadow.
        assert.deepEqual(
          redisCli(server.url, "HGET", `weir:${name}:shadow:counts:count`, '["zz",null,null]'),
          ["7"],
        );
      }
      // The view still shows the latest state, and the kept checkpoint restores.
      const want = reference(all);
      assert.deepEqual(
        new Map([...stateInDatabase(kind, server.url, name, "counts", "count")].sort()),
        new Map([...want].map(([k, v]): [string, number] => [JSON.stringify(k), v]).sort()),
      );
      const r = job(url, "heap", 1, "latest");
      r.src.push(...Array.from({ length: 40 }, (_, i) => `?k${i}`));
      r.src.end();
      await r.env.execute(name);
      for (const l of r.out.values) {
        const [k, n] = l.split("\t");
        assert.equal(Number(n), want.get(k!) ?? 0, k);
      }
    });
  });
}
