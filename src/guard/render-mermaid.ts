import { COLOURS, type DiagramNode, diagramOf } from "./diagram.ts";
import type { ThreatModel } from "./find-threats.ts";

/**
 * The threat model as a Mermaid flowchart (paste it into Markdown in a ```mermaid block): sources
 * as stadiums coloured by trust, event types as hexagons, functions as boxes listing their
 * privileges, sinks as flags pointing out; nodes and edges on a threat's path outlined in the colour
 * of its severity, and each threat listed as a comment.
 */
export function renderMermaid(model: ThreatModel): string {
  const { nodes, edges } = diagramOf(model);
  const ids = new Map(nodes.map((n, i) => [n.id, `${PREFIX[n.kind]}${i}`]));
  const out = ["flowchart LR", `  %% palisade threats: ${model.app}`];
  for (const t of model.threats)
    out.push(`  %% ${t.severity} ${t.class}: ${t.evidence.replaceAll("\n", " ")}`);
  for (const n of nodes) out.push(`  ${ids.get(n.id)}${shape(n)}`);
  for (const e of edges)
    out.push(`  ${ids.get(e.from)} -->${e.verifiedOnly ? "|verified only|" : ""} ${ids.get(e.to)}`);
  out.push(
    `  classDef external fill:${COLOURS.external},stroke:#b42318`,
    `  classDef authenticated fill:${COLOURS.authenticated},stroke:#b54708`,
    `  classDef internal fill:${COLOURS.internal},stroke:#026aa2`,
  );
  // Declared only when used, so diagrams of apps without them stay as they were.
  if (nodes.some((n) => n.trust === "verified"))
    out.push(`  classDef verified fill:${COLOURS.verified},stroke:#067647`);
  if (nodes.some((n) => n.kind === "sink")) out.push(`  classDef sink fill:${COLOURS.sink},stroke:#5925dc`);
  for (const trust of ["external", "authenticated", "verified", "internal"] as const) {
    const members = nodes.filter((n) => n.trust === trust).map((n) => ids.get(n.id));
    if (members.length > 0) out.push(`  class ${members.join(",")} ${trust}`);
  }
  const sinks = nodes.filter((n) => n.kind === "sink").map((n) => ids.get(n.id));
  if (sinks.length > 0) out.push(`  class ${sinks.join(",")} sink`);
  for (const severity of ["high", "medium", "low"] as const) {
    const members = nodes.filter((n) => n.threat === severity).map((n) => ids.get(n.id));
    const dash = severity === "low" ? ",stroke-dasharray:4 3" : "";
    if (members.length === 0) continue;
    out.push(`  classDef threat_${severity} stroke:${COLOURS[severity]},stroke-width:3px${dash}`);
    out.push(`  class ${members.join(",")} threat_${severity}`);
  }
  for (const severity of ["high", "medium", "low"] as const) {
    const indexes = edges.flatMap((e, i) => (e.threat === severity ? [i] : []));
    if (indexes.length > 0)
      out.push(`  linkStyle ${indexes.join(",")} stroke:${COLOURS[severity]},stroke-width:3px`);
  }
  return `${out.join("\n")}\n`;
}

const PREFIX: Record<DiagramNode["kind"], string> = {
  source: "src",
  type: "type",
  function: "fn",
  sink: "sink",
};

function shape(n: DiagramNode): string {
  const label = `"${n.lines.map(entities).join("<br/>")}"`;
  if (n.kind === "source") return `([${label}])`;
  if (n.kind === "type") return `{{${label}}}`;
  if (n.kind === "sink") return `>${label}]`;
  return `[${label}]`;
}

// Mermaid labels take HTML entities; a quote would end the label.
function entities(text: string): string {
  return text
    .replaceAll("&", "#amp;")
    .replaceAll('"', "#quot;")
    .replaceAll("<", "#lt;")
    .replaceAll(">", "#gt;");
}
