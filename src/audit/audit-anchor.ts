/**
 * Anchors: a signed checkpoint kept outside the audit log, to show the log still reaches it. The
 * appender keeps the newest one in `audit-head.json` beside the log (so deleting or cutting back
 * `audit.db` alone is found); `palisade audit anchor` prints one for the operator to store elsewhere
 * (so a rollback of the whole data directory is found with `audit verify --anchor FILE`).
 *
 * Format (JSON): `{ "format": "palisade.audit.anchor.v1", "seq", "hash", "at", "keyid", "signature" }`
 * where `signature` is the checkpoint signature over `["palisade.audit.checkpoint.v1", seq, hash, at]`.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { PalisadeError } from "../errors.ts";
import { AUDIT_BAD_ANCHOR } from "./errors.ts";

export const ANCHOR_FORMAT = "palisade.audit.anchor.v1";

/** A signed statement that record `seq` of the log has `hash`. */
export interface AuditAnchor {
  seq: number;
  hash: string;
  at: number;
  keyid: string;
  signature: string;
}

/** The file beside the audit log `file` that holds its newest signed head. */
export function headFileOf(file: string): string {
  return join(dirname(file), "audit-head.json");
}

/** The anchor's JSON text (one line). */
export function formatAnchor(a: AuditAnchor): string {
  const { seq, hash, at, keyid, signature } = a;
  return JSON.stringify({
    format: ANCHOR_FORMAT,
    seq,
    hash,
    at,
    time: new Date(at).toISOString(),
    keyid,
    signature,
  });
}

/** Parses an anchor from `text`; throws AUDIT_BAD_ANCHOR naming `source` and what is wrong. */
export function parseAnchor(text: string, source: string): AuditAnchor {
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(text);
  } catch {
    throw badAnchor(source, "it is not JSON");
  }
  if (typeof raw !== "object" || raw === null || raw.format !== ANCHOR_FORMAT)
    throw badAnchor(source, `it is not an object with "format": "${ANCHOR_FORMAT}"`);
  const fine =
    Number.isSafeInteger(raw.seq) &&
    Number(raw.seq) > 0 &&
    typeof raw.hash === "string" &&
    /^[0-9a-f]{64}$/.test(raw.hash) &&
    Number.isSafeInteger(raw.at) &&
    typeof raw.keyid === "string" &&
    typeof raw.signature === "string";
  if (!fine)
    throw badAnchor(
      source,
      "it needs seq (a positive integer), hash (64 hex digits), at, keyid and signature",
    );
  return {
    seq: Number(raw.seq),
    hash: String(raw.hash),
    at: Number(raw.at),
    keyid: String(raw.keyid),
    signature: String(raw.signature),
  };
}

/** The anchor in `path`, or undefined if there is no such file. */
export function readAnchorFile(path: string): AuditAnchor | undefined {
  if (!existsSync(path)) return undefined;
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw badAnchor(path, err instanceof Error ? err.message : String(err));
  }
  return parseAnchor(text, path);
}

/** Writes `anchor` to the head file of `file` unless the file already holds a later one. */
export function advanceHead(file: string, anchor: AuditAnchor): void {
  const path = headFileOf(file);
  let current: AuditAnchor | undefined;
  try {
    current = readAnchorFile(path);
  } catch {
    current = undefined; // a damaged head file is replaced by a good one
  }
  if (current !== undefined && current.seq >= anchor.seq) return;
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${formatAnchor(anchor)}\n`, { mode: 0o600 });
  renameSync(tmp, path);
}

function badAnchor(source: string, why: string): PalisadeError {
  return new PalisadeError(
    AUDIT_BAD_ANCHOR,
    `Cannot use the audit anchor "${source}": ${why}; it must hold what palisade audit anchor prints (a damaged .palisade/audit-head.json can be removed: the next checkpoint writes a new one)`,
  );
}
