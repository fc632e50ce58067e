/**
 * The librdkafka symbols weir uses, opened with Deno's FFI. librdkafka's
 * blocking calls (transactions, metadata, offset look-ups, flush) are bound a
 * second time as `nonblocking` symbols: they run on a worker thread and
 * return a promise, so the job thread never waits on a network round trip.
 *
 * @module
 */
import { ConfigError } from "../../errors.ts";

/** How users install the library, named in the error when it is missing. */
export const INSTALL_HINT =
  "install librdkafka (Debian/Ubuntu: apt-get install librdkafka1; Fedora: dnf install librdkafka; " +
  "macOS: brew install librdkafka) or set WEIR_LIBRDKAFKA to its path, and run Deno with --allow-ffi";

const P = "pointer" as const;
const B = "buffer" as const;

const SYMBOLS = {
  rd_kafka_version_str: { parameters: [], result: P },
  rd_kafka_conf_new: { parameters: [], result: P },
  rd_kafka_conf_set: { parameters: [P, B, B, B, "usize"], result: "i32" },
  rd_kafka_conf_set_events: { parameters: [P, "i32"], result: "void" },
  rd_kafka_conf_destroy: { parameters: [P], result: "void" },
  rd_kafka_new: { parameters: ["i32", P, B, "usize"], result: P },
  rd_kafka_destroy: { parameters: [P], result: "void", nonblocking: true },
  rd_kafka_err2str: { parameters: ["i32"], result: P },
  rd_kafka_fatal_error: { parameters: [P, B, "usize"], result: "i32" },
  rd_kafka_poll: { parameters: [P, "i32"], result: "i32" },
  rd_kafka_outq_len: { parameters: [P], result: "i32" },
  rd_kafka_flush: { parameters: [P, "i32"], result: "i32", nonblocking: true },
  rd_kafka_queue_get_main: { parameters: [P], result: P },
  rd_kafka_queue_get_consumer: { parameters: [P], result: P },
  rd_kafka_queue_destroy: { parameters: [P], result: "void" },
  rd_kafka_queue_poll: { parameters: [P, "i32"], result: P },
  rd_kafka_event_type: { parameters: [P], result: "i32" },
  rd_kafka_event_message_next: { parameters: [P], result: P },
  rd_kafka_event_message_array: { parameters: [P, P, "usize"], result: "usize" },
  rd_kafka_event_error: { parameters: [P], result: "i32" },
  rd_kafka_event_error_string: { parameters: [P], result: P },
  rd_kafka_event_error_is_fatal: { parameters: [P], result: "i32" },
  rd_kafka_event_destroy: { parameters: [P], result: "void" },
  rd_kafka_topic_new: { parameters: [P, B, P], result: P },
  rd_kafka_topic_destroy: { parameters: [P], result: "void" },
  rd_kafka_topic_name: { parameters: [P], result: P },
  // The opaque pointer carries a delivery id: passed as an integer, it needs no pointer object.
  rd_kafka_produce: {
    parameters: [P, "i32", "i32", B, "usize", B, "usize", "usize"],
    result: "i32",
  },
  rd_kafka_produceva: { parameters: [P, B, "usize"], result: P },
  rd_kafka_last_error: { parameters: [], result: "i32" },
  rd_kafka_topic_partition_list_new: { parameters: ["i32"], result: P },
  rd_kafka_topic_partition_list_add: { parameters: [P, B, "i32"], result: P },
  rd_kafka_topic_partition_list_set_offset: { parameters: [P, B, "i32", "i64"], result: "i32" },
  rd_kafka_topic_partition_list_destroy: { parameters: [P], result: "void" },
  rd_kafka_assign: { parameters: [P, P], result: "i32" },
  rd_kafka_pause_partitions: { parameters: [P, P], result: "i32" },
  rd_kafka_resume_partitions: { parameters: [P, P], result: "i32" },
  rd_kafka_poll_set_consumer: { parameters: [P], result: "i32" },
  rd_kafka_consume_batch_queue: { parameters: [P, "i32", P, "usize"], result: "isize" },
  // Per-message calls take the message's address as a bigint read from the batch array:
  // a pointer object for it would cost a slow (non-FFI) call per message.
  rd_kafka_message_destroy: { parameters: ["u64"], result: "void" },
  rd_kafka_message_timestamp: { parameters: ["u64", P], result: "i64" },
  rd_kafka_message_headers: { parameters: ["u64", P], result: "i32" },
  rd_kafka_header_get_all: { parameters: [P, "usize", B, B, B], result: "i32" },
  rd_kafka_position: { parameters: [P, P], result: "i32" },
  rd_kafka_commit: { parameters: [P, P, "i32"], result: "i32" },
  rd_kafka_committed: { parameters: [P, P, "i32"], result: "i32", nonblocking: true },
  rd_kafka_offsets_for_times: { parameters: [P, P, "i32"], result: "i32", nonblocking: true },
  rd_kafka_query_watermark_offsets: {
    parameters: [P, B, "i32", B, B, "i32"],
    result: "i32",
    nonblocking: true,
  },
  rd_kafka_metadata: { parameters: [P, "i32", P, B, "i32"], result: "i32", nonblocking: true },
  rd_kafka_metadata_destroy: { parameters: [P], result: "void" },
  rd_kafka_init_transactions: { parameters: [P, "i32"], result: P, nonblocking: true },
  rd_kafka_begin_transaction: { parameters: [P], result: P },
  rd_kafka_commit_transaction: { parameters: [P, "i32"], result: P, nonblocking: true },
  rd_kafka_abort_transaction: { parameters: [P, "i32"], result: P, nonblocking: true },
  rd_kafka_send_offsets_to_transaction: {
    parameters: [P, P, P, "i32"],
    result: P,
    nonblocking: true,
  },
  rd_kafka_consumer_group_metadata_new: { parameters: [B], result: P },
  rd_kafka_consumer_group_metadata_destroy: { parameters: [P], result: "void" },
  rd_kafka_error_code: { parameters: [P], result: "i32" },
  rd_kafka_error_string: { parameters: [P], result: P },
  rd_kafka_error_is_fatal: { parameters: [P], result: "i32" },
  rd_kafka_error_is_retriable: { parameters: [P], result: "i32" },
  rd_kafka_error_txn_requires_abort: { parameters: [P], result: "i32" },
  rd_kafka_error_destroy: { parameters: [P], result: "void" },
  rd_kafka_consumer_close: { parameters: [P], result: "i32", nonblocking: true },
  // libc's, found through librdkafka's dependencies (not on Windows): copies bytes out of
  // librdkafka's memory at FFI-call cost, where a pointer view's copy is a slower op.
  memcpy: { parameters: [B, "u64", "usize"], result: "u64", optional: true },
  rd_kafka_mock_cluster_new: { parameters: [P, "i32"], result: P },
  rd_kafka_mock_cluster_destroy: { parameters: [P], result: "void" },
  rd_kafka_mock_cluster_bootstraps: { parameters: [P], result: P },
  rd_kafka_mock_topic_create: { parameters: [P, B, "i32", "i32"], result: "i32" },
  rd_kafka_mock_partition_set_leader: { parameters: [P, B, "i32", "i32"], result: "i32" },
  rd_kafka_mock_broker_set_down: { parameters: [P, "i32"], result: "i32" },
  rd_kafka_mock_broker_set_up: { parameters: [P, "i32"], result: "i32" },
  rd_kafka_mock_push_request_errors_array: {
    parameters: [P, "i16", "usize", B],
    result: "void",
  },
} as const;

