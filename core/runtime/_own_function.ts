/**
 * Functions compiled per instance: V8 keeps type feedback per compiled
 * function, so a method shared by many instances (every chain link of a
 * thread, every `map`) sees all their operators and user functions at one
 * call site and makes it generic past a few; a function of an instance's own
 * sees one, which it calls directly or inlines.
 *
 * Each one's source is made unique with a number in its name: V8's
 * compilation cache hands out the same function, feedback and all, for the
 * same source. That cache also keeps every source it compiled for the life of
 * the thread, so the numbers are reused: once a function is collected, the
 * next one compiled takes its number (and its cached code and feedback,
 * which no live function shares). A job that builds its operators again at
 * every restart then compiles as many sources as it ever had live at once,
 * not a few more with each restart.
 *
 * @module
 */

/** Numbers given out so far: the next new one. */
let numbers = 0;
/**
 * By source without its number (names, params, body): the numbers of its functions that were
 * collected, given out again first, so that a reused number compiles a source compiled before.
 */
const free = new Map<string, number[]>();
const released = new FinalizationRegistry<{ free: number[]; n: number }>((r) => r.free.push(r.n));

/**
 * A new function `name` of `params` running `body`, with the names of `bound`
 * in scope as their values. Its source is unique among the live functions
 * (a number in its name, reused once its function is collected).
 */
export function ownFunction<F extends object>(
  name: string,
  bound: Record<string, unknown>,
  params: string,
  body: string,
): F {
  const names = Object.keys(bound);
  const template = `${names.join()}\0${name}\0${params}\0${body}`;
  let numbersFree = free.get(template);
  if (numbersFree === undefined) free.set(template, numbersFree = []);
  const n = numbersFree.pop() ?? numbers++;
  const f = new Function(...names, `return function ${name}${n}(${params}) {${body}};`)(
    ...names.map((k) => bound[k]),
  ) as F;
  released.register(f, { free: numbersFree, n });
  return f;
}
