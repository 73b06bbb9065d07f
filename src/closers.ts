/**
 * What a starting platform has opened so far, closed in reverse order: the one path that both a
 * failed start and a normal shutdown take, so nothing opened before a failure is left running.
 */

/** A stack of close functions. */
export interface Closers {
  /** Registers `close` to run before everything registered earlier. */
  add(close: () => unknown): void;
  /** Runs every registered close, newest first, each once; rejects with the first error after all ran. */
  closeAll(): Promise<void>;
}

/** Creates an empty stack of closers. */
export function createClosers(): Closers {
  const stack: (() => unknown)[] = [];
  return {
    add(close) {
      stack.push(close);
    },
    async closeAll() {
      const errors: unknown[] = [];
      for (let close = stack.pop(); close !== undefined; close = stack.pop()) {
        try {
          await close();
        } catch (err) {
          errors.push(err); // the rest still close
        }
      }
      if (errors.length > 0) throw errors[0];
    },
  };
}
