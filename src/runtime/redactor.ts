/**
 * Keeps the secret values a function has read out of everything it logs and of its error messages.
 * The host learns a value when it answers the function's `secrets.get`; the sandbox never decides
 * what is redacted.
 */

/** Secret values shorter than this are not redacted (they would blank out ordinary words). */
export const MIN_REDACT = 4;

export interface Redactor {
  /** Remembers a value the function was given by `secrets.get`. */
  remember(value: unknown): void;
  /** The text with every remembered value replaced by `[REDACTED]`. */
  text(text: string): string;
  /** The log fields with every remembered value replaced, in keys and string values at any depth. */
  fields(fields: Record<string, unknown>): Record<string, unknown>;
}

/** A redactor for one function's pool: what one of its processes read is redacted from all. */
export function createRedactor(): Redactor {
  const secrets = new Set<string>();
  const text = (input: string): string => {
    let out = input;
    for (const value of secrets) out = out.split(value).join("[REDACTED]");
    return out;
  };
  // Walks the values (strings, arrays, plain objects) rather than editing JSON text, so a secret
  // next to an escape sequence is still found and nothing can make the result unparseable.
  const value = (v: unknown, depth = 0): unknown => {
    if (typeof v === "string") return text(v);
    if (depth > 32 || v === null || typeof v !== "object") return v;
    if (Array.isArray(v)) return v.map((item) => value(item, depth + 1));
    return Object.fromEntries(Object.entries(v).map(([k, item]) => [text(k), value(item, depth + 1)]));
  };
  return {
    remember(v) {
      if (typeof v === "string" && v.length >= MIN_REDACT) secrets.add(v);
    },
    text: (input) => (secrets.size === 0 ? input : text(input)),
    fields: (f) => (secrets.size === 0 ? f : (value(f) as Record<string, unknown>)),
  };
}
