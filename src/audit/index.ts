/**
 * Audit: the tamper-evident record of every security decision (DESIGN §1.6, §9 Audit). Ingress
 * rejections, capability denials, deploys, bundle verification failures, secret and key operations,
 * admin calls, dead letters, quarantines and budget holds are appended to `.palisade/audit.db` in
 * batches (one fsync'd SQLite transaction each) without blocking the caller. Each record carries the
 * SHA-256 hash of the one before it; a checkpoint signed with the app's audit key (`keys/audit.key`,
 * Ed25519, not the bundle-signing key) vouches for the latest hash every 1000 records, every 10 s and
 * on close, and the newest checkpoint is also kept in `audit-head.json` beside the log.
 * `verifyAuditLog` recomputes the chain, checks the checkpoints against `keys/audit/*.pub` and
 * `keys/*.pub`, and checks the log still holds each anchor given (the head file, `--anchor FILE`).
 * `aggregateRepeats` wraps the log so a flood cannot flood it: repeats of one ingress rejection or
 * refused capability call within a window become one record carrying their exact `count`.
 *
 * Threat model: detects anyone who can write the file but not the audit key changing, removing,
 * inserting or reordering records (even with every hash recomputed, the next signed checkpoint no
 * longer matches), forging a checkpoint, cutting the log back before its last checkpoint, and
 * deleting the log or replacing it with an older copy while `audit-head.json` stays. It does not
 * detect: cutting off records written after the last checkpoint (at most 1000 records or 10 s of
 * them; a cleanly closed log is fully covered), the log and its head file put back to an older copy
 * together (check against an anchor from `palisade audit anchor` kept elsewhere), anyone holding
 * the audit key, or the signing key whose public half is still in `keys/*.pub` (they can rewrite and
 * re-sign everything; keep them 0600 and off shared disks), and
 * records that never reached the disk (queued up to `flushMs` when the process died).
 * It keeps no secret values: callers pass names, and a redactor drops secret-looking values.
 *
 * On NATS each node appends a chain of its own to the app's audit stream (`openNodeAuditLog`,
 * node-message.ts), checked by `verifyNodeChains`: a record removed, changed, inserted or moved to
 * another node is found, naming the node and the record. Not found there: the newest records of a
 * node after its last checkpoint, if someone with stream admin rights recreates the stream without
 * them and the checkpoints after them (a node killed before it signed leaves such a tail too), or a
 * node's whole chain left out so — unless checked against an anchor taken before (nats-anchor.ts:
 * every node's newest signed checkpoint, `audit anchor --nats`), which the stream must still hold.
 */
export { type AggregateOptions, aggregateRepeats, REPEATABLE_KINDS } from "./aggregate-repeats.ts";
export {
  type AuditAnchor,
  formatAnchor,
  headFileOf,
  parseAnchor,
  readAnchorFile,
} from "./audit-anchor.ts";
export { AUDIT_FILE } from "./audit-db.ts";
export { checkpointMessage, GENESIS_HASH, hashRecord } from "./audit-hash.ts";
export { AUDIT_KEY_FILE, AUDIT_TRUST_DIR, ensureAuditKey, loadAuditTrust } from "./audit-key.ts";
export { AUDIT_KIND } from "./audit-kinds.ts";
export { canonicalJson } from "./canonical-json.ts";
export { checkAuditHead } from "./check-audit-head.ts";
export {
  AUDIT_BAD_ANCHOR,
  AUDIT_BAD_ENTRY,
  AUDIT_BAD_KEY,
  AUDIT_BAD_OPTIONS,
  AUDIT_KEY_MISSING,
  AUDIT_NOT_FOUND,
  AUDIT_ROLLED_BACK,
  AUDIT_TAMPERED,
  AUDIT_UNREADABLE,
  AUDIT_WRITE_FAILED,
} from "./errors.ts";
export {
  formatNatsAnchor,
  type NodeAnchor,
  parseNatsAnchor,
  type SourcedNodeAnchor,
} from "./nats-anchor.ts";
export {
  decodeNodeMessage,
  encodeNodeMessage,
  type NodeMessage,
  newNodeId,
  nodeGenesis,
} from "./node-message.ts";
export {
  type AuditLog,
  type AuditLogOptions,
  type AuditStats,
  type LocalAuditLog,
  openAuditLog,
} from "./open-audit-log.ts";
export {
  type NodeAuditLog,
  type NodeAuditLogOptions,
  type NodeAuditSink,
  openNodeAuditLog,
} from "./open-node-audit-log.ts";
export { type AuditRecord, type ReadAuditOptions, readAudit } from "./read-audit.ts";
export { readHead } from "./read-head.ts";
export type { AuditEntry, AuditOutcome } from "./record-body.ts";
export { isSensitiveKey, looksLikeSecret, REDACTED, sanitizeDetails } from "./sanitize-details.ts";
export {
  type SourcedAnchor,
  type StoredRecord,
  type VerifyResult,
  verifyAuditLog,
} from "./verify-audit-log.ts";
export {
  type NodeReport,
  type NodesVerifyResult,
  nodeRecords,
  type StreamBounds,
  type StreamMessage,
  verifyNodeChains,
} from "./verify-nodes.ts";
