/**
 * A one-broker fake of Kafka holding one partition with a committed and an
 * open transaction, for what librdkafka's mock cluster cannot show: it has
 * no last stable offset (LSO). Its ListOffsets ignores the isolation level
 * and its Fetch answers the high watermark as the LSO (librdkafka 2.0.2, and
 * still 2.15), so a read_committed client there sees an open transaction's
 * records. This fake answers what a consumer needs (ApiVersions, Metadata,
 * ListOffsets, Fetch; other requests stay unanswered) as a broker does:
 *
 * ```
 * offset 0-2  c0 c1 c2   transaction of producer 7
 * offset 3    COMMIT marker of producer 7 (a control batch)
 * offset 4-5  o0 o1      transaction of producer 8, still open
 * ```
 * LSO 4, high watermark 6. A read_committed client's latest offset is the
 * LSO, and its fetches end there; a read_uncommitted client's are the high
 * watermark.
 *
 * @module
 */

/** The running fake. */
export interface LsoBroker {
  /** `127.0.0.1:PORT`. */
  readonly bootstrap: string;
  /** The isolation level of each ListOffsets request (0 read_uncommitted, 1 read_committed). */
  readonly isolationLevels: number[];
  /** Stops it. */
  close(): Promise<void>;
}

/** The last stable offset: the open transaction's first. */
export const LSO = 4;
/** The high watermark. */
export const HIGH = 6;

const API_PRODUCE = 0;
const API_FETCH = 1;
const API_LIST_OFFSETS = 2;
const API_METADATA = 3;
const API_VERSIONS = 18;

class Out {
  bytes: number[] = [];
  i8(v: number): this {
    this.bytes.push(v & 0xff);
    return this;
  }
  i16(v: number): this {
    return this.i8(v >> 8).i8(v);
  }
  i32(v: number): this {
    return this.i16(v >> 16).i16(v);
  }
  i64(v: number): this {
    return this.i32(Math.floor(v / 2 ** 32)).i32(v >>> 0);
  }
  uvarint(v: number): this {
    while (v >= 0x80) {
      this.i8((v & 0x7f) | 0x80);
      v >>>= 7;
    }
    return this.i8(v);
  }
  /** A signed varint (zigzag), as records write their fields. */
  varint(v: number): this {
    return this.uvarint(v >= 0 ? v * 2 : -v * 2 - 1);
  }
  raw(b: ArrayLike<number>): this {
    for (let i = 0; i < b.length; i++) this.bytes.push(b[i]!);
    return this;
  }
  str(s: string): this {
    const b = new TextEncoder().encode(s);
    return this.i16(b.length).raw(b);
  }
}

const TRANSACTIONAL = 0x10;
const CONTROL = 0x20;

/** A record batch (magic 2; librdkafka checks no CRC unless `check.crcs`). */
function batch(
  base: number,
  attributes: number,
  producerId: number,
  records: { key: number[] | null; value: number[] }[],
): number[] {
  const body = new Out().i32(0).i8(2).i32(0); // leader epoch, magic, crc
  body.i16(attributes).i32(records.length - 1).i64(0).i64(0);
  body.i64(producerId).i16(0).i32(-1).i32(records.length);
  records.forEach((r, i) => {
    const rec = new Out().i8(0).varint(0).varint(i); // attributes, timestamp and offset deltas
    if (r.key === null) rec.varint(-1);
    else rec.varint(r.key.length).raw(r.key);
    rec.varint(r.value.length).raw(r.value).varint(0); // no headers
    body.varint(rec.bytes.length).raw(rec.bytes);
  });
  return new Out().i64(base).i32(body.bytes.length).raw(body.bytes).bytes;
}

const text = (s: string) => [...new TextEncoder().encode(s)];

/** The partition's batches: first offset, the offset after, bytes. */
const BATCHES: { from: number; to: number; bytes: number[] }[] = [
  {
    from: 0,
    to: 3,
    bytes: batch(
      0,
      TRANSACTIONAL,
      7,
      ["c0", "c1", "c2"].map((v) => ({ key: null, value: text(v) })),
    ),
  },
  // Control record: key (version 0, type 1 = commit), value (version 0, coordinator epoch 0).
  {
    from: 3,
    to: 4,
    bytes: batch(3, TRANSACTIONAL | CONTROL, 7, [{ key: [0, 0, 0, 1], value: [0, 0, 0, 0, 0, 0] }]),
  },
  {
    from: 4,
    to: 6,
    bytes: batch(4, TRANSACTIONAL, 8, ["o0", "o1"].map((v) => ({ key: null, value: text(v) }))),
  },
];

