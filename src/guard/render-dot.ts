import { COLOURS, type DiagramNode, diagramOf } from "./diagram.ts";
import type { ThreatModel } from "./find-threats.ts";

/** The threat model as a Graphviz digraph (`dot -Tsvg`), highlighted like the Mermaid one. */
export function renderDot(model: ThreatModel): string {
  const { nodes, edges } = diagramOf(model);
  const out = [
    `digraph ${quote(`palisade threats: ${model.app}`)} {`,
    "  rankdir=LR;",
    '  node [fontname="Helvetica", fontsize=11];',
    '  edge [color="#667085"];',
  ];
  for (const t of model.threats) out.push(`  // ${t.severity} ${t.class}: ${t.evidence}`);
  for (const n of nodes) out.push(`  ${quote(n.id)} [${attributes(n)}];`);
  for (const e of edges) {
    const attrs = [
      ...(e.threat === undefined ? [] : [`color=${quote(COLOURS[e.threat])}`, "penwidth=2.5"]),
      ...(e.verifiedOnly ? [`label=${quote("verified only")}`, `style="dashed"`] : []),
    ];
    out.push(`  ${quote(e.from)} -> ${quote(e.to)}${attrs.length === 0 ? "" : ` [${attrs.join(", ")}]`};`);
  }
  out.push("}");
  return `${out.join("\n")}\n`;
}

// A sink is where events leave: Graphviz's "cds" points out of the graph.
const SHAPES: Record<DiagramNode["kind"], string> = {
  source: "oval",
  type: "hexagon",
  function: "box",
  sink: "cds",
};

function attributes(n: DiagramNode): string {
  const attrs: Record<string, string> = {
    label: n.lines.join("\n"),
    shape: SHAPES[n.kind],
  };
  if (n.trust !== undefined || n.kind === "sink") {
    attrs.style = "filled";
    attrs.fillcolor = COLOURS[n.trust ?? "sink"];
  }
  if (n.threat !== undefined) {
    attrs.color = COLOURS[n.threat];
    attrs.penwidth = "2.5";
    if (n.threat === "low") attrs.style = attrs.style === undefined ? "dashed" : `${attrs.style},dashed`;
  }
  return Object.entries(attrs)
    .map(([k, v]) => `${k}=${quote(v)}`)
    .join(", ");
}

// DOT strings: escape backslash and quote; a newline becomes the centred line break \n.
function quote(text: string): string {
  return `"${text.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n")}"`;
}
