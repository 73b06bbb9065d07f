/**
 * The audit stream of a NATS deployment: `PALISADE_<APP>_AUDIT`, subjects
 * `palisade.<app>.audit.<node id>`, one subject per node (process start), each holding that node's
 * hash chain and signed checkpoints (audit/node-message.ts). Created with `deny_delete` and
 * `deny_purge`, which the server refuses to lift later: removing a record takes deleting and
 * recreating the whole stream, and the chains and signatures show what was left out or changed.
 * No age or size limit: records stay until an operator with stream admin rights removes the stream.
 */
import { type JetStreamClient, type JetStreamManager, jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { scanStream } from "../../jetstream-scan.ts";
import { decodeToken, encodeToken, type NatsNames } from "./names.ts";
import { ensureStream } from "./nats-resources.ts";

/** One message as read back: stream sequence, the node its subject names, the text. */
export interface AuditStreamMessage {
  seq: number;
  node: string;
  data: string;
}

/** The stream as it stands: its last sequence, and whether it still refuses deletes and purges. */
export interface AuditStreamState {
  lastSeq: number;
  denies: boolean;
}

export interface AuditStream {
  readonly name: string;
  /** Stores `data` on `node`'s subject once (`id` dedupes a retry); resolves when JetStream has it. */
  publish(node: string, id: string, data: string): Promise<void>;
  /** Every message from stream sequence `startSeq` on, oldest first. */
  read(startSeq?: number): AsyncGenerator<AuditStreamMessage>;
  state(): Promise<AuditStreamState>;
}

/** How long a publish waits for JetStream's acknowledgement before it counts as failed (retried). */
const PUBLISH_TIMEOUT_MS = 5000;

/** Creates (or opens) the app's audit stream with `replicas` copies. */
export async function openAuditStream(
  nc: NatsConnection,
  names: NatsNames,
  replicas: number,
): Promise<AuditStream> {
  const jsm: JetStreamManager = await jetstreamManager(nc);
  const js: JetStreamClient = jetstream(nc);
  const name = names.auditStream;
  await ensureStream(
    jsm,
    { name, subjects: [`${names.audit}.>`], deny_delete: true, deny_purge: true },
    replicas,
  );
  const prefix = `${names.audit}.`;
  return {
    name,
    async publish(node, id, data) {
      await js.publish(`${prefix}${encodeToken(node)}`, data, {
        msgID: `${node}.${id}`,
        timeout: PUBLISH_TIMEOUT_MS,
      });
    },
    async *read(startSeq = 1) {
      for await (const m of scanStream(js, jsm, name, { startSeq })) {
        yield { seq: m.seq, node: decodeToken(m.subject.slice(prefix.length)), data: m.string() };
      }
    },
    async state() {
      const info = await jsm.streams.info(name);
      return {
        lastSeq: info.state.last_seq,
        denies: info.config.deny_delete === true && info.config.deny_purge === true,
      };
    },
  };
}
