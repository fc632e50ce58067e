// deno-fmt-ignore-file
// The merging iterator: sources ordered newest first (memtables, then
// segments), the smallest key wins, equal keys are resolved newest first:
// a put or delete ends the chain, merge operands accumulate and are appended
// to the base value in age order (oldest operand first).
//
// Modes: MODE_USER (scans: merges resolved, deletes hidden),
// MODE_RAW (flush / compaction that does not include the oldest segment:
// deletes kept, a chain of merges without a base stays a merge record),
// MODE_BOTTOM (compaction including the oldest segment: merges resolved,
// deletes dropped).

import {
  KIND_DEL,
  KIND_MERGE,
  KIND_PUT,
  Mem,
  memLowerBound,
  memPrefetch,
  memSort,
  REC_HDR,
  recAt,
  recKind,
} from "./memtable";
import { Seg, SegIt, segItNew, segItNext, segItSeek } from "./segment";
import { ERR_ARG } from "./status";
import { Buf, bufAppend, cmpBytes, keepLoads, newBuf } from "./util";

export const MODE_USER: u32 = 0;
export const MODE_RAW: u32 = 1;
export const MODE_BOTTOM: u32 = 2;
export const MAX_SRC: u32 = 256;

/**
 * A source. Layout in field order (11 x 4 bytes).
 */
// @ts-ignore: decorator
@unmanaged
export class Src {
  isMem: u32;
  mem: Mem;
  pos: u32;
  end: u32;
  it: SegIt;
  valid: u32;
  key: usize;
  keyLen: u32;
  kind: u32;
  val: usize;
  valLen: u32;
}

/** Merging iterator. Layout in field order. */
// @ts-ignore: decorator
@unmanaged
export class MIt {
  srcs: usize; // MAX_SRC x Src pointers (allocated once, reused)
  n: u32;
  key: Buf;
  val: Buf;
  kind: u32;
  end: Buf;
  hasEnd: u32;
  mode: u32;
  match: usize; // MAX_SRC x u32 source indices of the current key
}

export function mitNew(): MIt {
  const m = changetype<MIt>(heap.alloc(offsetof<MIt>()));
  m.srcs = heap.alloc(<usize> MAX_SRC << 2);
  memory.fill(m.srcs, 0, <usize> MAX_SRC << 2);
  m.match = heap.alloc(<usize> MAX_SRC << 2);
  m.n = 0;
  m.key = newBuf(256);
  m.val = newBuf(4096);
  m.end = newBuf(256);
  m.kind = 0;
  m.hasEnd = 0;
  m.mode = 0;
  return m;
}

function srcAt(m: MIt, i: u32): Src {
  let p: usize = load<usize>(m.srcs + (<usize> i << 2));
  if (p == 0) {
    p = heap.alloc(offsetof<Src>());
    memory.fill(p, 0, offsetof<Src>());
    changetype<Src>(p).it = segItNew();
    store<usize>(m.srcs + (<usize> i << 2), p);
  }
  return changetype<Src>(p);
}

export function mitReset(m: MIt, mode: u32): void {
  m.n = 0;
  m.mode = mode;
  m.hasEnd = 0;
}

// Records sit in the arena in write order, so walking a memtable in key
// order misses the cache twice per entry (its slot in entries, then the
// record): memCur loads ahead every 8 entries (memPrefetch).
function memCur(s: Src): void {
  if (s.pos >= s.end) {
    s.valid = 0;
    return;
  }
  if ((s.pos & 7) == 0) keepLoads(memPrefetch(s.mem, s.pos, s.end));
  const r: usize = recAt(s.mem, load<u32>(s.mem.sorted + (<usize> s.pos << 2)));
  s.keyLen = load<u32>(r);
  s.key = r + REC_HDR;
  s.valLen = load<u32>(r, 4);
  s.kind = recKind(r);
  s.val = s.key + s.keyLen;
  s.valid = 1;
}

function segCur(s: Src): void {
  const it: SegIt = s.it;
  s.valid = it.valid;
  s.key = it.key.ptr;
  s.keyLen = it.key.len;
  s.kind = it.kind;
  s.val = it.val;
  s.valLen = it.valLen;
}

