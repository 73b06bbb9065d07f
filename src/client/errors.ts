/** Error codes of the producer client (`palisade/client`); the gateway's own codes pass through as sent. */

/** The options of `createClient` are unusable (a bad URL, both `apiKey` and `token`, a bad number). */
export const CLIENT_BAD_OPTIONS = "PAL_CLIENT_BAD_OPTIONS";
/** A credential would travel in the clear: plain `http://` to a host that is not loopback. */
export const CLIENT_INSECURE_URL = "PAL_CLIENT_INSECURE_URL";
/** An event cannot be encoded (data JSON cannot carry, an extension named like a core attribute). */
export const CLIENT_INVALID_EVENT = "PAL_CLIENT_INVALID_EVENT";
/** A batch has more events than the gateway takes in one request. */
export const CLIENT_BATCH_TOO_LARGE = "PAL_CLIENT_BATCH_TOO_LARGE";
/** The `token` provider threw or gave no usable token. */
export const CLIENT_NO_TOKEN = "PAL_CLIENT_NO_TOKEN";
/** No answer: the connection failed or timed out on every attempt. */
export const CLIENT_UNREACHABLE = "PAL_CLIENT_UNREACHABLE";
/** The answer is not the gateway's (not its JSON shape, or a redirect, which is never followed). */
export const CLIENT_BAD_RESPONSE = "PAL_CLIENT_BAD_RESPONSE";
