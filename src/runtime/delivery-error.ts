import { PalisadeError, toPalisadeError } from "../errors.ts";
import { RUNTIME_DENIED, RUNTIME_LOAD_FAILED, RUNTIME_OUTPUT_TOO_LARGE } from "./errors.ts";

// The runtime's own failures that no retry can cure, and the dead-letter reason each gives.
const FINAL: Readonly<Record<string, string>> = {
  [RUNTIME_DENIED]: "denied",
  [RUNTIME_LOAD_FAILED]: "load-failed",
  [RUNTIME_OUTPUT_TOO_LARGE]: "limit-exceeded",
};

/**
 * The error an invocation rejects with, marked final (not retryable, with a dead-letter reason) when
 * no retry can cure it. The function's own errors are retryable; one is final only when it passes
 * on the code of a final refusal the host gave it during this invocation (`refusal`), so a function
 * cannot dead-letter its delivery by claiming a platform code, nor hide a refusal by rethrowing it.
 */
export function deliveryError(err: unknown, refusal?: PalisadeError): PalisadeError {
  const e = toPalisadeError(err);
  if (e.deadLetter !== undefined) return e;
  const reason = e.retryable
    ? refusal !== undefined && refusal.code === e.code
      ? refusal.deadLetter
      : undefined
    : FINAL[e.code];
  if (reason === undefined) return e;
  return new PalisadeError(e.code, e.message, {
    status: e.status,
    details: e.details,
    cause: err,
    deadLetter: reason,
  });
}

/** A capability call's error if it ends the invocation's delivery when passed on; else undefined. */
export function finalRefusal(err: unknown): PalisadeError | undefined {
  const e = deliveryError(err);
  return !e.retryable && e.deadLetter !== undefined ? e : undefined;
}
