/**
 * The one error type of Palisade. Errors cross process boundaries (sandbox IPC, HTTP), so callers
 * branch on `code`, never on `instanceof`.
 */
export class PalisadeError extends Error {
  readonly code: string;
  /** HTTP status a client sees for this error. @default 500 */
  readonly status: number;
  /** Whether trying again later may succeed. @default false */
  readonly retryable: boolean;
  /** Structured, client-safe details (for example failing JSON Pointers). */
  readonly details: unknown;
  /**
   * Set by the domain that knows no retry can cure this failure of a delivery: the dead-letter
   * reason (`hop-limit`, `denied`, …). With `retryable` false it ends the delivery at once. Not part
   * of the wire form: a sandbox cannot claim one.
   */
  readonly deadLetter: string | undefined;
  /**
   * Set by the runtime when the attempt never ran to its end because its function was held
   * (quarantined): the delivery goes back to the store unattempted, not charged. Not part of the
   * wire form either.
   */
  readonly notAttempted: boolean;
  /**
   * Set by the domain that knows when a retry may succeed (a sink's receiver answered 429 or 503
   * with Retry-After): the delay before the next attempt, in place of the backoff. Not on the wire.
   */
  readonly retryAfterMs: number | undefined;

  constructor(
    code: string,
    message: string,
    options: {
      status?: number;
      retryable?: boolean;
      details?: unknown;
      cause?: unknown;
      deadLetter?: string;
      notAttempted?: boolean;
      retryAfterMs?: number;
    } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "PalisadeError";
    this.code = code;
    this.status = options.status ?? 500;
    this.retryable = options.retryable ?? false;
    this.details = options.details;
    this.deadLetter = options.deadLetter;
    this.notAttempted = options.notAttempted ?? false;
    this.retryAfterMs = options.retryAfterMs;
  }

  /** The wire form: what crosses IPC and what an HTTP client may see. */
  toJSON(): SerializedError {
    const out: SerializedError = { code: this.code, message: this.message, retryable: this.retryable };
    if (this.details !== undefined) out.details = this.details;
    return out;
  }
}

export interface SerializedError {
  code: string;
  message: string;
  retryable: boolean;
  details?: unknown;
}

/** Codes shared by every domain; each domain lists its own in `<domain>/errors.ts`. */
export const INTERNAL = "PAL_INTERNAL";

/** Wraps anything thrown into a PalisadeError without losing the original as `cause`. */
export function toPalisadeError(err: unknown): PalisadeError {
  if (isPalisadeError(err)) return err;
  if (isSerializedError(err)) {
    return new PalisadeError(err.code, err.message, { retryable: err.retryable, details: err.details });
  }
  const message = err instanceof Error ? err.message : String(err);
  return new PalisadeError(INTERNAL, message, { cause: err });
}

/** True for a PalisadeError from this realm (checked by shape, not by class). */
export function isPalisadeError(err: unknown): err is PalisadeError {
  return err instanceof Error && isSerializedError(err) && err.name === "PalisadeError";
}

function isSerializedError(err: unknown): err is SerializedError {
  if (typeof err !== "object" || err === null) return false;
  const e = err as Record<string, unknown>;
  return typeof e.code === "string" && e.code.startsWith("PAL_") && typeof e.message === "string";
}
