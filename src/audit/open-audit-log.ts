import { PalisadeError } from "../errors.ts";
import { type AppendResult, createBatchAppender, type PendingRecord } from "./append-batch.ts";
import { AUDIT_BAD_ENTRY, AUDIT_WRITE_FAILED } from "./errors.ts";
import { positiveOption } from "./positive-option.ts";
import { type AuditEntry, recordBody } from "./record-body.ts";

export interface AuditLogOptions {
  /** The app's Ed25519 private key (PKCS8 PEM, `keys/audit.key`) that signs checkpoints. */
  signingKeyPem: string;
  /** Records between signed checkpoints. @default 1000 */
  checkpointEvery?: number;
  /** Longest time a written record waits for a checkpoint. @default 10000 */
  checkpointMs?: number;
  /** How long a record waits in memory so that later ones share its commit. @default 5 */
  flushMs?: number;
  /** Told when a background commit fails; its records stay queued and are tried again a second later. */
  onError?: (err: PalisadeError) => void;
}

/** Counters of what was written, to see how much batching happened. */
export interface AuditStats {
  /** Transactions committed (one fsync each). */
  commits: number;
  records: number;
  checkpoints: number;
  /** Records given up because 100,000 were queued while commits kept failing. */
  dropped: number;
}

/** The append side of the audit log. */
export interface AuditLog {
  /**
   * Queues one record and returns at once; it is committed within `flushMs` together with every
   * record queued meanwhile (one transaction, one fsync). The contract: `details` carry names (of
   * secrets, keys, principals), reasons, digests and addresses, never values. As a defence in depth,
   * members under keys like value, secret, token, password, authorization or apiKey, and strings
   * that look like credentials (bearer tokens, JWTs, PEM private keys, whsec_…), are stored as
   * "[REDACTED]". Throws only for a programming mistake: a malformed kind or outcome, or a closed log.
   */
  record(entry: AuditEntry): void;
  /**
   * Commits every queued record now; throws (rejects, on NATS) if the commit fails (the records stay
   * queued). The SQLite log returns at once; the NATS one resolves once JetStream acknowledged them.
   */
  flush(): void | Promise<void>;
  /** Commits what is queued, signs a checkpoint covering every record, and closes the file (or stream). */
  close(): void | Promise<void>;
  readonly stats: Readonly<AuditStats>;
}

/** The SQLite log: it commits synchronously, so flush and close return once the file has the records. */
export interface LocalAuditLog extends AuditLog {
  flush(): void;
  close(): void;
}

const MAX_QUEUED = 100_000;
const RETRY_MS = 1000;

/**
 * Opens (or creates) the audit log at `file` (`.palisade/audit.db`) for appending. Records are
 * hash-chained (see audit-hash.ts); every `checkpointEvery` records, `checkpointMs` after a record
 * was written without one, and on close, a checkpoint signed with `signingKeyPem` vouches for the
 * hash of the latest record; the newest one is also kept in `audit-head.json` beside the log. Several processes may append to one file (the platform and a CLI
 * command): each batch reads the chain's tail under SQLite's write lock.
 */
export function openAuditLog(file: string, options: AuditLogOptions): LocalAuditLog {
  const every = positiveOption(options.checkpointEvery ?? 1000, "checkpointEvery");
  const checkpointMs = positiveOption(options.checkpointMs ?? 10_000, "checkpointMs");
  const flushMs = options.flushMs ?? 5;
  const appender = createBatchAppender(file, options.signingKeyPem, every);
  const stats: AuditStats = { commits: 0, records: 0, checkpoints: 0, dropped: 0 };
  let queue: PendingRecord[] = [];
  let flushTimer: NodeJS.Timeout | undefined;
  let checkpointTimer: NodeJS.Timeout | undefined;
  let checkpointDue = false;
  let closed = false;

  function write(): void {
    clearTimeout(flushTimer);
    flushTimer = undefined;
    if (queue.length === 0 && !checkpointDue) return;
    const batch = queue;
    queue = [];
    let result: AppendResult;
    try {
      result = appender.append(batch, checkpointDue);
    } catch (err) {
      queue = batch.concat(queue);
      throw new PalisadeError(
        AUDIT_WRITE_FAILED,
        `Cannot write ${batch.length} audit record(s) to "${file}"`,
        {
          cause: err,
        },
      );
    }
    if (result.headError !== undefined)
      options.onError?.(
        new PalisadeError(AUDIT_WRITE_FAILED, `Cannot update the signed head beside "${file}"`, {
          cause: result.headError,
        }),
      );
    if (result.wrote) stats.commits += 1;
    stats.records += batch.length;
    stats.checkpoints += result.checkpoints;
    checkpointDue = false;
    if (result.unsigned === 0) {
      clearTimeout(checkpointTimer);
      checkpointTimer = undefined;
    } else checkpointTimer ??= armCheckpoint();
  }

  function armCheckpoint(): NodeJS.Timeout {
    const timer = setTimeout(() => {
      checkpointTimer = undefined;
      checkpointDue = true;
      writeInBackground();
    }, checkpointMs);
    // A pending checkpoint alone does not keep the process alive; close() signs the tail anyway.
    return timer.unref();
  }

  function writeInBackground(): void {
    try {
      write();
    } catch (err) {
      options.onError?.(err as PalisadeError);
      flushTimer ??= setTimeout(writeInBackground, RETRY_MS);
    }
  }

  return {
    stats,
    record(entry) {
      if (closed)
        throw new PalisadeError(AUDIT_BAD_ENTRY, `Cannot record "${entry.kind}": the audit log is closed`);
      const body = recordBody(entry);
      if (queue.length >= MAX_QUEUED) {
        stats.dropped += 1;
        return;
      }
      queue.push({ at: Date.now(), kind: entry.kind, body });
      flushTimer ??= setTimeout(writeInBackground, flushMs);
    },
    flush: write,
    close() {
      if (closed) return;
      closed = true;
      clearTimeout(checkpointTimer);
      checkpointDue = true;
      try {
        write();
      } finally {
        clearTimeout(flushTimer);
        appender.close();
      }
    },
  };
}
