import { COLOURS, type DiagramNode, diagramOf } from "./diagram.ts";
import type { ThreatModel } from "./find-threats.ts";

/**
 * The threat model as a Mermaid flowchart (paste it into Markdown in a ```mermaid block): sources
 * as stadiums coloured by trust, event types as hexagons, functions as boxes listing their
 * privileges; nodes and edges on a threat's path outlined in the colour of its severity, and each
 * threat listed as a comment.
 */
export function renderMermaid(model: ThreatModel): string {
  const { nodes, edges } = diagramOf(model);
  const ids = new Map(
    nodes.map((n, i) => [n.id, `${n.kind === "source" ? "src" : n.kind === "type" ? "type" : "fn"}${i}`]),
  );
  const out = ["flowchart LR", `  %% palisade threats: ${model.app}`];
  for (const t of model.threats)
    out.push(`  %% ${t.severity} ${t.class}: ${t.evidence.replaceAll("\n", " ")}`);
  for (const n of nodes) out.push(`  ${ids.get(n.id)}${shape(n)}`);
  for (const e of edges) out.push(`  ${ids.get(e.from)} --> ${ids.get(e.to)}`);
  out.push(
    `  classDef external fill:${COLOURS.external},stroke:#b42318`,
    `  classDef authenticated fill:${COLOURS.authenticated},stroke:#b54708`,
    `  classDef internal fill:${COLOURS.internal},stroke:#026aa2`,
  );
  for (const trust of ["external", "authenticated", "internal"] as const) {
    const members = nodes.filter((n) => n.trust === trust).map((n) => ids.get(n.id));
    if (members.length > 0) out.push(`  class ${members.join(",")} ${trust}`);
  }
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

function shape(n: DiagramNode): string {
  const label = `"${n.lines.map(entities).join("<br/>")}"`;
  if (n.kind === "source") return `([${label}])`;
  if (n.kind === "type") return `{{${label}}}`;
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
