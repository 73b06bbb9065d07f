import { existsSync } from "node:fs";
import { PalisadeError } from "../errors.ts";
import { headFileOf, readAnchorFile } from "./audit-anchor.ts";
import { AUDIT_ROLLED_BACK } from "./errors.ts";
import { checkAnchors } from "./verify-audit-log.ts";

/**
 * Throws AUDIT_ROLLED_BACK unless the audit log at `file` reaches the signed head kept beside it
 * (`audit-head.json`): a log deleted, cut back or replaced by an older copy while the head file
 * stayed. Run before trusting what the log says (the secret store's newest generation). One
 * lookup, not a walk of the chain (that is `palisade audit verify`); `trusted` are the audit public keys.
 */
export function checkAuditHead(file: string, trusted: readonly string[]): void {
  const headFile = headFileOf(file);
  const head = readAnchorFile(headFile);
  if (head === undefined) return;
  const fix = `Restore the newest audit.db, or, to accept the loss, remove "${headFile}" (the next checkpoint writes a new one)`;
  if (!existsSync(file))
    throw new PalisadeError(
      AUDIT_ROLLED_BACK,
      `The audit log "${file}" is missing, but "${headFile}" vouches for record ${head.seq}: it was deleted. ${fix}`,
    );
  const bad = checkAnchors(file, trusted, [{ anchor: head, source: `"${headFile}"` }]);
  if (bad !== undefined && !bad.ok)
    throw new PalisadeError(
      AUDIT_ROLLED_BACK,
      `The audit log "${file}" is not intact: ${bad.problem}. ${fix}`,
    );
}
