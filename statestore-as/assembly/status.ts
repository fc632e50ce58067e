// deno-fmt-ignore-file
// Status codes returned by every export (the facade turns them into typed
// errors). Non-negative results are lengths/handles; negative ones are here.

/** The key is absent (or deleted). */
export const NOT_FOUND: i32 = -1;
/** A host read or write failed (the facade holds the underlying error). */
export const ERR_IO: i32 = -2;
/** A segment is damaged; errFile/errBlock/errDetail say where and how. */
export const ERR_CORRUPT: i32 = -3;
/** The active memtable is full: freeze it (flush) and retry. */
export const ERR_FULL: i32 = -4;
/** A frozen memtable is still being written; finish that first. */
export const ERR_BUSY: i32 = -5;
/** Invalid argument (e.g. keys out of order in a segment write). */
export const ERR_ARG: i32 = -6;

// Corruption details (errDetail()).
export const D_CRC: i32 = 1; // checksum mismatch
export const D_MAGIC: i32 = 2; // wrong magic number
export const D_VERSION: i32 = 3; // unknown format version
export const D_TRUNCATED: i32 = 4; // file shorter than its footer says
export const D_FORMAT: i32 = 5; // a block does not parse

/** Block number reported for the footer (data blocks are 0..n-1, index n, bloom n+1). */
export const BLOCK_FOOTER: i32 = -2;

let errFileG: u32 = 0;
let errBlockG: i32 = -1;
let errDetailG: i32 = 0;

/** Records a corruption and returns ERR_CORRUPT. */
export function corrupt(file: u32, block: i32, detail: i32): i32 {
  errFileG = file;
  errBlockG = block;
  errDetailG = detail;
  return ERR_CORRUPT;
}

export function errFile(): u32 {
  return errFileG;
}
export function errBlock(): i32 {
  return errBlockG;
}
export function errDetail(): i32 {
  return errDetailG;
}
