/**
 * The cost of moving records between workers: per-record serialization with
 * the plain-value serializer (the default for an edge) beside a record
 * serializer the user gives, and a ring channel from a producer worker to the
 * main thread (records/s, bytes/s, and the process's CPU utilisation: user +
 * system CPU seconds over wall seconds, both threads counted).
 *
 * It also times the routing of a record at parallelism above 1: a keyed
 * edge's writer hashes each key to its key group and appends the record to
 * that channel's batch, where a single channel takes every record as it is;
 * and the receiving end's state access, a keyed operator's value state read
 * and updated, with the key group and table hash a keyed channel sends with
 * each record and without them (parallelism 1: the backend hashes the key).
 *
 * Records are `{ user: "user-NNN", seq: N }`, ~20 bytes encoded (and, for the
 * serialization cost, also the same two fields as a tuple `["user-NNN", N]`,
 * bare strings `"user-NNN"`, what the keyed benchmarks send, strings of 36
 * chars (UUIDs), and Nexmark bids, objects of seven fields as
 * bench/nexmark.ts's generator makes them). Serialization is timed in CPU time
 * of this thread, so other processes on the machine inflate it less than wall
 * time.
 *
 * @module
 */
import process from "node:process";
import {
  ByteWriter,
  HeapStateBackend,
  LsmStateBackend,
  Serializers,
  type StateBackend,
  ValueStateDescriptor,
} from "../mod.ts";
import type { Serializer } from "../core/state/serializer.ts";
import { decodeMessage, encodeMessage } from "../core/runtime/channel_codec.ts";
import { type ChannelMessage, MessageKind } from "../core/runtime/messages.ts";
import type { OutputChannel } from "../core/runtime/channel.ts";
import type { Partitioning } from "../core/runtime/graph.ts";
import { ChannelWriter, keyGrouper } from "../core/runtime/outputs.ts";
import { RingChannelReader } from "../core/runtime/ring_channel.ts";
import { createRing } from "../core/runtime/shared_ring.ts";
import { MAX_RING_BYTES, MIN_RING_BYTES } from "../core/runtime/worker_executor.ts";
import { machine, median, rate, table } from "./_util.ts";
import { NexmarkGenerator } from "./nexmark/generator.ts";
import type { Bid } from "./nexmark/model.ts";

const quick = Deno.args.includes("--quick");
const RUNS = quick ? 3 : 5;
const RECORDS = quick ? 500_000 : 2_000_000;
const BATCH = 512;

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/**
 * Bids as bench/nexmark.ts's generator makes them (its channel names and URLs, and `extra`
 * padding each bid to the generator's average size): a batch's worth, from a fixed seed.
 */
const nexmarkBids: Bid[] = (() => {
  const generator = new NexmarkGenerator();
  let seed = 42;
  const random = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
  const bids: Bid[] = [];
  for (let n = 0; bids.length < BATCH; n++) {
    const e = generator.event(n, random);
    if (e.bid) bids.push(e.bid);
  }
  return bids;
})();

/** The records a serialization row sends: `i` is the record's place in its batch. */
const RECORD_KINDS = {
  pairs: (i: number) => ({ user: `user-${i % 1000}`, seq: i }),
  tuples: (i: number) => [`user-${i % 1000}`, i],
  strings: (i: number) => `user-${(i * 7919) % 100_000}`,
  uuids: (i: number) => `${(i * 7919).toString(16).padStart(8, "0")}-4a1f-8b2c-9d3e-0f1a2b3c4d5e`,
  bids: (i: number) => nexmarkBids[i % nexmarkBids.length],
};

/** CPU ns per record to encode and to decode batches of BATCH records. */
function serializationCost(
  serializer: Serializer<unknown>,
  kind: keyof typeof RECORD_KINDS,
): { encode: number; decode: number } {
  const values = Array.from({ length: BATCH }, (_, i) => RECORD_KINDS[kind](i));
  const msg: ChannelMessage = {
    kind: MessageKind.Records,
    values,
    timestamps: null,
    routedKeys: null,
  };
  const out = new ByteWriter(64 * 1024);
  const batches = RECORDS / BATCH;
  const encode: number[] = [], decode: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    let t = cpuMs();
    for (let b = 0; b < batches; b++) {
      out.reset();
      encodeMessage(msg, serializer, "bench", out);
    }
    encode.push(((cpuMs() - t) * 1e6) / RECORDS);
    const frame = out.toBytes();
    t = cpuMs();
    for (let b = 0; b < batches; b++) decodeMessage(frame, serializer);
    decode.push(((cpuMs() - t) * 1e6) / RECORDS);
  }
  return { encode: median(encode), decode: median(decode) };
}

/** A channel that drops what it is given: only the writer's own work is timed. */
const dropping: OutputChannel = {
  push() {},
  hasSpace: () => true,
  waitForSpace: () => Promise.resolve(),
  close() {},
};