/** The opened library. */
export type Rdkafka = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

let lib: Rdkafka | undefined;

/** Library names tried in order (Linux, macOS). */
function candidates(): string[] {
  // Read only where allowed: a job needs no --allow-env to use the default library.
  const allowed = Deno.permissions.querySync({ name: "env", variable: "WEIR_LIBRDKAFKA" });
  const own = allowed.state === "granted" ? Deno.env.get("WEIR_LIBRDKAFKA") : undefined;
  if (own) return [own];
  if (Deno.build.os === "darwin") {
    return [
      "librdkafka.1.dylib",
      "/opt/homebrew/lib/librdkafka.1.dylib",
      "/usr/local/lib/librdkafka.1.dylib",
    ];
  }
  if (Deno.build.os === "windows") return ["librdkafka.dll"];
  return ["librdkafka.so.1"];
}

/**
 * Opens librdkafka once per process (or thread). Throws a {@linkcode ConfigError}
 * naming the library and how to install it when it cannot be loaded.
 */
export function rdkafka(): Rdkafka {
  if (lib) return lib;
  const errors: string[] = [];
  for (const path of candidates()) {
    try {
      lib = Deno.dlopen(path, SYMBOLS).symbols;
      return lib;
    } catch (e) {
      if (e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied) {
        throw new ConfigError(
          `Kafka connectors load librdkafka through FFI: run Deno with --allow-ffi (${
            (e as Error).message
          })`,
        );
      }
      errors.push(`${path}: ${(e as Error).message}`);
    }
  }
  throw new ConfigError(`Cannot load librdkafka (${errors.join("; ")}): ${INSTALL_HINT}`);
}

const encoder = new TextEncoder();

/**
 * `bytes` bytes that stay where they are: V8 keeps small typed arrays inside
 * its heap and moves them when it collects garbage, so memory that librdkafka
 * reads later (a pointer stored in a struct) or writes from another thread (a
 * nonblocking call's out-parameter) must be an explicit ArrayBuffer, whose
 * backing store never moves.
 */
export function pinned(bytes: number): ArrayBuffer {
  return new ArrayBuffer(Math.max(bytes, 8));
}

/** Copies `dst.length` bytes from the native address `src` into `dst`. */
export function copyFromAddress(dst: Uint8Array, src: bigint): void {
  const copy = rdkafka().memcpy;
  if (copy !== null) copy(dst, src, BigInt(dst.length));
  else Deno.UnsafePointerView.copyInto(Deno.UnsafePointer.create(src)!, dst);
}

/** A NUL-terminated C string (in {@linkcode pinned} memory). */
export function cstr(s: string): Uint8Array<ArrayBuffer> {
  const bytes = encoder.encode(s);
  const out = new Uint8Array(pinned(bytes.length + 1));
  out.set(bytes);
  return out;
}

/** Reads a C string (empty for NULL). */
export function readCString(p: Deno.PointerValue): string {
  return p === null ? "" : Deno.UnsafePointerView.getCString(p);
}

/** librdkafka's text for an error code. */
export function errorText(code: number): string {
  return readCString(rdkafka().rd_kafka_err2str(code));
}

/** A `char errstr[512]` buffer and its text. */
export function errBuf(): Uint8Array<ArrayBuffer> {
  return new Uint8Array(512);
}

/** The text in an errstr buffer. */
export function errBufText(buf: Uint8Array): string {
  const end = buf.indexOf(0);
  return new TextDecoder().decode(buf.subarray(0, end < 0 ? buf.length : end));
}
