import { describeNode, describePath } from "../describe-path.ts";
import { type FlowGraph, type FunctionNode, isExternal } from "../flow-graph.ts";
import { nodesBetween, shortestPath } from "../graph-search.ts";
import type { Threat } from "../threat.ts";
import { THREAT_CLASSES } from "../threat.ts";
import { exposureOf, lowerSeverity, signedClause, signedOnly } from "./signed-input.ts";

/**
 * Untrusted input reaching a privileged function, and the exfiltration paths among them: for every
 * external source and every function it reaches that holds secrets, egress or a kv write grant, the
 * shortest path as evidence, and whether every type on any path between them has a strict schema.
 * When only signed events of the source get there, each is one severity step lower (signed-input.ts).
 */
export function privilegedPaths(graph: FlowGraph): Threat[] {
  const out: Threat[] = [];
  for (const source of graph.sources.filter((s) => isExternal(s.trust))) {
    const exposure = exposureOf(graph, source);
    for (const fn of graph.functions) {
      if (!exposure.reach.has(fn.id) || !isPrivileged(fn)) continue;
      const signed = signedOnly(exposure, fn.id);
      // The evidence is a way an unsigned event takes, when there is one.
      const path = shortestPath(graph, source.id, fn.id, { unsigned: !signed }) ?? [];
      const between = nodesBetween(graph, source.id, fn.id);
      const loose = graph.types.filter((t) => !t.strict && between.has(t.id)).map((t) => t.type);
      out.push(untrusted(graph, fn, path, loose, signed));
      const { secrets, egress } = fn.privileges;
      if (secrets.length > 0 && egress.length > 0) out.push(exfiltration(graph, fn, path, signed));
    }
  }
  return out;
}

function untrusted(
  graph: FlowGraph,
  fn: FunctionNode,
  path: string[],
  loose: string[],
  signed: boolean,
): Threat {
  const source = graph.sources.find((s) => s.id === path[0]);
  const from = describeNode(graph, path[0] ?? "");
  const severity = loose.length > 0 ? "high" : "low";
  return {
    class: "untrusted-to-privileged",
    stride: THREAT_CLASSES["untrusted-to-privileged"].stride,
    severity: signed ? lowerSeverity(severity) : severity,
    message:
      `Input from ${from} reaches function "${fn.spec.name}", which holds ${privilegeText(fn)}; ` +
      (loose.length > 0
        ? `not every hop between them is strictly validated: the schema of ${loose.map((t) => `"${t}"`).join(", ")} accepts unbounded input`
        : "every hop on the way has a strict schema") +
      (signed && source !== undefined ? signedClause(source) : ""),
    fix:
      loose.length > 0
        ? `tighten the schema of ${loose.join(", ")} (palisade check lists each loose field)`
        : `review that "${fn.spec.name}" treats its input as hostile; a filter: narrows what reaches it`,
    path,
    evidence: describePath(graph, path),
  };
}

function exfiltration(graph: FlowGraph, fn: FunctionNode, path: string[], signed: boolean): Threat {
  const source = graph.sources.find((s) => s.id === path[0]);
  const filtered = fn.spec.filter !== undefined;
  const severity = filtered ? "medium" : "high";
  return {
    class: "exfiltration",
    stride: THREAT_CLASSES.exfiltration.stride,
    severity: signed ? lowerSeverity(severity) : severity,
    message:
      `Input from ${describeNode(graph, path[0] ?? "")} reaches function "${fn.spec.name}", which can read ` +
      `${fn.privileges.secrets.join(", ")} and send requests to ${fn.privileges.egress.join(", ")}` +
      (filtered ? " (a filter narrows which events reach it)" : " with no filter") +
      (signed && source !== undefined ? signedClause(source) : ""),
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
