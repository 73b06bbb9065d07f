/**
 * Finds the raw text of `data` (and the value of `data_base64`) in a structured or batch JSON
 * CloudEvent body, for the verifiability extension: its core digest covers the data's bytes exactly
 * as sent, which JSON.parse throws away.
 *
 * The extension's test vectors hash the slice from just after the `:` of the `"data"` member to the
 * end of its value, leading whitespace included (`raw`); `trimmed` is the same slice without it, for
 * producers that hash only the value. For `data_base64` the decoded bytes are hashed, so its string
 * value is returned. When `datacontenttype` is not JSON (text, XML), `data` is a JSON string whose
 * bytes are the UTF-8 of its string value, not its JSON text: that choice is the caller's, from the
 * parsed event; the spans here are only the JSON text.
 *
 * One linear pass with an explicit stack (no recursion, so nesting depth cannot exhaust the stack).
 * Member names are compared after unescaping and a repeated member keeps the last value, as
 * JSON.parse does. Text that is not JSON gives undefined, never an exception.
 */

export interface DataSpan {
  /** Text after the `:` of the last `"data"` member up to the end of its value; undefined when absent. */
  raw: string | undefined;
  /** `raw` without its leading whitespace. */
  trimmed: string | undefined;
  /** The string value of the last `"data_base64"` member; undefined when absent or not a string. */
  base64: string | undefined;
}

const OBJECT = 1;
const ARRAY = 2;

/**
 * The data spans of a JSON body: one for a top-level object, one per element (in order) for a
 * top-level array (all undefined for an element that is not an object); undefined for other text.
 */
export function dataSpans(text: string): DataSpan[] | undefined {
  const scanner = new Scanner(text);
  scanner.skipSpace();
  let spans: DataSpan[] | undefined;
  if (scanner.peek() === 0x7b) {
    const span = scanner.scanObject();
    spans = span === undefined ? undefined : [span];
  } else if (scanner.peek() === 0x5b) {
    spans = scanner.scanBatch();
  }
  if (spans === undefined) return undefined;
  scanner.skipSpace();
  return scanner.atEnd() ? spans : undefined;
}

class Scanner {
  readonly text: string;
  pos = 0;

  constructor(text: string) {
    this.text = text;
  }

  peek(): number {
    return this.text.charCodeAt(this.pos);
  }

  atEnd(): boolean {
    return this.pos === this.text.length;
  }

