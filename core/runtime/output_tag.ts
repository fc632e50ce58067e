/**
 * Side outputs.
 *
 * @module
 */
import { ConfigError } from "../errors.ts";

/**
 * Names a side output of type `T`. Process functions emit to it with
 * `ctx.output(tag, value)`; `stream.getSideOutput(tag)` reads it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { OutputTag } from "@weir/weir";
 * const late = new OutputTag<string>("late");
 * assert.ok(late.id === "late");
 * ```
 */
export class OutputTag<T> {
  /** The tag's id; two tags with one id are the same side output. */
  readonly id: string;
  declare readonly _type?: T;

  /**
   * Creates a tag; `id` must be a non-empty string, as Flink's: a stream's main output has no
   * id, so `getSideOutput` of a tag without one would read the main output instead.
   */
  constructor(id: string) {
    if (typeof id !== "string" || id === "") {
      throw new ConfigError(
        `OutputTag id must be a non-empty string, got ${
          typeof id === "string"
            ? '""'
            : id === undefined || id === null
            ? String(id)
            : `the ${typeof id} ${String(id)}`
        }`,
      );
    }
    this.id = id;
  }
}
