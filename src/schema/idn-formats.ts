/**
 * The internationalized formats of JSON Schema (draft 2020-12 §7.3.2–7.3.5) that ajv-formats does
 * not have: `idn-hostname`, `idn-email`, `iri` and `iri-reference`. Hostnames go through IDNA
 * (Node's `domainToASCII`, the WHATWG URL algorithm) and must then be a valid ASCII hostname; IRIs
 * must parse as WHATWG URLs (absolute for `iri`) and hold no character RFC 3987 excludes (spaces,
 * controls, `<>"{}|\^` and backquote). These are close approximations of RFC 5890/6531/3987, not
 * full grammars: WHATWG parsing is somewhat more lenient than RFC 3987 about percent-encoding.
 */
import { domainToASCII } from "node:url";
import type { Ajv } from "ajv";

const ASCII_LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;
const SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*:/;
// Characters an IRI never holds unescaped (RFC 3987 §2.2 and the "Excluded" set of §3.1 / RFC 3986).
const EXCLUDED = /[\s\p{Cc}<>"{}|\\^`]/u;

/** Adds `idn-hostname`, `idn-email`, `iri` and `iri-reference` to `ajv`. */
export function addIdnFormats(ajv: Pick<Ajv, "addFormat">): void {
  ajv.addFormat("idn-hostname", { type: "string", validate: isIdnHostname });
  ajv.addFormat("idn-email", { type: "string", validate: isIdnEmail });
  ajv.addFormat("iri", { type: "string", validate: (s: string) => SCHEME.test(s) && isIriReference(s) });
  ajv.addFormat("iri-reference", { type: "string", validate: isIriReference });
}

function isIdnHostname(s: string): boolean {
  if (s === "" || s.endsWith(".") || EXCLUDED.test(s)) return false;
  const ascii = domainToASCII(s);
  if (ascii === "" || ascii.length > 253) return false;
  return ascii.split(".").every((label) => ASCII_LABEL.test(label));
}

// RFC 6531: the local part may hold UTF-8; the domain is an IDN hostname.
function isIdnEmail(s: string): boolean {
  const at = s.lastIndexOf("@");
  if (at <= 0) return false;
  const local = s.slice(0, at);
  return (
    Buffer.byteLength(local) <= 64 &&
    !/[\s\p{Cc}@<>()[\]\\,;:"]/u.test(local) &&
    !local.startsWith(".") &&
    !local.endsWith(".") &&
    !local.includes("..") &&
    isIdnHostname(s.slice(at + 1))
  );
}

function isIriReference(s: string): boolean {
  if (EXCLUDED.test(s)) return false;
  try {
    new URL(s, "http://base.invalid/");
    return true;
  } catch {
    return false;
  }
}
