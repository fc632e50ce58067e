import assert from "node:assert/strict";
import { FileSource, type FileSourceEncoding } from "./file_source.ts";
import { isSplitReader, type PollStatus, type SourceReader, type SplitReader } from "./source.ts";
import type { FileSplit } from "./_file_split_enumerator.ts";
import { basename } from "node:path";
import { ConfigError, JobFailedError, SerializationError } from "../errors.ts";
import { StreamEnvironment } from "../dataflow/environment.ts";
import { CollectSink } from "./collect_sink.ts";
import { jobClientRuntime } from "../admin/runtime.ts";
import { renderMetrics } from "../admin/metrics.ts";

function reader(path: string, i = 0, p = 1, chunkBytes?: number): SourceReader<string> {
  return new FileSource({ path, chunkBytes }).createReader({
    subtaskIndex: i,
    parallelism: p,
    now: () => 0,
  });
}

function drain(r: SourceReader<string>, max = 3): string[] {
  const out: string[] = [];
  let status: PollStatus;
  do status = r.poll({ collect: (v) => out.push(v) }, max) as PollStatus; while (status === "more");
  assert.equal(status, "end");
  return out;
}

async function withFile(content: string | Uint8Array, fn: (path: string) => void | Promise<void>) {
  const path = await Deno.makeTempFile({ suffix: ".txt" });
  try {
    if (typeof content === "string") await Deno.writeTextFile(path, content);
    else await Deno.writeFile(path, content);
    await fn(path);
  } finally {
    await Deno.remove(path);
  }
}

/** Reads the whole file at every chunk size given and with a few batch sizes. */
function readAll(path: string, chunk: number, max = 3): string[] {
  const r = reader(path, 0, 1, chunk);
  try {
    return drain(r, max);
  } finally {
    r.close?.();
  }
}

const CASES: [string, string, string[]][] = [
  ["LF", "a\nbb\nccc\n", ["a", "bb", "ccc"]],
  ["CRLF", "a\r\nbb\r\n\r\nccc\r\n", ["a", "bb", "", "ccc"]],
  ["no trailing newline", "a\nlast", ["a", "last"]],
  ["empty lines", "\n\nx\n\n", ["", "", "x", ""]],
  ["empty file", "", []],
  ["only a newline", "\n", [""]],
  ["lone CR kept inside a line", "a\rb\nc\r", ["a\rb", "c\r"]],
  ["BOM stripped at the start only", "\uFEFFa\n\uFEFFb\n", ["a", "\uFEFFb"]],
  ["unicode", "grüße\n日本語\n🙂🙃\n", ["grüße", "日本語", "🙂🙃"]],
];

Deno.test("FileSource splits lines: LF, CRLF, no trailing newline, empty, unicode", async () => {
  for (const [name, content, expected] of CASES) {
    await withFile(content, (path) => {
      // Chunk sizes 1..5 split multi-byte characters and CRLF across reads.
      for (const chunk of [1, 2, 3, 5, 1 << 20]) {
        for (const max of [1, 2, 100]) {
          assert.deepEqual(
            readAll(path, chunk, max),
            expected,
            `${name}, chunk ${chunk}, max ${max}`,
          );
        }
      }
    });
  }
});

Deno.test("FileSource reads lines longer than the chunk (the buffer grows)", async () => {
  const long = "é".repeat(5000);
  await withFile(`${long}\nshort\n${long}x`, (path) => {
    assert.deepEqual(readAll(path, 7), [long, "short", long + "x"]);
  });
});

