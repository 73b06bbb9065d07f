import { sign } from "node:crypto";
import { PalisadeError } from "../errors.ts";
import { keyIdOf } from "../supply/index.ts";
import { signingKey } from "./append-batch.ts";
import { checkpointMessage, hashRecord } from "./audit-hash.ts";
import { AUDIT_BAD_ENTRY, AUDIT_WRITE_FAILED } from "./errors.ts";
import { encodeNodeMessage, type NodeMessage, nodeGenesis } from "./node-message.ts";
import type { AuditLog, AuditLogOptions, AuditStats } from "./open-audit-log.ts";
import { positiveOption } from "./positive-option.ts";
import { recordBody } from "./record-body.ts";

/** Where a node's messages go: JetStream, on the node's own subject (see bus/nats/audit-stream.ts). */
export interface NodeAuditSink {
  /**
   * Publishes `data` as `node`'s message `id` and resolves once it is stored. The same id published
   * again (a retry after a lost acknowledgement) must be stored once.
   */
  publish(node: string, id: string, data: string): Promise<void>;
}

export interface NodeAuditLogOptions extends AuditLogOptions {
  /** This node's id (newNodeId()): its subject, and the genesis of its chain. */
  node: string;
  /** Messages (records and checkpoints) held while the broker is away; past it records are dropped. @default 100000 */
  maxQueued?: number;
}

/** A node's log: flush and close resolve once JetStream acknowledged everything queued. */
export interface NodeAuditLog extends AuditLog {
  flush(): Promise<void>;
  close(): Promise<void>;
}

const RETRY_MS = 1000;

/**
 * The audit log of one node of a NATS deployment: the SQLite log's guarantees on a chain of the
 * node's own (node-message.ts). `record` hashes and queues at once (and signs a checkpoint every
 * `checkpointEvery` records); the queue is published in order, one acknowledged message at a time,
 * `flushMs` after a record, so the stream never holds a record whose predecessor it lacks. A
 * publish that fails (NATS away) leaves it and everything after it queued and is tried again a
 * second later, with the same message ids (JetStream drops a duplicate). Past `maxQueued` new
 * records are dropped, counted in `stats.dropped` and reported to `onError` once per overflow: a
 * dropped record takes no seq, so the chain has no gap. `close` signs the tail and resolves once
 * everything queued is stored, or rejects if NATS is still away (the records are then lost).
 */
export function openNodeAuditLog(sink: NodeAuditSink, options: NodeAuditLogOptions): NodeAuditLog {
  const { node } = options;
  const every = positiveOption(options.checkpointEvery ?? 1000, "checkpointEvery");
  const checkpointMs = positiveOption(options.checkpointMs ?? 10_000, "checkpointMs");
  const maxQueued = positiveOption(options.maxQueued ?? 100_000, "maxQueued");
  const flushMs = options.flushMs ?? 5;
  const key = signingKey(options.signingKeyPem);
  const keyid = keyIdOf(key);
  const stats: AuditStats = { commits: 0, records: 0, checkpoints: 0, dropped: 0 };
  const queue: NodeMessage[] = [];
  let seq = 0;
  let hash = nodeGenesis(node);
  let signed = 0;
  let overflowing = false;
  let closed = false;
  let flushTimer: NodeJS.Timeout | undefined;
  let checkpointTimer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();

  function checkpoint(): void {
    if (seq === signed) return;
    const at = Date.now();
    const signature = sign(null, checkpointMessage(seq, hash, at), key).toString("base64");
    queue.push({ type: "checkpoint", node, seq, hash, at, keyid, signature });
    signed = seq;
    clearTimeout(checkpointTimer);
    checkpointTimer = undefined;
  }

  // Publishes the queue's head until it is empty; a failure leaves it (and what follows) queued.
  async function drain(): Promise<void> {
    let wrote = false;
    try {
      for (let m = queue[0]; m !== undefined; m = queue[0]) {
        await sink.publish(node, `${m.type === "record" ? "r" : "c"}${m.seq}`, encodeNodeMessage(m));
        queue.shift();
        wrote = true;
        if (m.type === "record") stats.records += 1;
        else stats.checkpoints += 1;
      }
      overflowing = false;
    } catch (err) {
      throw new PalisadeError(
        AUDIT_WRITE_FAILED,
        `Cannot publish ${queue.length} audit message(s) of node ${node} to NATS; they stay queued`,
        { cause: err },
      );
    } finally {
      if (wrote) stats.commits += 1;
    }
  }

  // Whoever flushes, a failure is tried again a second later until the log is closed.
  function flush(): Promise<void> {
    clearTimeout(flushTimer);
    flushTimer = undefined;
    running = running.catch(() => undefined).then(drain);
    running.catch(() => {
      if (!closed) flushTimer ??= setTimeout(flushInBackground, RETRY_MS);
    });
    return running;
  }

  function flushInBackground(): void {
    flush().catch((err: PalisadeError) => options.onError?.(err));
  }

  return {
    stats,
    record(entry) {
      if (closed)
        throw new PalisadeError(AUDIT_BAD_ENTRY, `Cannot record "${entry.kind}": the audit log is closed`);
      const body = recordBody(entry);
      if (queue.length >= maxQueued) {
        stats.dropped += 1;
        if (!overflowing)
          options.onError?.(
            new PalisadeError(
              AUDIT_WRITE_FAILED,
              `Audit records of node ${node} are being dropped: ${queue.length} are waiting for NATS`,
            ),
          );
        overflowing = true;
        return;
      }
      const at = Date.now();
      const prevHash = hash;
      seq += 1;
      hash = hashRecord(seq, at, entry.kind, body, prevHash);
      queue.push({ type: "record", node, seq, at, kind: entry.kind, body, prevHash, hash });
      if (seq - signed >= every) checkpoint();
      // A pending checkpoint alone does not keep the process alive; close() signs the tail anyway.
      if (seq > signed)
        checkpointTimer ??= setTimeout(() => {
          checkpointTimer = undefined;
          checkpoint();
          flushInBackground();
        }, checkpointMs).unref();
      flushTimer ??= setTimeout(flushInBackground, flushMs);
    },
    flush,
    async close() {
      if (closed) return;
      closed = true;
      clearTimeout(checkpointTimer);
      checkpoint();
      try {
        await flush();
      } finally {
        clearTimeout(flushTimer);
      }
    },
  };
}
