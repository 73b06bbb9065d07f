import type { NodeAnchor, SourcedNodeAnchor } from "./nats-anchor.ts";
import { decodeNodeMessage, type NodeCheckpoint, type NodeRecord, nodeGenesis } from "./node-message.ts";
import type { AuditRecord } from "./read-audit.ts";
import { toRecord } from "./read-audit.ts";
import { type Checkpoint, checkSignature, type StoredRecord, trustedKeys, walk } from "./verify-audit-log.ts";

/** One message of the audit stream: its stream sequence, the node its subject names, its text. */
export interface StreamMessage {
  seq: number;
  node: string;
  data: string;
}

/** The stream as it stands: its last sequence (deleted messages count), and whether it refuses deletes and purges. */
export interface StreamBounds {
  lastSeq: number;
  denies: boolean;
}

/** One node's chain, checked: records, checkpoints, and records at its end no checkpoint covers. */
export interface NodeReport {
  node: string;
  records: number;
  checkpoints: number;
  unsigned: number;
  /** Time of the node's first and last record (ms since the epoch). */
  firstAt: number;
  lastAt: number;
  /** Its newest signed checkpoint: what `audit anchor --nats` prints for it. */
  head?: NodeAnchor;
}

/**
 * What `verifyNodeChains` found. Broken: the node and record to blame (null when none can be named)
 * and why, with the reports of the nodes checked before it.
 */
export type NodesVerifyResult =
  | { ok: true; nodes: NodeReport[] }
  | { ok: false; node: string | null; firstBad: number | null; problem: string; nodes: NodeReport[] };

interface Chain {
  records: Map<number, NodeRecord>;
  checkpoints: NodeCheckpoint[];
}

/**
 * Checks every node's chain in the audit stream, as `verifyAuditLog` checks the SQLite log: a
 * record removed (a gap in the node's seq), changed (its hash), rewritten with hashes recomputed
 * (its link to the next record, or the node's signed checkpoint), a forged checkpoint (against
 * `trustedPublicKeysPem`), a message moved to another node's subject, and a record written twice.
 * The stream has `deny_delete` and `deny_purge`, so also any stream sequence up to `bounds.lastSeq`
 * that is missing: someone with the rights to lift them removed a message (a record or a checkpoint).
 * `visit` sees each node's records once their hash and link check out. Each of `anchors` (node heads
 * kept outside the stream, `audit anchor --nats`) must still be in its node's chain with its signed
 * hash: that finds a node's chain, or its tail with its checkpoints, left out of a stream made anew.
 */
