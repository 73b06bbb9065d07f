/** Error codes of the security domain. */
export const SECURITY_SECRET_MISSING = "PAL_SECURITY_SECRET_MISSING";
export const SECURITY_SECRET_NAME = "PAL_SECURITY_SECRET_NAME";
export const SECURITY_FORBIDDEN = "PAL_SECURITY_FORBIDDEN";
export const SECURITY_KEY_MISSING = "PAL_SECURITY_KEY_MISSING";
export const SECURITY_KEYRING = "PAL_SECURITY_KEYRING";
/** A data key a running platform may still be sealing with cannot be retired yet. */
export const SECURITY_KEY_IN_USE = "PAL_SECURITY_KEY_IN_USE";
export const SECURITY_SEAL_BROKEN = "PAL_SECURITY_SEAL_BROKEN";
/** A store on disk is older than one already written (restored from an older copy). */
export const SECURITY_ROLLBACK = "PAL_SECURITY_ROLLBACK";
/** Other nodes kept changing a shared (NATS) store first; the change was not made. */
export const SECURITY_CONFLICT = "PAL_SECURITY_CONFLICT";
