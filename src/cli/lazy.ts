/**
 * Lazy command implementations: a command's module is imported when the command runs, not when the
 * program is defined, so `--version`, `--help` and light commands load only commander (issue 17 asks
 * for `--version` in at most 300 ms; loading every domain took over 600).
 */

/** A function that imports `load()` on its first call and forwards to its export `name`. */
export function lazy<M, K extends keyof M>(
  load: () => Promise<M>,
  name: K,
): M[K] extends (...args: infer A) => infer R ? (...args: A) => Promise<Awaited<R>> : never {
  const call = async (...args: unknown[]) => {
    const fn = (await load())[name] as (...a: unknown[]) => unknown;
    return fn(...args);
  };
  return call as never;
}
