import type { AuditAnchor } from "./audit-anchor.ts";
import { openAuditDbForReading } from "./audit-db.ts";

/** The newest signed checkpoint of the audit log at `file`, as an anchor; undefined if none. */
export function readHead(file: string): AuditAnchor | undefined {
  const db = openAuditDbForReading(file);
  try {
    const row = db
      .prepare("SELECT upto_seq, hash, at, keyid, signature FROM checkpoints ORDER BY upto_seq DESC LIMIT 1")
      .get();
    if (row === undefined) return undefined;
    return {
      seq: Number(row.upto_seq),
      hash: String(row.hash),
      at: Number(row.at),
      keyid: String(row.keyid),
      signature: String(row.signature),
    };
  } finally {
    db.close();
  }
}