/** A deterministic PRNG for the property test. */
function mulberry32(seed: number): () => number {
  let s = seed | 0;
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

Deno.test("FileSource splits: every line is read exactly once at parallelism 1..4", async () => {
  const alphabet = ["a", "b", "ü", "€", "🙂", " "];
  for (let seed = 1; seed <= 12; seed++) {
    const random = mulberry32(seed);
    const n = Math.floor(random() * 40);
    const lines = Array.from({ length: n }, (_, i) => {
      const len = random() < 0.2 ? 0 : Math.floor(random() * 30);
      let s = `${i}:`;
      for (let j = 0; j < len; j++) s += alphabet[Math.floor(random() * alphabet.length)];
      return i === 0 && random() < 0.3 ? "" : s;
    });
    const crlf = random() < 0.3;
    const trailing = random() < 0.5;
    const content = lines.join(crlf ? "\r\n" : "\n") + (trailing && n > 0 ? "\n" : "");
    // Without a trailing newline, an empty last line does not exist.
    const expected = !trailing && lines.at(-1) === "" ? lines.slice(0, -1) : lines;
    await withFile(content, (path) => {
      for (let p = 1; p <= 4; p++) {
        const chunk = 1 + Math.floor(random() * 16);
        const parts = Array.from({ length: p }, (_, i) => {
          const r = reader(path, i, p, chunk);
          try {
            return drain(r, 1 + Math.floor(random() * 5));
          } finally {
            r.close?.();
          }
        });
        assert.deepEqual(parts.flat(), expected, `seed ${seed}, p ${p}, chunk ${chunk}`);
      }
    });
  }
});

Deno.test("FileSource splits put a line at a range start in that range", async () => {
  // 10 bytes, p = 2: ranges [0,5) and [5,10); "bbbb" starts exactly at 5.
  await withFile("aaaa\nbbbb\n", (path) => {
    assert.deepEqual(drain(reader(path, 0, 2)), ["aaaa"]);
    assert.deepEqual(drain(reader(path, 1, 2)), ["bbbb"]);
  });
  // More subtasks than bytes: empty ranges read nothing.
  await withFile("ab\n", (path) => {
    const parts = [0, 1, 2, 3, 4].map((i) => drain(reader(path, i, 5)));
    assert.deepEqual(parts.flat(), ["ab"]);
  });
});

/** The split state of reader `r` (a single file's reader is a split reader). */
function splitsOf(r: SourceReader<unknown>): FileSplit[] {
  assert.ok(isSplitReader(r));
  return JSON.parse(JSON.stringify(r.snapshotSplits(1)));
}

Deno.test("FileSource's state is each subtask's split with its next line's byte offset; restoring the splits resumes there, at any parallelism", async () => {
  const lines = Array.from({ length: 50 }, (_, i) => `line ${i} ${"ß".repeat(i % 7)}`);
  await withFile(lines.join("\r\n"), (path) => {
    const size = Deno.statSync(path).size;
    for (let p = 1; p <= 3; p++) {
      const full = Array.from({ length: p }, (_, i) => drain(reader(path, i, p, 8)));
      assert.deepEqual(full.flat(), lines, `p ${p}: every line once`);
      const heads: string[][] = [];
      const saved: FileSplit[] = [];
      for (let i = 0; i < p; i++) {
        const first = reader(path, i, p, 8);
        const head: string[] = [];
        first.poll({ collect: (l) => head.push(l) }, 5);
        const [split] = splitsOf(first);
        first.close?.();
        const bytes = new TextEncoder().encode(
          lines.slice(0, lines.indexOf(head.at(-1)!) + 1).map((l) => l + "\r\n").join(""),
        );
        assert.deepEqual(split, {
          file: basename(path),
          start: Math.floor(size * i / p),
          end: Math.floor(size * (i + 1) / p),
          offset: bytes.length,
        }, "offset right after the last line read");
        heads.push(head);
        saved.push(split!);
        // A checkpoint of a weir that kept one position per subtask resumes there too.
        const legacy = reader(path, i, p, 8);
        legacy.restore(split!.offset);
        assert.deepEqual([...head, ...drain(legacy)], full[i], `p ${p}, subtask ${i}`);
        legacy.close?.();
      }
      // Every subtask's splits, restored at each parallelism: each line once.
      for (let q = 1; q <= 4; q++) {
        const rest = Array.from({ length: q }, (_, i) => {
          const r = reader(path, i, q, 8) as SplitReader<string>;
          r.restoreSplits(structuredClone(saved));
          return drain(r);
        });
        assert.deepEqual(
          [...heads.flat(), ...rest.flat()].toSorted(),
          lines.toSorted(),
          `p ${p} restored at ${q}`,
        );
      }
    }
    const r = reader(path);
    assert.throws(() => r.restore(-1), ConfigError);
    assert.throws(() => r.restore("7"), ConfigError);
    const other = reader(path) as SplitReader<string>;
    assert.throws(
      () => other.restoreSplits([{ file: "other.txt", start: 0, end: 5, offset: 0 }]),
      /checkpoint has a split of "other.txt"/,
    );
    // A split that is not one names the file (not a "directory").
    assert.throws(
      () => other.restoreSplits([{ file: path, start: "0" }]),
      (e: unknown) =>
        e instanceof ConfigError && e.message.includes(`cannot resume "${path}"`) &&
        !e.message.includes("directory"),
    );
    r.close?.();
  });
});

Deno.test("FileSource refuses to resume a file that got shorter than its checkpoint knew (truncated or replaced)", async () => {
  await withFile("one\ntwo\nthree\nfour\n", (path) => {
    const first = reader(path, 0, 1, 8);
    first.poll({ collect: () => {} }, 2);
    const saved = splitsOf(first);
    first.close?.();
    assert.deepEqual(saved.map((s) => [s.offset, s.end]), [[8, 19]]);
    Deno.truncateSync(path, 12); // "one\ntwo\nthre": shorter than the split
    const shorter = reader(path) as SplitReader<string>;
    shorter.restoreSplits(structuredClone(saved));
    assert.throws(
      () => drain(shorter),
      (e: unknown) =>
        e instanceof ConfigError &&
        e.message.includes(
          `FileSource cannot read "${path}" from where it was: the file has 12 `,
        ) &&
        e.message.includes("fewer than the 19 it had (it was truncated or replaced since)"),
    );
    shorter.close?.();
    // A checkpoint position past the end (a weir that kept one position per subtask).
    Deno.truncateSync(path, 4);
    const legacy = reader(path);
    assert.throws(() => legacy.restore(8), /the file has 4 bytes now, fewer than the 8 it had/);
    legacy.close?.();
  });
});

Deno.test("FileSource fails on a file truncated while it is read, rather than emit a cut or empty line", async () => {
  for (const [cut, left] of [[12, "thre"], [8, ""], [2, ""]] as const) {
    await withFile("one\ntwo\nthree\nfour\n", (path) => {
      const r = reader(path, 0, 1, 4);
      const out: string[] = [];
      assert.equal(r.poll({ collect: (v) => out.push(v) }, 1), "more");
      assert.deepEqual(out, ["one"]);
      Deno.truncateSync(path, cut);
      assert.throws(
        () => {
          for (let i = 0; i < 10; i++) r.poll({ collect: (v) => out.push(v) }, 1);
        },
        (e: unknown) =>
          e instanceof ConfigError &&
          e.message.includes(`fewer than the 19 it had (it was truncated or replaced since)`),
        `truncated to ${cut} bytes ("${left}" left of the next lines)`,
      );
      // Whole lines before the cut were read; nothing after it.
      assert.ok(out.every((line) => ["one", "two"].includes(line)), JSON.stringify(out));
      r.close?.();
    });
  }
});

Deno.test("FileSource reports a missing file and a bad chunk size as ConfigError", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/nope.txt`;
    assert.throws(
      () => reader(path),
      (e: Error) => e instanceof ConfigError && e.message.includes(path),
    );
    assert.throws(() => reader("/dev/null"), /not a regular file or a directory/);
    assert.throws(() => new FileSource({ path, chunkBytes: 0 }), ConfigError);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("StreamEnvironment.readTextFile runs a parallel job end to end", async () => {
  const lines = Array.from({ length: 2000 }, (_, i) => `${i} ${"x".repeat(i % 13)}`);
  await withFile(lines.join("\n") + "\n", async (path) => {
    const env = StreamEnvironment.create({ parallelism: 3 });
    const out = new CollectSink<string>();
    env.readTextFile(path, { chunkBytes: 4096 }).map((l) => l.toUpperCase()).addSink(out);
    await env.execute("read file");
    assert.deepEqual(out.values.sort(), lines.map((l) => l.toUpperCase()).sort());
  });
});

Deno.test("A job on a missing file fails with a ConfigError naming the path", async () => {
  const path = `${await Deno.makeTempDir()}/missing.txt`;
  const env = StreamEnvironment.create();
  env.readTextFile(path).addSink(new CollectSink<string>());
  // Before the first attempt: a restart could not make the file appear.
  await assert.rejects(
    env.execute("missing"),
    (e: Error) => e instanceof ConfigError && e.message.includes(path),
  );
  await Deno.remove(path.slice(0, path.lastIndexOf("/")));
});

/** A reader of `path` in `encoding` that logs into `log`. */
function encodedReader<T extends string | Uint8Array>(
  path: string,
  encoding: FileSourceEncoding,
  opts: { chunk?: number; i?: number; p?: number; log?: string[] } = {},
): SourceReader<T> {
  return new FileSource<T>({ path, chunkBytes: opts.chunk, encoding }).createReader({
    subtaskIndex: opts.i ?? 0,
    parallelism: opts.p ?? 1,
    now: () => 0,
    log: (line) => opts.log?.push(line),
  });
}

function drainAny<T>(r: SourceReader<T>, max = 3): T[] {
  const out: T[] = [];
  let status: PollStatus;
  do status = r.poll({ collect: (v) => out.push(v) }, max) as PollStatus; while (status === "more");
  r.close?.();
  return out;
}

const bytesOf = (...parts: (string | number[])[]) =>
  new Uint8Array(
    parts.flatMap((p) => typeof p === "string" ? [...new TextEncoder().encode(p)] : p),
  );

// Line 1 valid; line 2 "caf" + E9 (Latin-1 é: a lone lead byte); line 3 a literal U+FFFD (valid);
// line 4 "caf" + E8; line 5 FF FE (two invalid bytes) in CRLF; line 6 has no newline.
const MIXED = bytesOf(
  "plain words\n",
  "caf",
  [0xe9],
  " ok\n",
  "real \uFFFD char\n",
  "caf",
  [0xe8],
  "\n",
  [0xff, 0xfe],
  "\r\n",
  "end",
);

Deno.test("FileSource utf-8 (default) replaces invalid sequences, counts them, warns once", async () => {
  await withFile(MIXED, (path) => {
    for (const chunk of [1, 3, 7, 1 << 20]) {
      for (const max of [1, 2, 100]) {
        const log: string[] = [];
        const r = encodedReader<string>(path, "utf-8", { chunk, log });
        const lines = drainAny(r, max);
        assert.deepEqual(lines, [
          "plain words",
          "caf\uFFFD ok",
          "real \uFFFD char",
          "caf\uFFFD",
          "\uFFFD\uFFFD",
          "end",
        ]);
        // E9, E8, FF, FE: the file's own U+FFFD is not a replacement.
        assert.deepEqual(r.counters?.(), { replaced_utf8_sequences: 4 }, `chunk ${chunk}`);
        assert.equal(log.length, 1, `one warning line (chunk ${chunk}, max ${max})`);
        assert.match(log[0]!, new RegExp(`"${path}": invalid UTF-8 at line 2 was replaced`));
        assert.match(log[0]!, /utf-8-fatal/);
      }
    }
  });
  // Valid input: no warning, a zero count.
  await withFile("a\nb\uFFFD\n", (path) => {
    const log: string[] = [];
    const r = encodedReader<string>(path, "utf-8", { log });
    assert.deepEqual(drainAny(r), ["a", "b\uFFFD"]);
    assert.deepEqual(r.counters?.(), { replaced_utf8_sequences: 0 });
    assert.deepEqual(log, []);
  });
});

Deno.test("FileSource utf-8-fatal fails with the file and line number", async () => {
  await withFile(MIXED, (path) => {
    for (const chunk of [1, 4, 1 << 20]) {
      assert.throws(
        () => drainAny(encodedReader<string>(path, "utf-8-fatal", { chunk }), 1),
        (e: unknown) =>
          e instanceof SerializationError && e.message.includes(`"${path}"`) &&
          /invalid UTF-8 at line 2 \(the line starts at byte 12\)/.test(e.message),
      );
    }
    // Restored past line 2, and the second of two subtasks: the line number still counts
    // from the file's start.
    const r = encodedReader<string>(path, "utf-8-fatal");
    const third = bytesOf("plain words\n", "caf", [0xe9], " ok\n").length;
    r.restore(third);
    assert.throws(() => drainAny(r), /invalid UTF-8 at line 4 /);
    const second = encodedReader<string>(path, "utf-8-fatal", { i: 1, p: 2 });
    assert.throws(() => drainAny(second), /invalid UTF-8 at line 4 /);
  });
  await withFile("\uFEFFvalid\nlines\n", (path) => {
    assert.deepEqual(drainAny(encodedReader<string>(path, "utf-8-fatal")), ["valid", "lines"]);
  });
});

Deno.test("FileSource latin1 reads each byte as its own character", async () => {
  await withFile(MIXED, (path) => {
    const log: string[] = [];
    const r = encodedReader<string>(path, "latin1", { chunk: 5, log });
    assert.deepEqual(drainAny(r, 2), [
      "plain words",
      "caf\u00e9 ok",
      "real \u00ef\u00bf\u00bd char",
      "caf\u00e8",
      "\u00ff\u00fe",
      "end",
    ]);
    assert.deepEqual(log, []);
  });
  // ISO-8859-1, not windows-1252: 0x80 is U+0080, not "€".
  await withFile(new Uint8Array([0x80, 0x9f, 0x0a]), (path) => {
    assert.deepEqual(drainAny(encodedReader<string>(path, "latin1")), ["\u0080\u009f"]);
  });
});

Deno.test("FileSource bytes emits each line's bytes as a Uint8Array", async () => {
  await withFile(MIXED, (path) => {
    for (const chunk of [1, 6, 1 << 20]) {
      const lines = drainAny(encodedReader<Uint8Array>(path, "bytes", { chunk }), 2);
      assert.ok(lines.every((l) => l instanceof Uint8Array));
      assert.deepEqual(lines.map((l) => [...l]), [
        [...bytesOf("plain words")],
        [...bytesOf("caf", [0xe9], " ok")],
        [...bytesOf("real \uFFFD char")],
        [...bytesOf("caf", [0xe8])],
        [0xff, 0xfe],
        [...bytesOf("end")],
      ], `chunk ${chunk}`);
    }
  });
  // Records are copies: reading on does not change a line already emitted.
  await withFile("ab\ncd\n", (path) => {
    const got = drainAny(encodedReader<Uint8Array>(path, "bytes", { chunk: 3 }), 1);
    assert.deepEqual(got.map((l) => new TextDecoder().decode(l)), ["ab", "cd"]);
  });
});

Deno.test("FileSource bytes keeps empty lines, also one that ends a batch", async () => {
  await withFile("\n\na\n\r\n\nb\n\n", (path) => {
    for (const chunk of [1, 3, 1 << 20]) {
      for (const max of [1, 2, 3, 100]) {
        const lines = drainAny(encodedReader<Uint8Array>(path, "bytes", { chunk }), max);
        assert.deepEqual(
          lines.map((l) => new TextDecoder().decode(l)),
          ["", "", "a", "", "", "b", ""],
          `chunk ${chunk}, ${max} per poll`,
        );
      }
    }
  });
});

Deno.test("FileSource restores mid-file in every encoding: the rest is read exactly once", async () => {
  const lines = Array.from({ length: 40 }, (_, i) => bytesOf(`${i} `, i % 3 ? [0xe9, 0x41] : "ok"));
  const crlf = (l: Uint8Array) => [...l, 0x0d, 0x0a];
  const content = new Uint8Array(lines.flatMap(crlf));
  const encodings: FileSourceEncoding[] = ["utf-8", "latin1", "bytes"];
  await withFile(content, (path) => {
    for (const encoding of encodings) {
      for (let p = 1; p <= 3; p++) {
        for (let i = 0; i < p; i++) {
          const key = (v: unknown) => v instanceof Uint8Array ? [...v].join(",") : String(v);
          const full = drainAny(encodedReader(path, encoding, { chunk: 8, i, p })).map(key);
          const first = encodedReader(path, encoding, { chunk: 8, i, p });
          const head: string[] = [];
          first.poll({ collect: (l) => head.push(key(l)) }, 4);
          const saved = splitsOf(first);
          first.close?.();
          // Restored alone at parallelism 1: this split only.
          const resumed = encodedReader(path, encoding, { chunk: 8 }) as SplitReader<unknown>;
          resumed.restoreSplits(saved);
          const rest = drainAny(resumed).map(key);
          assert.deepEqual([...head, ...rest], full, `${encoding}, p ${p}, subtask ${i}`);
        }
      }
    }
    // utf-8-fatal restored past every invalid line reads on.
    const firstBad = content.indexOf(0xe9);
    const lastInvalid = lines.length - 1 - [...lines].reverse().findIndex((l) => l.includes(0xe9));
    const from = lines.slice(0, lastInvalid + 1).reduce((n, l) => n + l.length + 2, 0);
    assert.ok(firstBad < from);
    const r = encodedReader<string>(path, "utf-8-fatal");
    r.restore(from);
    assert.deepEqual(
      drainAny(r),
      lines.slice(lastInvalid + 1).map((l) => new TextDecoder().decode(l)),
    );
  });
});

Deno.test("A job counts replaced sequences in /metrics and logs one warning per reader", async () => {
  await withFile(MIXED, async (path) => {
    const log: string[] = [];
    const env = StreamEnvironment.create({ log: (l) => log.push(l) });
    const out = new CollectSink<string>();
    env.readTextFile(path).uid("lines").addSink(out);
    const client = env.executeAsync("replacements");
    await client.done;
    assert.equal(out.values.length, 6);
    assert.equal(log.filter((l) => l.includes("invalid UTF-8")).length, 1);
    assert.match(
      renderMetrics(jobClientRuntime(client)),
      /^weir_source_replaced_utf8_sequences_total\{[^}]*operator_uid="lines"[^}]*\} 4$/m,
    );

    const fatal = StreamEnvironment.create({ log: () => {} });
    fatal.readTextFile(path, { encoding: "utf-8-fatal" }).addSink(new CollectSink());
    await assert.rejects(
      fatal.execute("fatal"),
      (e: unknown) =>
        e instanceof JobFailedError && e.cause instanceof SerializationError &&
        /line 2/.test(e.message),
    );
  });
  assert.throws(
    () => new FileSource({ path: "x", encoding: "ascii" as FileSourceEncoding }),
    (e: unknown) => e instanceof ConfigError && /utf-8, utf-8-fatal, latin1, bytes/.test(e.message),
  );
});

Deno.test('readTextFile takes a file: URL, as Flink\'s readTextFile("file:///path"), and refuses other URLs with a ConfigError', async () => {
  await withFile("one\ntwo\n", async (path) => {
    const env = StreamEnvironment.create();
    const sink = new CollectSink<string>();
    env.readTextFile(new URL(`file://${path}`).href).addSink(sink);
    await env.execute("file url");
    assert.deepEqual(sink.values, ["one", "two"]);
    assert.equal(new FileSource({ path: `file:${path}` }).path, path);
  });
  assert.throws(
    () => new FileSource({ path: "hdfs://namenode/in.txt" }),
    (e) =>
      e instanceof ConfigError &&
      /local files only: path "hdfs:\/\/namenode\/in.txt"/.test(e.message),
  );
  assert.throws(
    () => new FileSource({ path: "file://otherhost/in.txt" }),
    (e) => e instanceof ConfigError && /no local file URL/.test(e.message),
  );
});
