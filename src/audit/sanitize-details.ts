/** What replaces a value the audit log must not keep. */
export const REDACTED = "[REDACTED]";

// A key names a secret value when, lower-cased and without "-", "_", "." or spaces, it ends with one
// of these: `value`, `clientSecret`, `x-api-key`, `Authorization`, `accessToken`, `dbPassword`.
// `secretName`, `keyid` or `tokenCount` end otherwise and are kept: name things by their names.
const SENSITIVE_KEY =
  /(?:value|values|secret|secrets|token|tokens|password|passwords|passwd|passphrase|authorization|apikey|privatekey|credential|credentials|cookie|bearer)$/;

// Strings that are credentials whatever key they sit under: HTTP credentials, PEM private keys,
// JWTs, Standard Webhooks secrets, well-known API key formats, and URLs with a password in them.
// One alternation, so a string is scanned once.
const SECRET_LOOKING = new RegExp(
  [
    /\b(?:[Bb][Ee][Aa][Rr][Ee][Rr]|[Bb][Aa][Ss][Ii][Cc])\s+[\w.~+/=-]{8,}/,
    /-----BEGIN [A-Z ]*PRIVATE KEY-----/,
    /\beyJ[\w-]{4,}\.eyJ[\w-]{4,}\.[\w-]*/,
    /\bwhsec_[A-Za-z0-9+/=]{8,}/,
    /\b(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{8,}/,
    /\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{20,}|\bgithub_pat_\w{20,}/,
    /\bxox[abprs]-[A-Za-z0-9-]{10,}/,
    /\bAKIA[0-9A-Z]{16}\b/,
    /\bAIza[\w-]{35}\b/,
    /:\/\/[^/\s:@]+:[^/\s@]+@/,
  ]
    .map((pattern) => `(?:${pattern.source})`)
    .join("|"),
);

const MAX_DEPTH = 6;
const MAX_STRING = 2048;
const MAX_ITEMS = 100;

/** True when a key names a value the audit log must not keep (a secret, token, password, …). */
export function isSensitiveKey(key: string): boolean {
  return SENSITIVE_KEY.test(key.toLowerCase().replace(/[-_.\s]/g, ""));
}

/** True when a string looks like a credential (see SECRET_LOOKING). */
export function looksLikeSecret(text: string): boolean {
  return SECRET_LOOKING.test(text);
}

/**
 * A JSON-safe copy of `details` that the audit log may keep: members under a sensitive key and
 * strings that look like credentials become "[REDACTED]", long strings and arrays are cut, deep
 * nesting (and cycles) end in "[…]", bytes become their length, dates ISO strings, errors their
 * name and message. A defence in depth: callers pass names, never values (see `AuditLog.record`).
 */
export function sanitizeDetails(details: Record<string, unknown>): Record<string, unknown> {
  return sanitizeObject(details, 0);
}

/** A short string field (actor, subject) as the log keeps it. */
export function sanitizeText(text: string, max = 256): string {
  if (looksLikeSecret(text)) return REDACTED;
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

function sanitize(value: unknown, depth: number): unknown {
  switch (typeof value) {
    case "string":
      return sanitizeText(value, MAX_STRING);
    case "number":
      return Number.isFinite(value) ? value : null;
    case "boolean":
      return value;
    case "bigint":
      return value.toString();
    case "object":
      break;
    default:
      return undefined; // functions, symbols, undefined: no JSON form
  }
  if (value === null) return null;
  if (depth >= MAX_DEPTH) return "[…]";
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  if (value instanceof Error) return sanitizeObject({ name: value.name, message: value.message }, depth);
  // Raw bytes may be key material; their size is all an audit reader needs.
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return `[${value.byteLength} bytes]`;
  if (Array.isArray(value)) {
    const items = value.slice(0, MAX_ITEMS).map((item) => sanitize(item, depth + 1) ?? null);
    if (value.length > MAX_ITEMS) items.push(`[${value.length - MAX_ITEMS} more]`);
    return items;
  }
  return sanitizeObject(value as Record<string, unknown>, depth);
}

function sanitizeObject(object: Record<string, unknown>, depth: number): Record<string, unknown> {
  const entries: [string, unknown][] = [];
  for (const key of Object.keys(object).slice(0, MAX_ITEMS)) {
    const value = isSensitiveKey(key) ? REDACTED : sanitize(object[key], depth + 1);
    if (value !== undefined) entries.push([sanitizeText(key), value]);
  }
  // fromEntries defines own properties, so a "__proto__" key stays data and never sets a prototype.
  return Object.fromEntries(entries);
}
