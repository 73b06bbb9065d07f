import { createPublicKey, type KeyObject, verify } from "node:crypto";
import { PalisadeError } from "../errors.ts";
import { keyIdOf } from "../supply/index.ts";
import type { AuditAnchor } from "./audit-anchor.ts";
import { openAuditDbForReading } from "./audit-db.ts";
import { checkpointMessage, GENESIS_HASH, hashRecord } from "./audit-hash.ts";
import { AUDIT_BAD_KEY } from "./errors.ts";

/**
 * What `verifyAuditLog` found. Intact: how many records and checkpoints it checked, and how many
 * records at the end no checkpoint covers yet (those could be cut off without detection). Broken:
 * the first record whose integrity cannot be shown (null when no record is to blame) and why.
 */
export type VerifyResult =
  | { ok: true; records: number; checkpoints: number; unsigned: number }
  | { ok: false; firstBad: number | null; problem: string };

/** A record as stored, shown to the caller of `verifyAuditLog` once its hash and link are checked. */
export interface StoredRecord {
  seq: number;
  kind: string;
  /** The canonical JSON body exactly as hashed. */
  body: string;
}

/** A signed checkpoint as stored: record `seq` had `hash`. */
export interface Checkpoint {
  seq: number;
  hash: string;
  at: number;
  keyid: string;
  signature: string;
}

/**
 * Walks the audit log at `file` in seq order, recomputing every record's hash and link, and checks
 * each checkpoint's signature against `trustedPublicKeysPem` (the app's `keys/*.pub`) and its hash
 * against the record it names. Detects a changed record (its hash no longer matches), a removed one
 * (a gap in seq), reordered ones (seq is hashed, and each record names its predecessor's hash), a
 * chain recomputed after a change (its signed checkpoint no longer matches), a forged checkpoint and
 * a tail cut off before the last checkpoint. Reads one consistent snapshot, so a live writer is fine.
 * `visit` sees each record in the same pass, once its hash and link check out; what it learns is
 * trustworthy only if the result is intact.
 */
export function verifyAuditLog(
  file: string,
  trustedPublicKeysPem: readonly string[],
  anchors: readonly SourcedAnchor[] = [],
  visit?: (record: StoredRecord) => void,
): VerifyResult {
  const trusted = trustedKeys(trustedPublicKeysPem);
  const db = openAuditDbForReading(file);
  try {
    db.exec("BEGIN"); // one read snapshot for both tables
    const checkpoints = db
      .prepare("SELECT upto_seq, hash, at, keyid, signature FROM checkpoints ORDER BY upto_seq")
      .all()
      .map((r) => ({
        seq: Number(r.upto_seq),
        hash: String(r.hash),
        at: Number(r.at),
        keyid: String(r.keyid),
        signature: String(r.signature),
      }));
    const rows = db
      .prepare("SELECT seq, at, kind, body, prev_hash, hash FROM records ORDER BY seq")
      .iterate();
    const result = walk(rows as Iterable<Record<string, unknown>>, checkpoints, trusted, visit);
    if (!result.ok) return result;
    const hashAt = db.prepare("SELECT hash FROM records WHERE seq = ?");
    for (const a of anchors) {
      const bad = checkAnchor(a, result.records, (seq) => hashAt.get(seq)?.hash, trusted);
      if (bad !== undefined) return bad;
    }
    return result;
  } finally {
    db.close();
  }
}

/**
 * Walks one chain: `rows` (seq, at, kind, body, prev_hash, hash) in seq order and its `checkpoints`
 * in order; `genesis` is the `prevHash` of record 1 (a node's own on NATS, see node-message.ts).
 */
export function walk(
  rows: Iterable<Record<string, unknown>>,
  checkpoints: Checkpoint[],
  trusted: Map<string, KeyObject>,
  visit?: (record: StoredRecord) => void,
  genesis = GENESIS_HASH,
): VerifyResult {
  let expected = 1;
  let prev = genesis;
  let vouched = 0; // the last record a valid checkpoint vouches for
  let next = 0; // index of the next checkpoint to check
  for (const row of rows) {
    const seq = Number(row.seq);
    const hash = String(row.hash);
    if (seq !== expected) return missing(expected, seq);
    if (hashRecord(seq, Number(row.at), String(row.kind), String(row.body), String(row.prev_hash)) !== hash) {
      return broken(
        seq,
        `record ${seq} was changed: its contents (or its position) no longer match its hash`,
      );
    }
    if (row.prev_hash !== prev) return unchained(seq, vouched);
    visit?.({ seq, kind: String(row.kind), body: String(row.body) });
    for (; next < checkpoints.length && (checkpoints[next]?.seq ?? 0) <= seq; next++) {
      const bad = checkCheckpoint(checkpoints[next] as Checkpoint, seq, hash, vouched, trusted);
      if (bad !== undefined) return bad;
      vouched = seq;
    }
    prev = hash;
    expected = seq + 1;
  }
  const last = expected - 1;
  const beyond = checkpoints[next];
  if (beyond !== undefined) {
    const forged = checkSignature(beyond, trusted);
    if (forged !== undefined) return broken(beyond.seq, forged);
    return broken(
      last + 1,
      `the log was truncated after record ${last}: a signed checkpoint vouches for record ${beyond.seq}`,
    );
  }
  return { ok: true, records: last, checkpoints: checkpoints.length, unsigned: last - vouched };
}

