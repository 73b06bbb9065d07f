/**
 * The internationalized formats of JSON Schema (draft 2020-12 §7.3.2–7.3.5, draft-07 §7.3) that
 * ajv-formats does not have: `idn-hostname`, `idn-email`, `iri` and `iri-reference`. Written here
 * on Node's own WHATWG URL and IDNA code (`node:url`), because the plugin that has them
 * (ajv-formats-draft2019) passes fewer of the JSON Schema Test Suite's cases than this and brings
 * an unmaintained URI parser with it.
 *
 * - idn-hostname (RFC 5890–5892): UTS #46 mapping and Punycode by `domainToASCII`, then RFC 1034
 *   label and length rules on the A-labels, and on the U-labels the IDNA2008 letters-digits-marks
 *   repertoire, the DISALLOWED exceptions, the CONTEXTO rules, the hyphen rules, and A-labels that
 *   decode and encode back to themselves. Not checked: the Bidi rule (RFC 5893) and the joining-type
 *   context of ZERO WIDTH NON-JOINER, which need Unicode tables JavaScript does not expose.
 * - idn-email (RFC 6531): a dot-atom or quoted local part of at most 64 octets, in which any
 *   non-ASCII character may appear; then an idn-hostname or an address literal.
 * - iri / iri-reference (RFC 3987): parsed as a WHATWG URL (absolute for `iri`), and beyond that
 *   no character RFC 3987 excludes, `%` only before two hex digits, non-ASCII only from `ucschar`
 *   (and `iprivate` in the query); IPvFuture literals are accepted as RFC 3986 allows.
 */
import { isIPv4, isIPv6 } from "node:net";
import { domainToASCII, domainToUnicode } from "node:url";
import type { Ajv } from "ajv";

/** Adds `idn-hostname`, `idn-email`, `iri` and `iri-reference` to `ajv`. */
export function addIdnFormats(ajv: Pick<Ajv, "addFormat">): void {
  ajv.addFormat("idn-hostname", { type: "string", validate: isIdnHostname });
  ajv.addFormat("idn-email", { type: "string", validate: isIdnEmail });
  ajv.addFormat("iri", { type: "string", validate: (s: string) => SCHEME.test(s) && isIriReference(s) });
  ajv.addFormat("iri-reference", { type: "string", validate: isIriReference });
}

const ASCII_LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;
// RFC 5892 §2.1 LetterDigits (Ll Lo Lm Nd Mn Mc; Lu never survives the mapping), the hyphen, the
// CONTEXTJ/CONTEXTO characters (checked below) and the PVALID exceptions of §2.6 that are no letter.
const PVALID =
  /^(?:[\p{Ll}\p{Lo}\p{Lm}\p{Nd}\p{Mn}\p{Mc}\-\u00B7\u0375\u05F3\u05F4\u30FB\u06FD\u06FE\u0F0B\u3007]|\u200C|\u200D)+$/u;
// RFC 5892 §2.6 exceptions that are DISALLOWED although their category would allow them.
const DISALLOWED = /[\u0640\u07FA\u302E\u302F\u3031-\u3035\u303B]/u;

function isIdnHostname(s: string): boolean {
  if (s === "" || /[\s\p{Cc}]/u.test(s)) return false;
  const ascii = domainToASCII(s);
  if (ascii === "" || ascii.length > 253) return false;
  return ascii.split(".").every((label) => ASCII_LABEL.test(label) && isIdnaLabel(label));
}

// One label in ASCII form, judged by its Unicode form (RFC 5891 §5.4, RFC 5892).
function isIdnaLabel(ascii: string): boolean {
  const isALabel = ascii.startsWith("xn--");
  if (!isALabel) return ascii.slice(2, 4) !== "--"; // §4.2.3.1: "--" at 3–4 only in A-labels
  const label = domainToUnicode(ascii);
  // An A-label must decode (Node returns it unchanged when not), to something not all ASCII, that
  // encodes back to the same A-label (no non-canonical Punycode).
  if (label.startsWith("xn--") || /^\p{ASCII}*$/u.test(label) || domainToASCII(label) !== ascii) return false;
  return (
    PVALID.test(label) &&
    !DISALLOWED.test(label) &&
    !/^\p{M}/u.test(label) &&
    !label.startsWith("-") &&
    !label.endsWith("-") &&
    label.slice(2, 4) !== "--" &&
    contextRulesHold(label)
  );
}

