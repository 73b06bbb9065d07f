import { SPDX_EXCEPTION_IDS, SPDX_LICENSE_IDS } from "./spdx-ids.ts";

/** One entry of a CycloneDX 1.5 `licenses` array. */
export type CycloneDxLicense =
  | { license: { id: string } }
  | { license: { name: string } }
  | { expression: string };

// SPDX identifiers match case-insensitively (SPDX 2.3 Annex D.2); written as the list spells them.
const byLowerCase = (ids: string) =>
  new Map(
    ids
      .trim()
      .split(/\s+/)
      .map((id) => [id.toLowerCase(), id]),
  );
const LICENSES = byLowerCase(SPDX_LICENSE_IDS);
const EXCEPTIONS = byLowerCase(SPDX_EXCEPTION_IDS);

/**
 * The CycloneDX licenses of what a package.json states (its `license`, or each entry of the legacy
 * `licenses` list): an SPDX license identifier as `license.id`, a valid SPDX license expression as
 * the one `expression` (CycloneDX allows nothing beside it), anything else (`SEE LICENSE IN …`,
 * `UNLICENSED`, an identifier SPDX does not list) as `license.name`, so no text is lost or invented.
 */
export function cycloneDxLicenses(texts: readonly string[]): CycloneDxLicense[] {
  const only = texts.length === 1 ? texts[0] : undefined;
  if (only !== undefined && LICENSES.get(only.toLowerCase()) === undefined) {
    const expression = spdxExpression(only);
    if (expression !== undefined) return [{ expression }];
  }
  return texts.map((text) => {
    const id = LICENSES.get(text.toLowerCase());
    return id === undefined ? { license: { name: text } } : { license: { id } };
  });
}

// idstring = 1*(ALPHA / DIGIT / "-" / "."), SPDX 2.3 Annex D.2.
const LICENSE_REF = /^(?:DocumentRef-[A-Za-z0-9.-]+:)?LicenseRef-[A-Za-z0-9.-]+$/;
const OPERATORS = new Set(["AND", "OR", "WITH"]);

/**
 * `text` as a valid SPDX license expression (SPDX 2.3 Annex D), its identifiers spelled as SPDX lists
 * them; undefined when it is not one (an unknown identifier, a dangling operator, unbalanced
 * parentheses). Operators must be upper case, as the grammar writes them.
 */
export function spdxExpression(text: string): string | undefined {
  const tokens = text.match(/\(|\)|[^\s()]+/g) ?? [];
  let at = 0;
  const out: string[] = [];
  // Precedence (WITH, then AND, then OR) shapes the meaning, not the validity: the grammar is
  // expression = term *(("AND" / "OR") term); term = "(" expression ")" / simple ["WITH" exception].
  const expression = (): boolean => {
    if (!term()) return false;
    while (tokens[at] === "AND" || tokens[at] === "OR") {
      out.push(` ${tokens[at++]} `);
      if (!term()) return false;
    }
    return true;
  };
  const term = (): boolean => {
    const token = tokens[at++];
    if (token === "(") {
      out.push("(");
      if (!expression() || tokens[at++] !== ")") return false;
      out.push(")");
      return true;
    }
    const simple = token === undefined ? undefined : simpleExpression(token);
    if (simple === undefined) return false;
    out.push(simple);
    if (tokens[at] !== "WITH") return true;
    const exception = EXCEPTIONS.get(tokens[at + 1]?.toLowerCase() ?? "");
    at += 2;
    if (exception === undefined) return false;
    out.push(` WITH ${exception}`);
    return true;
  };
  return expression() && at === tokens.length ? out.join("") : undefined;
}

/** license-id, license-id "+", or a license-ref; undefined for anything else. */
function simpleExpression(token: string): string | undefined {
  if (OPERATORS.has(token)) return undefined;
  if (LICENSE_REF.test(token)) return token;
  const plus = token.endsWith("+");
  const id = LICENSES.get((plus ? token.slice(0, -1) : token).toLowerCase());
  return id === undefined ? undefined : `${id}${plus ? "+" : ""}`;
}
