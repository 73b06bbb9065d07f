/** The resolved, frozen app: what every other domain reads instead of palisade.yaml. */
export interface AppModel {
  readonly name: string;
  /** Absolute app directory. */
  readonly dir: string;
  /** Absolute path of palisade.yaml. */
  readonly manifestPath: string;
  /** Absolute path of the app's private data directory (`.palisade/`). */
  readonly dataDir: string;
  readonly events: ReadonlyMap<string, EventTypeSpec>;
  readonly functions: ReadonlyMap<string, FunctionSpec>;
}

export interface EventTypeSpec {
  readonly type: string;
  readonly schemaPath: string;
  readonly schema: object;
}

export interface FunctionSpec {
  readonly name: string;
  /** Absolute path of the handler module. */
  readonly handlerPath: string;
  readonly on: readonly string[];
  readonly emit: readonly string[];
  readonly limits: Limits;
  readonly retry: RetryPolicy;
}

export interface Limits {
  readonly timeoutMs: number;
  readonly memoryMb: number;
  readonly concurrency: number;
}

export interface RetryPolicy {
  readonly attempts: number;
  readonly backoff: "exponential" | "fixed";
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
}

/** Conservative limits for a function that states none. */
export const DEFAULT_LIMITS: Limits = Object.freeze({ timeoutMs: 3000, memoryMb: 128, concurrency: 2 });

/** Retry policy for a function that states none (attempts include the first). */
export const DEFAULT_RETRY: RetryPolicy = Object.freeze({
  attempts: 3,
  backoff: "exponential",
  initialDelayMs: 1000,
  maxDelayMs: 60000,
});
