/** Error codes of the gateway domain. */
export const GATEWAY_NOT_FOUND = "PAL_GATEWAY_NOT_FOUND";
export const GATEWAY_BAD_JSON = "PAL_GATEWAY_BAD_JSON";
export const GATEWAY_BAD_ENCODING = "PAL_GATEWAY_BAD_ENCODING";
export const GATEWAY_FORBIDDEN_KEY = "PAL_GATEWAY_FORBIDDEN_KEY";
export const GATEWAY_TOO_DEEP = "PAL_GATEWAY_TOO_DEEP";
export const GATEWAY_TOO_LARGE = "PAL_GATEWAY_TOO_LARGE";
export const GATEWAY_UNSUPPORTED_MEDIA = "PAL_GATEWAY_UNSUPPORTED_MEDIA";
export const GATEWAY_BAD_REQUEST = "PAL_GATEWAY_BAD_REQUEST";
export const GATEWAY_UNAUTHENTICATED = "PAL_GATEWAY_UNAUTHENTICATED";
export const GATEWAY_RATE_LIMITED = "PAL_GATEWAY_RATE_LIMITED";
export const GATEWAY_WEBHOOK_REPLAY = "PAL_GATEWAY_WEBHOOK_REPLAY";
/** A number in the body that JSON.parse would change: an integer beyond ±(2^53−1), or beyond ±1.8e308. */
export const GATEWAY_UNSAFE_NUMBER = "PAL_GATEWAY_UNSAFE_NUMBER";
/** The shared rate limit store (NATS KV) cannot answer now: the request is refused with 503 and Retry-After. */
export const GATEWAY_RATE_STORE_UNAVAILABLE = "PAL_GATEWAY_RATE_STORE_UNAVAILABLE";
/** The client address is blocked for a while (a detector saw credential stuffing from it): 429 with Retry-After. */
export const GATEWAY_CLIENT_BLOCKED = "PAL_GATEWAY_CLIENT_BLOCKED";
/** The principal's daily spend budget is used up (`overBudget: reject`). */
export const GATEWAY_OVER_BUDGET = "PAL_GATEWAY_OVER_BUDGET";
/** An operator holds the principal (`palisade quarantine hold principal:<name>`). */
export const GATEWAY_PRINCIPAL_HELD = "PAL_GATEWAY_PRINCIPAL_HELD";
/** A principal that must sign its events (`signing.requireSigned`) sent one without `dssematerial`: 403. */
export const GATEWAY_UNSIGNED = "PAL_GATEWAY_UNSIGNED";
/** An event's `dssematerial` is malformed (400) or does not verify against the principal's keys (403). */
export const GATEWAY_UNVERIFIED = "PAL_GATEWAY_UNVERIFIED";