/** Starts the fake with topic `topic` of one partition (see the module doc). */
export function startLsoBroker(topic: string): LsoBroker {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const isolationLevels: number[] = [];
  const conns = new Set<Deno.Conn>();

  const answer = async (req: DataView): Promise<Uint8Array | undefined> => {
    const api = req.getInt16(0);
    const version = req.getInt16(2);
    const out = new Out().i32(req.getInt32(4)); // response header: the correlation id
    if (api === API_VERSIONS) {
      // v3 (flexible: compact array, tagged fields), as librdkafka asks first.
      out.i16(0);
      // Produce v3 is never answered: with Fetch v4 it marks message format v2, which
      // librdkafka needs to send Fetch v4 (the first with an isolation level).
      const apis = [
        [API_PRODUCE, 3],
        [API_FETCH, 4],
        [API_LIST_OFFSETS, 2],
        [API_METADATA, 1],
        [API_VERSIONS, 3],
      ];
      out.uvarint(apis.length + 1);
      for (const [key, max] of apis) {
        out.i16(key!).i16(0).i16(max!).uvarint(0);
      }
      out.i32(0).uvarint(0);
      if (version < 3) return undefined;
    } else if (api === API_METADATA) {
      out.i32(1).i32(1).str("127.0.0.1").i32(port).i16(-1); // brokers: 1, no rack
      out.i32(1); // controller
      out.i32(1).i16(0).str(topic).i8(0); // one topic, not internal
      out.i32(1).i16(0).i32(0).i32(1).i32(1).i32(1).i32(1).i32(1); // partition 0, leader 1
    } else if (api === API_LIST_OFFSETS && version >= 2) {
      let at = 8;
      at += 2 + req.getInt16(at); // client id
      at += 4; // replica id
      const isolation = req.getInt8(at++);
      isolationLevels.push(isolation);
      const topics = req.getInt32(at);
      at += 4;
      out.i32(0).i32(topics);
      for (let t = 0; t < topics; t++) {
        const len = req.getInt16(at);
        const name = new TextDecoder().decode(
          new Uint8Array(req.buffer, req.byteOffset + at + 2, len),
        );
        at += 2 + len;
        const parts = req.getInt32(at);
        at += 4;
        out.str(name).i32(parts);
        for (let p = 0; p < parts; p++) {
          const partition = req.getInt32(at);
          const ts = Number(req.getBigInt64(at + 4));
          at += 12;
          // -2 earliest, -1 latest: a read_committed client's latest is the LSO.
          const offset = ts === -2 ? 0 : isolation === 1 ? LSO : HIGH;
          out.i32(partition).i16(0).i64(-1).i64(offset);
        }
      }
    } else if (api === API_FETCH && version >= 4) {
      let at = 8;
      at += 2 + req.getInt16(at); // client id
      const maxWaitMs = req.getInt32(at + 4);
      at += 16; // replica id, max wait, min bytes, max bytes
      const isolation = req.getInt8(at++);
      const end = isolation === 1 ? LSO : HIGH;
      const topics = req.getInt32(at);
      at += 4;
      out.i32(0).i32(topics);
      let empty = true;
      for (let t = 0; t < topics; t++) {
        const len = req.getInt16(at);
        out.i16(len).raw(new Uint8Array(req.buffer, req.byteOffset + at + 2, len));
        at += 2 + len;
        const parts = req.getInt32(at);
        at += 4;
        out.i32(parts);
        for (let p = 0; p < parts; p++) {
          const partition = req.getInt32(at);
          const from = Number(req.getBigInt64(at + 4));
          at += 16;
          // A read_committed fetch ends at the LSO: the open transaction is held back.
          const records = BATCHES.filter((b) => b.to > from && b.to <= end).flatMap((b) => b.bytes);
          if (records.length > 0) empty = false;
          out.i32(partition).i16(0).i64(HIGH).i64(LSO).i32(0); // no aborted transactions
          out.i32(records.length).raw(records);
        }
      }
      // A broker holds a fetch with nothing new for up to its max wait.
      if (empty) await new Promise((r) => setTimeout(r, Math.min(maxWaitMs, 100)));
    } else return undefined; // not needed to read the partition: left unanswered
    return new Uint8Array(out.bytes);
  };

  const serve = async (conn: Deno.Conn) => {
    conns.add(conn);
    let buf = new Uint8Array(0);
    const chunk = new Uint8Array(65536);
    try {
      for (;;) {
        const n = await conn.read(chunk);
        if (n === null) return;
        const next = new Uint8Array(buf.length + n);
        next.set(buf);
        next.set(chunk.subarray(0, n), buf.length);
        buf = next;
        while (buf.length >= 4) {
          const size = new DataView(buf.buffer, buf.byteOffset).getInt32(0);
          if (buf.length < 4 + size) break;
          const reply = await answer(new DataView(buf.buffer, buf.byteOffset + 4, size));
          buf = buf.slice(4 + size);
          if (reply === undefined) continue;
          const framed = new Uint8Array(4 + reply.length);
          new DataView(framed.buffer).setInt32(0, reply.length);
          framed.set(reply, 4);
          for (let w = 0; w < framed.length;) w += await conn.write(framed.subarray(w));
        }
      }
    } catch {
      // The client went away, or the fake was closed.
    } finally {
      conns.delete(conn);
    }
  };

  const accepting = (async () => {
    try {
      for await (const conn of listener) void serve(conn);
    } catch {
      // Closed.
    }
  })();

  return {
    bootstrap: `127.0.0.1:${port}`,
    isolationLevels,
    async close() {
      listener.close();
      for (const c of conns) c.close();
      await accepting;
    },
  };
}
