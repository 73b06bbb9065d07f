/** Error codes of the guard domain. */
export const GUARD_CHECK_FAILED = "PAL_GUARD_CHECK_FAILED";
