/**
 * Bucket assigners of the exactly-once file sink, as Flink's `BucketAssigner`:
 * each record goes to a bucket, a subfolder of the sink's folder, with part
 * files of its own.
 *
 * @module
 */
import { ConfigError } from "../errors.ts";

/**
 * What a {@linkcode BucketAssigner} is told about a record (Flink's `BucketAssigner.Context`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { BucketAssignerContext } from "@weir/weir";
 * const context: BucketAssignerContext = { currentProcessingTime: () => 0, timestamp: () => 7 };
 * assert.ok(context.timestamp() === 7);
 * ```
 */
export interface BucketAssignerContext {
  /**
   * The processing time (ms since the epoch) of the record's batch: the clock is read once per
   * batch, when a record first asks.
   */
  currentProcessingTime(): number;
  /** The record's timestamp, if it has one. */
  timestamp(): number | undefined;
}

/**
 * Chooses the bucket of each record: a folder under the sink's `dir`, as `"2024-05-01"` or
 * `"country=NL/day=1"`; `""` is `dir` itself. A bucket id that is no relative folder path, or
 * that has a part starting with `.` or `_` (where the sink keeps files not committed yet), fails
 * the job with a `ConfigError` naming it.
 *
 * @example Buckets by a field of the record
 * ```ts
 * import assert from "node:assert/strict";
 * import type { BucketAssigner } from "@weir/weir";
 * const byCountry: BucketAssigner<{ country: string }> = {
 *   getBucketId: (r) => `country=${r.country}`,
 * };
 * const context = { currentProcessingTime: () => 0, timestamp: () => undefined };
 * assert.ok(byCountry.getBucketId({ country: "NL" }, context) === "country=NL");
 * ```
 */
export interface BucketAssigner<T> {
  /** The bucket of `value`: a folder path relative to the sink's `dir` (`""`: `dir`). */
  getBucketId(value: T, context: BucketAssignerContext): string;
}

/**
 * Writes every record into the sink's folder itself (Flink's `BasePathBucketAssigner`); the
 * same as giving no bucket assigner.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { BasePathBucketAssigner } from "@weir/weir";
 * const context = { currentProcessingTime: () => 0, timestamp: () => undefined };
 * assert.ok(new BasePathBucketAssigner<string>().getBucketId("a", context) === "");
 * ```
 */
export class BasePathBucketAssigner<T> implements BucketAssigner<T> {
  /** `""`: the sink's folder. */
  getBucketId(_value: T, _context: BucketAssignerContext): string {
    return "";
  }
}

type Field = "y" | "M" | "d" | "H" | "m" | "s" | "S";
type Token = string | { field: Field; width: number };

/** Compiles the `DateTimeFormatter` pattern letters the assigner supports; others are a `ConfigError`. */
function compile(format: string): Token[] {
  const tokens: Token[] = [];
  // As Java's DateTimeFormatter: '' is a quote, inside quoted text too ('o''clock').
  const re = /'((?:[^']|'')*)'|([A-Za-z])\2*|[^'A-Za-z]+|'/g;
  for (let m = re.exec(format); m !== null; m = re.exec(format)) {
    if (m[1] !== undefined) tokens.push(m[1] === "" ? "'" : m[1].replaceAll("''", "'"));
    else if (m[2] !== undefined) {
      const letter = m[2];
      const width = m[0].length;
      // Java refuses more letters than a field has ("Too many pattern letters: d").
      const most = letter === "y" ? Infinity : letter === "S" ? 9 : 2;
      if (!"yMdHmsS".includes(letter) || width > most) {
        throw new ConfigError(
          `DateTimeBucketAssigner: the format "${format}" has "${m[0]}", which weir does not ` +
            "support; the pattern letters are y (year), M or MM (month), d, H, m, s (day, " +
            "hour 0-23, minute, second, each 1 or 2 letters), S (fraction of a second, 1 to 9 " +
            "letters) and text in single quotes",
        );
      }
      tokens.push({ field: letter as Field, width });
    } else if (m[0] === "'") {
      throw new ConfigError(`DateTimeBucketAssigner: the format "${format}" has an unclosed quote`);
    } else tokens.push(m[0]);
  }
  return tokens;
}

