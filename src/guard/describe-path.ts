import type { FlowGraph } from "./flow-graph.ts";

/**
 * A node id as a reader sees it: `principal "storefront" (apiKey, authenticated)`, `order.created`,
 * `function "charge"`, `sink "ledger" (https://ledger.example/...)`.
 */
export function describeNode(graph: FlowGraph, id: string): string {
  if (id.startsWith("t:")) return id.slice(2);
  if (id.startsWith("f:")) return `function "${id.slice(2)}"`;
  if (id.startsWith("k:")) {
    const sink = graph.sinks.find((k) => k.id === id);
    return `sink "${id.slice(2)}"${sink === undefined ? "" : ` (${sink.endpoint})`}`;
  }
  const s = graph.sources.find((x) => x.id === id);
  if (s === undefined) return id;
  if (s.kind === "platform") return "the platform";
  const name =
    s.kind === "schedule"
      ? `schedule "${s.name}"`
      : `${s.kind} ${s.kind === "webhook" ? s.name : `"${s.name}"`}`;
  return `${name} (${s.kind === "principal" ? `${s.detail}, ` : ""}${s.trust})`;
}

/** A path of node ids as `a → b → c`. */
export function describePath(graph: FlowGraph, path: readonly string[]): string {
  return path.map((id) => describeNode(graph, id)).join(" → ");
}
