/**
 * A trace's spans as the rows of a tree: depth-first, children by start time, each with its depth.
 * A span whose parent is not among them (not exported yet, or from another process) starts a
 * tree of its own.
 */
import type { Span } from "./types.ts";

export interface SpanRow {
  readonly span: Span;
  readonly depth: number;
}

export function spanRows(spans: readonly Span[]): SpanRow[] {
  const ids = new Set(spans.map((s) => s.spanId));
  const children = new Map<string | null, Span[]>();
  for (const s of spans) {
    const parent = s.parentId !== null && ids.has(s.parentId) ? s.parentId : null;
    children.set(parent, [...(children.get(parent) ?? []), s]);
  }
  for (const list of children.values()) list.sort((a, b) => a.start - b.start);
  const rows: SpanRow[] = [];
  const seen = new Set<string>();
  const walk = (parent: string | null, depth: number): void => {
    for (const span of children.get(parent) ?? []) {
      if (seen.has(span.spanId)) continue; // a span listed twice, or a cycle in bad data
      seen.add(span.spanId);
      rows.push({ span, depth });
      walk(span.spanId, depth + 1);
    }
  };
  walk(null, 0);
  return rows;
}
