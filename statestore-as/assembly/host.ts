// deno-fmt-ignore-file
// Every host import of the store lives in this file. The host is the
// TypeScript facade (statestore-as/mod.ts), which serves them synchronously
// from its SegmentFs.

/**
 * Reads `len` bytes of segment file `file` starting at byte `offset` into
 * linear memory at `dst`. Returns the number of bytes read (short only at the
 * end of the file) or a negative status (see status.ts) when the read failed.
 */
// @ts-ignore: decorator
@external("host", "read")
export declare function hostRead(file: u32, offset: f64, dst: usize, len: u32): i32;

/**
 * Appends `len` bytes at `ptr` to the segment file being written by the
 * current job. Returns 0 or a negative status when the write failed.
 */
// @ts-ignore: decorator
@external("host", "emit")
export declare function hostEmit(ptr: usize, len: u32): i32;
