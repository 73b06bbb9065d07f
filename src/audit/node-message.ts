/**
 * The audit log of a NATS deployment, message by message. Each node (one process start) appends to
 * a chain of its own, on a subject of its own, in the same record and checkpoint format as the
 * SQLite log (audit-hash.ts): `seq` counts the node's records from 1, and record 1's `prevHash` is
 * the node's genesis, SHA-256 of ["palisade.audit.node.v1", node], so a chain cannot be passed off
 * as another node's. A message is the JSON of one record or one checkpoint:
 *
 *   { "format": "palisade.audit.node.v1", "type": "record", node, seq, at, kind, body, prevHash, hash }
 *   { "format": "palisade.audit.node.v1", "type": "checkpoint", node, seq, hash, at, keyid, signature }
 */
import { createHash, randomBytes } from "node:crypto";
import { hostname } from "node:os";

export const NODE_FORMAT = "palisade.audit.node.v1";

/** One record of a node's chain. */
export interface NodeRecord {
  type: "record";
  node: string;
  seq: number;
  at: number;
  kind: string;
  body: string;
  prevHash: string;
  hash: string;
}

/** A signed statement that record `seq` of the node's chain has `hash`. */
export interface NodeCheckpoint {
  type: "checkpoint";
  node: string;
  seq: number;
  hash: string;
  at: number;
  keyid: string;
  signature: string;
}

export type NodeMessage = NodeRecord | NodeCheckpoint;

/** The `prevHash` of record 1 of `node`'s chain. */
export function nodeGenesis(node: string): string {
  return createHash("sha256")
    .update(JSON.stringify([NODE_FORMAT, node]), "utf8")
    .digest("hex");
}

/**
 * A node id for this process: host, pid and 6 random bytes, in subject-safe characters. A new one
 * on every start, so a restarted node begins a new chain rather than guessing where its last ended.
 */
export function newNodeId(): string {
  const host =
    hostname()
      .replace(/[^A-Za-z0-9_-]/g, "_")
      .slice(0, 40) || "host";
  return `${host}-${process.pid}-${randomBytes(6).toString("hex")}`;
}

/** The message's text as published. */
export function encodeNodeMessage(m: NodeMessage): string {
  return JSON.stringify({ format: NODE_FORMAT, ...m });
}

/** The message in `text`, or why it is not one (only a forged message is not). */
export function decodeNodeMessage(text: string): NodeMessage | string {
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(text);
  } catch {
    return "it is not JSON";
  }
  if (typeof raw !== "object" || raw === null || raw.format !== NODE_FORMAT)
    return `it is not a "${NODE_FORMAT}" message`;
  const str = (k: string): boolean => typeof raw[k] === "string";
  const int = (k: string): boolean => Number.isSafeInteger(raw[k]);
  const common = str("node") && int("seq") && Number(raw.seq) > 0 && int("at") && str("hash");
  if (raw.type === "record" && common && str("kind") && str("body") && str("prevHash"))
    return raw as unknown as NodeRecord;
  if (raw.type === "checkpoint" && common && str("keyid") && str("signature"))
    return raw as unknown as NodeCheckpoint;
  return "it is neither a record nor a checkpoint with every field";
}
