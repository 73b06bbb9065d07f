/**
 * Taking grants out of palisade.yaml's text with its comments and layout kept (what
 * `palisade permissions suggest --write` writes). It only removes grants or narrows kv to `read`.
 */

import { isDeepStrictEqual } from "node:util";
import {
  type Document,
  isAlias,
  isMap,
  isNode,
  isPair,
  isScalar,
  isSeq,
  parseDocument,
  type Scalar,
  type YAMLMap,
  type YAMLSeq,
} from "yaml";
import { PalisadeError } from "../errors.ts";
import { MANIFEST_EDIT_REFUSED } from "./errors.ts";
import { MANIFEST_FILE } from "./load-app.ts";

export type GrantKind = "emit" | "secret" | "egress" | "kv";

/** What to take away from one function's grants. */
export interface GrantEdit {
  fn: string;
  /** Grants to remove, as written in palisade.yaml: event type, secret name, egress entry or kv namespace. */
  drop: readonly { kind: GrantKind; grant: string }[];
  /** kv namespaces whose `readwrite` becomes `read`. */
  narrow: readonly { grant: string }[];
}

/** Where each kind of grant is in a function of palisade.yaml. */
const FIELD: Readonly<Record<GrantKind, string>> = {
  emit: "emit",
  secret: "secrets",
  egress: "egress",
  kv: "kv",
};
const KINDS: readonly GrantKind[] = ["emit", "secret", "egress", "kv"];

/**
 * `text` (palisade.yaml) with `edits` applied. Bytes outside the change stay as they were: the edit
 * is spliced into the text at the YAML nodes' source ranges, and used only if it parses to exactly
 * what the same edit through yaml's Document API gives; for a layout the splice cannot handle, that
 * Document is printed instead (comments kept, formatting normalised). An emptied list or kv map
 * loses its key (absent means none).
 */
export function editGrants(text: string, edits: readonly GrantEdit[]): string {
  const changing = edits.filter((s) => s.drop.length + s.narrow.length > 0);
  if (changing.length === 0) return text;
  const planned = planSplice(text, parseDocument(text), changing);
  const edited = parseDocument(text);
  for (const s of changing) {
    const { fields, narrow } = locateGrants(edited, s);
    for (const f of fields) {
      for (const i of [...f.remove].reverse()) f.node.items.splice(i, 1);
      if (f.node.items.length === 0) f.fnMap.delete(f.field);
    }
    for (const v of narrow) v.value = "read";
  }
  const spliced = planned === undefined ? undefined : splice(text, planned);
  if (spliced !== undefined) {
    const check = parseDocument(spliced);
    if (check.errors.length === 0 && isDeepStrictEqual(check.toJS(), edited.toJS())) return spliced;
  }
  return edited.toString({ flowCollectionPadding: false, lineWidth: 0 });
}

interface FieldEdit {
  fnMap: YAMLMap;
  field: string;
  node: YAMLMap | YAMLSeq;
  /** Indices of the items to remove, ascending. */
  remove: number[];
}

/**
 * The nodes of `s`'s changes in `doc`. Refuses anchored or aliased nodes: an edit there would also
 * change whatever else refers to them.
 */
function locateGrants(
  doc: Document,
  s: GrantEdit,
): { fnMap: YAMLMap; fields: FieldEdit[]; narrow: Scalar[] } {
  const fnMap = doc.getIn(["functions", s.fn], true);
  if (!isMap(fnMap) || fnMap.anchor !== undefined) throw cannotEdit(`functions.${s.fn}`);
  const fields: FieldEdit[] = [];
  for (const kind of KINDS) {
    const gone = new Set(s.drop.filter((c) => c.kind === kind).map((c) => c.grant));
    if (gone.size === 0) continue;
    const field = FIELD[kind];
    const node = fnMap.get(field, true);
    if (!(isSeq(node) || isMap(node)) || node.anchor !== undefined)
      throw cannotEdit(`functions.${s.fn}.${field}`);
    const items = node.items as unknown[];
    const remove = items.flatMap((it, i) => {
      const value = scalarOf(isPair(it) ? it.key : it);
      return typeof value === "string" && gone.has(value) ? [i] : [];
    });
    if (remove.length !== gone.size || remove.some((i) => anchored(items[i])))
      throw cannotEdit(`functions.${s.fn}.${field}`);
    fields.push({ fnMap, field, node, remove });
  }
  const kv = fnMap.get("kv", true);
  const narrow = s.narrow.map((c) => {
    const v = isMap(kv) ? kv.get(c.grant, true) : undefined;
    if (!isScalar(v) || v.anchor !== undefined) throw cannotEdit(`functions.${s.fn}.kv.${c.grant}`);
    return v;
  });
  return { fnMap, fields, narrow };
}

