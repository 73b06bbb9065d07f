/**
 * The two canonical forms the audit chain rests on. Both are the UTF-8 bytes of `JSON.stringify`
 * of a fixed-order array that starts with a domain tag, so a record hash can never be taken for a
 * checkpoint message or for the hash of another format version:
 *
 *   record hash  = hex(SHA-256(["palisade.audit.record.v1", seq, at, kind, body, prevHash]))
 *   checkpoint   = Ed25519(["palisade.audit.checkpoint.v1", uptoSeq, hash, at]) as base64
 *
 * `seq` and `at` (milliseconds since the epoch) are integers, `kind` is the record's kind, `body` is
 * the stored body text exactly (canonical JSON of actor, subject, outcome and details), `prevHash`
 * is the previous record's hash (64 zeros for record 1), and `hash` in a checkpoint is the hash of
 * record `uptoSeq`.
 */
import { createHash } from "node:crypto";

/** `prevHash` of the first record. */
export const GENESIS_HASH = "0".repeat(64);

const RECORD_TAG = "palisade.audit.record.v1";
const CHECKPOINT_TAG = "palisade.audit.checkpoint.v1";

/** The hash of one record, chained to the one before it. */
export function hashRecord(seq: number, at: number, kind: string, body: string, prevHash: string): string {
  return createHash("sha256")
    .update(JSON.stringify([RECORD_TAG, seq, at, kind, body, prevHash]), "utf8")
    .digest("hex");
}

/** The bytes a checkpoint signs: it vouches that record `uptoSeq` has `hash`, at time `at`. */
export function checkpointMessage(uptoSeq: number, hash: string, at: number): Buffer {
  return Buffer.from(JSON.stringify([CHECKPOINT_TAG, uptoSeq, hash, at]), "utf8");
}