/**
 * Buckets records by the processing time of their arrival at the sink, formatted with a
 * `java.time.DateTimeFormatter` pattern (Flink's `DateTimeBucketAssigner`), by default
 * `"yyyy-MM-dd--HH"`: one folder an hour, as `2024-05-01--13`. The pattern letters supported are
 * `y`, `M`/`MM`, `d`, `H`, `m`, `s` (one or two letters each), `S` and quoted text
 * (`"'dt='yyyy-MM-dd"`, `''` a quote); others, or more letters than Java's takes, are a
 * `ConfigError`. Times are in `timeZone`, an IANA name or offset, by default UTC (Flink's
 * default is the JVM's zone; give `Intl.DateTimeFormat().resolvedOptions().timeZone` for the
 * machine's).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DateTimeBucketAssigner } from "@weir/weir";
 * const at = Date.UTC(2024, 4, 1, 13, 5);
 * const context = { currentProcessingTime: () => at, timestamp: () => undefined };
 * assert.ok(new DateTimeBucketAssigner<string>().getBucketId("a", context) === "2024-05-01--13");
 * const india = new DateTimeBucketAssigner<string>("yyyy/MM/dd/HH", "Asia/Kolkata");
 * assert.ok(india.getBucketId("a", context) === "2024/05/01/18");
 * ```
 */
export class DateTimeBucketAssigner<T> implements BucketAssigner<T> {
  /** The pattern. */
  readonly format: string;
  /** The time zone. */
  readonly timeZone: string;
  readonly #tokens: Token[];
  readonly #zone: Intl.DateTimeFormat | undefined;
  // Records of a batch share one processing time: format it once.
  #lastTime = NaN;
  #lastId = "";

  /** Formats with `format` (default `"yyyy-MM-dd--HH"`) in `timeZone` (default `"UTC"`). */
  constructor(format = "yyyy-MM-dd--HH", timeZone = "UTC") {
    if (typeof format !== "string" || format === "") {
      throw new ConfigError(`DateTimeBucketAssigner: the format must be a non-empty string`);
    }
    this.format = format;
    this.timeZone = timeZone;
    this.#tokens = compile(format);
    if (timeZone !== "UTC") {
      try {
        this.#zone = new Intl.DateTimeFormat("en-US", {
          timeZone,
          hourCycle: "h23",
          year: "numeric",
          month: "numeric",
          day: "numeric",
          hour: "numeric",
          minute: "numeric",
          second: "numeric",
        });
      } catch {
        throw new ConfigError(
          `DateTimeBucketAssigner: unknown time zone ${JSON.stringify(timeZone)} (an IANA name ` +
            `as "Europe/Berlin", or an offset as "+02:00")`,
        );
      }
    }
  }

  /** The folder of the record's batch's processing time. */
  getBucketId(_value: T, context: BucketAssignerContext): string {
    const time = context.currentProcessingTime();
    if (time !== this.#lastTime) {
      this.#lastId = this.#formatTime(time);
      this.#lastTime = time;
    }
    return this.#lastId;
  }

  #formatTime(time: number): string {
    const f: Record<Field, number> = { y: 0, M: 0, d: 0, H: 0, m: 0, s: 0, S: 0 };
    const ms = ((time % 1000) + 1000) % 1000;
    if (this.#zone === undefined) {
      const d = new Date(time);
      f.y = d.getUTCFullYear();
      f.M = d.getUTCMonth() + 1;
      f.d = d.getUTCDate();
      f.H = d.getUTCHours();
      f.m = d.getUTCMinutes();
      f.s = d.getUTCSeconds();
    } else {
      for (const p of this.#zone.formatToParts(time)) {
        const key =
          ({ year: "y", month: "M", day: "d", hour: "H", minute: "m", second: "s" } as const)[
            p.type as "year"
          ];
        if (key !== undefined) f[key] = Number(p.value);
      }
    }
    let out = "";
    for (const t of this.#tokens) {
      if (typeof t === "string") out += t;
      else if (t.field === "S") {
        out += String(ms).padStart(3, "0").padEnd(t.width, "0").slice(0, t.width);
      } else if (t.field === "y" && t.width === 2) out += String(f.y % 100).padStart(2, "0");
      else out += String(f[t.field]).padStart(t.width, "0");
    }
    return out;
  }
}
