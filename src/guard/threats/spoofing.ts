import { describePath } from "../describe-path.ts";
import type { FlowGraph } from "../flow-graph.ts";
import { THREAT_CLASSES, type Threat } from "../threat.ts";

/** Principals that may publish a type a function, webhook or schedule produces inside the app. */
export function spoofableTypes(graph: FlowGraph): Threat[] {
  const out: Threat[] = [];
  for (const p of graph.sources.filter((s) => s.kind === "principal")) {
    for (const type of p.types) {
      const producers = graph.prev(`t:${type}`).filter((id) => id !== p.id && !id.startsWith("s:principal:"));
      if (producers.length === 0) continue;
      const consumer = graph.next(`t:${type}`)[0];
      const path = [p.id, `t:${type}`, ...(consumer === undefined ? [] : [consumer])];
      out.push({
        class: "spoofable-type",
        stride: THREAT_CLASSES["spoofable-type"].stride,
        severity: "medium",
        message: `Principal "${p.name}" may publish "${type}", which ${producers.map((id) => describePath(graph, [id])).join(" and ")} also produce(s); a forged one looks the same to its consumers`,
        fix: `narrow principals.${p.name}.publish so it excludes "${type}", and give what it sends a type of its own`,
        path,
        evidence: describePath(graph, path),
      });
    }
  }
  return out;
}