// A checkpoint reached while walking: record `seq` (hash `hash`) is the newest record read so far and
// `vouched` the last one a checkpoint vouched for.
function checkCheckpoint(
  cp: Checkpoint,
  seq: number,
  hash: string,
  vouched: number,
  trusted: Map<string, KeyObject>,
): VerifyResult | undefined {
  const forged = checkSignature(cp, trusted);
  if (forged !== undefined) return broken(cp.seq, forged);
  if (cp.seq !== seq) return broken(null, `a signed checkpoint names record ${cp.seq}, which cannot exist`);
  if (cp.hash === hash) return undefined;
  return broken(
    vouched + 1,
    `records ${vouched + 1} to ${seq} were rewritten: record ${seq} no longer has the hash its signed checkpoint vouches for`,
  );
}

/**
 * Checks only that the log at `file` holds each anchored record with its signed hash (one lookup
 * each, no walk of the chain): quick enough for every start. Undefined when it does.
 */
export function checkAnchors(
  file: string,
  trustedPublicKeysPem: readonly string[],
  anchors: readonly SourcedAnchor[],
): VerifyResult | undefined {
  const trusted = trustedKeys(trustedPublicKeysPem);
  const db = openAuditDbForReading(file);
  try {
    db.exec("BEGIN");
    const last = Number(db.prepare("SELECT coalesce(max(seq), 0) AS seq FROM records").get()?.seq ?? 0);
    const hashAt = db.prepare("SELECT hash FROM records WHERE seq = ?");
    for (const a of anchors) {
      const bad = checkAnchor(a, last, (seq) => hashAt.get(seq)?.hash, trusted);
      if (bad !== undefined) return bad;
    }
    return undefined;
  } finally {
    db.close();
  }
}

/** An anchor and where it came from (named in what verify reports). */
export interface SourcedAnchor {
  anchor: AuditAnchor;
  source: string;
}

// A signed head kept outside the log: the log must still hold that record with that hash.
function checkAnchor(
  { anchor, source }: SourcedAnchor,
  last: number,
  hashAt: (seq: number) => unknown,
  trusted: Map<string, KeyObject>,
): VerifyResult | undefined {
  const forged = checkSignature(anchor, trusted);
  if (forged !== undefined)
    return broken(null, `${source}: ${forged.replace("the checkpoint", "the anchor")}`);
  if (anchor.seq > last)
    return broken(
      last + 1,
      `the log ends at record ${last}, but the signed head in ${source} vouches for record ${anchor.seq}: records were cut off, or the log was deleted or replaced by an older copy`,
    );
  if (hashAt(anchor.seq) === anchor.hash) return undefined;
  return broken(
    anchor.seq,
    `record ${anchor.seq} is not the one the signed head in ${source} vouches for: the log was replaced or rewritten`,
  );
}

function missing(expected: number, found: number): VerifyResult {
  return broken(
    expected,
    expected === 1
      ? `record 1 is missing: the log starts at record ${found}`
      : `record ${expected} is missing: record ${expected - 1} is followed by record ${found}`,
  );
}

// A record whose own hash is right but does not name its predecessor's hash: the records around it
// were edited with hashes recomputed. Record seq-1 is to blame unless a checkpoint vouches for it.
function unchained(seq: number, vouched: number): VerifyResult {
  const firstBad = vouched === seq - 1 ? seq : seq - 1;
  return broken(
    firstBad,
    `record ${seq} does not follow record ${seq - 1}: records were removed or reordered there, or record ${firstBad} was changed and its hash recomputed`,
  );
}

/** Why `cp` is not signed by a trusted key, or undefined when it is. */
export function checkSignature(cp: Checkpoint, trusted: Map<string, KeyObject>): string | undefined {
  const key = trusted.get(cp.keyid);
  if (key === undefined) {
    return `the checkpoint at record ${cp.seq} is signed by key ${cp.keyid.slice(0, 16)}…, which is not a trusted key (keys/audit/*.pub, keys/*.pub)`;
  }
  let valid = false;
  try {
    valid = verify(null, checkpointMessage(cp.seq, cp.hash, cp.at), key, Buffer.from(cp.signature, "base64"));
  } catch {
    valid = false;
  }
  return valid ? undefined : `the checkpoint at record ${cp.seq} is forged: its signature does not verify`;
}

/** The trusted audit public keys by key id; throws AUDIT_BAD_KEY for one that is not Ed25519. */
export function trustedKeys(pems: readonly string[]): Map<string, KeyObject> {
  const keys = new Map<string, KeyObject>();
  for (const pem of pems) {
    let key: KeyObject;
    try {
      key = createPublicKey(pem);
    } catch (err) {
      throw new PalisadeError(AUDIT_BAD_KEY, "A trusted audit key is not a public key in PEM form", {
        cause: err,
      });
    }
    if (key.asymmetricKeyType !== "ed25519")
      throw new PalisadeError(
        AUDIT_BAD_KEY,
        `A trusted audit key is ${key.asymmetricKeyType}; expected Ed25519`,
      );
    keys.set(keyIdOf(key), key);
  }
  return keys;
}

function broken(firstBad: number | null, problem: string): VerifyResult {
  return { ok: false, firstBad, problem };
}
