/**
 * Output helpers: aligned tables for people, byte sizes, times.
 *
 * @module
 */

/**
 * Formats rows as a table with aligned columns (numbers right-aligned).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { table } from "./format.ts";
 * const lines = table(["ID", "SIZE"], [["1", "10"], ["12", "7"]]);
 * assert.deepEqual(lines, ["ID  SIZE", " 1    10", "12     7"]);
 * ```
 */
export function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const numeric = header.map((_, i) =>
    rows.length > 0 && rows.every((r) => /^-?[\d.]+( ?[KMGT]?i?B)?$/.test(r[i] ?? ""))
  );
  const line = (cells: string[]) =>
    cells.map((c, i) => {
      const last = i === cells.length - 1;
      if (numeric[i]) return c.padStart(widths[i]!);
      return last ? c : c.padEnd(widths[i]!);
    }).join("  ").trimEnd();
  return [line(header), ...rows.map(line)];
}

/**
 * A byte count for people: `512 B`, `1.5 KiB`, `3.0 MiB`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { bytes } from "./format.ts";
 * assert.equal(bytes(512), "512 B");
 * assert.equal(bytes(1536), "1.5 KiB");
 * ```
 */
export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = n / 1024, u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(1)} ${units[u]}`;
}

/**
 * A time for people: ISO 8601 to the second, UTC.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { time } from "./format.ts";
 * assert.equal(time(0), "1970-01-01 00:00:00Z");
 * ```
 */
export function time(ms: number): string {
  return new Date(ms).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
}
