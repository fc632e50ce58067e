/**
 * Test helper: the admin API URL a job process prints on stderr.
 *
 * @module
 */

/**
 * Reads `stderr` until the job prints `admin: http://HOST:PORT` and returns
 * the URL; keeps draining the rest (into `rest.text`) so the child never
 * blocks on a full pipe. `rest.drained` resolves once stderr has ended.
 */
export async function readAdminUrl(
  stderr: ReadableStream<Uint8Array>,
  rest: { text: string; drained?: Promise<void> } = { text: "" },
): Promise<string> {
  const reader = stderr.getReader();
  const decoder = new TextDecoder();
  let text = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`the job ended before listening:\n${text}`);
    text += decoder.decode(value, { stream: true });
    const m = /admin: (http:\/\/\S+)/.exec(text);
    if (m) {
      rest.text = text;
      rest.drained = (async () => {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          rest.text += decoder.decode(value, { stream: true });
        }
      })();
      return m[1]!;
    }
  }
}
