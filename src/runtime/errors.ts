/** Error codes of the runtime domain. */
export const RUNTIME_TIMEOUT = "PAL_RUNTIME_TIMEOUT";
export const RUNTIME_CRASHED = "PAL_RUNTIME_CRASHED";
export const RUNTIME_LOAD_FAILED = "PAL_RUNTIME_LOAD_FAILED";
export const RUNTIME_DENIED = "PAL_RUNTIME_DENIED";
export const RUNTIME_CLOSED = "PAL_RUNTIME_CLOSED";
export const RUNTIME_OUTPUT_TOO_LARGE = "PAL_RUNTIME_OUTPUT_TOO_LARGE";
export const RUNTIME_BAD_CALL = "PAL_RUNTIME_BAD_CALL";
/** ctx.fetch was allowed but did not complete: network error, timeout, or a response over the limit. */
export const RUNTIME_EGRESS_FAILED = "PAL_RUNTIME_EGRESS_FAILED";
/** A call went over one of the function's limits (capability calls, emits, fetch buffer, kv quota). */
export const RUNTIME_LIMIT_EXCEEDED = "PAL_RUNTIME_LIMIT_EXCEEDED";
/** The host cannot make scratch directories safely (their root is not the platform user's, 0700). */
export const RUNTIME_SCRATCH_UNSAFE = "PAL_RUNTIME_SCRATCH_UNSAFE";
/** A function's scratch directory grew past `limits.tmpMb` (checked by the host without the OS layer). */
export const RUNTIME_SCRATCH_FULL = "PAL_RUNTIME_SCRATCH_FULL";
/**
 * The invocation was given back unrun (or stopped) because its function was held (quarantined), or
 * because it called a held capability target (its delivery waits for that hold).
 */
export const RUNTIME_HELD = "PAL_RUNTIME_HELD";
