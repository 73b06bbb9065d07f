/**
 * The offset (UTF-16 code units into `text`) of the first JSON syntax error (RFC 8259), or -1 when
 * the text is valid JSON. Exists so a parse error can name a position instead of quoting the input,
 * as V8's JSON.parse messages do ("Unexpected token 'x', \"…\" is not valid JSON"): a refused body
 * must not reach logs or the audit log. Call it only on text whose nesting is already bounded.
 */
export function locateSyntaxError(text: string): number {
  let i = 0;
  const skipSpace = () => {
    while (i < text.length && " \t\n\r".includes(text.charAt(i))) i++;
  };
  const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

  function value(): boolean {
    skipSpace();
    const c = text.charAt(i);
    if (c === "{") return container("}", member);
    if (c === "[") return container("]", value);
    if (c === '"') return string();
    for (const literal of ["true", "false", "null"]) {
      if (text.startsWith(literal, i)) {
        i += literal.length;
        return true;
      }
    }
    NUMBER.lastIndex = i;
    if (!NUMBER.test(text)) return false;
    i = NUMBER.lastIndex;
    return true;
  }

  function member(): boolean {
    skipSpace();
    if (text.charAt(i) !== '"' || !string()) return false;
    skipSpace();
    if (text.charAt(i) !== ":") return false;
    i++;
    return value();
  }

  function container(close: string, item: () => boolean): boolean {
    i++;
    skipSpace();
    if (text.charAt(i) === close) {
      i++;
      return true;
    }
    for (;;) {
      if (!item()) return false;
      skipSpace();
      const c = text.charAt(i);
      if (c === close) {
        i++;
        return true;
      }
      if (c !== ",") return false;
      i++;
    }
  }

  function string(): boolean {
    i++;
    while (i < text.length) {
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        i++;
        return true;
      }
      if (c < 0x20) return false;
      if (c === 0x5c) {
        const next = text.charAt(i + 1);
        if (next === "u" && /^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) i += 6;
        else if (next !== "" && '"\\/bfnrt'.includes(next)) i += 2;
        else return false;
      } else i++;
    }
    return false;
  }

  if (!value()) return i;
  skipSpace();
  return i < text.length ? i : -1;
}
