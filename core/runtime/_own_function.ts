/**
 * Functions compiled per instance: V8 keeps type feedback per compiled
 * function, so a method shared by many instances (every chain link of a
 * thread, every `map`) sees all their operators and user functions at one
 * call site and makes it generic past a few; a function of an instance's own
 * sees one, which it calls directly or inlines.
 *
 * @module
 */

/** Functions compiled so far: each one's source is made unique with it. */
let compiled = 0;

/**
 * A new function `name` of `params` running `body`, with the names of `bound`
 * in scope as their values. Its source is unique (a number in its name): V8's
 * compilation cache hands out the same function, feedback and all, for the
 * same source.
 */
export function ownFunction<F>(
  name: string,
  bound: Record<string, unknown>,
  params: string,
  body: string,
): F {
  const names = Object.keys(bound);
  return new Function(...names, `return function ${name}${compiled++}(${params}) {${body}};`)(
    ...names.map((n) => bound[n]),
  ) as F;
}
