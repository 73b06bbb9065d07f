import { PalisadeError } from "../errors.ts";
import { RUNTIME_DENIED, RUNTIME_LOAD_FAILED, RUNTIME_OUTPUT_TOO_LARGE } from "./errors.ts";

// The runtime's own failures that no retry can cure, and the dead-letter reason each gives.
const FINAL: Readonly<Record<string, string>> = {
  [RUNTIME_DENIED]: "denied",
  [RUNTIME_LOAD_FAILED]: "load-failed",
  [RUNTIME_OUTPUT_TOO_LARGE]: "limit-exceeded",
};

/**
 * The error an invocation rejects with: `err` itself, or, when no retry can cure it, a PalisadeError
 * marked final (not retryable, with a dead-letter reason). The function's own errors are retryable;
 * one is final only when it passes on the code of a final refusal the host gave it during this
 * invocation (`refusal`), so a function cannot dead-letter its delivery by claiming a platform code.
 */
export function deliveryError(err: unknown, refusal?: PalisadeError): unknown {
  const e = (typeof err === "object" && err !== null ? err : {}) as Partial<PalisadeError>;
  if (typeof e.code !== "string" || e.deadLetter !== undefined) return err;
  const reason = e.retryable
    ? refusal !== undefined && refusal.code === e.code
      ? refusal.deadLetter
      : undefined
    : FINAL[e.code];
  if (reason === undefined) return err;
  return new PalisadeError(e.code, String(e.message), {
    ...(typeof e.status === "number" ? { status: e.status } : {}),
    details: e.details,
    cause: err,
    deadLetter: reason,
  });
}

/** A capability call's error if it ends the invocation's delivery when passed on; else undefined. */
export function finalRefusal(err: unknown): PalisadeError | undefined {
  const e = deliveryError(err) as Partial<PalisadeError>;
  return e.retryable === false && typeof e.deadLetter === "string" ? (e as PalisadeError) : undefined;
}
