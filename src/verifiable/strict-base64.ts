/** Strict base64 (RFC 4648): one alphabet, correct padding, canonical final bits. */
const STANDARD_DIGITS = /^[A-Za-z0-9+/]*$/;
const URL_SAFE_DIGITS = /^[A-Za-z0-9_-]*$/;

/** Base64 value map: 0–63 for both alphabets, -1 elsewhere; bit 64 marks standard, 128 URL-safe. */
const BASE64 = (() => {
  const table = new Int16Array(128).fill(-1);
  const std = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  for (let i = 0; i < std.length; i++) table[std.charCodeAt(i)] = i;
  table[43] = 62 | 64; // +
  table[47] = 63 | 64; // /
  table[45] = 62 | 128; // -
  table[95] = 63 | 128; // _
  return table;
})();

/**
 * Strict RFC 4648 decoding (Buffer.from is lenient): one alphabet, no stray characters, canonical
 * final bits. `dsse` also takes the URL-safe alphabet and missing padding, as DSSE envelopes may.
 */
export function decodeBase64(text: string, dsse: boolean): Buffer | undefined {
  let end = text.length;
  while (end > 0 && text.charCodeAt(end - 1) === 61) end--;
  const padding = text.length - end;
  if (padding > 2 || end % 4 === 1) return undefined;
  if (padding > 0 ? (end + padding) % 4 !== 0 : !dsse && end % 4 !== 0) return undefined;
  // One alphabet throughout (regular expressions: this runs per event at ingress).
  const digits = padding === 0 ? text : text.slice(0, end);
  if (!STANDARD_DIGITS.test(digits) && !(dsse && URL_SAFE_DIGITS.test(digits))) return undefined;
  // Canonical: the bits past the last byte are zero (RFC 4648 §3.5).
  const c = end > 0 ? digits.charCodeAt(end - 1) : 65;
  const last = (BASE64[c] as number) & 63;
  if ((end % 4 === 2 && (last & 15) !== 0) || (end % 4 === 3 && (last & 3) !== 0)) return undefined;
  return Buffer.from(text, "base64");
}
