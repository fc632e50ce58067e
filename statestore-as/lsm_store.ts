/**
 * `LsmStore`: the typed facade over the WebAssembly LSM store.
 *
 * Files in `dir` (one format each, see `segmentFileName`):
 *   `<storeId>-<seq>.seg`      an immutable segment (assembly/segment.ts draws its layout)
 *   `.<storeId>-<seq>.seg.tmp` a segment being written; renamed into place when complete
 * `storeId` is 8 random hex digits chosen per open store and `seq` counts up,
 * so names are globally unique and a name is never reused.
 *
 * Compaction is size-tiered (see `#pickCompaction`). This is a reasoned
 * choice, not a measured comparison (no leveled policy was implemented):
 * with random keys every leveled merge rewrites most of the next level
 * (write amplification ~10 per level in the textbook analysis), while
 * tiering writes each byte once per tier (bench/lsm_store.ts measures ~2.5-3
 * here). The cost is more segments to probe per get; each probe is an
 * in-memory bloom check, so blocks read per get stay ~1.
 *
 * @module
 */
import { ConfigError, CorruptionError, StateError } from "../core/errors.ts";
import { DenoSegmentFs, type SegmentFile, type SegmentFs } from "./segment_fs.ts";
import {
  ERR_ARG,
  ERR_FULL,
  instantiate,
  NOT_FOUND,
  statusError,
  type StoreExports,
} from "./wasm.ts";
import type { SegmentBatch } from "./segment_batch.ts";
import { sortedBatchEntries, WASM_SORT_MAX_BYTES } from "./_batch_entries.ts";
import { Spare } from "./_spare.ts";
import { adviseHugePages } from "./_huge_pages.ts";
import { JobCancelled, StoreJobWorkers, WorkerFailed } from "./_store_jobs.ts";

/**
 * Compaction tiers' size unit, as a fraction of the memtable size: tier 0
 * holds the segments below 4 units (1/256 of a memtable). A checkpoint
 * flushes the memtable whatever it holds, so with frequent checkpoints most
 * segments are far smaller than a memtable; were they one tier with the
 * segments a full memtable or a merge wrote, every few checkpoints would
 * rewrite the largest segment (all of the state) for a few changed keys, and
 * an incremental checkpoint would then upload it whole.
 */
const TIER_UNITS_PER_MEMTABLE = 1024;

/** A live segment file, as listed by checkpoints and `stats()`. */
export interface SegmentInfo {
  /** File name inside the store's `dir`. */
  readonly name: string;
  /** File size in bytes. */
  readonly size: number;
  /** Number of entries (including deletes and merge records). */
  readonly entries: number;
}

/** Options of {@linkcode LsmStore.open}. */
export interface LsmStoreOptions {
  /** Directory holding the segment files (created if missing). */
  dir: string;
  /** File system; defaults to {@linkcode DenoSegmentFs}. */
  fs?: SegmentFs;
  /**
   * Bytes per memtable (default 64 MiB). The store holds at most three: the
   * active one, one frozen while it is written and one queued behind it;
   * a write that fills the active one then stalls (see `stats().writeStallMs`).
   */
  memtableBytes?: number;
  /** Bytes of the block cache. Default 64 MiB. */
  blockCacheBytes?: number;
  /** Segments to open, newest first, as returned by a checkpoint (names or infos). */
  segments?: ReadonlyArray<string | SegmentInfo>;
  /** Delete segments replaced by compaction (default true); when false they are reported by `takeObsoleteSegments()`. */
  deleteObsoleteSegments?: boolean;
  /** Use the debug build (assertions on). */
  debug?: boolean;
  /** Target data block size in bytes (default 4096). */
  blockSize?: number;
  /** Segments of one size tier that trigger a compaction (default 4). */
  compactionTrigger?: number;
  /** Run compaction automatically after flushes (default true). */
  autoCompact?: boolean;
  /**
   * Live segments above which writes stall until a compaction has merged
   * some (default 32; at least twice `compactionTrigger`). Memory for the
   * segments' indexes and blooms then stays bounded when compactions fall
   * behind the writer (RocksDB's level-0 stop trigger).
   */
  stallSegments?: number;
  /**
   * Ask Linux to back the store's memory with transparent huge pages
   * (default false). Random reads over a large memtable then miss the TLB
   * less often, but a 2 MiB page can cost more to touch first than it saves
   * (BENCHMARKS.md, "State store"). Takes effect only on Linux with the FFI
   * permission granted (`deno run -A` grants it); see `stats().hugePages`.
   */
  hugePages?: boolean;
  /**
   * Run large background flushes (20,000 entries or more) and compactions
   * (4 MiB of input or more) on helper threads (default true): the store's
   * thread then only copies the frozen memtable out. The threads are the
   * process's helper pool, shared by every store (at most one per core).
   * Compactions move there only with the default file system, as the
   * threads read segment files directly (and then also write and sync the
   * output). Smaller jobs, and the synchronous `flush()`, `compact()` and
   * `close()`, run on the calling thread. Helper threads stop 3 s after
   * their last job, or when the last store using them closes; until then
   * they keep the process alive.
   */
  backgroundThreads?: boolean;
}

/**
 * One rule of an {@linkcode ExpiryFilter}: keys with `tag` at the filter's
 * `keyOffset` hold timestamped values.
 */
export interface ExpiryRule {
  /** 1 to 4 bytes the key holds at `keyOffset`. */
  readonly tag: Uint8Array;
  /** An entry expires `ttlMs` after its timestamp. */
  readonly ttlMs: number;
  /**
   * `"value"`: the value starts with the timestamp; `"list"`: the value is a
   * run of (varint length, bytes) elements, each starting with one.
   */
  readonly layout: "value" | "list";
}

/**
 * Drops expired entries when the store writes segments (flushes and
 * compactions). A timestamp is 8 bytes, an unsigned big-endian integer of
 * ms; an entry (or list element) is expired when `timestamp + ttlMs <= now()`.
 * An expired entry is dropped, or replaced by a delete when older segments
 * may still hold its key; expired list elements are cut out of the value.
 * Values too short or malformed for their layout are kept. Keys matching no
 * rule are never touched, so the store stays generic.
 */
export interface ExpiryFilter {
  /** Where the tag starts in a key. */
  readonly keyOffset: number;
  /** The rules (all tags of one length). */
  readonly rules: readonly ExpiryRule[];
  /** The current time in ms. */
  now(): number;
}

/** Counters of {@linkcode LsmStore.stats}. */
export interface LsmStoreStats {
  /** Bytes used by the active memtable. */
  memtableBytes: number;
  /** Entries in the active memtable. */
  memtableEntries: number;
  /** Bytes of the frozen memtable still being written (0 if none). */
  frozenBytes: number;
  /** Live segments, newest first. */
  segments: SegmentInfo[];
  /** Sum of live segment sizes. */
  segmentBytes: number;
  /** Block cache hits / misses and the hit rate (0..1). */
  cacheHits: number;
  cacheMisses: number;
  cacheHitRate: number;
  /** Data blocks read from files and their bytes. */
  blockReads: number;
  bytesRead: number;
  /** Bytes written to segment files (flushes + compactions), and by flushes alone. */
  bytesWritten: number;
  bytesFlushed: number;
  /** Bloom filter probes and how many said "absent". */
  bloomChecks: number;
  bloomNegatives: number;
  /** Flushes and compactions completed. */
  flushes: number;
  compactions: number;
  /** Segments replaced by compaction and not deleted yet. */
  obsoleteSegments: string[];
  /**
   * Background flushes and compactions that failed (each is retried after
   * the next flush; a failed flush also fails the checkpoints waiting for
   * it), and the last one's error message.
   */
  backgroundErrors: number;
  lastBackgroundError: string | undefined;
  /** Flushes and compactions that ran on worker threads (option `backgroundThreads`). */
  workerJobs: number;
  /** Whether the store's memory was advised to use huge pages (option `hugePages`). */
  hugePages: boolean;
  /**
   * Size of the store's linear memory: the block cache and room for three
   * memtables from the start (pages not written to take no RAM).
   */
  memoryBytes: number;
  /**
   * Write stalls: times the writer had to wait for background work (a full
   * memtable with both frozen places taken, or more than `stallSegments`
   * live segments), and the ms spent waiting, synchronously in a write or
   * awaiting {@linkcode LsmStore.writeStall}.
   */
  writeStalls: number;
  writeStallMs: number;
}

/** The asynchronous part of a checkpoint. */
export interface PendingCheckpoint {
  /** Resolves with the live segments (newest first) once the frozen memtable is written. */
  readonly segments: Promise<SegmentInfo[]>;
}

/** A scan range: a key prefix, or `[start, end)` (either bound optional). */
export type ScanRange = { prefix: Uint8Array } | { start?: Uint8Array; end?: Uint8Array };

interface LiveSeg {
  name: string;
  path: string;
  size: number;
  entries: number;
  handle: number;
  file: number;
}

/** A job running on a worker; `discard` drops its temporary file (idempotent). */
interface RemoteJob {
  readonly name: string;
  readonly inputs: LiveSeg[];
  discard(): void;
  /** Completes its file: renamed into place when `keep` (returns the name), else removed. */
  finish(keep: boolean): string | undefined;
}

interface Job {
  kind: "flush" | "compact";
  name: string;
  tmp: string;
  out: SegmentFile;
  inputs: LiveSeg[];
  bottom: boolean;
}

const KIND_PUT = 1;
const KIND_DELETE = 2;
const SCAN_BATCH = 256;
const STEP_ENTRIES = 50_000;
/** How long a worker flush's buffers wait for the next flush (a checkpoint interval or two). */
const SPARE_MS = 3000;
/** Flushes of at least this many entries run on a worker (see #startJobs). */
const OFF_THREAD_ENTRIES = 20_000;
/** Compactions of at least this many input bytes run on a worker. */
const OFF_THREAD_BYTES = 4 << 20;
const STAGE_BYTES = 1 << 20;
/**
 * The longest a write waits for a worker's job before doing the work itself
 * (which cancels the worker: a last resort, see `_store_jobs.ts`).
 */
const STALL_WAIT_MS = 10_000;
const EMPTY = new Uint8Array(0);
const SLAB_BYTES = 64 << 10;
const SLAB_MAX = 1024;
const VIEW_MAX = 256;

