import { describeNode, describePath } from "../describe-path.ts";
import type { Severity } from "../finding.ts";
import { type FlowGraph, type FunctionNode, isExternal } from "../flow-graph.ts";
import { nodesBetween, reachable, shortestPath } from "../graph-search.ts";
import type { SinkNode } from "../sink-node.ts";
import { THREAT_CLASSES, type Threat } from "../threat.ts";
import { type Exposure, exposureOf, lowerSeverity, signedClause } from "./signed-input.ts";

/**
 * Where events leave the platform. A function that can read a secret and whose emits reach a sink
 * (directly or through other functions) can put the secret in event data a receiver outside gets
 * (exfiltration). Outside input that reaches a sink leaves the platform with Palisade's credential
 * and signature on it (untrusted-to-sink): the receiver must not take that for Palisade's own data.
 */
export function sinkPaths(graph: FlowGraph): Threat[] {
  const exposures = graph.sources.filter((s) => isExternal(s.trust)).map((s) => exposureOf(graph, s));
  return [...secretsToSinks(graph, exposures), ...inputToSinks(graph, exposures)];
}

/**
 * High when outside input reaches the function without a filter and without a verified signature;
 * medium otherwise: a secret beside a way out is worth a look even when only the function's own code
 * could leak it, so a signature or a filter lowers it no further than that.
 */
function secretsToSinks(graph: FlowGraph, exposures: readonly Exposure[]): Threat[] {
  const out: Threat[] = [];
  for (const fn of graph.functions) {
    if (fn.privileges.secrets.length === 0) continue;
    const downstream = reachable(graph, [fn.id]);
    const sinks = graph.sinks.filter((k) => downstream.has(k.id));
    if (sinks.length === 0) continue;
    // The worst way in: a sender without a verified signature first, then a signed one.
    const entry = exposures.find((e) => e.unsigned.has(fn.id)) ?? exposures.find((e) => e.reach.has(fn.id));
    const signed = entry !== undefined && !entry.unsigned.has(fn.id);
    const filtered = fn.spec.filter !== undefined;
    const severity: Severity = entry !== undefined && !signed && !filtered ? "high" : "medium";
    const inbound =
      entry === undefined
        ? [fn.id]
        : (shortestPath(graph, entry.source.id, fn.id, { unsigned: !signed }) ?? [fn.id]);
    for (const sink of sinks) {
      const path = [...inbound, ...(shortestPath(graph, fn.id, sink.id) ?? [fn.id, sink.id]).slice(1)];
      out.push({
        class: "exfiltration",
        stride: THREAT_CLASSES.exfiltration.stride,
        severity,
        message:
          `Function "${fn.spec.name}" can read ${fn.privileges.secrets.join(", ")}, and what it emits reaches ${describeNode(graph, sink.id)}: ` +
          `a secret put in event data leaves the platform` +
          exposureText(graph, fn, entry, signed, filtered),
        fix:
          `make sure "${fn.spec.name}" never copies a secret into what it emits; narrow sinks.${sink.spec.name}.on, or give it a filter:, so only the events the receiver needs leave` +
          (entry !== undefined && !filtered ? `; add a filter: to functions.${fn.spec.name}` : ""),
        path,
        evidence: describePath(graph, path),
      });
    }
  }
  return out;
}

function exposureText(
  graph: FlowGraph,
  fn: FunctionNode,
  entry: Exposure | undefined,
  signed: boolean,
  filtered: boolean,
): string {
  if (entry === undefined) return `; no outside input reaches "${fn.spec.name}"`;
  return (
    `; input from ${describeNode(graph, entry.source.id)} reaches "${fn.spec.name}"` +
    (filtered ? " (a filter narrows which events)" : " with no filter") +
    (signed ? signedClause(entry.source) : "")
  );
}

/**
 * Medium when a type on the way accepts unbounded input and the sink has no filter (fields nobody
 * validated reach the receiver), low otherwise; one step lower when only signed events get there.
 */
function inputToSinks(graph: FlowGraph, exposures: readonly Exposure[]): Threat[] {
  const out: Threat[] = [];
  for (const exposure of exposures) {
    for (const sink of graph.sinks) {
      if (!exposure.reach.has(sink.id)) continue;
      const signed = !exposure.unsigned.has(sink.id);
      const path = shortestPath(graph, exposure.source.id, sink.id, { unsigned: !signed }) ?? [];
      const between = nodesBetween(graph, exposure.source.id, sink.id);
      const loose = graph.types.filter((t) => !t.strict && between.has(t.id)).map((t) => t.type);
      const filtered = sink.spec.filter !== undefined;
      const severity: Severity = loose.length > 0 && !filtered ? "medium" : "low";
      out.push({
        class: "untrusted-to-sink",
        stride: THREAT_CLASSES["untrusted-to-sink"].stride,
        severity: signed ? lowerSeverity(severity) : severity,
        message:
          relayText(graph, sink, path, loose, filtered) + (signed ? signedClause(exposure.source) : ""),
        fix:
          loose.length > 0 && !filtered
            ? `tighten the schema of ${loose.join(", ")}, or give sinks.${sink.spec.name} a filter: so only the events the receiver needs leave`
            : `have the receiver at ${sink.endpoint} treat the data as outside input: Palisade's credential and signature prove the delivery, not who wrote the data (its palisadeprincipal attribute says)`,
        path,
        evidence: describePath(graph, path),
      });
    }
  }
  return out;
}

function relayText(
  graph: FlowGraph,
  sink: SinkNode,
  path: string[],
  loose: string[],
  filtered: boolean,
): string {
  const through = path.filter((id) => id.startsWith("f:")).map((id) => describeNode(graph, id));
  return (
    `Input from ${describeNode(graph, path[0] ?? "")} reaches ${describeNode(graph, sink.id)}` +
    (through.length === 0
      ? " unchanged: what it sends leaves the platform as sent"
      : ` through ${through.join(", ")}`) +
    `, with Palisade's credential and signature on the delivery; ` +
    (loose.length > 0
      ? `the schema of ${loose.map((t) => `"${t}"`).join(", ")} accepts unbounded input`
      : "every hop on the way has a strict schema") +
    (filtered ? " (the sink's filter narrows what leaves)" : "")
  );
}
