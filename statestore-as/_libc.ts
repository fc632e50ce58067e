// libc through FFI, for the store's optional OS hints (huge pages, thread
// priority). Linux only, and only with the FFI permission granted: anything
// else gives undefined, and callers then leave the OS alone.

/** Whether the FFI permission is what keeps libc out of reach (Linux without --allow-ffi). */
export function ffiDenied(): boolean {
  if (Deno.build.os !== "linux") return false;
  try {
    return Deno.permissions.querySync({ name: "ffi" }).state !== "granted";
  } catch {
    return true;
  }
}

/** Opens libc with `symbols`, or undefined where that is not possible or allowed. */
export function openLibc<S extends Deno.ForeignLibraryInterface>(
  symbols: S,
): Deno.DynamicLibrary<S> | undefined {
  if (Deno.build.os !== "linux" || ffiDenied()) return undefined;
  try {
    return Deno.dlopen("libc.so.6", symbols);
  } catch {
    return undefined;
  }
}
