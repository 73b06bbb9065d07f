import { describeNode, describePath } from "../describe-path.ts";
import { type FlowGraph, type FunctionNode, isExternal } from "../flow-graph.ts";
import { reachable, shortestPath } from "../graph-search.ts";
import type { Threat } from "../threat.ts";
import { THREAT_CLASSES } from "../threat.ts";

/**
 * Untrusted input reaching a privileged function, and the exfiltration paths among them: for every
 * external source and every function it reaches that holds secrets, egress or a kv write grant, the
 * shortest path as evidence, and whether every type on any path between them has a strict schema.
 */
export function privilegedPaths(graph: FlowGraph): Threat[] {
  const out: Threat[] = [];
  for (const source of graph.sources.filter((s) => isExternal(s.trust))) {
    const downstream = reachable(graph, [source.id]);
    for (const fn of graph.functions) {
      if (!downstream.has(fn.id) || !isPrivileged(fn)) continue;
      const path = shortestPath(graph, source.id, fn.id) ?? [];
      const between = reachable(graph, [fn.id], true);
      const loose = graph.types
        .filter((t) => !t.strict && downstream.has(t.id) && between.has(t.id))
        .map((t) => t.type);
      out.push(untrusted(graph, fn, path, loose));
      const { secrets, egress } = fn.privileges;
      if (secrets.length > 0 && egress.length > 0) out.push(exfiltration(graph, fn, path));
    }
  }
  return out;
}

function untrusted(graph: FlowGraph, fn: FunctionNode, path: string[], loose: string[]): Threat {
  const from = describeNode(graph, path[0] ?? "");
  return {
    class: "untrusted-to-privileged",
    stride: THREAT_CLASSES["untrusted-to-privileged"].stride,
    severity: loose.length > 0 ? "high" : "low",
    message:
      `Input from ${from} reaches function "${fn.spec.name}", which holds ${privilegeText(fn)}; ` +
      (loose.length > 0
        ? `not every hop between them is strictly validated: the schema of ${loose.map((t) => `"${t}"`).join(", ")} accepts unbounded input`
        : "every hop on the way has a strict schema"),
    fix:
      loose.length > 0
        ? `tighten the schema of ${loose.join(", ")} (palisade check lists each loose field)`
        : `review that "${fn.spec.name}" treats its input as hostile; a filter: narrows what reaches it`,
    path,
    evidence: describePath(graph, path),
  };
}

function exfiltration(graph: FlowGraph, fn: FunctionNode, path: string[]): Threat {
  const filtered = fn.spec.filter !== undefined;
  return {
    class: "exfiltration",
    stride: THREAT_CLASSES.exfiltration.stride,
    severity: filtered ? "medium" : "high",
    message:
      `Input from ${describeNode(graph, path[0] ?? "")} reaches function "${fn.spec.name}", which can read ` +
      `${fn.privileges.secrets.join(", ")} and send requests to ${fn.privileges.egress.join(", ")}` +
      (filtered ? " (a filter narrows which events reach it)" : " with no filter"),
    fix: filtered
      ? `keep the filter of "${fn.spec.name}" tight and the egress to the hosts that need the secret`
      : `add a filter: to functions.${fn.spec.name}, or move the secret and egress into a function outside input cannot reach`,
    path,
    evidence: describePath(graph, path),
  };
}

export function isPrivileged(fn: FunctionNode): boolean {
  const p = fn.privileges;
  return p.secrets.length + p.egress.length + p.kvWrite.length > 0;
}

/** `secrets: A; egress: h:443; kv write: orders` (or "no privileges"). */
export function privilegeText(fn: FunctionNode): string {
  const p = fn.privileges;
  const parts = [
    p.secrets.length > 0 ? `secrets ${p.secrets.join(", ")}` : "",
    p.egress.length > 0 ? `egress ${p.egress.join(", ")}` : "",
    p.kvWrite.length > 0 ? `kv write ${p.kvWrite.join(", ")}` : "",
  ].filter((x) => x !== "");
  return parts.length === 0 ? "no privileges" : parts.join("; ");
}
