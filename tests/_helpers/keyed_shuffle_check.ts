/**
 * Checks examples/keyed_shuffle.ts's exactly-once contract over committed
 * output files, and makes its inputs.
 *
 * With two source subtasks the order in which one user's events reach the
 * counting subtask depends on timing, so the running sums are checked
 * order-free: the differences of consecutive sums must be the user's amounts.
 *
 * @module
 */
import { committedLines } from "./word_count_check.ts";
import { rng } from "./queue_source.ts";

/** Amounts per user of a keyed_shuffle input (`user amount` lines). */
export function eventsByUser(text: string): Map<string, number[]> {
  const events = new Map<string, number[]>();
  for (let at = 0; at < text.length;) {
    let end = text.indexOf("\n", at);
    if (end < 0) end = text.length;
    const line = text.slice(at, end);
    at = end + 1;
    // The inputs made here are `user amount`: a regex split per line costs seconds at 1M lines.
    const sp = line.indexOf(" ");
    const parts = sp > 0 && /^\S+ \S+$/.test(line)
      ? [line.slice(0, sp), line.slice(sp + 1)]
      : line.trim().split(/\s+/);
    if (parts.length !== 2) continue;
    const list = events.get(parts[0]!) ?? [];
    if (list.length === 0) events.set(parts[0]!, list);
    list.push(Number(parts[1]));
  }
  return events;
}

/**
 * A deterministic keyed_shuffle input of `lines` events over `users` users,
 * amounts 1..999, from `seed` (mulberry32).
 */
export function makeShuffleInput(seed: number, lines: number, users: number): string {
  const next = rng(seed);
  const out: string[] = [];
  for (let i = 0; i < lines; i++) {
    // Skewed keys: a few hot users and a long tail.
    const u = Math.floor(users * next() ** 2);
    out.push(`u${u} ${1 + Math.floor(next() * 999)}`);
  }
  return out.join("\n") + "\n";
}

function sortedEqual(a: number[], b: number[]): boolean {
  if (a.length !== b.length) return false;
  const x = Float64Array.from(a).sort(), y = Float64Array.from(b).sort();
  return x.every((v, i) => v === y[i]);
}

/** Whether multiset `small` is contained in multiset `big`. */
function contains(big: number[], small: number[]): boolean {
  const counts = new Map<number, number>();
  for (const v of big) counts.set(v, (counts.get(v) ?? 0) + 1);
  for (const v of small) {
    const c = counts.get(v) ?? 0;
    if (c === 0) return false;
    counts.set(v, c - 1);
  }
  return true;
}

/** One user's committed lines: the first sum seen for each n, and the sums of repeated n's. */
interface UserLines {
  /** n → the sum of the first line with that n. */
  first: Map<number, number>;
  /** The largest n seen. */
  top: number;
  /** n → every sum seen for it, only for n's seen more than once. */
  repeated: Map<number, number[]>;
}

/**
 * Problems with the output of keyed_shuffle over `input`. Committed lines
 * are `user\tn\tsum`; per user they must hold each n of 1 … N exactly once
 * (a committed line comes from one consistent run of the state, so an n
 * never repeats), and the differences of consecutive sums, the amounts the
 * state added, are:
 * - with `exact`: exactly the user's amounts (N = the user's event count);
 * - otherwise (at-least-once: replayed events may be counted again): a
 *   superset of the user's amounts, so no event is lost.
 */
export function checkKeyedShuffle(input: string, outDir: string, exact: boolean): string[] {
  const expected = eventsByUser(input);
  const seen = new Map<string, UserLines>();
  const problems: string[] = [];
  for (const l of committedLines(outDir)) {
    const [user, nRaw, sumRaw, ...rest] = l.split("\t");
    const n = Number(nRaw), sum = Number(sumRaw);
    if (rest.length || !user || !Number.isInteger(n) || n < 1 || !Number.isFinite(sum)) {
      problems.push(`malformed line ${JSON.stringify(l)}`);
      continue;
    }
    let u = seen.get(user);
    if (u === undefined) seen.set(user, u = { first: new Map(), top: 0, repeated: new Map() });
    // An array of sums per n cost seconds at 1M lines: repeats are rare, kept apart.
    const was = u.first.get(n);
    if (was === undefined) u.first.set(n, sum);
    else u.repeated.set(n, [...(u.repeated.get(n) ?? [was]), sum]);
    if (n > u.top) u.top = n;
  }
  for (const [user, amounts] of expected) {
    const u = seen.get(user) ?? { first: new Map(), top: 0, repeated: new Map() };
    seen.delete(user);
    const top = u.top;
    const diffs: number[] = [];
    let prev = 0;
    let complete = true;
    for (let n = 1; n <= Math.max(top, amounts.length); n++) {
      const sum = u.first.get(n);
      if (sum === undefined) {
        problems.push(`missing ${user}\t${n}`);
        complete = false;
        continue;
      }
      const sums = u.repeated.get(n);
      if (sums) problems.push(`${user}\t${n} appears ${sums.length} times (sums ${sums})`);
      diffs.push(sum - prev);
      prev = sum;
    }
    if (exact && top > amounts.length) {
      problems.push(`${user} has ${top} lines, but ${amounts.length} events`);
    }
    if (!complete) continue;
    if (exact ? !sortedEqual(diffs, amounts) : !contains(diffs, amounts)) {
      problems.push(`${user}: the running sums do not add up the user's amounts`);
    }
  }
  for (const [user] of seen) problems.push(`unexpected user ${JSON.stringify(user)}`);
  if (problems.length > 20) return [...problems.slice(0, 20), `... ${problems.length} problems`];
  return problems;
}