export function verifyNodeChains(
  messages: Iterable<StreamMessage>,
  bounds: StreamBounds,
  trustedPublicKeysPem: readonly string[],
  visit?: (node: string, record: StoredRecord) => void,
  anchors: readonly SourcedNodeAnchor[] = [],
): NodesVerifyResult {
  const trusted = trustedKeys(trustedPublicKeysPem);
  const chains = new Map<string, Chain>();
  const nodes: NodeReport[] = [];
  const broken = (node: string | null, firstBad: number | null, problem: string): NodesVerifyResult => ({
    ok: false,
    node,
    firstBad,
    problem,
    nodes,
  });
  let expected = 1;
  let removed: number | undefined;
  for (const m of messages) {
    if (m.seq !== expected) removed ??= expected;
    expected = m.seq + 1;
    const message = decodeNodeMessage(m.data);
    if (typeof message === "string")
      return broken(m.node, null, `stream message ${m.seq} (node ${m.node}) was forged: ${message}`);
    if (message.node !== m.node)
      return broken(
        m.node,
        message.seq,
        `stream message ${m.seq} on node ${m.node}'s subject is node ${message.node}'s: it was moved or forged`,
      );
    const chain: Chain = chains.get(m.node) ?? { records: new Map(), checkpoints: [] };
    chains.set(m.node, chain);
    const twin = message.type === "record" ? chain.records.get(message.seq) : undefined;
    if (message.type === "checkpoint") chain.checkpoints.push(message);
    else if (twin === undefined) chain.records.set(message.seq, message);
    // The same record twice is a retry published after JetStream's duplicate window; two differ: forged.
    else if (
      twin.hash !== message.hash ||
      twin.at !== message.at ||
      twin.body !== message.body ||
      twin.kind !== message.kind ||
      twin.prevHash !== message.prevHash
    )
      return broken(
        m.node,
        message.seq,
        `record ${message.seq} appears twice, differently: one of them was forged`,
      );
  }
  if (expected <= bounds.lastSeq) removed ??= expected;
  for (const [node, chain] of [...chains].sort(([a], [b]) => a.localeCompare(b))) {
    const rows = [...chain.records.values()].sort((a, b) => a.seq - b.seq);
    const checkpoints: Checkpoint[] = chain.checkpoints.sort((a, b) => a.seq - b.seq);
    const result = walk(
      rows.map((r) => ({ ...r, prev_hash: r.prevHash })),
      checkpoints,
      trusted,
      visit === undefined ? undefined : (r) => visit(node, r),
      nodeGenesis(node),
    );
    if (!result.ok) return broken(node, result.firstBad, `node ${node}: ${result.problem}`);
    const head = checkpoints.at(-1);
    nodes.push({
      node,
      records: result.records,
      checkpoints: result.checkpoints,
      unsigned: result.unsigned,
      firstAt: rows[0]?.at ?? 0,
      lastAt: rows.at(-1)?.at ?? 0,
      ...(head === undefined ? {} : { head: { node, ...headOf(head) } }),
    });
  }
  for (const a of anchors) {
    const bad = checkNodeAnchor(a, chains.get(a.anchor.node), trusted);
    if (bad !== undefined)
      return broken(a.anchor.node, bad.firstBad, `node ${a.anchor.node}: ${bad.problem}`);
  }
  if (!bounds.denies)
    return broken(
      null,
      null,
      "the audit stream allows deletes or purges, which Palisade never does: it was recreated by someone with stream admin rights",
    );
  if (removed !== undefined)
    return broken(
      null,
      null,
      `stream message ${removed} was removed (a record or checkpoint): the audit stream denies deletes, so someone lifted that to remove it`,
    );
  return { ok: true, nodes };
}

function headOf({ seq, hash, at, keyid, signature }: Checkpoint): Omit<NodeAnchor, "node"> {
  return { seq, hash, at, keyid, signature };
}

// The chain must still hold the anchored record with the hash its signed head names.
function checkNodeAnchor(
  { anchor, source }: SourcedNodeAnchor,
  chain: Chain | undefined,
  trusted: ReturnType<typeof trustedKeys>,
): { firstBad: number | null; problem: string } | undefined {
  const forged = checkSignature(anchor, trusted);
  if (forged !== undefined)
    return { firstBad: null, problem: `${source}: ${forged.replace("the checkpoint", "the anchor")}` };
  if (chain === undefined)
    return {
      firstBad: 1,
      problem: `its whole chain is gone, but the signed head in ${source} vouches for its record ${anchor.seq}: the stream was made anew without it`,
    };
  const record = chain.records.get(anchor.seq);
  if (record === undefined) {
    const last = Math.max(0, ...chain.records.keys());
    return {
      firstBad: last + 1,
      problem: `its chain ends at record ${last}, but the signed head in ${source} vouches for record ${anchor.seq}: records were cut off with their checkpoints`,
    };
  }
  if (record.hash === anchor.hash) return undefined;
  return {
    firstBad: anchor.seq,
    problem: `record ${anchor.seq} is not the one the signed head in ${source} vouches for: the chain was rewritten`,
  };
}

/** The records of `messages` as `tail` and `export` print them, every node's merged by time. */
export function nodeRecords(messages: Iterable<StreamMessage>): AuditRecord[] {
  const records: AuditRecord[] = [];
  for (const m of messages) {
    const message = decodeNodeMessage(m.data);
    if (typeof message === "string" || message.type !== "record") continue;
    records.push(toRecord({ ...message, node: m.node, prev_hash: message.prevHash }));
  }
  return records.sort((a, b) => a.at - b.at || (a.node ?? "").localeCompare(b.node ?? "") || a.seq - b.seq);
}
