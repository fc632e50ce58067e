// Transparent huge pages for the store's linear memory.
//
// A random get over a large memtable misses the TLB as well as the cache: with
// 4 KiB pages a 136 MB arena needs 34k page-table entries, and inside a VM
// each TLB miss walks two page tables. Backing the memory with 2 MiB pages
// makes those walks rare (bench/lsm_store.ts --huge-pages on the benchmark
// VM: random gets over 1M keys with 100-byte values, medians 2.51M -> 2.90M
// ops/s). But there the first touch of a 2 MiB page costs far more than
// touching the same memory in 4 KiB pages, so a fresh store fills slower
// (100-byte puts 3.01M -> 1.67M): the store asks for huge pages only when
// told to (LsmStoreOptions.hugePages). RocksDB offers the same for its
// memtable arena (memtable_huge_page_size).
//
// Linux only, and only when the FFI permission is granted: the advice is a
// libc madvise(MADV_HUGEPAGE) call on the memory's reservation. Anything
// else (another OS, no permission, no libc, THP disabled) leaves the memory
// as it is; the advice never changes what the store computes.

import { ffiDenied, openLibc } from "./_libc.ts";
import { noteSkipped } from "./_skip_note.ts";

const MADV_HUGEPAGE = 14;
const HUGE_PAGE = 2n << 20n;
/** wasm32 memory never exceeds 4 GiB; V8 reserves at least that much up front. */
const RESERVATION = 4n << 30n;

const MADVISE = { madvise: { parameters: ["pointer", "usize", "i32"], result: "i32" } } as const;
/** libc, opened on first use (null: not available here). */
let libc: Deno.DynamicLibrary<typeof MADVISE> | null | undefined;

/**
 * Advises the kernel to back the wasm memory whose buffer is `buffer` with
 * huge pages, from the first 2 MiB boundary in it to the end of its 4 GiB
 * reservation (growth stays inside the reservation, so later pages are
 * covered too). Returns the advised start address, or `undefined` when the
 * advice was not given.
 */
export function adviseHugePages(buffer: ArrayBufferLike): bigint | undefined {
  libc ??= openLibc(MADVISE) ?? null;
  const c = libc;
  if (c === null) {
    if (ffiDenied()) noteSkipped("huge pages for the store's memory (hugePages)", "--allow-ffi");
    return undefined;
  }
  try {
    const base = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(new Uint8Array(buffer))));
    const start = (base + HUGE_PAGE - 1n) & ~(HUGE_PAGE - 1n);
    const len = RESERVATION - (start - base);
    return c.symbols.madvise(Deno.UnsafePointer.create(start), len, MADV_HUGEPAGE) === 0
      ? start
      : undefined;
  } catch {
    return undefined;
  }
}
