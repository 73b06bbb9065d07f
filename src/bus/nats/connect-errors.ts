/** Error codes of connecting to NATS and of the deployment's durability checks (bus domain). */

/** A `--nats` URL (or PALISADE_NATS_URL) that does not parse, or has a scheme other than nats:// or tls://. */
export const NATS_URL_INVALID = "PAL_NATS_URL_INVALID";
/** A `--nats-creds` file that cannot be read or is neither a .creds file nor an nkey seed. */
export const NATS_CREDS_INVALID = "PAL_NATS_CREDS_INVALID";
/** A `--nats-ca` file that does not exist or cannot be read. */
export const NATS_CA_MISSING = "PAL_NATS_CA_MISSING";
/** `--replicas` outside 1..5, or more than the cluster has. */
export const NATS_REPLICAS_INVALID = "PAL_NATS_REPLICAS_INVALID";
/** No seed server answered at start. */
export const NATS_UNREACHABLE = "PAL_NATS_UNREACHABLE";
/** The server refused the credentials. */
export const NATS_AUTH = "PAL_NATS_AUTH";
/** The TLS handshake with the server failed (unknown CA, no TLS on the server, …). */
export const NATS_TLS = "PAL_NATS_TLS";
/** The server (or the account) runs without JetStream. */
export const NATS_NO_JETSTREAM = "PAL_NATS_NO_JETSTREAM";
/** `--nats-monitor` did not answer, or answered for another deployment. */
export const NATS_MONITOR = "PAL_NATS_MONITOR";
/** Replicated KV compare-and-set on a nats-server known to lose its updates (< 2.9.21). */
export const NATS_CAS_UNSAFE = "PAL_NATS_CAS_UNSAFE";
/** A stream neither replicated nor synced on every write, without `--accept-lazy-fsync`. */
export const NATS_NOT_DURABLE = "PAL_NATS_NOT_DURABLE";

/** The codes a user fixes by changing a flag or a file (exit code 2, DESIGN §6). */
export const NATS_USAGE_CODES: readonly string[] = [
  NATS_URL_INVALID,
  NATS_CREDS_INVALID,
  NATS_CA_MISSING,
  NATS_REPLICAS_INVALID,
];
