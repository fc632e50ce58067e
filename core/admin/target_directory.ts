/**
 * Where a savepoint requested through the admin API may be copied: a
 * `target-directory` must lie inside an allowed root (the checkpoint
 * directory's `savepoints/`, or the job's `--savepoint-dir`), so a request
 * cannot write files anywhere the job can.
 *
 * @module
 */
import { basename, isAbsolute, join, normalize, relative, resolve } from "node:path";

/**
 * The real path of `path` (symlinks resolved) even when its last parts do
 * not exist yet: the longest existing ancestor is resolved and the rest
 * appended.
 */
function realPathOf(path: string): string {
  const missing: string[] = [];
  let at = resolve(path);
  for (;;) {
    try {
      return join(Deno.realPathSync(at), ...missing.reverse());
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
      const parent = resolve(at, "..");
      if (parent === at) return join(at, ...missing.reverse());
      missing.push(basename(at));
      at = parent;
    }
  }
}

function inside(path: string, root: string): boolean {
  const r = relative(root, path);
  return r === "" || (!r.startsWith("..") && !isAbsolute(r));
}

/**
 * Checks a requested savepoint target directory against the allowed `roots`
 * (the first is the default: a relative target is taken inside it) and
 * returns its real path; throws a `RangeError` naming the problem when it
 * contains a `..` part or lies (after resolving symlinks) outside every root.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkTargetDirectory } from "./target_directory.ts";
 * const root = Deno.realPathSync(Deno.makeTempDirSync());
 * assert.equal(checkTargetDirectory("copies", [root]), `${root}/copies`);
 * assert.equal(checkTargetDirectory(`${root}/a/b`, [root]), `${root}/a/b`);
 * assert.throws(() => checkTargetDirectory(`${root}/../x`, [root]), /"\.\."/);
 * assert.throws(() => checkTargetDirectory("/etc", [root]), /outside/);
 * Deno.removeSync(root);
 * ```
 */
export function checkTargetDirectory(target: string, roots: readonly string[]): string {
  if (target.split(/[/\\]+/).includes("..")) {
    throw new RangeError(`target-directory "${target}" must not contain ".."`);
  }
  if (target.includes("\0")) throw new RangeError("target-directory must not contain NUL");
  const [first] = roots;
  if (first === undefined) throw new RangeError("No directory is allowed for savepoints");
  const wanted = realPathOf(isAbsolute(target) ? normalize(target) : join(resolve(first), target));
  const allowed = roots.map(realPathOf);
  if (!allowed.some((root) => inside(wanted, root))) {
    throw new RangeError(
      `target-directory "${target}" is outside the directories savepoints may be written to ` +
        `(${allowed.join(", ")}; --savepoint-dir allows another)`,
    );
  }
  return wanted;
}