const scalarOf = (n: unknown) => (isScalar(n) ? n.value : undefined);
const anchored = (it: unknown): boolean =>
  isPair(it)
    ? anchored(it.key) || anchored(it.value)
    : isNode(it) && (isAlias(it) || it.anchor !== undefined);

function cannotEdit(path: string): PalisadeError {
  return new PalisadeError(
    MANIFEST_EDIT_REFUSED,
    `Cannot edit ${path} in ${MANIFEST_FILE}: it is not a plain list or map (a YAML anchor or alias?), and an edit there could change other functions too; write it out for this function, or apply the change by hand`,
    { status: 400 },
  );
}

interface TextEdit {
  start: number;
  end: number;
  text: string;
}

/** Text edits for `changing` at the nodes' source ranges, or undefined for a layout not handled. */
function planSplice(text: string, doc: Document, changing: readonly GrantEdit[]): TextEdit[] | undefined {
  const edits: TextEdit[] = [];
  for (const s of changing) {
    const { fnMap, fields, narrow } = locateGrants(doc, s);
    const emptied: number[] = [];
    for (const f of fields) {
      if (f.remove.length === f.node.items.length)
        emptied.push(f.fnMap.items.findIndex((p) => scalarOf(p.key) === f.field));
      else {
        const more = removals(text, f.node, f.remove);
        if (more === undefined) return undefined;
        edits.push(...more);
      }
    }
    const more = removals(
      text,
      fnMap,
      emptied.sort((a, b) => a - b),
    );
    if (more === undefined) return undefined;
    edits.push(...more);
    for (const v of narrow) {
      if (v.range == null) return undefined;
      const [start, end] = v.range;
      const quote = /^["']/.exec(text.slice(start, end))?.[0] ?? "";
      edits.push({ start, end, text: `${quote}read${quote}` });
    }
  }
  return edits;
}

/**
 * Deletions of the items at `indices` of a collection: in block style their whole lines (with a
 * comment on the same line), in flow style the item and one separating comma.
 */
function removals(text: string, node: YAMLMap | YAMLSeq, indices: readonly number[]): TextEdit[] | undefined {
  const spans = (node.items as unknown[]).map(spanOf);
  const out: TextEdit[] = [];
  for (const i of indices) {
    const span = spans[i];
    if (span === undefined) return undefined;
    if (node.flow === true) {
      const next = spans[i + 1];
      const keptBefore = spans
        .slice(0, i)
        .filter((_, k) => !indices.includes(k))
        .at(-1);
      const range = i + 1 < spans.length ? [span[0], next?.[0]] : [keptBefore?.[1], span[1]];
      const [start, end] = range;
      if (start === undefined || end === undefined || text.slice(start, end).includes("#")) return undefined;
      out.push({ start, end, text: "" });
    } else {
      const lineStart = text.lastIndexOf("\n", span[0] - 1) + 1;
      const newline = text.indexOf("\n", span[1] - 1);
      const lead = isSeq(node) ? /^[ \t]*-[ \t]+$/ : /^[ \t]*$/;
      if (!lead.test(text.slice(lineStart, span[0]))) return undefined;
      out.push({ start: lineStart, end: newline === -1 ? text.length : newline + 1, text: "" });
    }
  }
  return out;
}

/** Where an item's text starts and its value ends (before a trailing comment). */
function spanOf(it: unknown): [number, number] | undefined {
  const first = isPair(it) ? it.key : it;
  const last = isPair(it) ? (it.value ?? it.key) : it;
  if (!isNode(first) || !isNode(last) || first.range == null || last.range == null) return undefined;
  return [first.range[0], last.range[1]];
}

/** `text` with `edits` applied; overlapping deletions merge, any other overlap gives undefined. */
function splice(text: string, edits: readonly TextEdit[]): string | undefined {
  const merged: TextEdit[] = [];
  for (const e of [...edits].sort((a, b) => a.start - b.start)) {
    const last = merged.at(-1);
    if (last === undefined || e.start >= last.end) merged.push({ ...e });
    else if (last.text === "" && e.text === "") last.end = Math.max(last.end, e.end);
    else return undefined;
  }
  let out = text;
  for (const e of merged.reverse()) out = out.slice(0, e.start) + e.text + out.slice(e.end);
  return out;
}
