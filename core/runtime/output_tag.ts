/**
 * Side outputs.
 *
 * @module
 */

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

  /** Creates a tag. */
  constructor(id: string) {
    this.id = id;
  }
}
