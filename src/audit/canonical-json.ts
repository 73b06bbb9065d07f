/**
 * The canonical JSON text of a JSON value: no whitespace, object members sorted by key (UTF-16
 * code units, as RFC 8785 JCS sorts them), numbers and strings as `JSON.stringify` writes them
 * (which is what JCS specifies for them), members whose value is `undefined` left out. Parsing the
 * text and serializing it again gives the same text, so a record exported as JSON can be hashed
 * again by anyone. Takes only what `sanitizeDetails` produces: plain objects, arrays, strings,
 * finite numbers, booleans and null.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") {
    // A non-finite number has no JSON form; sanitizeDetails already turned it into null.
    return typeof value === "number" && !Number.isFinite(value) ? "null" : (JSON.stringify(value) ?? "null");
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  const object = value as Record<string, unknown>;
  const members = Object.keys(object)
    .filter((key) => object[key] !== undefined)
    .sort()
    .map((key) => `${JSON.stringify(key)}:${canonicalJson(object[key])}`);
  return `{${members.join(",")}}`;
}
