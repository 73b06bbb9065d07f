import { describeNode } from "./describe-path.ts";
import type { ThreatModel } from "./find-threats.ts";
import { privilegeText } from "./threats/privileged-paths.ts";

/** The threat model as people read it: the graph's flows, then each threat with STRIDE class and evidence. */
export function formatThreatsText(model: ThreatModel): string {
  const { graph } = model;
  const out = [
    `palisade threats: app "${model.app}": ${graph.sources.length} source(s), ${graph.types.length} event type(s), ${graph.functions.length} function(s), ${graph.sinks.length} sink(s), hop limit ${model.hopLimit}`,
    "",
    "Flows:",
  ];
  for (const [from, to] of graph.edges)
    out.push(`  ${describeNode(graph, from)} → ${describeNode(graph, to)}`);
  out.push("", "Functions:");
  for (const f of graph.functions)
    out.push(
      `  ${f.spec.name}: ${privilegeText(f)}${f.spec.filter === undefined ? "" : "; filtered"}${f.spec.requireVerified ? "; verified events only" : ""}`,
    );
  if (graph.sinks.length > 0) out.push("", "Sinks:");
  for (const k of graph.sinks)
    out.push(
      `  ${k.spec.name}: ${k.endpoint}; ${k.spec.auth === undefined ? "no auth" : `auth ${k.spec.auth.kind}`}${k.spec.filter === undefined ? "" : "; filtered"}${k.spec.allowAddresses.length > 0 ? `; allows ${k.spec.allowAddresses.join(", ")}` : ""}`,
    );
  out.push(
    "",
    `Amplification (worst case per event from outside; held past ${model.maxPerRoot} at run time):`,
  );
  for (const [type, n] of model.amplification)
    if (n > 0) out.push(`  ${type}: ${amplificationText(n, model.maxPerRoot)}`);
  out.push("");
  if (model.threats.length === 0) out.push("No threats found.");
  model.threats.forEach((t, i) => {
    out.push(`T${i + 1} ${t.severity.toUpperCase()} ${t.class} [${t.stride.join(", ")}]`);
    out.push(`   ${t.message}`);
    if (t.evidence !== "") out.push(`   path: ${t.evidence}`);
    out.push(`   fix: ${t.fix}`, "");
  });
  return `${out.join("\n")}\n`;
}

function amplificationText(n: number, cap: number): string {
  if (n === Number.POSITIVE_INFINITY) return `unbounded (a cycle without recursion.maxDepth): held at ${cap}`;
  return `${n} invocations and emits${n > cap ? ` (held at ${cap})` : ""}`;
}

/**
 * The threat model as JSON: nodes (kind source, type, function or sink), edges and threats (what
 * `--format json` prints and `GET /admin/v1/graph` serves).
 */
export function threatsJson(model: ThreatModel): object {
  const { graph } = model;
  return {
    app: model.app,
    hopLimit: model.hopLimit,
    nodes: [
      ...graph.sources.map((s) => ({
        id: s.id,
        kind: "source",
        source: s.kind,
        name: s.name,
        detail: s.detail,
        trust: s.trust,
        ...(s.signing === undefined ? {} : { signing: s.signing }),
      })),
      ...graph.types.map((t) => ({ id: t.id, kind: "type", name: t.type, strict: t.strict })),
      ...graph.functions.map((f) => ({
        id: f.id,
        kind: "function",
        name: f.spec.name,
        filter: f.spec.filter !== undefined,
        requireVerified: f.spec.requireVerified === true,
        emit: f.spec.emit,
        ...f.privileges,
      })),
      // The url as `https://host/...`: its path and query may carry a receiver's token.
      ...graph.sinks.map((k) => ({
        id: k.id,
        kind: "sink",
        name: k.spec.name,
        endpoint: k.endpoint,
        mode: k.spec.mode,
        auth: k.spec.auth?.kind ?? null,
        filter: k.spec.filter !== undefined,
        allowAddresses: k.spec.allowAddresses,
        on: k.on,
      })),
    ],
    edges: graph.edges.map(([from, to]) => ({ from, to })),
    threats: model.threats,
    // Per event type; null where a cycle without recursion.maxDepth leaves it unbounded.
    amplification: Object.fromEntries(
      [...model.amplification].map(([type, n]) => [type, Number.isFinite(n) ? n : null]),
    ),
    maxPerRoot: model.maxPerRoot,
  };
}