/**
 * Builds every file name the store uses (one place for the naming scheme).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { segmentFileName } from "./lsm_store.ts";
 * assert.ok(segmentFileName("0a1b2c3d", 7) === "0a1b2c3d-00000007.seg");
 * assert.ok(segmentFileName("0a1b2c3d", 7, true) === ".0a1b2c3d-00000007.seg.tmp");
 * ```
 */
export function segmentFileName(storeId: string, seq: number, temp = false): string {
  const name = `${storeId}-${String(seq).padStart(8, "0")}.seg`;
  return temp ? `.${name}.tmp` : name;
}

function randomId(): string {
  const b = crypto.getRandomValues(new Uint8Array(4));
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

function basename(path: string): string {
  const i = path.lastIndexOf("/");
  return i < 0 ? path : path.slice(i + 1);
}

/** An expiry filter in the form the wasm module takes (and a worker receives). */
export interface FilterSpec {
  keyOffset: number;
  tagLen: number;
  /** tag as a big-endian number, layout 1 (value) or 2 (list), TTL in ms. */
  rules: Array<{ tag: number; layout: number; ttlMs: number }>;
}

function setFilter(e: Engine, spec: FilterSpec): void {
  e.reserve(spec.rules.length * 16, 0);
  const view = new DataView(e.view().buffer, e.kp, spec.rules.length * 16);
  spec.rules.forEach((r, i) => {
    view.setUint32(i * 16, r.tag, true);
    view.setUint32(i * 16 + 4, r.layout, true);
    view.setFloat64(i * 16 + 8, r.ttlMs, true);
  });
  const st = e.ex.filterSet(spec.rules.length, spec.keyOffset, spec.tagLen);
  if (st < 0) throw e.error(st);
}

/** Smallest key greater than every key starting with `prefix`, or undefined. */
function prefixEnd(prefix: Uint8Array): Uint8Array | undefined {
  for (let i = prefix.length - 1; i >= 0; i--) {
    if (prefix[i]! !== 0xff) {
      const e = prefix.slice(0, i + 1);
      e[i]!++;
      return e;
    }
  }
  return undefined;
}

/**
 * Shared machinery: one wasm instance, its memory view, host imports and
 * the file-id → path table.
 */
class Engine {
  readonly ex: StoreExports;
  readonly fs: SegmentFs;
  u8: Uint8Array;
  readonly files = new Map<number, string>();
  nextFile = 1;
  ioError: unknown = undefined;
  ioFile = 0;
  out: SegmentFile | undefined;
  stage = new Uint8Array(STAGE_BYTES);
  staged = 0;
  poisoned: Error | undefined;
  /** Scratch addresses and capacities, cached (they change only in `reserve`). */
  kp = 0;
  vp = 0;
  kcap = 4096;
  vcap = 65536;
  slab = new Uint8Array(SLAB_BYTES);
  slabUsed = 0;
  /**
   * Views of the key / value scratch by length, made once: a subarray is a
   * new object a call, which costs about as much as a memtable get. A view
   * whose buffer was detached by memory growth has length 0 and is re-made.
   */
  kViews: Array<Uint8Array | undefined> = new Array(VIEW_MAX + 1);
  vViews: Array<Uint8Array | undefined> = new Array(VIEW_MAX + 1);
  /** Views of the result scratch (where `get` copies values up to `rcap` bytes), by length. */
  rViews: Array<Uint8Array | undefined> = new Array(VIEW_MAX + 1);
  rp = 0;
  rcap = 0;
  /** Whether the memory was advised to use huge pages. */
  hugePages: boolean;

  constructor(
    fs: SegmentFs,
    debug: boolean,
    memtableBytes: number,
    cacheBytes: number,
    blockSize: number,
    hugePages: boolean,
  ) {
    this.fs = fs;
    this.ex = instantiate({
      read: (file, offset, dst, len) => {
        const path = this.files.get(file);
        try {
          if (path === undefined) throw new Error(`unknown file id ${file}`);
          return this.fs.readAt(path, offset, this.view().subarray(dst, dst + len));
        } catch (e) {
          this.ioError = e;
          this.ioFile = file;
          return -2;
        }
      },
      emit: (ptr, len) => {
        try {
          const src = this.view().subarray(ptr, ptr + len);
          if (this.staged + len > this.stage.length) this.drainStage();
          if (len > this.stage.length) this.out!.write(src.slice());
          else {
            this.stage.set(src, this.staged);
            this.staged += len;
          }
          return 0;
        } catch (e) {
          this.ioError = e;
          return -2;
        }
      },
    }, debug);
    this.hugePages = hugePages && adviseHugePages(this.ex.memory.buffer) !== undefined;
    this.u8 = new Uint8Array(this.ex.memory.buffer);
    this.ex.init(memtableBytes, cacheBytes, blockSize);
    this.u8 = new Uint8Array(this.ex.memory.buffer);
    this.kp = this.ex.keyPtr();
    this.vp = this.ex.valPtr();
    this.rp = this.ex.resScratch();
    this.rcap = Math.min(this.ex.resScratchCap(), VIEW_MAX);
  }

  drainStage(): void {
    if (this.staged > 0) {
      const n = this.staged;
      this.staged = 0;
      this.out!.write(this.stage.subarray(0, n));
    }
  }

  /**
   * The memory view, re-made when memory has grown (growing detaches the old
   * buffer, so its length drops to 0: cheaper than reading `memory.buffer`).
   */
  view(): Uint8Array {
    if (this.u8.length === 0) this.u8 = new Uint8Array(this.ex.memory.buffer);
    return this.u8;
  }

  /** Grows the scratch regions (only ever grows) and re-reads their addresses. */
  reserve(kl: number, vl: number): void {
    this.ex.reserve(kl, vl);
    this.kp = this.ex.keyPtr();
    this.vp = this.ex.valPtr();
    this.kViews = new Array(VIEW_MAX + 1);
    this.vViews = new Array(VIEW_MAX + 1);
    this.kcap = Math.max(this.kcap, kl);
    this.vcap = Math.max(this.vcap, vl);
  }

  /** Copies a key (and value) into the scratch regions. */
  load(key: Uint8Array, value: Uint8Array = EMPTY): void {
    if (key.length > this.kcap || value.length > this.vcap) {
      this.reserve(Math.max(key.length, this.kcap), Math.max(value.length, this.vcap));
    }
    const u8 = this.view();
    u8.set(key, this.kp);
    if (value.length > 0) u8.set(value, this.vp);
  }

  /**
   * Copies `n` bytes of linear memory at `p` out. Small values are carved
   * from a shared slab, like Node's Buffer pool: a fresh ArrayBuffer is an
   * allocation outside the JS heap, a view on the slab is not. Each returned
   * array owns its bytes (nothing writes them again), but `.buffer` is
   * shared: readers must honour `byteOffset`.
   */
  copyOut(p: number, n: number): Uint8Array {
    if (n > SLAB_MAX) return this.view().slice(p, p + n);
    let off = this.slabUsed;
    if (off + n > SLAB_BYTES) {
      this.slab = new Uint8Array(SLAB_BYTES);
      off = 0;
    }
    const out = new Uint8Array(this.slab.buffer, off, n);
    this.slabUsed = (off + n + 7) & ~7;
    const u8 = this.view();
    if (n <= 32) { for (let i = 0; i < n; i++) out[i] = u8[p + i]!; }
    else out.set(u8.subarray(p, p + n));
    return out;
  }

  /** Handles an exception thrown by a wasm call: a trap poisons the engine. */
  trap(e: unknown): never {
    if (
      e instanceof WebAssembly.RuntimeError ||
      e instanceof StateError && e.message.includes("aborted")
    ) {
      this.poisoned = new StateError(`statestore failed and must be reopened: ${e.message}`, {
        cause: e,
      });
      throw this.poisoned;
    }
    throw e;
  }

  error(status: number): Error {
    const io = this.ioError;
    this.ioError = undefined;
    if (io instanceof Deno.errors.NotFound || (io as { code?: string })?.code === "ENOENT") {
      return new CorruptionError("missing file", {
        file: basename(this.files.get(this.ioFile) ?? "?"),
      }, {
        cause: io,
      });
    }
    return statusError(this.ex, status, (f) => basename(this.files.get(f) ?? `#${f}`), io);
  }

  /** Opens a segment file; returns its handle and file id. */
  openSegment(path: string): { handle: number; file: number; size: number; entries: number } {
    const size = this.fs.size(path);
    if (size === undefined) throw new CorruptionError("missing file", { file: basename(path) });
    const file = this.nextFile++;
    this.files.set(file, path);
    const h = this.guard(() => this.ex.openSegment(file, size));
    if (h < 0) {
      const err = this.error(h);
      this.files.delete(file);
      throw err;
    }
    return { handle: h, file, size, entries: this.ex.segmentEntries(h) };
  }

  /** Runs a wasm call; a trap poisons the engine (the store then fails cleanly). */
  guard<T>(f: () => T): T {
    if (this.poisoned) throw this.poisoned;
    try {
      return f();
    } catch (e) {
      return this.trap(e);
    }
  }
}

/**
 * An LSM key-value store for byte keys and values, running in WebAssembly
 * with synchronous access. Keys order as unsigned bytes.
 *
 * @example Put, get, merge, scan, checkpoint and reopen
 * ```ts
 * import assert from "node:assert/strict";
 * import { LsmStore } from "./mod.ts";
 * const dir = Deno.makeTempDirSync();
 * const te = new TextEncoder();
 * const store = LsmStore.open({ dir, memtableBytes: 1 << 20, blockCacheBytes: 1 << 20 });
 * store.put(te.encode("a"), te.encode("1"));
 * store.merge(te.encode("list"), te.encode("x"));
 * store.merge(te.encode("list"), te.encode("y"));
 * assert.ok(new TextDecoder().decode(store.get(te.encode("list"))) === "xy");
 * const segments = await store.checkpoint().segments;
 * store.close();
 * const again = LsmStore.open({ dir, segments });
 * assert.ok([...again.scan({ prefix: te.encode("l") })].length === 1);
 * again.close();
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export class LsmStore {
  #e: Engine;
  #fs: SegmentFs;
  #dir: string;
  #storeId = randomId();
  #seq = 0;
  #segs: LiveSeg[] = [];
  #job: Job | undefined;
  /** Checkpoints waiting for the memtables frozen up to freeze number `upTo` to be written. */
  #waiters: Array<{
    upTo: number;
    resolve: (s: SegmentInfo[]) => void;
    reject: (e: unknown) => void;
  }> = [];
  /** Memtables frozen so far, and how many of them are written (flushes go in freeze order). */
  #frozenCount = 0;
  #writtenCount = 0;
  #pumping = false;
  #closed = false;
  #obsolete: string[] = [];
  #deleteObsolete: boolean;
  #trigger: number;
  #autoCompact: boolean;
  #unit: number;
  #flushes = 0;
  #compactions = 0;
  #bytesFlushed = 0;
  #ownFs: DenoSegmentFs | undefined;
  #filterNow: (() => number) | undefined;
  #filter: FilterSpec | undefined;
  #blockSize: number;
  /** Workers for background jobs (undefined: jobs run on this thread). */
  #workers: StoreJobWorkers | undefined;
  /** The background job of each kind running on a worker. */
  #remote: { flush?: RemoteJob | undefined; compact?: RemoteJob | undefined } = {};
  /** The last worker flush's buffers, reused by the next one (dropped after SPARE_MS). */
  #spare = new Spare<FlushBuffers>(SPARE_MS);
  /** What worker jobs wrote and read (the engine counts the rest). */
  #workerBytesWritten = 0;
  #workerBytesRead = 0;
  #workerBlockReads = 0;
  #workerJobs = 0;
  #backgroundErrors = 0;
  #lastBackgroundError: string | undefined;
  #stallSegments: number;
  #writeStalls = 0;
  #writeStallMs = 0;
  /** A worker compaction a write stall waited for in vain (not waited for again). */
  #gaveUpOn: RemoteJob | undefined;
  /** The pending `writeStall()` promise, its resolver and when it began. */
  #stalled: { promise: Promise<void>; resolve: () => void; since: number } | undefined;

  private constructor(o: LsmStoreOptions) {
    const memtableBytes = o.memtableBytes ?? 64 << 20;
    const cacheBytes = o.blockCacheBytes ?? 64 << 20;
    const blockSize = o.blockSize ?? 4096;
    for (
      const [k, v] of [["memtableBytes", memtableBytes], ["blockCacheBytes", cacheBytes]] as const
    ) {
      if (!Number.isInteger(v) || v < 64 << 10 || v > 512 << 20) {
        throw new ConfigError(`${k} must be an integer between 64 KiB and 512 MiB, got ${v}`);
      }
    }
    if (!Number.isInteger(blockSize) || blockSize < 256 || blockSize > 4096) {
      throw new ConfigError(`blockSize must be an integer between 256 and 4096, got ${blockSize}`);
    }
    if (o.fs === undefined) this.#ownFs = new DenoSegmentFs();
    this.#fs = o.fs ?? this.#ownFs!;
    this.#dir = o.dir.replace(/\/+$/, "");
    this.#deleteObsolete = o.deleteObsoleteSegments ?? true;
    this.#trigger = Math.max(2, o.compactionTrigger ?? 4);
    this.#autoCompact = o.autoCompact ?? true;
    this.#stallSegments = Math.max(2 * this.#trigger, o.stallSegments ?? 32);
    this.#unit = Math.max(1, memtableBytes / TIER_UNITS_PER_MEMTABLE);
    this.#blockSize = blockSize;
    if (o.backgroundThreads ?? true) this.#workers = new StoreJobWorkers();
    this.#e = new Engine(
      this.#fs,
      o.debug ?? false,
      memtableBytes,
      cacheBytes,
      blockSize,
      o.hugePages ?? false,
    );
    this.#reserveMemtables(memtableBytes);
  }

  /**
   * Grows the store's memory now by what its memtables may take (the active
   * one, the frozen one being written and one queued behind it), so it does
   * not grow while the job runs: in V8 each growth of a WebAssembly memory
   * costs a full garbage collection of the thread's JS heap, cheap while the
   * store opens, not with a job's objects live.
   */
  #reserveMemtables(memtableBytes: number): void {
    try {
      this.#e.ex.reserveHeap(3 * memtableBytes);
    } catch (e) {
      this.#ownFs?.close();
      throw new StateError(
        `LsmStore: could not reserve ${3 * memtableBytes} bytes of memory for three memtables ` +
          `of memtableBytes ${memtableBytes}: ${e}`,
        { cause: e },
      );
    }
  }

  /**
   * Opens a store in `options.dir`, lazily restoring `options.segments`
   * (only footers, indexes and blooms are read).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { LsmStore } from "./mod.ts";
   * const dir = Deno.makeTempDirSync();
   * const s = LsmStore.open({ dir });
   * assert.ok(s.get(new Uint8Array([1])) === undefined);
   * s.close();
   * Deno.removeSync(dir, { recursive: true });
   * ```
   */
  static open(options: LsmStoreOptions): LsmStore {
    const s = new LsmStore(options);
    s.#fs.mkdirp(s.#dir);
    try {
      for (const seg of options.segments ?? []) {
        const name = typeof seg === "string" ? seg : seg.name;
        const path = `${s.#dir}/${name}`;
        const o = s.#e.openSegment(path);
        s.#segs.push({
          name,
          path,
          size: o.size,
          entries: o.entries,
          handle: o.handle,
          file: o.file,
        });
      }
    } catch (e) {
      s.close();
      throw e;
    }
    s.#setOrder();
    return s;
  }

  #live(): void {
    if (this.#closed) throw new StateError("LsmStore is closed");
    if (this.#e.poisoned) throw this.#e.poisoned;
  }

  /**
   * Returns a copy of the value of `key`, or undefined. Small copies share
   * one ArrayBuffer (see the `byteOffset` of the result), like Node's Buffers.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { LsmStore } from "./mod.ts";
   * const dir = Deno.makeTempDirSync();
   * const s = LsmStore.open({ dir });
   * s.put(new Uint8Array([1]), new Uint8Array([42]));
   * assert.ok(s.get(new Uint8Array([1]))![0] === 42);
   * s.close();
   * Deno.removeSync(dir, { recursive: true });
   * ```
   */
  get(key: Uint8Array): Uint8Array | undefined {
    if (this.#closed || this.#e.poisoned) this.#live();
    const e = this.#e;
    e.load(key);
    let n: number;
    try {
      n = e.ex.get(key.length);
    } catch (err) {
      return e.trap(err);
    }
    if (n >= 0) return e.copyOut(e.ex.resPtr(), n);
    if (n === NOT_FOUND) return undefined;
    throw e.error(n);
  }

  /**
   * Looks up many keys in one call: key `i` is
   * `keys.subarray(keyEnds[i - 1] ?? 0, keyEnds[i])`. For each key, in
   * order, calls `each(i, values, offset, length)`: the value is
   * `values.subarray(offset, offset + length)`, and `length` is -1 when the
   * key is absent. `values` is valid only during the call, and `each` must
   * not call the store.
   *
   * Faster than one `get` per key when the keys are spread over a large
   * memtable: the lookups of up to 64 keys run together, so their cache
   * misses overlap (RocksDB's MultiGet does the same).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { LsmStore } from "./mod.ts";
   * const dir = Deno.makeTempDirSync();
   * const s = LsmStore.open({ dir });
   * s.put(new Uint8Array([1]), new Uint8Array([10, 11]));
   * s.put(new Uint8Array([3, 3]), new Uint8Array([30]));
   * const found: (number[] | undefined)[] = [];
   * s.getMany(new Uint8Array([1, 2, 3, 3]), [1, 2, 4], (i, values, offset, length) => {
   *   found[i] = length < 0 ? undefined : [...values.subarray(offset, offset + length)];
   * });
   * assert.deepEqual(found, [[10, 11], undefined, [30]]);
   * s.close();
   * Deno.removeSync(dir, { recursive: true });
   * ```
   */
  getMany(
    keys: Uint8Array,
    keyEnds: ArrayLike<number>,
    each: (index: number, values: Uint8Array, offset: number, length: number) => void,
  ): void {
    if (this.#closed || this.#e.poisoned) this.#live();
    const e = this.#e;
    const ex = e.ex;
    const batch = ex.batchMax();
    const count = keyEnds.length;
    let start = 0;
    for (let first = 0; first < count; first += batch) {
      const n = Math.min(batch, count - first);
      const end = keyEnds[first + n - 1]!;
      if (!(end >= start && end <= keys.length)) {
        throw new RangeError(
          `getMany: key ends must ascend within keys (${keys.length} bytes); ` +
            `key ${first + n - 1} ends at ${end}`,
        );
      }
      if (end - start > e.kcap) e.reserve(end - start, 0);
      let mem = e.view();
      mem.set(keys.subarray(start, end), e.kp);
      const lens = new Uint32Array(mem.buffer, ex.batchKeyLens(), n);
      let prev = start;
      for (let j = 0; j < n; j++) {
        const ke = keyEnds[first + j]!;
        if (!(ke >= prev)) {
          throw new RangeError(`getMany: key ends must ascend; key ${first + j} ends at ${ke}`);
        }
        lens[j] = ke - prev;
        prev = ke;
      }
      let st: number;
      try {
        st = ex.getBatch(n);
      } catch (err) {
        return e.trap(err);
      }
      if (st < 0) throw e.error(st);
      mem = e.view();
      const outLens = new Int32Array(mem.buffer, ex.batchOutLens(), n);
      const outOffs = new Uint32Array(mem.buffer, ex.batchOutOffsets(), n);
      const base = ex.batchValues();
      for (let j = 0; j < n; j++) {
        const len = outLens[j]!;
        each(first + j, mem, len < 0 ? 0 : base + outOffs[j]!, len);
      }
      start = end;
    }
  }

  /**
   * A view of the key scratch region: write a key of `len` bytes into it,
   * then call {@linkcode LsmStore.getScratch} (or the other `*Scratch`
   * methods) without building a Uint8Array per key. The view is valid until
   * the next call on the store.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { LsmStore } from "./mod.ts";
   * const dir = Deno.makeTempDirSync();
   * const s = LsmStore.open({ dir });
   * s.put(new Uint8Array([7, 7]), new Uint8Array([1, 2, 3]));
   * s.keyScratch(2).set([7, 7]);
   * const n = s.getScratch(2);
   * assert.ok(n === 3 && s.valueView(n)[2] === 3);
   * s.close();
   * Deno.removeSync(dir, { recursive: true });
   * ```
   */
  keyScratch(len: number): Uint8Array {
    const e = this.#e;
    const v = e.kViews[len];
    if (v !== undefined && v.length === len && len > 0) return v;
    if (len > e.kcap) e.reserve(len, 0);
    const nv = e.view().subarray(e.kp, e.kp + len);
    if (len <= VIEW_MAX) e.kViews[len] = nv;
    return nv;
  }

  /** A view of the value scratch region for {@linkcode LsmStore.putScratch}; valid until the next call. */
  valueScratch(len: number): Uint8Array {
    const e = this.#e;
    const v = e.vViews[len];
    if (v !== undefined && v.length === len && len > 0) return v;
    if (len > e.vcap) e.reserve(0, len);
    const nv = e.view().subarray(e.vp, e.vp + len);
    if (len <= VIEW_MAX) e.vViews[len] = nv;
    return nv;
  }

  /** Looks up the key in the key scratch: the value length (read it with `valueView`), or -1. */
  getScratch(keyLen: number): number {
    if (this.#closed || this.#e.poisoned) this.#live();
    const e = this.#e;
    let n: number;
    try {
      n = e.ex.get(keyLen);
    } catch (err) {
      return e.trap(err);
    }
    if (n >= 0 || n === NOT_FOUND) return n;
    throw e.error(n);
  }

  /** The value found by the last `getScratch` (a view, valid until the next call). */
  valueView(len: number): Uint8Array {
    const e = this.#e;
    if (len > 0 && len <= e.rcap) {
      // get copied the value to the result scratch: a view made once per length.
      const v = e.rViews[len];
      if (v !== undefined && v.length === len) return v;
      const nv = e.view().subarray(e.rp, e.rp + len);
      e.rViews[len] = nv;
      return nv;
    }
    const p = e.ex.resPtr();
    return e.view().subarray(p, p + len);
  }

  /** Puts the key and value already written in the scratch regions. */
  putScratch(keyLen: number, valueLen: number): void {
    this.#write(1, keyLen, valueLen);
  }

  /** Merges (appends) the value in the value scratch to the key in the key scratch. */
  mergeScratch(keyLen: number, valueLen: number): void {
    this.#write(3, keyLen, valueLen);
  }

  /** Deletes the key in the key scratch. */
  deleteScratch(keyLen: number): void {
    this.#write(2, keyLen, 0);
  }

  /**
   * Sets `key` to `value` (replacing any value and merge operands).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { LsmStore } from "./mod.ts";
   * const dir = Deno.makeTempDirSync();
   * const s = LsmStore.open({ dir });
   * s.put(new Uint8Array([1]), new Uint8Array([1]));
   * s.put(new Uint8Array([1]), new Uint8Array([2]));
   * assert.ok(s.get(new Uint8Array([1]))![0] === 2);
   * s.close();
   * Deno.removeSync(dir, { recursive: true });
   * ```
   */
  put(key: Uint8Array, value: Uint8Array): void {
    if (this.#closed || this.#e.poisoned) this.#live();
    this.#e.load(key, value);
    this.#write(1, key.length, value.length, key, value);
  }

  /**
   * Deletes `key`.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { LsmStore } from "./mod.ts";
   * const dir = Deno.makeTempDirSync();
   * const s = LsmStore.open({ dir });
   * s.put(new Uint8Array([1]), new Uint8Array([1]));
   * s.delete(new Uint8Array([1]));
   * assert.ok(s.get(new Uint8Array([1])) === undefined);
   * s.close();
   * Deno.removeSync(dir, { recursive: true });
   * ```
   */
  delete(key: Uint8Array): void {
    this.#live();
    this.#e.load(key);
    this.#write(2, key.length, 0, key, EMPTY);
  }

  /**
   * Appends `value` to the value of `key` (list append without reading):
   * the value read back is the base value followed by every operand in
   * order; on an absent or deleted key it starts from empty.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { LsmStore } from "./mod.ts";
   * const dir = Deno.makeTempDirSync();
   * const s = LsmStore.open({ dir });
   * s.put(new Uint8Array([1]), new Uint8Array([1]));
   * s.merge(new Uint8Array([1]), new Uint8Array([2, 3]));
   * assert.ok(s.get(new Uint8Array([1]))!.join() === "1,2,3");
   * s.close();
   * Deno.removeSync(dir, { recursive: true });
   * ```
   */
  merge(key: Uint8Array, value: Uint8Array): void {
    this.#live();
    this.#e.load(key, value);
    this.#write(3, key.length, value.length, key, value);
  }

  #write(kind: number, kl: number, vl: number, key?: Uint8Array, value?: Uint8Array): void {
    const e = this.#e;
    const ex = e.ex;
    let st: number;
    try {
      st = kind === 1 ? ex.put(kl, vl) : kind === 2 ? ex.del(kl) : ex.merge(kl, vl);
    } catch (err) {
      return e.trap(err);
    }
    if (st === 0) return;
    if (st !== ERR_FULL) throw e.error(st);
    // Memtable full: freeze it (finishing a previous flush first) and retry.
    const k = key ?? e.view().slice(e.kp, e.kp + kl);
    const v = value ?? e.view().slice(e.vp, e.vp + vl);
    this.#freeze();
    e.load(k, v);
    st = e.guard(() => kind === 1 ? ex.put(kl, vl) : kind === 2 ? ex.del(kl) : ex.merge(kl, vl));
    if (st !== 0) throw e.error(st);
    this.#kick();
  }

  /**
   * Freezes the active memtable in O(1): as the frozen one, or queued behind
   * a frozen one still being written. Only with both places taken does this
   * thread write the older one first (a stall, like RocksDB's with every
   * write buffer full).
   */
  #freeze(): boolean {
    const ex = this.#e.ex;
    if (ex.memEntries() === 0) return false;
    if (ex.queuedEntries() > 0 || this.#segs.length > this.#stallSegments) this.#stall();
    const st = this.#e.guard(() => ex.freeze());
    if (st !== 0) throw this.#e.error(st);
    this.#frozenCount++;
    return true;
  }

  /**
   * A write stall, RocksDB's "stop": background work fell behind, so this
   * thread waits for it (or does it) before the memtable it froze is
   * queued. Bounded: one memtable's flush, or the compactions that bring
   * the segments back to `stallSegments`.
   */
  #stall(): void {
    const start = performance.now();
    this.#writeStalls++;
    try {
      const ex = this.#e.ex;
      // A worker's flush under way: waiting costs less than redoing it here.
      if (ex.queuedEntries() > 0) this.#finishRemote("flush");
      if (ex.queuedEntries() > 0) this.#flushFrozenHere();
      while (this.#segs.length > this.#stallSegments && this.#compactNow());
    } finally {
      this.#writeStallMs += performance.now() - start;
    }
  }

  /**
   * Finishes (or runs) one compaction on this thread; false when none is
   * due or it failed (a failure counts as a background error, as when it
   * runs in the background: the writer goes on).
   */
  #compactNow(): boolean {
    try {
      if (this.#job) {
        while (!this.#step(STEP_ENTRIES));
        return true;
      }
      // A compaction that does not finish in time is left running (cancelling
      // would cost its work and its worker's memory) and not waited for
      // again: the writer goes on (a starved worker must not stall every write).
      const remote = this.#remote.compact;
      if (remote !== undefined) {
        if (remote === this.#gaveUpOn) return false;
        if (this.#finishRemote("compact")) return true;
        this.#gaveUpOn = remote;
        return false;
      }
      const c = this.#pickCompaction();
      if (c === undefined) return false;
      this.#startCompaction(c.inputs, c.bottom);
      while (!this.#step(STEP_ENTRIES));
      return true;
    } catch (err) {
      this.#backgroundFailed(err);
      return false;
    }
  }

  /**
   * Resolves when the background work the writer waits for is done, or
   * undefined when none is pending: a task loop awaits it between batches,
   * so a stall becomes backpressure on the job's sources instead of a
   * blocking wait inside a write. Due when both frozen memtable places are
   * taken (the next full memtable would stall) or when live segments exceed
   * `stallSegments` while a compaction runs. The time awaited counts in
   * `stats().writeStallMs`.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { LsmStore } from "./mod.ts";
   * const dir = Deno.makeTempDirSync();
   * const s = LsmStore.open({ dir });
   * s.put(new Uint8Array([1]), new Uint8Array([1]));
   * assert.equal(s.writeStall(), undefined); // nothing to wait for
   * assert.equal(s.stats().writeStalls, 0);
   * s.close();
   * Deno.removeSync(dir, { recursive: true });
   * ```
   */
  writeStall(): Promise<void> | undefined {
    if (this.#stalled) return this.#stalled.promise;
    if (this.#closed || !this.#stallDue()) return undefined;
    let resolve!: () => void;
    const promise = new Promise<void>((r) => (resolve = r));
    this.#stalled = { promise, resolve, since: performance.now() };
    this.#writeStalls++;
    this.#schedule();
    return promise;
  }

  #stallDue(): boolean {
    if (this.#e.ex.queuedEntries() > 0) return true;
    return this.#segs.length > this.#stallSegments &&
      (this.#remote.compact !== undefined || this.#job?.kind === "compact");
  }

  /** Ends a `writeStall()` wait once background work caught up (or failed, or the store closed). */
  #unstall(force: boolean): void {
    const s = this.#stalled;
    if (s === undefined || (!force && !this.#closed && this.#stallDue())) return;
    this.#stalled = undefined;
    this.#writeStallMs += performance.now() - s.since;
    s.resolve();
  }

  /** Writes the frozen memtable on this thread now (a worker's flush of it is dropped). */
  #flushFrozenHere(): void {
    if (this.#job?.kind === "compact") { while (!this.#step(STEP_ENTRIES)); }
    if (!this.#job) {
      this.#cancelRemote("flush");
      this.#startFlush();
    }
    while (!this.#step(STEP_ENTRIES));
  }

  /**
   * Freezes the memtable (O(1)) and returns the live segments once it is
   * written; writing happens in chunks on the event loop, and reads and
   * writes keep working meanwhile.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { LsmStore } from "./mod.ts";
   * const dir = Deno.makeTempDirSync();
   * const s = LsmStore.open({ dir });
   * s.put(new Uint8Array([1]), new Uint8Array([1]));
   * const pending = s.checkpoint();
   * s.put(new Uint8Array([2]), new Uint8Array([2])); // not in this checkpoint
   * const segments = await pending.segments;
   * assert.ok(segments.length === 1 && segments[0]!.entries === 1);
   * s.close();
   * Deno.removeSync(dir, { recursive: true });
   * ```
   */
  checkpoint(): PendingCheckpoint {
    this.#live();
    this.#freeze();
    if (this.#e.ex.frozenEntries() === 0) {
      return { segments: Promise.resolve(this.#infos()) };
    }
    const upTo = this.#frozenCount;
    const segments = new Promise<SegmentInfo[]>((resolve, reject) => {
      this.#waiters.push({ upTo, resolve, reject });
    });
    this.#schedule();
    return { segments };
  }

  /**
   * Writes the memtable to a segment now (synchronously) and returns the
   * live segments, newest first.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { LsmStore } from "./mod.ts";
   * const dir = Deno.makeTempDirSync();
   * const s = LsmStore.open({ dir });
   * s.put(new Uint8Array([1]), new Uint8Array([1]));
   * assert.ok(s.flush().length === 1);
   * s.close();
   * Deno.removeSync(dir, { recursive: true });
   * ```
   */
  flush(): SegmentInfo[] {
    this.#live();
    this.#freeze();
    this.#drain(true);
    return this.#infos();
  }

  /**
   * Compacts all segments into one (synchronously), dropping deletes and
   * resolving merges. Replaced segments become obsolete.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { LsmStore } from "./mod.ts";
   * const dir = Deno.makeTempDirSync();
   * const s = LsmStore.open({ dir, autoCompact: false });
   * for (let i = 0; i < 3; i++) {
   *   s.put(new Uint8Array([i]), new Uint8Array([i]));
   *   s.flush();
   * }
   * assert.ok(s.compact().length === 1);
   * s.close();
   * Deno.removeSync(dir, { recursive: true });
   * ```
   */
  compact(): SegmentInfo[] {
    this.#live();
    this.#drain(true);
    if (this.#segs.length > 1 || (this.#segs.length === 1 && this.#segs[0]!.entries > 0)) {
      this.#cancelRemote("compact");
      this.#startCompaction(this.#segs.slice(), true);
      this.#drain(false);
    }
    return this.#infos();
  }

  /**
   * Iterates `[key, value]` pairs in ascending key order over a prefix or a
   * `[start, end)` range. Writes made during the iteration may or may not be
   * seen; the pairs are copies.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { LsmStore } from "./mod.ts";
   * const dir = Deno.makeTempDirSync();
   * const s = LsmStore.open({ dir });
   * for (const k of [3, 1, 2]) s.put(new Uint8Array([9, k]), new Uint8Array([k]));
   * const keys = [...s.scan({ prefix: new Uint8Array([9]) })].map(([k]) => k[1]);
   * assert.ok(keys.join() === "1,2,3");
   * const some = [...s.scan({ start: new Uint8Array([9, 2]), end: new Uint8Array([9, 3]) })];
   * assert.ok(some.length === 1);
   * s.close();
   * Deno.removeSync(dir, { recursive: true });
   * ```
   */
  *scan(range: ScanRange = {}): Generator<[Uint8Array, Uint8Array]> {
    let start: Uint8Array;
    let end: Uint8Array | undefined;
    if ("prefix" in range) {
      start = range.prefix;
      end = prefixEnd(range.prefix);
    } else {
      start = range.start ?? EMPTY;
      end = range.end;
    }
    while (true) {
      const batch = this.#scanBatch(start, end, false);
      for (const kv of batch.entries) yield [kv[0], kv[1]];
      if (batch.done) return;
      const last = batch.entries[batch.entries.length - 1]![0];
      start = new Uint8Array(last.length + 1);
      start.set(last);
    }
  }

  #scanBatch(
    start: Uint8Array,
    end: Uint8Array | undefined,
    raw: boolean,
  ): { entries: Array<[Uint8Array, Uint8Array, number]>; done: boolean } {
    this.#live();
    const e = this.#e;
    const ex = e.ex;
    e.load(start, end ?? EMPTY);
    const entries: Array<[Uint8Array, Uint8Array, number]> = [];
    return e.guard(() => {
      let st = ex.iterOpen(start.length, end?.length ?? 0, end ? 1 : 0, raw ? 1 : 0);
      if (st < 0) throw e.error(st);
      while (entries.length < SCAN_BATCH) {
        st = ex.iterNext();
        if (st < 0) throw e.error(st);
        if (st === 0) return { entries, done: true };
        entries.push([
          e.copyOut(ex.iterKey(), ex.iterKeyLen()),
          e.copyOut(ex.iterVal(), ex.iterValLen()),
          ex.iterKind(),
        ]);
      }
      return { entries, done: false };
    });
  }

  /**
   * Sets (or, with undefined, removes) the {@linkcode ExpiryFilter} applied
   * by later flushes and compactions.
   *
   * @example Entries tagged 7 at byte 0 expire 10 ms after their timestamp
   * ```ts
   * import assert from "node:assert/strict";
   * import { LsmStore } from "./mod.ts";
   * const dir = Deno.makeTempDirSync();
   * const s = LsmStore.open({ dir, autoCompact: false });
   * const at = (ms: number) => new Uint8Array([0, 0, 0, 0, 0, 0, 0, ms, 42]);
   * s.put(new Uint8Array([7, 1]), at(0));
   * s.put(new Uint8Array([7, 2]), at(5));
   * s.put(new Uint8Array([8, 1]), at(0));
   * s.setExpiryFilter({ keyOffset: 0, rules: [{ tag: new Uint8Array([7]), ttlMs: 10, layout: "value" }], now: () => 12 });
   * s.flush(); // writes a delete for 7,1
   * s.compact(); // the bottom level: the delete goes too
   * assert.deepEqual([...s.scan()].map(([k]) => k.join()), ["7,2", "8,1"]);
   * assert.equal(s.stats().segments[0]!.entries, 2);
   * s.close();
   * Deno.removeSync(dir, { recursive: true });
   * ```
   */
  setExpiryFilter(filter: ExpiryFilter | undefined): void {
    this.#live();
    const e = this.#e;
    const rules = filter?.rules ?? [];
    if (filter === undefined || rules.length === 0) {
      e.ex.filterSet(0, 0, 0);
      this.#filterNow = undefined;
      this.#filter = undefined;
      return;
    }
    const tagLen = rules[0]!.tag.length;
    if (tagLen < 1 || tagLen > 4 || rules.some((r) => r.tag.length !== tagLen)) {
      throw new ConfigError(`Expiry filter tags must all have the same length of 1 to 4 bytes`);
    }
    if (!Number.isInteger(filter.keyOffset) || filter.keyOffset < 0) {
      throw new ConfigError(`Expiry filter keyOffset must be a non-negative integer`);
    }
    const spec: FilterSpec = {
      keyOffset: filter.keyOffset,
      tagLen,
      rules: rules.map((r) => ({
        tag: r.tag.reduce((t, b) => t * 256 + b, 0),
        layout: r.layout === "list" ? 2 : 1,
        ttlMs: r.ttlMs,
      })),
    };
    setFilter(e, spec);
    this.#filter = spec;
    this.#filterNow = () => filter.now();
  }

  /** Names of segments replaced by compaction and not deleted (deleteObsoleteSegments: false); clears the list. */
  takeObsoleteSegments(): string[] {
    const o = this.#obsolete;
    this.#obsolete = [];
    return o;
  }

  /**
   * Counters and the live segments.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { LsmStore } from "./mod.ts";
   * const dir = Deno.makeTempDirSync();
   * const s = LsmStore.open({ dir });
   * s.put(new Uint8Array([1]), new Uint8Array([1]));
   * assert.ok(s.stats().memtableEntries === 1);
   * s.close();
   * Deno.removeSync(dir, { recursive: true });
   * ```
   */
  stats(): LsmStoreStats {
    const e = this.#e;
    const ex = e.ex;
    const f = new Float64Array(e.ex.memory.buffer, ex.statsPtr(), 8);
    const hits = f[0]!;
    const misses = f[1]!;
    const segments = this.#infos();
    return {
      memtableBytes: ex.memBytes(),
      memtableEntries: ex.memEntries(),
      frozenBytes: ex.frozenBytes(),
      segments,
      segmentBytes: segments.reduce((a, s) => a + s.size, 0),
      cacheHits: hits,
      cacheMisses: misses,
      cacheHitRate: hits + misses === 0 ? 0 : hits / (hits + misses),
      blockReads: f[2]! + this.#workerBlockReads,
      bytesRead: f[3]! + this.#workerBytesRead,
      bytesWritten: f[4]! + this.#workerBytesWritten,
      bytesFlushed: this.#bytesFlushed,
      bloomChecks: f[6]!,
      bloomNegatives: f[5]!,
      flushes: this.#flushes,
      compactions: this.#compactions,
      obsoleteSegments: this.#obsolete.slice(),
      backgroundErrors: this.#backgroundErrors,
      lastBackgroundError: this.#lastBackgroundError,
      workerJobs: this.#workerJobs,
      hugePages: this.#e.hugePages,
      memoryBytes: e.ex.memory.buffer.byteLength,
      writeStalls: this.#writeStalls,
      writeStallMs: this.#writeStallMs +
        (this.#stalled ? performance.now() - this.#stalled.since : 0),
    };
  }

  /**
   * Writes the memtable and closes the store; background work in progress
   * is dropped (a compaction's output is never needed to reopen). Returns
   * the live segments (newest first) to reopen it with. With `discard`, the
   * memtable is not written either: for a store whose files are about to
   * be deleted.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { LsmStore } from "./mod.ts";
   * const dir = Deno.makeTempDirSync();
   * const s = LsmStore.open({ dir });
   * s.put(new Uint8Array([1]), new Uint8Array([2]));
   * const segments = s.close();
   * const t = LsmStore.open({ dir, segments });
   * assert.deepEqual(t.get(new Uint8Array([1])), new Uint8Array([2]));
   * t.close({ discard: true });
   * Deno.removeSync(dir, { recursive: true });
   * ```
   */
  close(options: { discard?: boolean } = {}): SegmentInfo[] {
    if (this.#closed) return this.#infos();
    let infos: SegmentInfo[] = [];
    try {
      if (!this.#e.poisoned && !options.discard) {
        this.#freeze();
        this.#drain(true);
      }
      infos = this.#infos();
    } finally {
      this.#closed = true;
      this.#unstall(true);
      this.#dropWorkers();
      if (this.#job) this.#abortJob();
      for (const w of this.#waiters.splice(0)) w.reject(new StateError("LsmStore closed"));
      for (const s of this.#segs) this.#forget(s.path);
      this.#ownFs?.close();
    }
    return infos;
  }

  #forget(path: string): void {
    const fs = this.#fs as { forget?: (p: string) => void };
    fs.forget?.(path);
  }

  #infos(): SegmentInfo[] {
    return this.#segs.map((s) => ({ name: s.name, size: s.size, entries: s.entries }));
  }

  #setOrder(): void {
    const e = this.#e;
    const n = this.#segs.length;
    e.reserve(n * 4, 0);
    const v = new Uint32Array(e.view().buffer, e.kp, n);
    this.#segs.forEach((s, i) => (v[i] = s.handle));
    const st = e.ex.setOrder(n);
    if (st < 0) throw new StateError(`too many segments (${n})`);
  }

  // ---- background jobs ------------------------------------------------------------

  #newJob(kind: "flush" | "compact", inputs: LiveSeg[], bottom: boolean): Job {
    const seq = ++this.#seq;
    const name = segmentFileName(this.#storeId, seq);
    const tmp = `${this.#dir}/${segmentFileName(this.#storeId, seq, true)}`;
    const out = this.#fs.create(tmp);
    this.#e.out = out;
    this.#e.staged = 0;
    return { kind, name, tmp, out, inputs, bottom };
  }

  #startFlush(): void {
    const job = this.#newJob("flush", [], false);
    this.#job = job;
    const st = this.#e.guard(() => this.#e.ex.jobFlush());
    if (st < 0) this.#failJob(st);
  }

  #startCompaction(inputs: LiveSeg[], bottom: boolean): void {
    const e = this.#e;
    this.#job = this.#newJob("compact", inputs, bottom);
    e.reserve(inputs.length * 4, 0);
    const v = new Uint32Array(e.view().buffer, e.kp, inputs.length);
    inputs.forEach((s, i) => (v[i] = s.handle));
    const st = e.guard(() => e.ex.jobCompact(inputs.length, bottom ? 1 : 0));
    if (st < 0) this.#failJob(st);
  }

  /** Aborts the current job: closes and removes its temporary file. */
  #abortJob(): void {
    const job = this.#job!;
    this.#job = undefined;
    this.#e.out = undefined;
    try {
      job.out.close();
    } catch { /* already failed */ }
    try {
      this.#fs.remove(job.tmp);
    } catch { /* best effort: a temp name is never read */ }
  }

  #failJob(status: number | Error): never {
    const err = typeof status === "number" ? this.#e.error(status) : status;
    const kind = this.#job?.kind;
    this.#abortJob();
    if (kind === "flush") { for (const w of this.#waiters.splice(0)) w.reject(err); }
    throw err;
  }

  /** Runs the current job for up to `max` entries; returns true when it finished. */
  #step(max: number): boolean {
    const e = this.#e;
    if (this.#filterNow) e.ex.filterNow(this.#filterNow());
    const st = e.guard(() => e.ex.jobStep(max));
    if (st < 0) this.#failJob(st);
    if (st > 0) return false;
    this.#completeJob();
    return true;
  }

  #completeJob(): void {
    const job = this.#job!;
    const e = this.#e;
    const entries = e.ex.jobEntries();
    try {
      e.drainStage();
      job.out.sync();
      job.out.close();
    } catch (err) {
      this.#failJob(
        new StateError(`writing segment ${this.#dir}/${job.name} failed: ${String(err)}`, {
          cause: err,
        }),
      );
    }
    this.#e.out = undefined;
    this.#job = undefined;
    let seg: LiveSeg | undefined;
    const path = `${this.#dir}/${job.name}`;
    if (entries > 0 || job.kind === "flush") {
      try {
        this.#fs.rename(job.tmp, path);
        seg = this.#liveSeg(job.name);
      } catch (err) {
        this.#job = job;
        this.#failJob(err instanceof Error ? err : new StateError(String(err)));
      }
    } else {
      this.#fs.remove(job.tmp);
    }
    this.#install(job.kind, seg, job.inputs);
  }

  /** Opens a new segment file of the store. */
  #liveSeg(name: string): LiveSeg {
    const path = `${this.#dir}/${name}`;
    const o = this.#e.openSegment(path);
    return { name, path, size: o.size, entries: o.entries, handle: o.handle, file: o.file };
  }

  /**
   * Puts a job's segment in the read order: a flush's in front (the frozen
   * memtable is then written), a compaction's in place of its inputs (or
   * none, when nothing survived), which become obsolete.
   */
  #install(kind: Job["kind"], seg: LiveSeg | undefined, inputs: LiveSeg[]): void {
    const e = this.#e;
    if (kind === "flush") {
      this.#segs.unshift(seg!);
      this.#setOrder();
      e.ex.releaseFrozen();
      this.#flushes++;
      this.#bytesFlushed += seg!.size;
      const written = ++this.#writtenCount;
      const infos = this.#infos();
      const waiting = this.#waiters;
      this.#waiters = waiting.filter((w) => w.upTo > written);
      for (const w of waiting) if (w.upTo <= written) w.resolve(infos);
      this.#unstall(false);
      return;
    }
    const first = this.#segs.indexOf(inputs[0]!);
    const set = new Set(inputs);
    const rest = this.#segs.filter((s) => !set.has(s));
    if (seg) rest.splice(first, 0, seg);
    this.#segs = rest;
    this.#setOrder();
    for (const s of inputs) {
      e.ex.closeSegment(s.handle);
      e.files.delete(s.file);
      this.#forget(s.path);
      if (this.#deleteObsolete) this.#fs.remove(s.path);
      else this.#obsolete.push(s.name);
    }
    this.#compactions++;
    this.#unstall(false);
  }

  // ---- jobs on workers --------------------------------------------------------------

  /** What every worker job needs besides its input. */
  #jobEnv(): {
    blockSize: number;
    filter: FilterSpec | undefined;
    now: number;
    hugePages: boolean;
  } {
    return {
      blockSize: this.#blockSize,
      filter: this.#filter,
      now: this.#filterNow?.() ?? 0,
      hugePages: this.#e.hugePages,
    };
  }

  /**
   * Starts the background jobs that are due and not running: the flush of
   * the frozen memtable first, then a compaction. Large jobs go to workers;
   * small ones run here in steps (#job): a worker's round trip, and its
   * start before the first job, would cost them more than they save.
   */
  #startJobs(): void {
    const ex = this.#e.ex;
    const frozen = ex.frozenEntries();
    if (frozen > 0 && this.#remote.flush === undefined) {
      if (!this.#workers || frozen < OFF_THREAD_ENTRIES) return this.#startFlush();
      // The copy goes into the buffers the last flush handed back: already
      // mapped and faulted in (a fresh 64 MiB buffer costs more than the copy).
      const u8 = this.#e.view();
      const at = ex.frozenArena();
      const used = ex.frozenArenaUsed();
      const spare = this.#spare.take();
      const arena = spare && spare.arena.byteLength >= used
        ? new Uint8Array(spare.arena, 0, used)
        : new Uint8Array(used);
      arena.set(u8.subarray(at, at + used));
      const offsets = spare && spare.offsets.byteLength >= frozen * 4
        ? new Uint32Array(spare.offsets, 0, frozen)
        : new Uint32Array(frozen);
      offsets.set(new Uint32Array(u8.buffer, ex.frozenOffsets(), frozen));
      this.#runOnWorker({ kind: "flush", arena, offsets, ...this.#jobEnv() }, []);
    }
    if (this.#remote.compact !== undefined || this.#job) return;
    const c = this.#pickCompaction();
    if (c === undefined) return;
    // Workers read a compaction's inputs themselves: only from the real file system.
    const bytes = c.inputs.reduce((n, s) => n + s.size, 0);
    if (this.#workers && this.#ownFs !== undefined && bytes >= OFF_THREAD_BYTES) {
      const paths = c.inputs.map((s) => s.path);
      this.#runOnWorker({ kind: "compact", paths, bottom: c.bottom, ...this.#jobEnv() }, c.inputs);
    } else this.#startCompaction(c.inputs, c.bottom);
  }

  /**
   * Runs a job on a worker; its file streams into a temporary file here and
   * is renamed into place when the job succeeds (else removed).
   */
  #runOnWorker(request: StoreJobRequest, inputs: LiveSeg[]): void {
    const kind = request.kind;
    const seq = ++this.#seq;
    const name = segmentFileName(this.#storeId, seq);
    const tmp = `${this.#dir}/${segmentFileName(this.#storeId, seq, true)}`;
    // With the real file system the worker writes and syncs the file; with
    // another one (tests inject faults there) the bytes come here. The
    // worker only opens a file that exists: once this thread has removed it
    // (a cancelled job), a late worker cannot bring it back.
    const direct = this.#ownFs !== undefined;
    let out: SegmentFile | undefined;
    if (direct) {
      this.#fs.create(tmp).close();
      request.tmpPath = tmp;
    }
    let writeError: unknown;
    let dropped = false;
    const job: RemoteJob = {
      name,
      inputs,
      discard: () => {
        if (dropped) return;
        dropped = true;
        try {
          out?.close();
        } catch { /* already failed */ }
        if (out || direct) this.#fs.remove(tmp);
      },
      finish: (keep) => {
        if (writeError !== undefined) throw writeError;
        if (!direct) {
          out ??= this.#fs.create(tmp); // an empty result wrote no bytes yet
          out.sync();
          out.close();
        }
        if (!keep) {
          this.#fs.remove(tmp);
          dropped = true;
          return undefined;
        }
        this.#fs.rename(tmp, `${this.#dir}/${name}`);
        dropped = true;
        return name;
      },
    };
    const running = this.#workers!.run(request, (bytes) => {
      if (writeError !== undefined || dropped) return;
      try {
        out ??= this.#fs.create(tmp);
        out.write(bytes);
      } catch (err) {
        writeError = err;
      }
    });
    if (running === undefined) {
      // No workers here: everything runs on this thread from now on, this
      // job too. (Only #pump calls here, so #schedule would be a no-op.)
      job.discard();
      this.#workers = undefined;
      this.#startJobs();
      return;
    }
    this.#remote[kind] = job;
    running.then((result) => {
      if (this.#remote[kind] !== job || this.#closed) {
        // Finished already (a write stall waited for it) or no longer wanted.
        if (result.spare && !this.#closed) this.#spare.put(result.spare);
        return job.discard();
      }
      this.#remoteDone(kind, job, result);
    }, (err: Error) => {
      job.discard();
      if (this.#remote[kind] !== job || err instanceof JobCancelled) return;
      this.#remoteFailed(kind, err);
    });
  }

  /**
   * Installs the segment a worker job wrote (`finish` renames or removes
   * its temporary file). Failures go to the stats and, for a flush, to the
   * checkpoints waiting for it. True when the segment was installed.
   */
  #remoteDone(kind: Job["kind"], job: RemoteJob, result: StoreJobResult): boolean {
    this.#remote[kind] = undefined;
    let seg: LiveSeg | undefined;
    try {
      const name = job.finish(result.entries > 0 || kind === "flush");
      if (name !== undefined) seg = this.#liveSeg(name);
    } catch (err) {
      job.discard();
      const failure = new StateError(
        `writing segment ${this.#dir}/${job.name} failed: ${String(err)}`,
        {
          cause: err,
        },
      );
      this.#backgroundFailed(failure);
      if (kind === "flush") { for (const w of this.#waiters.splice(0)) w.reject(failure); }
      return false;
    }
    this.#workerBytesWritten += result.bytesWritten;
    this.#workerBytesRead += result.bytesRead;
    this.#workerBlockReads += result.blockReads;
    this.#workerJobs++;
    if (result.spare) this.#spare.put(result.spare);
    this.#install(kind, seg, job.inputs);
    this.#schedule();
    return true;
  }

  #remoteFailed(kind: Job["kind"], err: Error): void {
    this.#remote[kind] = undefined;
    this.#backgroundFailed(err);
    if (err instanceof WorkerFailed) {
      // Workers do not work here: this thread does the jobs from now on.
      this.#dropWorkers();
      this.#schedule();
      return;
    }
    // A failed compaction is retried after the next flush; a failed flush
    // fails the checkpoints waiting for it (the frozen memtable stays, and
    // the next freeze writes it on this thread).
    if (kind === "flush") {
      const failure = new StateError(`writing the memtable failed: ${err.message}`, {
        cause: err,
      });
      for (const w of this.#waiters.splice(0)) w.reject(failure);
    }
  }

  /**
   * A write stall: blocks until the worker job of `kind` has written its
   * file (at most STALL_WAIT_MS: a worker that died never signals) and
   * installs it. True when its segment was installed.
   */
  #finishRemote(kind: Job["kind"]): boolean {
    const job = this.#remote[kind];
    if (job === undefined || this.#workers === undefined) return false;
    const result = this.#workers.finishNow(kind, STALL_WAIT_MS);
    if (result === undefined) return false;
    if (result instanceof Error) {
      job.discard();
      this.#remoteFailed(kind, result);
      return false;
    }
    return this.#remoteDone(kind, job, result);
  }

  /** Stops every worker; their jobs' files are removed. */
  #dropWorkers(): void {
    this.#workers?.close();
    this.#workers = undefined;
    this.#remote.flush?.discard();
    this.#remote.compact?.discard();
    this.#remote = {};
    this.#spare.clear();
  }

  #backgroundFailed(err: unknown): void {
    this.#backgroundErrors++;
    this.#lastBackgroundError = err instanceof Error ? err.message : String(err);
    // The writer goes on; its next full memtable does the work synchronously.
    this.#unstall(true);
  }

  /** Drops the worker job of `kind` (a synchronous job on this thread replaces it). */
  #cancelRemote(kind: Job["kind"]): void {
    const job = this.#remote[kind];
    if (job === undefined) return;
    this.#remote[kind] = undefined;
    this.#workers?.cancel(kind);
    job.discard();
  }

  /**
   * Size-tiered policy: segments (newest first) fall into tiers by size
   * (tier t holds sizes in [unit·4^t, unit·4^(t+1)), unit = memtable bytes /
   * {@linkcode TIER_UNITS_PER_MEMTABLE}); a run of `trigger` adjacent segments
   * in one tier is merged into one.
   */
  #pickCompaction(): { inputs: LiveSeg[]; bottom: boolean } | undefined {
    if (!this.#autoCompact) return undefined;
    const segs = this.#segs;
    const tier = (s: LiveSeg) =>
      Math.max(0, Math.floor(Math.log(s.size / this.#unit) / Math.log(4)));
    let i = 0;
    while (i < segs.length) {
      let j = i + 1;
      while (j < segs.length && tier(segs[j]!) <= tier(segs[i]!)) j++;
      if (j - i >= this.#trigger) {
        const inputs = segs.slice(i, Math.min(j, i + 2 * this.#trigger));
        return { inputs, bottom: i + inputs.length === segs.length };
      }
      i = j;
    }
    if (segs.length > 200) return { inputs: segs.slice(), bottom: true };
    return undefined;
  }

  /**
   * Makes sure a job runs on this thread if one is due (flushes first; with
   * `flushOnly`, no compaction starts). A worker job of the same kind is
   * dropped. True while there is a job.
   */
  #nextJob(flushOnly: boolean): boolean {
    const frozen = this.#e.ex.frozenEntries();
    if (this.#job) return !(flushOnly && frozen === 0 && this.#job.kind === "compact");
    if (frozen > 0) {
      this.#cancelRemote("flush");
      this.#startFlush();
      return true;
    }
    if (flushOnly) return false;
    const c = this.#pickCompaction();
    if (c === undefined) return false;
    this.#cancelRemote("compact");
    this.#startCompaction(c.inputs, c.bottom);
    return true;
  }

  /**
   * Runs jobs synchronously: until the frozen memtable is written
   * (flushOnly; a compaction in progress on this thread is finished first
   * if a flush waits) or all work is done.
   */
  #drain(flushOnly: boolean): void {
    while (this.#nextJob(flushOnly)) while (!this.#step(STEP_ENTRIES));
  }

  /**
   * Starts due background jobs now (a worker begins the flush at once, not
   * when the event loop next runs timers) and schedules the rest.
   */
  #kick(): void {
    try {
      if (!this.#job) this.#startJobs();
    } catch (err) {
      this.#backgroundFailed(err);
    }
    this.#schedule();
  }

  #schedule(): void {
    if (this.#pumping || this.#closed) return;
    this.#pumping = true;
    setTimeout(() => this.#pump(), 0);
  }

  /** Background work: jobs start on workers, or run here in steps between other work. */
  #pump(): void {
    if (this.#closed) {
      this.#pumping = false;
      return;
    }
    try {
      if (!this.#job) this.#startJobs();
      if (this.#job) {
        this.#step(STEP_ENTRIES);
        setTimeout(() => this.#pump(), 0);
        return;
      }
    } catch (err) {
      // The error reached the checkpoint's waiters (flush) or only the
      // stats (compaction): the next flush/checkpoint retries.
      this.#backgroundFailed(err);
    }
    this.#pumping = false;
  }
}

/**
 * Writes `entries` (strictly ascending keys) as one segment file at `path`
 * (through a temporary name and a rename), without an open store. This is
 * the heap state backend's snapshot format. A `null` or `undefined` value
 * writes a delete (a tombstone hiding the key in older segments): the heap
 * backend's incremental snapshots use it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DenoSegmentFs, readSegment, writeSegment } from "./mod.ts";
 * const dir = Deno.makeTempDirSync();
 * const fs = new DenoSegmentFs();
 * const info = writeSegment(fs, `${dir}/a.seg`, [[new Uint8Array([1]), new Uint8Array([2])]]);
 * assert.ok(info.entries === 1);
 * const all = [...readSegment(fs, `${dir}/a.seg`)];
 * assert.ok(all.length === 1 && all[0]![1][0] === 2);
 * fs.close();
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export function writeSegment(
  fs: SegmentFs,
  path: string,
  sortedEntries: Iterable<readonly [Uint8Array, Uint8Array | null | undefined]>,
): SegmentInfo {
  return writeSegmentFile(fs, path, (e) => {
    let n = 0;
    for (const [k, v] of sortedEntries) {
      const st = v == null
        ? (e.load(k), e.ex.writeAdd(KIND_DELETE, k.length, 0))
        : (e.load(k, v), e.ex.writeAdd(KIND_PUT, k.length, v.length));
      if (st < 0) {
        if (st === ERR_ARG) {
          throw new StateError(`writeSegment: keys must be strictly ascending (entry ${n})`);
        }
        throw e.error(st);
      }
      n++;
    }
    return n;
  });
}

/**
 * Writes the entries of `batch`, in any order, as one segment file at
 * `path` (through a temporary name and a rename), without an open store.
 * The sort runs in WebAssembly over the packed batch: the heap state
 * backend's snapshots write millions of entries this way. Throws a
 * `StateError` when two entries have the same key.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DenoSegmentFs, readSegment, SegmentBatch, writeSegmentBatch } from "./mod.ts";
 * const dir = Deno.makeTempDirSync();
 * const fs = new DenoSegmentFs();
 * const batch = new SegmentBatch();
 * batch.put(new Uint8Array([2]), new Uint8Array([20]));
 * batch.put(new Uint8Array([1]), new Uint8Array([10]));
 * assert.ok(writeSegmentBatch(fs, `${dir}/a.seg`, batch).entries === 2);
 * const keys = [...readSegment(fs, `${dir}/a.seg`)].map(([k]) => k[0]);
 * assert.deepEqual(keys, [1, 2]);
 * fs.close();
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export function writeSegmentBatch(fs: SegmentFs, path: string, batch: SegmentBatch): SegmentInfo {
  if (batch.byteLength > WASM_SORT_MAX_BYTES) {
    return writeSegment(fs, path, sortedBatchEntries(batch));
  }
  return writeSegmentFile(fs, path, (e) => {
    const bytes = batch.bytes();
    const at = e.ex.batchAlloc(bytes.length, batch.count);
    e.view().set(bytes, at);
    let st = e.ex.batchSort();
    if (st < 0) throw e.error(st);
    st = e.ex.batchWrite();
    if (st === ERR_ARG) {
      throw new StateError(`writeSegmentBatch: a key occurs twice in the batch`);
    }
    if (st < 0) throw e.error(st);
    return batch.count;
  });
}

/** A flush or a compaction for an engine on another thread (see `_store_jobs.ts`). */
export type StoreJobRequest =
  & {
    /** Target data block size. */
    blockSize: number;
    /** The store's expiry filter, applied at time `now`. */
    filter: FilterSpec | undefined;
    now: number;
    /** The store's `hugePages` option. */
    hugePages: boolean;
    /**
     * Where the worker writes (and syncs) the file itself; without it, the
     * file's bytes stream back to the store.
     */
    tmpPath?: string;
  }
  & (
    /** A frozen memtable, copied: its arena bytes and u32 entry offsets. */
    | { kind: "flush"; arena: Uint8Array; offsets: Uint32Array }
    /** Segment files to merge (paths, newest first); `bottom`: nothing older remains. */
    | { kind: "compact"; paths: string[]; bottom: boolean }
  );

/** What a {@linkcode StoreJobRequest} wrote and read. */
export interface StoreJobResult {
  entries: number;
  bytesWritten: number;
  bytesRead: number;
  blockReads: number;
  /** A flush's input buffers, handed back for the next flush's copy. */
  spare?: FlushBuffers;
}

/** The buffers a flush's frozen memtable is copied into (see `#startJobs`). */
interface FlushBuffers {
  arena: ArrayBuffer;
  offsets: ArrayBuffer;
}

/** The engine of the last job, reused by the next one with the same fs and block size. */
let jobEngine: { e: Engine; fs: SegmentFs; blockSize: number; hugePages: boolean } | undefined;

/**
 * Runs a job, writing the segment file to `out` (which neither syncs nor
 * closes it). `fs` reads the compaction's input files. Throws what the
 * engine throws (`CorruptionError` for a damaged input).
 *
 * The engine stays for the next job: a fresh one per job would map, fault
 * in and unmap a memtable-sized memory each time (and unmapping interrupts
 * every thread of the process to flush its TLB).
 */
export function runStoreJob(req: StoreJobRequest, fs: SegmentFs, out: SegmentFile): StoreJobResult {
  if (
    jobEngine?.fs !== fs || jobEngine.blockSize !== req.blockSize ||
    jobEngine.hugePages !== req.hugePages
  ) {
    const e = new Engine(fs, false, 64 << 10, 4 << 20, req.blockSize, req.hugePages);
    jobEngine = { e, fs, blockSize: req.blockSize, hugePages: req.hugePages };
  }
  const e = jobEngine.e;
  const stats = new Float64Array(e.ex.memory.buffer, e.ex.statsPtr(), 8).slice();
  const opened: { handle: number; file: number; path: string }[] = [];
  try {
    e.out = out;
    if (req.filter) {
      setFilter(e, req.filter);
      e.ex.filterNow(req.now);
    } else e.ex.filterSet(0, 0, 0);
    let st: number;
    if (req.kind === "flush") {
      const count = req.offsets.length;
      st = e.ex.adoptFrozen(req.arena.length, count);
      if (st < 0) throw e.error(st);
      const u8 = e.view();
      u8.set(req.arena, e.ex.frozenArena());
      new Uint32Array(u8.buffer, e.ex.frozenOffsets(), count).set(req.offsets);
      st = e.guard(() => e.ex.jobFlush());
    } else {
      for (const path of req.paths) opened.push({ ...e.openSegment(path), path });
      e.reserve(opened.length * 4, 0);
      new Uint32Array(e.view().buffer, e.kp, opened.length).set(opened.map((o) => o.handle));
      st = e.guard(() => e.ex.jobCompact(opened.length, req.bottom ? 1 : 0));
    }
    if (st < 0) throw e.error(st);
    do st = e.guard(() => e.ex.jobStep(1 << 30)); while (st > 0);
    if (st < 0) throw e.error(st);
    e.drainStage();
    const f = new Float64Array(e.ex.memory.buffer, e.ex.statsPtr(), 8);
    return {
      entries: e.ex.jobEntries(),
      bytesWritten: f[4]! - stats[4]!,
      bytesRead: f[3]! - stats[3]!,
      blockReads: f[2]! - stats[2]!,
    };
  } catch (err) {
    jobEngine = undefined; // whatever state it is in, the next job starts afresh
    throw err;
  } finally {
    e.out = undefined;
    if (jobEngine?.e === e) {
      e.ex.releaseFrozen();
      for (const o of opened) {
        e.ex.closeSegment(o.handle);
        e.files.delete(o.file);
      }
    }
    const forget = (fs as { forget?: (p: string) => void }).forget;
    for (const o of opened) forget?.call(fs, o.path);
  }
}

/**
 * Writes one segment file through a temporary name and a rename: `fill`
 * adds the entries to the engine's writer and returns how many.
 */
function writeSegmentFile(fs: SegmentFs, path: string, fill: (e: Engine) => number): SegmentInfo {
  const e = new Engine(fs, false, 64 << 10, 64 << 10, 4096, false);
  return writeAtomically(fs, path, (out) => {
    e.out = out;
    e.ex.writeBegin();
    const n = fill(e);
    const st = e.ex.writeFinish();
    if (st < 0) throw e.error(st);
    e.drainStage();
    return n;
  });
}

/**
 * Writes a file through a temporary name, synced, then renamed into place
 * (files never change once written): `write` fills it and returns its
 * entries. A failure removes the temporary file.
 */
export function writeAtomically(
  fs: SegmentFs,
  path: string,
  write: (out: SegmentFile) => number,
): SegmentInfo {
  const name = basename(path);
  const tmp = `${path.slice(0, path.length - name.length)}.${name}.tmp`;
  const out = fs.create(tmp);
  let ok = false;
  try {
    const entries = write(out);
    out.sync();
    out.close();
    ok = true;
    fs.rename(tmp, path);
    return { name, size: fs.size(path) ?? 0, entries };
  } finally {
    if (!ok) {
      try {
        out.close();
      } catch { /* already closed */ }
      fs.remove(tmp);
    }
  }
}

/**
 * Iterates the `[key, value]` pairs of a segment file in key order, without
 * an open store. Throws {@linkcode CorruptionError} for a damaged file.
 */
export function* readSegment(fs: SegmentFs, path: string): Generator<[Uint8Array, Uint8Array]> {
  for (const [k, v] of readSegmentRecords(fs, path, false)) yield [k, v];
}

/**
 * Iterates every key a segment file holds a record for, in key order:
 * deletes and merge records included, so the keys a segment changes (what an
 * incremental copy of the segment's effect needs). Throws
 * {@linkcode CorruptionError} for a damaged file.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DenoSegmentFs, readSegmentKeys, writeSegment } from "./mod.ts";
 * const dir = Deno.makeTempDirSync();
 * const fs = new DenoSegmentFs();
 * // A delete (undefined value) is a record too.
 * writeSegment(fs, `${dir}/a.seg`, [[new Uint8Array([1]), new Uint8Array([9])], [new Uint8Array([2]), undefined]]);
 * assert.deepEqual([...readSegmentKeys(fs, `${dir}/a.seg`)].map((k) => k[0]), [1, 2]);
 * fs.close();
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export function* readSegmentKeys(fs: SegmentFs, path: string): Generator<Uint8Array> {
  for (const [k] of readSegmentRecords(fs, path, true)) yield k;
}

/**
 * Iterates every record a segment file holds, in key order, as stored:
 * `[key, kind, value]` with kind 1 (a value), 2 (a delete) or 3 (a merge
 * operand). Two segments holding the same record for a key (a compaction's
 * copy) hold the same triple. Throws {@linkcode CorruptionError} for a
 * damaged file.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DenoSegmentFs, readSegmentRawRecords, writeSegment } from "./mod.ts";
 * const dir = Deno.makeTempDirSync();
 * const fs = new DenoSegmentFs();
 * writeSegment(fs, `${dir}/a.seg`, [[new Uint8Array([1]), new Uint8Array([9])], [new Uint8Array([2]), undefined]]);
 * const records = [...readSegmentRawRecords(fs, `${dir}/a.seg`)];
 * assert.deepEqual(records.map(([k, kind]) => [k[0], kind]), [[1, 1], [2, 2]]);
 * assert.deepEqual([...records[0]![2]], [9]);
 * fs.close();
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export function* readSegmentRawRecords(
  fs: SegmentFs,
  path: string,
): Generator<[Uint8Array, number, Uint8Array]> {
  for (const [k, v, kind] of readSegmentRecords(fs, path, true)) yield [k, kind, v];
}

function* readSegmentRecords(
  fs: SegmentFs,
  path: string,
  raw: boolean,
): Generator<[Uint8Array, Uint8Array, number]> {
  const e = new Engine(fs, false, 64 << 10, 64 << 10, 4096, false);
  try {
    const o = e.openSegment(path);
    const v = new Uint32Array(e.view().buffer, e.ex.keyPtr(), 1);
    v[0] = o.handle;
    e.ex.setOrder(1);
    let start = EMPTY;
    while (true) {
      e.load(start);
      let st = e.ex.iterOpen(start.length, 0, 0, raw ? 1 : 0);
      if (st < 0) throw e.error(st);
      const batch: Array<[Uint8Array, Uint8Array, number]> = [];
      let done = false;
      while (batch.length < SCAN_BATCH) {
        st = e.ex.iterNext();
        if (st < 0) throw e.error(st);
        if (st === 0) {
          done = true;
          break;
        }
        const u8 = e.view();
        const kp = e.ex.iterKey();
        const vp = e.ex.iterVal();
        batch.push([
          u8.slice(kp, kp + e.ex.iterKeyLen()),
          u8.slice(vp, vp + e.ex.iterValLen()),
          e.ex.iterKind(),
        ]);
      }
      yield* batch;
      if (done) return;
      const last = batch[batch.length - 1]![0];
      start = new Uint8Array(last.length + 1);
      start.set(last);
    }
  } finally {
    // The read descriptor the file system cached for this read: a restore reads a checkpoint's
    // segment under a path (`chk-N/../shared/x.seg`) that checkpoint GC's remove does not name,
    // so kept open it would pin the deleted file, one descriptor per restore, for the run.
    (fs as { forget?: (p: string) => void }).forget?.call(fs, path);
  }
}
