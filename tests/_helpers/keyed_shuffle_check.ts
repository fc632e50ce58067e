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
  for (const line of text.split("\n")) {
    const parts = line.trim().split(/\s+/);
    if (parts.length !== 2) continue;
    const list = events.get(parts[0]!) ?? [];
    list.push(Number(parts[1]));
    events.set(parts[0]!, list);
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
  const x = [...a].sort((p, q) => p - q), y = [...b].sort((p, q) => p - q);
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
  const seen = new Map<string, Map<number, number[]>>();
  const problems: string[] = [];
  for (const l of committedLines(outDir)) {
    const [user, nRaw, sumRaw, ...rest] = l.split("\t");
    const n = Number(nRaw), sum = Number(sumRaw);
    if (rest.length || !user || !Number.isInteger(n) || n < 1 || !Number.isFinite(sum)) {
      problems.push(`malformed line ${JSON.stringify(l)}`);
      continue;
    }
    const byN = seen.get(user) ?? new Map<number, number[]>();
    seen.set(user, byN);
    const sums = byN.get(n) ?? [];
    sums.push(sum);
    byN.set(n, sums);
  }
  for (const [user, amounts] of expected) {
    const byN = seen.get(user) ?? new Map<number, number[]>();
    seen.delete(user);
    const top = Math.max(0, ...byN.keys());
    const diffs: number[] = [];
    let prev = 0;
    let complete = true;
    for (let n = 1; n <= Math.max(top, amounts.length); n++) {
      const sums = byN.get(n);
      if (!sums) {
        problems.push(`missing ${user}\t${n}`);
        complete = false;
        continue;
      }
      if (sums.length > 1) {
        problems.push(`${user}\t${n} appears ${sums.length} times (sums ${sums})`);
      }
      diffs.push(sums[0]! - prev);
      prev = sums[0]!;
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
