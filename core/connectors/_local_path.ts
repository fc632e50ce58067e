/**
 * Paths of the file connectors, given as Flink's docs write them.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { ConfigError } from "../errors.ts";

/**
 * The local path that a file connector's `path` or `dir` names. A `file:` URL (Flink's
 * `readTextFile("file:///path")`) is its path, where it would otherwise read "no such file" or
 * write into a folder named `file:` under the working folder. Another URL (`hdfs://`, `s3://`) is a
 * `ConfigError`: weir reads and writes local files only. Anything else is a path, as it is.
 */
export function localPath(owner: string, option: string, value: string): string {
  if (typeof value !== "string") return value;
  if (/^file:/i.test(value)) {
    try {
      return fileURLToPath(value);
    } catch (e) {
      throw new ConfigError(
        `${owner} ${option} "${value}" is no local file URL (${(e as Error).message})`,
      );
    }
  }
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(value);
  if (scheme) {
    throw new ConfigError(
      `${owner} reads and writes local files only: ${option} "${value}" is a ${scheme[1]}: URL; ` +
        `give a path or a file: URL`,
    );
  }
  return value;
}
