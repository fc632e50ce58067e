/**
 * Loading and instantiating the compiled store (`lib/*_wasm.ts`, made by
 * `build.ts`), and the mapping of its status codes to typed errors.
 *
 * @module
 */
import { CorruptionError, StateError } from "../core/errors.ts";
// The bytes come in as static imports, not as files read next to
// import.meta.url, so the store loads from any module URL (file:, https:,
// jsr:) and in workers, without read or net permissions.
import releaseWasm from "./lib/statestore_wasm.ts";
import debugWasm from "./lib/statestore_debug_wasm.ts";

/** The flat exports of `assembly/index.ts`. */
export interface StoreExports {
  memory: WebAssembly.Memory;
  init(memtableBytes: number, cacheBytes: number, blockTarget: number): void;
  reserveHeap(bytes: number): void;
  keyPtr(): number;
  valPtr(): number;
  reserve(kl: number, vl: number): void;
  get(kl: number): number;
  resPtr(): number;
  resScratch(): number;
  resScratchCap(): number;
  batchMax(): number;
  batchKeyLens(): number;
  batchOutLens(): number;
  batchOutOffsets(): number;
  batchValues(): number;
  getBatch(n: number): number;
  put(kl: number, vl: number): number;
  del(kl: number): number;
  merge(kl: number, vl: number): number;
  memBytes(): number;
  memEntries(): number;
  frozenBytes(): number;
  frozenEntries(): number;
  queuedEntries(): number;
  freeze(): number;
  releaseFrozen(): void;
  frozenArena(): number;
  frozenArenaUsed(): number;
  frozenOffsets(): number;
  adoptFrozen(used: number, count: number): number;
  openSegment(file: number, size: number): number;
  closeSegment(h: number): void;
  segmentEntries(h: number): number;
  segmentBlocks(h: number): number;
  setOrder(n: number): number;
  jobFlush(): number;
  jobCompact(n: number, bottom: number): number;
  jobStep(max: number): number;
  filterSet(n: number, off: number, tagLen: number): number;
  filterNow(now: number): void;
  jobEntries(): number;
  writeBegin(): void;
  writeAdd(kind: number, kl: number, vl: number): number;
  writeFinish(): number;
  batchAlloc(len: number, count: number): number;
  batchSort(): number;
  batchWrite(): number;
  iterOpen(kl: number, el: number, hasEnd: number, raw: number): number;
  iterNext(): number;
  iterKey(): number;
  iterKeyLen(): number;
  iterVal(): number;
  iterValLen(): number;
  iterKind(): number;
  statsPtr(): number;
  errFile(): number;
  errBlock(): number;
  errDetail(): number;
}

// Status codes: keep in sync with assembly/status.ts.
/** Key absent. */
export const NOT_FOUND = -1;
/** Host I/O failed. */
export const ERR_IO = -2;
/** Damaged segment. */
export const ERR_CORRUPT = -3;
/** Memtable full. */
export const ERR_FULL = -4;
/** A frozen memtable is pending. */
export const ERR_BUSY = -5;
/** Invalid argument. */
export const ERR_ARG = -6;
/** Block number of the footer in corruption reports. */
export const BLOCK_FOOTER = -2;

const DETAILS: Record<number, string> = {
  1: "checksum mismatch",
  2: "wrong magic number (not a weir segment)",
  3: "unsupported format version",
  4: "truncated file",
  5: "malformed block",
};

/** Host functions the module imports. */
export interface Host {
  read(file: number, offset: number, dst: number, len: number): number;
  emit(ptr: number, len: number): number;
}

const modules = new Map<boolean, WebAssembly.Module>();

function loadModule(debug: boolean): WebAssembly.Module {
  let m = modules.get(debug);
  if (m === undefined) {
    m = new WebAssembly.Module(Uint8Array.fromBase64(debug ? debugWasm : releaseWasm));
    modules.set(debug, m);
  }
  return m;
}

/** Instantiates a fresh store module with the given host. */
export function instantiate(host: Host, debug: boolean): StoreExports {
  const mem: { m?: WebAssembly.Memory } = {};
  const inst = new WebAssembly.Instance(loadModule(debug), {
    host: { read: host.read, emit: host.emit },
    env: {
      abort(msg: number, file: number, line: number, col: number): never {
        throw new StateError(
          `statestore wasm aborted${mem.m ? `: ${readAsString(mem.m, msg)}` : ""} at ${
            mem.m ? readAsString(mem.m, file) : "?"
          }:${line}:${col}`,
        );
      },
    },
  });
  const ex = inst.exports as unknown as StoreExports;
  mem.m = ex.memory;
  return ex;
}

function readAsString(mem: WebAssembly.Memory, ptr: number): string {
  if (ptr === 0) return "";
  const u32 = new Uint32Array(mem.buffer);
  const len = u32[(ptr - 4) >>> 2] ?? 0;
  return String.fromCharCode(...new Uint16Array(mem.buffer, ptr, len >>> 1));
}

/**
 * Turns a negative status into a typed error. `name` maps the module's file
 * ids to segment names; `ioError` is the last error a host call caught.
 */
export function statusError(
  ex: StoreExports,
  status: number,
  name: (file: number) => string,
  ioError: unknown,
): Error {
  if (status === ERR_CORRUPT) {
    const file = name(ex.errFile());
    const block = ex.errBlock();
    const n = ex.errDetail();
    const what = block === BLOCK_FOOTER ? "footer: " : "";
    return new CorruptionError(`${what}${DETAILS[n] ?? `error ${n}`}`, {
      file,
      ...(block >= 0 ? { block } : {}),
    });
  }
  if (status === ERR_IO) {
    return new StateError(`segment I/O failed: ${String((ioError as Error)?.message ?? ioError)}`, {
      cause: ioError,
    });
  }
  return new StateError(`statestore: unexpected status ${status}`);
}
