import { createPrivateKey, type KeyObject, sign } from "node:crypto";
import { chmodSync } from "node:fs";
import { PalisadeError } from "../errors.ts";
import { keyIdOf } from "../supply/index.ts";
import { type AuditAnchor, advanceHead } from "./audit-anchor.ts";
import { openAuditDbForWriting } from "./audit-db.ts";
import { checkpointMessage, GENESIS_HASH, hashRecord } from "./audit-hash.ts";
import { AUDIT_BAD_KEY } from "./errors.ts";

/** A record waiting to be appended: its time, kind and canonical body text. */
export interface PendingRecord {
  at: number;
  kind: string;
  body: string;
}

/** What one append wrote. */
export interface AppendResult {
  /** Whether anything was written (records or a checkpoint). */
  wrote: boolean;
  checkpoints: number;
  /** Records at the end of the log that no checkpoint covers yet. */
  unsigned: number;
  /** Why the head file beside the log could not be advanced (the records are committed anyway). */
  headError?: unknown;
}

/** The write side of the audit file: appends batches, signing checkpoints as it goes. */
export interface BatchAppender {
  /**
   * Appends `batch` in one transaction (one fsync), with a signed checkpoint at every
   * `checkpointEvery`-th record and, if `sealTail`, one for the last record. All or nothing.
   */
  append(batch: readonly PendingRecord[], sealTail: boolean): AppendResult;
  close(): void;
}

/** Opens `file` for appending (WAL, synchronous=FULL, mode 0600), with `signingKeyPem` for checkpoints. */
export function createBatchAppender(
  file: string,
  signingKeyPem: string,
  checkpointEvery: number,
): BatchAppender {
  const key = signingKey(signingKeyPem);
  const keyid = keyIdOf(key);
  const db = openAuditDbForWriting(file);
  chmodSync(file, 0o600);
  const tail = db.prepare("SELECT seq, hash FROM records ORDER BY seq DESC LIMIT 1");
  const signedUpTo = db.prepare("SELECT coalesce(max(upto_seq), 0) AS seq FROM checkpoints");
  const insertRecord = db.prepare(
    "INSERT INTO records (seq, at, kind, body, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?)",
  );
  const insertCheckpoint = db.prepare(
    "INSERT INTO checkpoints (upto_seq, hash, at, keyid, signature) VALUES (?, ?, ?, ?, ?)",
  );
  let head: AuditAnchor | undefined; // the newest checkpoint of the current transaction
  const checkpoint = (seq: number, hash: string): void => {
    const at = Date.now();
    const signature = sign(null, checkpointMessage(seq, hash, at), key).toString("base64");
    insertCheckpoint.run(seq, hash, at, keyid, signature);
    head = { seq, hash, at, keyid, signature };
  };

  function appendLocked(batch: readonly PendingRecord[], sealTail: boolean): AppendResult {
    // Read under the write lock: another process may have appended since our last batch.
    const last = tail.get();
    let seq = last === undefined ? 0 : Number(last.seq);
    let hash = last === undefined ? GENESIS_HASH : String(last.hash);
    let signed = Number(signedUpTo.get()?.seq ?? 0);
    let checkpoints = 0;
    for (const r of batch) {
      const prev = hash;
      seq += 1;
      hash = hashRecord(seq, r.at, r.kind, r.body, prev);
      insertRecord.run(seq, r.at, r.kind, r.body, prev, hash);
      if (seq - signed >= checkpointEvery) {
        checkpoint(seq, hash);
        signed = seq;
        checkpoints += 1;
      }
    }
    if (sealTail && seq > signed) {
      checkpoint(seq, hash);
      signed = seq;
      checkpoints += 1;
    }
    return { wrote: batch.length > 0 || checkpoints > 0, checkpoints, unsigned: seq - signed };
  }

  return {
    append(batch, sealTail) {
      head = undefined;
      db.exec("BEGIN IMMEDIATE");
      let result: AppendResult;
      try {
        result = appendLocked(batch, sealTail);
        db.exec("COMMIT");
      } catch (err) {
        if (db.isTransaction) db.exec("ROLLBACK");
        throw err;
      }
      // Only after the commit: the head file must never vouch for records that are not on disk.
      if (head !== undefined)
        try {
          advanceHead(file, head);
        } catch (err) {
          result.headError = err;
        }
      return result;
    },
    close: () => db.close(),
  };
}

/** The Ed25519 private key in `pem`; throws AUDIT_BAD_KEY for anything else. */
export function signingKey(pem: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch (err) {
    throw new PalisadeError(AUDIT_BAD_KEY, "The audit signing key is not a private key in PEM form", {
      cause: err,
    });
  }
  if (key.asymmetricKeyType !== "ed25519") {
    throw new PalisadeError(
      AUDIT_BAD_KEY,
      `The audit signing key is a ${key.asymmetricKeyType ?? "symmetric"} key; expected Ed25519 (keys/audit.key)`,
    );
  }
  return key;
}
