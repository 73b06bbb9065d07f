/**
 * What an attacker with stream admin rights can do to a NATS deployment's audit stream: the server
 * refuses deletes (and refuses to have them allowed again), so they read the whole stream, delete
 * it, recreate it with the same config and publish back what they want kept, changed or added.
 */
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { decodeNodeMessage, encodeNodeMessage, type NodeMessage } from "../../src/audit/index.ts";
import type { AuditStream, AuditStreamMessage } from "../../src/bus/index.ts";
import { encodeToken } from "../../src/bus/nats/names.ts";

/** One message as the attacker handles it: the node whose subject it is on, and what it says. */
export interface Tamperable {
  node: string;
  message: NodeMessage;
}

/** Every message of `stream`, oldest first. */
export async function readStream(stream: AuditStream): Promise<AuditStreamMessage[]> {
  const out: AuditStreamMessage[] = [];
  for await (const m of stream.read()) out.push(m);
  return out;
}

/** Recreates `stream` holding `edit(messages)` instead, on subjects `<subjectPrefix>.<node>`. */
export async function rewriteAuditStream(
  nc: NatsConnection,
  stream: AuditStream,
  subjectPrefix: string,
  edit: (messages: Tamperable[]) => Tamperable[],
): Promise<void> {
  const jsm = await jetstreamManager(nc);
  const { config } = await jsm.streams.info(stream.name);
  const messages = (await readStream(stream)).map((m) => ({
    node: m.node,
    message: decodeNodeMessage(m.data) as NodeMessage,
  }));
  await jsm.streams.delete(stream.name);
  await jsm.streams.add(config);
  const js = jetstream(nc);
  for (const m of edit(messages))
    await js.publish(`${subjectPrefix}.${encodeToken(m.node)}`, encodeNodeMessage(m.message));
}

/** Whether `m` is record `seq` of `node`'s chain. */
export const isRecord =
  (node: string, seq: number) =>
  (m: Tamperable): boolean =>
    m.node === node && m.message.type === "record" && m.message.seq === seq;
