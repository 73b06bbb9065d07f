/**
 * Anchors of the audit log on NATS: every node's newest signed checkpoint, printed by
 * `palisade audit anchor --nats` to keep where no stream admin can write. A stream deleted and made
 * anew from its authentic messages minus one node's whole chain (or minus a node's tail together
 * with the checkpoints over it) passes every chain check; `audit verify --nats --anchor FILE` does
 * not, for the stream must still hold each anchored record with its signed hash.
 *
 * Format (JSON, one line): `{ "format": "palisade.audit.nats-anchor.v1", "stream", "nodes": [{ "node",
 * "seq", "hash", "at", "keyid", "signature" }] }`, each signature the checkpoint signature of that
 * node's chain (audit-hash.ts); `nodes` may be empty only in no file Palisade prints.
 */
import { PalisadeError } from "../errors.ts";
import { ANCHOR_FORMAT, type AuditAnchor, parseAnchor } from "./audit-anchor.ts";
import { AUDIT_BAD_ANCHOR } from "./errors.ts";

export const NATS_ANCHOR_FORMAT = "palisade.audit.nats-anchor.v1";

/** One node's signed head. */
export interface NodeAnchor extends AuditAnchor {
  node: string;
}

/** A node's signed head kept outside the stream, and where it came from (named in what verify says). */
export interface SourcedNodeAnchor {
  anchor: NodeAnchor;
  source: string;
}

/** The anchor's JSON text (one line). */
export function formatNatsAnchor(stream: string, heads: readonly NodeAnchor[]): string {
  const nodes = heads.map(({ node, seq, hash, at, keyid, signature }) => ({
    node,
    seq,
    hash,
    at,
    keyid,
    signature,
  }));
  return JSON.stringify({ format: NATS_ANCHOR_FORMAT, stream, nodes });
}

/** Parses a NATS anchor from `text`; throws AUDIT_BAD_ANCHOR naming `source` and what is wrong. */
export function parseNatsAnchor(text: string, source: string): NodeAnchor[] {
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(text);
  } catch {
    throw bad(source, "it is not JSON");
  }
  if (
    typeof raw !== "object" ||
    raw === null ||
    raw.format !== NATS_ANCHOR_FORMAT ||
    !Array.isArray(raw.nodes)
  )
    throw bad(source, `it is not an object with "format": "${NATS_ANCHOR_FORMAT}" and "nodes"`);
  return raw.nodes.map((entry: unknown) => {
    const node = (entry as { node?: unknown } | null)?.node;
    if (typeof node !== "string" || node === "") throw bad(source, "a node entry names no node");
    // Each head has the fields of a file anchor: checked as one.
    const head = parseAnchor(JSON.stringify({ ...(entry as object), format: ANCHOR_FORMAT }), source);
    return { node, ...head };
  });
}

function bad(source: string, why: string): PalisadeError {
  return new PalisadeError(
    AUDIT_BAD_ANCHOR,
    `Cannot use the audit anchor "${source}": ${why}; it must hold what palisade audit anchor --nats prints`,
  );
}
