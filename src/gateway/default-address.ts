/**
 * Where the gateway listens unless told otherwise: loopback only, so nothing off the machine can
 * reach an app by accident (`palisade start` needs TLS, or `--insecure-http`, for anything else).
 */
export const DEFAULT_HOST = "127.0.0.1";
/** The gateway's port unless told otherwise (`--port`, `PALISADE_PORT`). */
export const DEFAULT_PORT = 8787;
