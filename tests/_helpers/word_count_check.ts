/**
 * Checks word_count's exactly-once contract over committed output files.
 *
 * @module
 */
import { rng } from "./queue_source.ts";

/** Word occurrence counts of a text. */
export function countWords(text: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const w of text.split(/\s+/)) if (w !== "") counts.set(w, (counts.get(w) ?? 0) + 1);
  return counts;
}

/** Every committed line (`DIR/part-*`), in no particular order. */
export function committedLines(dir: string): string[] {
  const lines: string[] = [];
  for (const e of Deno.readDirSync(dir)) {
    if (!e.isFile || !e.name.startsWith("part-")) continue;
    const text = Deno.readTextFileSync(`${dir}/${e.name}`);
    for (const l of text.split("\n")) if (l !== "") lines.push(l);
  }
  return lines;
}

/**
 * Problems with the output of word_count over `input`: with `exact`, every
 * word `w` seen `n` times must appear as exactly `w\t1` … `w\tn`, each once;
 * otherwise (at-least-once) each of those lines at least once. With
 * `parallel` (counting subtasks read more than one input channel), counts
 * above `n` may appear at-least-once too: unaligned barriers let a count
 * include records the restore then replays (Flink's at-least-once: state may
 * see a record twice).
 */
export function checkWordCount(
  input: string,
  outDir: string,
  exact: boolean,
  parallel = false,
): string[] {
  return checkWordCountLines(input, committedLines(outDir), exact, false, parallel);
}

/**
 * {@linkcode checkWordCount} over output lines from anywhere (a Kafka topic);
 * with `extraAllowed`, lines beyond the expected ones are not problems.
 */
export function checkWordCountLines(
  input: string,
  lines: string[],
  exact: boolean,
  extraAllowed = false,
  parallel = false,
): string[] {
  const expected = countWords(input);
  // Lines `w\tc` by word, each count's lines in `byCount[c]` (a map keyed by whole lines cost
  // seconds at a million lines); other lines, or counts far beyond the word's, in `other`.
  const byWord = new Map<string, number[]>();
  const other = new Map<string, number>();
  for (const l of lines) {
    const tab = l.lastIndexOf("\t");
    const c = tab < 0 ? 0 : positiveInteger(l, tab + 1);
    const w = l.slice(0, tab);
    if (c === 0 || c > 4 * (expected.get(w) ?? 0) + 1024) {
      other.set(l, (other.get(l) ?? 0) + 1);
      continue;
    }
    let byCount = byWord.get(w);
    if (byCount === undefined) byWord.set(w, byCount = []);
    while (byCount.length <= c) byCount.push(0);
    byCount[c]!++;
  }
  const problems: string[] = [];
  for (const [w, n] of expected) {
    const byCount = byWord.get(w) ?? [];
    for (let i = 1; i <= n; i++) {
      const c = byCount[i] ?? 0;
      if (c === 0) problems.push(`missing ${w}\t${i}`);
      else if (exact && c > 1) problems.push(`${w}\t${i} appears ${c} times`);
      if (i < byCount.length) byCount[i] = 0;
    }
  }
  if (extraAllowed) return truncated(problems);
  const left = [...other.keys()];
  for (const [w, byCount] of byWord) {
    byCount.forEach((c, i) => c > 0 && left.push(`${w}\t${i}`));
  }
  for (const l of left) {
    const tab = l.lastIndexOf("\t");
    const n = expected.get(l.slice(0, tab));
    const count = Number(l.slice(tab + 1));
    if (!exact && parallel && n !== undefined && Number.isInteger(count) && count > n) continue;
    problems.push(`unexpected line ${JSON.stringify(l)}`);
  }
  return truncated(problems);
}

/** The decimal integer >= 1 that `text` holds from `from` on, without leading zeros; else 0. */
function positiveInteger(text: string, from: number): number {
  if (from >= text.length || text.charCodeAt(from) === 48) return 0;
  let n = 0;
  for (let i = from; i < text.length; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return 0;
    n = n * 10 + d;
  }
  return n <= Number.MAX_SAFE_INTEGER ? n : 0;
}

/** At most 20 problems and how many there were. */
function truncated(problems: string[]): string[] {
  if (problems.length > 20) return [...problems.slice(0, 20), `... ${problems.length} problems`];
  return problems;
}

/**
 * A deterministic word_count input: `lines` lines of 1–12 words from a
 * skewed vocabulary of `vocabulary` words, from `seed` (mulberry32).
 */
export function makeWordInput(seed: number, lines: number, vocabulary: number): string {
  const next = rng(seed);
  const out: string[] = [];
  for (let i = 0; i < lines; i++) {
    const words: string[] = [];
    const n = 1 + Math.floor(next() * 12);
    for (let j = 0; j < n; j++) words.push(`w${Math.floor(vocabulary * next() ** 2)}`);
    out.push(words.join(" "));
  }
  return out.join("\n") + "\n";
}
