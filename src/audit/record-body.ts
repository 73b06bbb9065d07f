import { PalisadeError } from "../errors.ts";
import { canonicalJson } from "./canonical-json.ts";
import { AUDIT_BAD_ENTRY } from "./errors.ts";
import { sanitizeDetails, sanitizeText } from "./sanitize-details.ts";

/** How a decision ended. */
export type AuditOutcome = "allowed" | "denied" | "error" | "info";

/** One security-relevant decision, as a caller hands it to `AuditLog.record`. */
export interface AuditEntry {
  /** What happened, lower case and dotted: `ingress.rejected`, `secret.set` (see AUDIT_KIND). */
  kind: string;
  /** Who acted: a principal, a function, `cli:<user>`, `admin:<name>`. */
  actor?: string | undefined;
  /** What it was done to: an event type, a function, a secret's name. */
  subject?: string | undefined;
  /** @default "info" */
  outcome?: AuditOutcome | undefined;
  /** Names, reasons, digests, addresses; never the value of a secret, key or token. */
  details?: Record<string, unknown> | undefined;
}

const KIND = /^[a-z][a-z0-9]*(?:[._-][a-z0-9]+)*$/;
const OUTCOMES: ReadonlySet<string> = new Set(["allowed", "denied", "error", "info"]);
const MAX_BODY = 16_384;

/**
 * The stored body of `entry`: canonical JSON of its sanitized actor, subject, outcome and details.
 * Throws for a malformed kind or outcome (a programming mistake, not input).
 */
export function recordBody(entry: AuditEntry): string {
  if (typeof entry.kind !== "string" || entry.kind.length > 64 || !KIND.test(entry.kind)) {
    throw new PalisadeError(
      AUDIT_BAD_ENTRY,
      `Cannot record audit kind "${String(entry.kind)}": use lower-case dotted words such as "ingress.rejected"`,
    );
  }
  const outcome = entry.outcome ?? "info";
  if (!OUTCOMES.has(outcome)) {
    throw new PalisadeError(
      AUDIT_BAD_ENTRY,
      `Cannot record "${entry.kind}" with outcome "${String(outcome)}": use allowed, denied, error or info`,
    );
  }
  const body = {
    actor: entry.actor === undefined ? undefined : sanitizeText(String(entry.actor)),
    subject: entry.subject === undefined ? undefined : sanitizeText(String(entry.subject)),
    outcome,
    details: entry.details === undefined ? undefined : sanitizeDetails(entry.details),
  };
  const text = canonicalJson(body);
  if (text.length <= MAX_BODY) return text;
  // Attacker-sized input (the fields of a rejected request) must not bloat the log.
  return canonicalJson({ ...body, details: { truncated: true, length: text.length } });
}