/** A `user-N` string, new each time, as a source makes them. */
const userKey = (n: number) => `user-${n % 100_000}`;

/**
 * CPU ns per record for a channel writer of `channels` channels partitioned by
 * `partitioning` to take a record (`key(n)`), less the making of the keys; with
 * `flushEvery`, its partial batches are sent after every that many records, as a
 * task sends them whenever it is about to wait (a trickle of records).
 */
function routingCost(
  partitioning: Partitioning,
  channels: number,
  key: (n: number) => unknown = userKey,
  flushEvery = 0,
): number {
  const writer = new ChannelWriter(Array(channels).fill(dropping), partitioning, 0, 128);
  const keys: unknown[] = new Array(BATCH);
  const batches = RECORDS / BATCH;
  const costs: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    let t = cpuMs();
    for (let b = 0; b < batches; b++) {
      for (let i = 0; i < BATCH; i++) keys[i] = key(b * BATCH + i);
    }
    const making = cpuMs() - t;
    t = cpuMs();
    for (let b = 0; b < batches; b++) {
      for (let i = 0; i < BATCH; i++) keys[i] = key(b * BATCH + i);
      if (flushEvery === 0) {
        for (let i = 0; i < BATCH; i++) writer.collect(keys[i], undefined);
        continue;
      }
      for (let i = 0; i < BATCH; i++) {
        writer.collect(keys[i], undefined);
        if (i % flushEvery === flushEvery - 1) writer.flush();
      }
    }
    costs.push(((cpuMs() - t - making) * 1e6) / RECORDS);
  }
  return median(costs);
}

/**
 * CPU ns per record for a keyed operator's state access on `backend` (a count in a value state,
 * read and updated, over the 100k keys of `userKey`), each key made current with the key group
 * and table hash a keyed channel sends with it (`sent`) or alone, less the making of the keys.
 */
function receivingCost(backend: StateBackend, sent: boolean): number {
  const keyed = backend.createKeyedBackend({
    operatorUid: "count",
    subtaskIndex: 0,
    keySerializer: Serializers.string as Serializer<unknown>,
    maxParallelism: 128,
    keyGroupRange: { start: 0, end: 127 },
  });
  const count = keyed.state(new ValueStateDescriptor("count", Serializers.f64));
  // What the channel computed for each key, as it routed it.
  const group = keyGrouper(Serializers.string as Serializer<unknown>, 128);
  const groups = new Uint16Array(100_000), hashes = new Int32Array(100_000);
  const stringHash = new Int32Array(1);
  for (let k = 0; k < 100_000; k++) {
    groups[k] = group(userKey(k), stringHash);
    hashes[k] = stringHash[0]!;
  }
  const keys: string[] = new Array(BATCH);
  const batches = RECORDS / BATCH;
  const costs: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    let t = cpuMs();
    for (let b = 0; b < batches; b++) {
      for (let i = 0; i < BATCH; i++) keys[i] = userKey(b * BATCH + i);
    }
    const making = cpuMs() - t;
    t = cpuMs();
    for (let b = 0; b < batches; b++) {
      for (let i = 0; i < BATCH; i++) keys[i] = userKey(b * BATCH + i);
      for (let i = 0; i < BATCH; i++) {
        const k = (b * BATCH + i) % 100_000;
        if (sent) keyed.setCurrentKey(keys[i], groups[k], hashes[k]);
        else keyed.setCurrentKey(keys[i]);
        count.update((count.value() ?? 0) + 1);
        keyed.endKeyedCall();
      }
    }
    costs.push(((cpuMs() - t - making) * 1e6) / RECORDS);
  }
  keyed.dispose();
  return median(costs);
}

/** One transfer of RECORDS records from a worker through a ring of `ringBytes`. */
async function transfer(ringBytes: number): Promise<{ wall: number; cpu: number; bytes: number }> {
  const ring = createRing(ringBytes);
  const worker = new Worker(
    new URL("../tests/_helpers/ring_producer_worker.ts", import.meta.url).href,
    { type: "module" },
  );
  const produced = new Promise<number>((resolve, reject) => {
    worker.onerror = (e) => reject(e.error ?? new Error(e.message));
    worker.onmessage = (e: MessageEvent<{ done?: boolean; bytes?: number }>) => {
      if (e.data.done) resolve(e.data.bytes!);
    };
  });
  // Let the worker load before the clock starts.
  await new Promise((r) => setTimeout(r, 300));
  const cpu0 = cpuMs(), t0 = performance.now();
  worker.postMessage({ ring, count: RECORDS, batch: BATCH });
  const reader = new RingChannelReader(ring, Serializers.plain);
  let received = 0;
  for (;;) {
    const msg = reader.take();
    if (msg === undefined) {
      await reader.waitForMessage();
      continue;
    }
    if (msg.kind === MessageKind.Records) received += msg.values.length;
    else if (msg.kind === MessageKind.EndOfInput) break;
  }
  const wall = performance.now() - t0, cpu = cpuMs() - cpu0;
  const bytes = await produced;
  worker.terminate();
  if (received !== RECORDS) throw new Error(`received ${received} of ${RECORDS} records`);
  return { wall, cpu, bytes };
}

