/** Error codes of the audit domain. */
/** There is no audit log where one was expected (the app has not run yet, or the path is wrong). */
export const AUDIT_NOT_FOUND = "PAL_AUDIT_NOT_FOUND";
/** The checkpoint signing key is not an Ed25519 private key. */
export const AUDIT_BAD_KEY = "PAL_AUDIT_BAD_KEY";
/** An entry cannot be recorded: no kind, or the log was closed. */
export const AUDIT_BAD_ENTRY = "PAL_AUDIT_BAD_ENTRY";
/** The file is not an audit log Palisade can read (not SQLite, or without its tables). */
export const AUDIT_UNREADABLE = "PAL_AUDIT_UNREADABLE";
/** A batch of audit records could not be committed (disk full, file locked); it stays queued. */
export const AUDIT_WRITE_FAILED = "PAL_AUDIT_WRITE_FAILED";
/** An option of the audit log is out of range. */
export const AUDIT_BAD_OPTIONS = "PAL_AUDIT_BAD_OPTIONS";
/** An audit anchor file is not one `palisade audit anchor` printed. */
export const AUDIT_BAD_ANCHOR = "PAL_AUDIT_BAD_ANCHOR";
/** The audit log does not reach a signed head kept outside it: deleted, cut back or replaced. */
export const AUDIT_ROLLED_BACK = "PAL_AUDIT_ROLLED_BACK";
/** The audit log's chain or checkpoints do not check out: records were changed, removed or forged. */
export const AUDIT_TAMPERED = "PAL_AUDIT_TAMPERED";
/** The app has a signed audit log but no audit key (`keys/audit.key`), and may not create one. */
export const AUDIT_KEY_MISSING = "PAL_AUDIT_KEY_MISSING";
