import assert from "node:assert/strict";
import { FileSource } from "./file_source.ts";
import type { PollStatus, SourceReader } from "./source.ts";
import { ConfigError } from "../errors.ts";
import { StreamEnvironment } from "../dataflow/environment.ts";
import { CollectSink } from "./collect_sink.ts";

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

Deno.test("FileSource position is the next line's byte offset; restore resumes there", async () => {
  const lines = Array.from({ length: 50 }, (_, i) => `line ${i} ${"ß".repeat(i % 7)}`);
  await withFile(lines.join("\r\n"), (path) => {
    for (let p = 1; p <= 3; p++) {
      for (let i = 0; i < p; i++) {
        const full = drain(reader(path, i, p, 8));
        const first = reader(path, i, p, 8);
        const head: string[] = [];
        first.poll({ collect: (l) => head.push(l) }, 5);
        const pos = first.position() as number;
        first.close?.();
        const bytes = new TextEncoder().encode(
          lines.slice(0, lines.indexOf(head.at(-1)!) + 1)
            .map((l) => l + "\r\n").join(""),
        );
        assert.equal(pos, bytes.length, "offset right after the last line read");
        const resumed = reader(path, i, p, 8);
        resumed.restore(JSON.parse(JSON.stringify(pos)));
        assert.deepEqual([...head, ...drain(resumed)], full, `p ${p}, subtask ${i}`);
        resumed.close?.();
      }
    }
    const r = reader(path);
    assert.throws(() => r.restore(-1), ConfigError);
    assert.throws(() => r.restore("7"), ConfigError);
    r.close?.();
  });
});

Deno.test("FileSource reports a missing file and a bad chunk size as ConfigError", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/nope.txt`;
    assert.throws(
      () => reader(path),
      (e: Error) => e instanceof ConfigError && e.message.includes(path),
    );
    assert.throws(() => reader(dir), /not a regular file/);
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