console.log(`## Channels between workers (${machine()})`);
console.log(`load: ${(await Deno.readTextFile("/proc/loadavg")).trim()}\n`);

const record = Serializers.record({ user: Serializers.string, seq: Serializers.f64 });
const bidRecord = Serializers.record({
  auction: Serializers.f64,
  bidder: Serializers.f64,
  price: Serializers.f64,
  channel: Serializers.string,
  url: Serializers.string,
  dateTime: Serializers.f64,
  extra: Serializers.string,
});
const rows: (string | number)[][] = [];
for (
  const [name, s, kind] of [
    ["plain (default)", Serializers.plain, "pairs"],
    ["record", record, "pairs"],
    ["plain (default), `[user, seq]` tuples", Serializers.plain, "tuples"],
    ["plain (default), string records", Serializers.plain, "strings"],
    ["plain (default), 36-char string records (UUIDs)", Serializers.plain, "uuids"],
    ["plain (default), 7-field records (a Nexmark bid)", Serializers.plain, "bids"],
    ["record, 7-field records (a Nexmark bid)", bidRecord, "bids"],
  ] as const
) {
  const c = serializationCost(s as Serializer<unknown>, kind);
  rows.push([name, c.encode.toFixed(1), c.decode.toFixed(1)]);
}
console.log(`Serialization, batches of ${BATCH} records, CPU time, median of ${RUNS}:\n`);
console.log(table(["serializer", "encode ns/record", "decode ns/record"], rows));

const byKey: Partitioning = {
  kind: "hash",
  keySelector: (w) => w,
  keySerializer: Serializers.string as Serializer<unknown>,
};
const byNumber: Partitioning = {
  kind: "hash",
  keySelector: (n) => n,
  keySerializer: Serializers.f64 as Serializer<unknown>,
};
const routingRows = [
  ["one channel (parallelism 1: no key group)", routingCost({ kind: "forward" }, 1).toFixed(1)],
  ["by key over two channels (parallelism 2)", routingCost(byKey, 2).toFixed(1)],
  [
    "by a number key over two channels (`keyBy(n => n, Serializers.f64)`, 100k keys)",
    routingCost(byNumber, 2, (n) => n % 100_000).toFixed(1),
  ],
  [
    "by key over two channels, sent every 16 records (a trickle)",
    routingCost(byKey, 2, userKey, 16).toFixed(1),
  ],
];
console.log(
  `\nRouting a record into the batches of its channel (string keys, \`keyBy(w => w, ` +
    `Serializers.string)\`, unless the row says otherwise), CPU time, median of ${RUNS}:\n`,
);
console.log(table(["channel writer", "ns/record"], routingRows));

const receivingRows = [];
for (
  const [name, backend] of [["heap", () => new HeapStateBackend()], [
    "lsm",
    () => new LsmStateBackend(),
  ]] as const
) {
  receivingRows.push([
    name,
    receivingCost(backend(), false).toFixed(1),
    receivingCost(backend(), true).toFixed(1),
  ]);
}
console.log(
  `\nReceiving: a keyed operator's count in a value state, read and updated, over 100k string ` +
    `keys, CPU time, median of ${RUNS}:\n`,
);
console.log(
  table(
    [
      "state backend",
      "key alone (parallelism 1) ns/record",
      "with its group and table hash (sent by a channel) ns/record",
    ],
    receivingRows,
  ),
);

const ringRows: (string | number)[][] = [];
// The least a ring holds (high parallelism) and the most (parallelism 2): see worker_executor.ts.
for (const ringBytes of [MIN_RING_BYTES, MAX_RING_BYTES]) {
  const runs = [];
  for (let i = 0; i < RUNS; i++) runs.push(await transfer(ringBytes));
  const wall = median(runs.map((r) => r.wall));
  const cpu = median(runs.map((r) => r.cpu));
  const bytes = runs[0]!.bytes;
  ringRows.push([
    `${ringBytes / 1024} KiB`,
    `${rate(RECORDS / (wall / 1000))}/s`,
    `${(bytes / (wall / 1000) / 1e6).toFixed(1)} MB/s`,
    `${((cpu / wall) * 100).toFixed(0)}%`,
  ]);
}
console.log(
  `\nWorker -> main thread, ${RECORDS.toLocaleString("en-US")} records, median of ${RUNS}:\n`,
);
console.log(table(["ring", "records", "bytes", "CPU utilisation"], ringRows));
