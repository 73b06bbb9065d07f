import { existsSync } from "node:fs";
import { PalisadeError } from "../errors.ts";
import { headFileOf, readAnchorFile } from "./audit-anchor.ts";
import { AUDIT_ROLLED_BACK, AUDIT_TAMPERED } from "./errors.ts";
import { checkAnchors, type StoredRecord, verifyAuditLog } from "./verify-audit-log.ts";

/**
 * Throws unless the audit log at `file` is intact up to the signed head kept beside it
 * (`audit-head.json`), so that what it says (the secret store's newest generation) can be trusted:
 * AUDIT_ROLLED_BACK for a log deleted, cut back or replaced by an older copy while the head file
 * stayed, AUDIT_TAMPERED for a chain that does not check out (a record changed, removed or inserted,
 * a checkpoint forged). Walks the whole chain once, recomputing every hash (as `palisade audit
 * verify` does), and shows `visit` each record on the way; `trusted` are the audit public keys.
 */
export function checkAuditHead(
  file: string,
  trusted: readonly string[],
  visit?: (record: StoredRecord) => void,
): void {
  const headFile = headFileOf(file);
  const head = readAnchorFile(headFile);
  const anchors = head === undefined ? [] : [{ anchor: head, source: `"${headFile}"` }];
  const rolledBack = `Restore the newest audit.db, or, to accept the loss, remove "${headFile}" (the next checkpoint writes a new one)`;
  if (!existsSync(file)) {
    if (head === undefined) return;
    throw new PalisadeError(
      AUDIT_ROLLED_BACK,
      `The audit log "${file}" is missing, but "${headFile}" vouches for record ${head.seq}: it was deleted. ${rolledBack}`,
    );
  }
  // The head first (one lookup): an older copy is told apart from a rewritten chain.
  const older = checkAnchors(file, trusted, anchors);
  if (older !== undefined && !older.ok)
    throw new PalisadeError(
      AUDIT_ROLLED_BACK,
      `The audit log "${file}" is not intact: ${older.problem}. ${rolledBack}`,
    );
  const result = verifyAuditLog(file, trusted, anchors, visit);
  if (!result.ok)
    throw new PalisadeError(
      AUDIT_TAMPERED,
      `The audit log "${file}" was changed outside palisade${result.firstBad === null ? "" : ` at record ${result.firstBad}`}: ${result.problem}. ` +
        "Nothing that relies on it (the secret store's rollback check) can be trusted. " +
        `Restore the newest intact audit.db (palisade audit verify checks a copy), or, to accept the loss, move it and "${headFile}" aside: a new log starts`,
    );
}
