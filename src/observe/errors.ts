/** Error codes of the observe domain. */

/** An OTEL_* environment variable Palisade reads holds a value it cannot use (named in the message). */
export const OBSERVE_OTEL_ENV = "PAL_OBSERVE_OTEL_ENV";