// RFC 5892 Appendix A: the CONTEXTO rules (A.3–A.9). The CONTEXTJ rules of the zero width joiner and
// non-joiner (A.1, A.2) are domainToASCII's (UTS #46 CheckJoiners), as far as it applies them.
function contextRulesHold(label: string): boolean {
  const chars = [...label];
  for (const [i, c] of chars.entries()) {
    const before = chars[i - 1] ?? "";
    const after = chars[i + 1] ?? "";
    if (c === "\u00B7" && (before !== "l" || after !== "l")) return false;
    if (c === "\u0375" && !/\p{Script=Greek}/u.test(after)) return false;
    if ((c === "\u05F3" || c === "\u05F4") && !/\p{Script=Hebrew}/u.test(before)) return false;
  }
  if (
    label.includes("\u30FB") &&
    !/[\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Han}]/u.test(label.replaceAll("\u30FB", ""))
  )
    return false;
  return !(/[\u0660-\u0669]/.test(label) && /[\u06F0-\u06F9]/.test(label));
}

// RFC 6531 §3.3: RFC 5321's local part with UTF8-non-ascii allowed wherever atext or qtext is.
const DOT_ATOM =
  /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~\u{80}-\u{10FFFF}]+(?:\.[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~\u{80}-\u{10FFFF}]+)*$/u;
const QUOTED = /^"(?:[\x20\x21\x23-\x5B\x5D-\x7E\u{80}-\u{10FFFF}]|\\[\x20-\x7E])*"$/u;

function isIdnEmail(s: string): boolean {
  const at = s.lastIndexOf("@");
  if (at <= 0) return false;
  const local = s.slice(0, at);
  const domain = s.slice(at + 1);
  if (Buffer.byteLength(local) > 64 || !(DOT_ATOM.test(local) || QUOTED.test(local))) return false;
  const literal = /^\[(?:IPv6:(.+)|(.+))\]$/.exec(domain);
  if (literal === null) return isIdnHostname(domain);
  return literal[1] !== undefined ? isIPv6(literal[1]) : isIPv4(literal[2] ?? "");
}

const SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*:/;
// ASCII an IRI never holds unescaped (RFC 3987 §2.2, RFC 3986 §2), and the bidi formatting
// characters it must not hold (RFC 3987 §4.1).
const EXCLUDED = /[\p{Cc} <>"{}|\\^`\u200E\u200F\u202A-\u202E]/u;
const BAD_PERCENT = /%(?![0-9A-Fa-f]{2})/;
// RFC 3986 §3.2.2 IPvFuture, which WHATWG URL does not parse: checked here, then left out.
const IPV_FUTURE =
  /^([A-Za-z][A-Za-z0-9+.-]*:)?\/\/([^/?#@]*@)?\[[vV][0-9A-Fa-f]+\.[A-Za-z0-9\-._~!$&'()*+,;=:]+\]/;

function isIriReference(s: string): boolean {
  if (EXCLUDED.test(s) || BAD_PERCENT.test(s) || !nonAsciiAllowed(s)) return false;
  const future = IPV_FUTURE.exec(s);
  const text =
    future === null ? s : `${future[1] ?? ""}//${future[2] ?? ""}[::1]${s.slice(future[0].length)}`;
  try {
    new URL(text, "http://base.invalid/");
    return true;
  } catch {
    return false;
  }
}

// RFC 3987 §2.2: non-ASCII characters are `ucschar`, or `iprivate` inside the query.
function nonAsciiAllowed(s: string): boolean {
  const query = s.indexOf("?");
  const fragment = s.indexOf("#");
  let at = 0;
  for (const c of s) {
    const cp = c.codePointAt(0) as number;
    const inQuery = query !== -1 && at > query && (fragment === -1 || at < fragment);
    at += c.length;
    if (cp < 0x80) continue;
    if (isUcschar(cp)) continue;
    if (inQuery && isIprivate(cp)) continue;
    return false;
  }
  return true;
}

function isUcschar(cp: number): boolean {
  if (cp < 0x10000)
    return (cp >= 0xa0 && cp <= 0xd7ff) || (cp >= 0xf900 && cp <= 0xfdcf) || (cp >= 0xfdf0 && cp <= 0xffef);
  // %x10000-1FFFD / … / %xD0000-DFFFD / %xE1000-EFFFD: every plane up to 14 less its last two.
  return cp <= 0xefffd && (cp & 0xfffe) !== 0xfffe && !(cp >= 0xe0000 && cp <= 0xe0fff);
}

function isIprivate(cp: number): boolean {
  return (cp >= 0xe000 && cp <= 0xf8ff) || (cp >= 0xf0000 && cp <= 0x10fffd && (cp & 0xfffe) !== 0xfffe);
}