  skipSpace(): void {
    const { text } = this;
    let c = text.charCodeAt(this.pos);
    while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) c = text.charCodeAt(++this.pos);
  }

  /** A top-level array: one span per element. */
  scanBatch(): DataSpan[] | undefined {
    const spans: DataSpan[] = [];
    this.pos++;
    this.skipSpace();
    if (this.peek() === 0x5d) {
      this.pos++;
      return spans;
    }
    for (;;) {
      this.skipSpace();
      if (this.peek() === 0x7b) {
        const span = this.scanObject();
        if (span === undefined) return undefined;
        spans.push(span);
      } else {
        if (!this.skipValue()) return undefined;
        spans.push({ raw: undefined, trimmed: undefined, base64: undefined });
      }
      this.skipSpace();
      const c = this.peek();
      this.pos++;
      if (c === 0x5d) return spans;
      if (c !== 0x2c) return undefined;
    }
  }

  /** An object whose members are read for `data` and `data_base64` (last one wins). */
  scanObject(): DataSpan | undefined {
    const span: DataSpan = { raw: undefined, trimmed: undefined, base64: undefined };
    this.pos++;
    this.skipSpace();
    if (this.peek() === 0x7d) {
      this.pos++;
      return span;
    }
    for (;;) {
      this.skipSpace();
      const name = this.readName();
      if (name === undefined) return undefined;
      const colon = this.pos - 1;
      this.skipSpace();
      const start = this.pos;
      const isString = this.peek() === 0x22;
      if (!this.skipValue()) return undefined;
      if (name === "data") {
        span.raw = this.text.slice(colon + 1, this.pos);
        span.trimmed = this.text.slice(start, this.pos);
      } else if (name === "data_base64") {
        span.base64 = isString ? stringValue(this.text, start, this.pos) : undefined;
      }
      this.skipSpace();
      const c = this.peek();
      this.pos++;
      if (c === 0x7d) return span;
      if (c !== 0x2c) return undefined;
    }
  }

  /** A member name and its `:`; the name unescaped. */
  private readName(): string | undefined {
    const start = this.pos;
    if (this.peek() !== 0x22 || !this.skipString()) return undefined;
    const end = this.pos;
    this.skipSpace();
    if (this.peek() !== 0x3a) return undefined;
    this.pos++;
    return stringValue(this.text, start, end);
  }

  /** Skips one JSON value of any depth; false when the text is not JSON there. */
  skipValue(): boolean {
    const stack: number[] = [];
    for (;;) {
      this.skipSpace();
      const c = this.peek();
      if (c === 0x7b || c === 0x5b) {
        this.pos++;
        this.skipSpace();
        const close = c === 0x7b ? 0x7d : 0x5d;
        if (this.peek() === close) {
          this.pos++;
        } else {
          stack.push(c === 0x7b ? OBJECT : ARRAY);
          if (c === 0x7b && !this.skipNameAndColon()) return false;
          continue;
        }
      } else if (!this.skipScalar(c)) {
        return false;
      }
      // A value ended: close containers or move to the next element.
      for (;;) {
        const top = stack[stack.length - 1];
        if (top === undefined) return true;
        this.skipSpace();
        const next = this.peek();
        this.pos++;
        if (next === 0x2c) {
          if (top === OBJECT && !this.skipNameAndColon()) return false;
          break;
        }
        if (next !== (top === OBJECT ? 0x7d : 0x5d)) return false;
        stack.pop();
      }
    }
  }

  private skipNameAndColon(): boolean {
    this.skipSpace();
    if (this.peek() !== 0x22 || !this.skipString()) return false;
    this.skipSpace();
    if (this.peek() !== 0x3a) return false;
    this.pos++;
    return true;
  }

  private skipScalar(c: number): boolean {
    if (c === 0x22) return this.skipString();
    if (c === 0x74) return this.skipWord("true");
    if (c === 0x66) return this.skipWord("false");
    if (c === 0x6e) return this.skipWord("null");
    return this.skipNumber();
  }

  private skipWord(word: string): boolean {
    if (!this.text.startsWith(word, this.pos)) return false;
    this.pos += word.length;
    return true;
  }

  /** RFC 8259 §6: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?` */
  private skipNumber(): boolean {
    if (this.peek() === 0x2d) this.pos++;
    if (this.peek() === 0x30) this.pos++;
    else if (this.skipDigits() === 0) return false;
    if (this.peek() === 0x2e) {
      this.pos++;
      if (this.skipDigits() === 0) return false;
    }
    const e = this.peek();
    if (e === 0x65 || e === 0x45) {
      this.pos++;
      const sign = this.peek();
      if (sign === 0x2b || sign === 0x2d) this.pos++;
      if (this.skipDigits() === 0) return false;
    }
    return true;
  }

  private skipDigits(): number {
    const start = this.pos;
    let c = this.peek();
    while (c >= 0x30 && c <= 0x39) c = this.text.charCodeAt(++this.pos);
    return this.pos - start;
  }

  /** RFC 8259 §7: no raw control characters, only the defined escapes. */
  private skipString(): boolean {
    const { text } = this;
    let i = this.pos + 1;
    for (;;) {
      const c = text.charCodeAt(i);
      if (c === 0x22) break;
      if (Number.isNaN(c) || c < 0x20) return false;
      if (c === 0x5c) {
        const e = text.charCodeAt(i + 1);
        if (e === 0x75) {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) return false;
          i += 6;
          continue;
        }
        // " \ / b f n r t
        if (
          !(
            e === 0x22 ||
            e === 0x5c ||
            e === 0x2f ||
            e === 0x62 ||
            e === 0x66 ||
            e === 0x6e ||
            e === 0x72 ||
            e === 0x74
          )
        ) {
          return false;
        }
        i += 2;
        continue;
      }
      i++;
    }
    this.pos = i + 1;
    return true;
  }
}

/** The value of the (already checked) string token text[start, end). */
function stringValue(text: string, start: number, end: number): string {
  const inner = text.slice(start + 1, end - 1);
  return inner.includes("\\") ? (JSON.parse(text.slice(start, end)) as string) : inner;
}