/** Adds a memtable source positioned at the first key >= start. */
export function mitAddMem(m: MIt, mem: Mem, k: usize, kl: u32): i32 {
  if (m.n >= MAX_SRC) return ERR_ARG;
  const s: Src = srcAt(m, m.n++);
  memSort(mem);
  s.isMem = 1;
  s.mem = mem;
  s.pos = memLowerBound(mem, k, kl);
  s.end = mem.sortedCount;
  memCur(s);
  return 0;
}

/** Adds a segment source positioned at the first key >= start. */
export function mitAddSeg(m: MIt, seg: Seg, k: usize, kl: u32): i32 {
  if (m.n >= MAX_SRC) return ERR_ARG;
  const s: Src = srcAt(m, m.n++);
  s.isMem = 0;
  const st: i32 = segItSeek(s.it, seg, k, kl);
  if (st < 0) {
    s.valid = 0;
    return st;
  }
  segCur(s);
  return 0;
}

function advance(s: Src): i32 {
  if (s.isMem) {
    s.pos++;
    memCur(s);
    return 0;
  }
  const st: i32 = segItNext(s.it);
  if (st < 0) {
    s.valid = 0;
    return st;
  }
  segCur(s);
  return 0;
}

/** Next entry: 1 (key/val/kind set), 0 exhausted, < 0 error. */
export function mitNext(m: MIt): i32 {
  const match: usize = m.match;
  while (true) {
    // smallest key; ties keep the newest (lowest index)
    let best: i32 = -1;
    let bk: usize = 0;
    let bl: u32 = 0;
    for (let i: u32 = 0; i < m.n; i++) {
      const s: Src = changetype<Src>(load<usize>(m.srcs + (<usize> i << 2)));
      if (!s.valid) continue;
      if (best < 0 || cmpBytes(s.key, s.keyLen, bk, bl) < 0) {
        best = <i32> i;
        bk = s.key;
        bl = s.keyLen;
      }
    }
    if (best < 0) return 0;
    if (m.hasEnd && cmpBytes(bk, bl, m.end.ptr, m.end.len) >= 0) return 0;
    m.key.len = 0;
    bufAppend(m.key, bk, bl);
    // collect the sources holding this key, newest first
    let nm: u32 = 0;
    for (let i: u32 = <u32> best; i < m.n; i++) {
      const s: Src = changetype<Src>(load<usize>(m.srcs + (<usize> i << 2)));
      if (s.valid && s.keyLen == bl && cmpBytes(s.key, s.keyLen, m.key.ptr, bl) == 0) {
        store<u32>(match + (<usize> nm << 2), i);
        nm++;
      }
    }
    // resolve: find the base (first put/delete), operands are the merges before it
    let baseAt: i32 = -1;
    for (let j: u32 = 0; j < nm; j++) {
      const s: Src = changetype<Src>(
        load<usize>(m.srcs + (<usize> load<u32>(match + (<usize> j << 2)) << 2)),
      );
      if (s.kind != KIND_MERGE) {
        baseAt = <i32> j;
        break;
      }
    }
    const ops: u32 = baseAt < 0 ? nm : <u32> baseAt;
    m.val.len = 0;
    let kind: u32 = KIND_PUT;
    if (baseAt >= 0) {
      const b: Src = changetype<Src>(
        load<usize>(m.srcs + (<usize> load<u32>(match + (<usize> baseAt << 2)) << 2)),
      );
      if (b.kind == KIND_PUT) bufAppend(m.val, b.val, b.valLen);
      else if (ops == 0) kind = KIND_DEL;
    } else if (m.mode == MODE_RAW) {
      kind = KIND_MERGE;
    }
    for (let j: i32 = <i32> ops - 1; j >= 0; j--) {
      const s: Src = changetype<Src>(
        load<usize>(m.srcs + (<usize> load<u32>(match + (<usize> j << 2)) << 2)),
      );
      bufAppend(m.val, s.val, s.valLen);
    }
    m.kind = kind;
    for (let j: u32 = 0; j < nm; j++) {
      const s: Src = changetype<Src>(
        load<usize>(m.srcs + (<usize> load<u32>(match + (<usize> j << 2)) << 2)),
      );
      const st: i32 = advance(s);
      if (st < 0) return st;
    }
    if (kind == KIND_DEL && m.mode != MODE_RAW) continue;
    return 1;
  }
  return 0;
}
