/** Names for the two sides of a diff's header, and how much unchanged text to show. */
export interface UnifiedDiffOptions {
  /** Name on the `---` line. */
  from: string;
  /** Name on the `+++` line. */
  to: string;
  /** Unchanged lines shown around each change. @default 3 */
  context?: number;
}

/**
 * A unified diff of two texts, line by line, with `context` lines around each change; "" when they
 * are equal. Changes closer than twice the context share a hunk.
 */
export function unifiedDiff(before: string, after: string, opts: UnifiedDiffOptions): string {
  if (before === after) return "";
  const context = opts.context ?? 3;
  const ops = diffLines(splitLines(before), splitLines(after));
  let out = `--- ${opts.from}\n+++ ${opts.to}\n`;
  let k = 0;
  while (k < ops.length) {
    const first = ops.findIndex((o, i) => i >= k && o.tag !== " ");
    if (first === -1) break;
    let lastChange = first;
    for (let m = first; m < ops.length && m - lastChange <= 2 * context; m++)
      if (ops[m]?.tag !== " ") lastChange = m;
    const start = Math.max(k, first - context);
    const end = Math.min(ops.length, lastChange + context + 1);
    const hunk = ops.slice(start, end);
    const oldLen = hunk.filter((o) => o.tag !== "+").length;
    const newLen = hunk.filter((o) => o.tag !== "-").length;
    const at = ops[start] ?? { a: 0, b: 0 };
    out += `@@ -${oldLen === 0 ? at.a : at.a + 1},${oldLen} +${newLen === 0 ? at.b : at.b + 1},${newLen} @@\n`;
    for (const o of hunk) out += `${o.tag}${o.line}\n`;
    k = end;
  }
  return out;
}

interface DiffOp {
  tag: " " | "-" | "+";
  line: string;
  /** Lines of the old (a) and new (b) text before this one. */
  a: number;
  b: number;
}

const splitLines = (text: string) => (text.endsWith("\n") ? text.slice(0, -1) : text).split("\n");

/** A shortest line edit script (longest common subsequence: quadratic, fine for config-sized texts). */
function diffLines(a: readonly string[], b: readonly string[]): DiffOp[] {
  const w = b.length + 1;
  const lcs = new Uint32Array((a.length + 1) * w);
  for (let i = a.length - 1; i >= 0; i--)
    for (let j = b.length - 1; j >= 0; j--)
      lcs[i * w + j] =
        a[i] === b[j]
          ? (lcs[(i + 1) * w + j + 1] ?? 0) + 1
          : Math.max(lcs[(i + 1) * w + j] ?? 0, lcs[i * w + j + 1] ?? 0);
  const ops: DiffOp[] = [];
  let i = 0;
  let j = 0;
  const push = (tag: DiffOp["tag"], line: string) => ops.push({ tag, line, a: i, b: j });
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) {
      push(" ", a[i] ?? "");
      i++;
      j++;
    } else if (i < a.length && (j === b.length || (lcs[(i + 1) * w + j] ?? 0) >= (lcs[i * w + j + 1] ?? 0))) {
      push("-", a[i] ?? "");
      i++;
    } else {
      push("+", b[j] ?? "");
      j++;
    }
  }
  return ops;
}
