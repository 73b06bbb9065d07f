/**
 * The app's event flow as `palisade threats` models it (`GET /admin/v1/graph`): sources on the left,
 * event types in the middle, functions on the right, with every node on a threat's path marked; the
 * threats are listed beside it, and choosing one marks only its path.
 */
import { useState } from "preact/hooks";
import { Badge, toneOf } from "../components/badge.tsx";
import { Card } from "../components/card.tsx";
import { ErrorNote } from "../components/notice.tsx";
import { PageHeader } from "../components/page-header.tsx";
import { edgePath, layOut, NODE_H, NODE_W, type PlacedNode } from "../graph-layout.ts";
import type { GraphNode, Threat, ThreatModel } from "../types.ts";
import { useFetch } from "../use-fetch.ts";

export function GraphPage() {
  const { data, error } = useFetch<ThreatModel>("/graph");
  const [chosen, setChosen] = useState<number | undefined>(undefined);
  return (
    <>
      <PageHeader
        title="Threat graph"
        subtitle="Where outside input can flow, and which paths reach privileges (palisade threats)."
      />
      <ErrorNote error={error} />
      {data === undefined ? null : (
        <div class="graph-layout">
          <Card title="Event flow" class="graph-card">
            <FlowGraph
              model={data}
              paths={chosen === undefined ? data.threats : data.threats.slice(chosen, chosen + 1)}
            />
            <p class="muted small">
              Hop limit {data.hopLimit}; at most {data.maxPerRoot} events per chain. Dashed arrows are emits.
            </p>
          </Card>
          <Card title={`Threats (${data.threats.length})`} class="threats">
            {data.threats.length === 0 ? (
              <p class="muted">No threats found in this manifest.</p>
            ) : (
              <ol class="threat-list">
                {data.threats.map((t, i) => (
                  <ThreatItem
                    key={`${t.class}-${t.path.join(">")}`}
                    threat={t}
                    chosen={chosen === i}
                    onChoose={() => setChosen(chosen === i ? undefined : i)}
                  />
                ))}
              </ol>
            )}
          </Card>
        </div>
      )}
    </>
  );
}

function ThreatItem({
  threat: t,
  chosen,
  onChoose,
}: {
  readonly threat: Threat;
  readonly chosen: boolean;
  readonly onChoose: () => void;
}) {
  return (
    <li class={chosen ? "threat chosen" : "threat"}>
      <div class="threat-head">
        <Badge tone={toneOf(t.severity)}>{t.severity}</Badge>
        <strong>{t.class}</strong>
        <button type="button" class="button button-small" aria-pressed={chosen} onClick={onChoose}>
          {chosen ? "Show all" : "Show path"}
        </button>
      </div>
      <p>{t.message}</p>
      <p class="muted small">{t.evidence}</p>
      <p class="small">
        <span class="label">Fix:</span> {t.fix}
      </p>
      <p class="muted small">{t.stride.join(", ")}</p>
    </li>
  );
}

function FlowGraph({ model, paths }: { readonly model: ThreatModel; readonly paths: readonly Threat[] }) {
  const layout = layOut(model);
  const marked = new Set(paths.flatMap((t) => t.path));
  const markedEdges = new Set(paths.flatMap((t) => t.path.slice(1).map((to, i) => `${t.path[i]}>${to}`)));
  return (
    <div class="graph-scroll">
      <svg
        class="graph"
        viewBox={`0 0 ${layout.width} ${layout.height}`}
        width={layout.width}
        height={layout.height}
        role="img"
        aria-label="Event flow graph"
      >
        <defs>
          {["arrow", "arrow-threat"].map((id) => (
            <marker
              key={id}
              id={id}
              viewBox="0 0 10 10"
              refX="9"
              refY="5"
              markerUnits="userSpaceOnUse"
              markerWidth="9"
              markerHeight="9"
              orient="auto-start-reverse"
            >
              <path d="M0,0 L10,5 L0,10 z" class={id} />
            </marker>
          ))}
        </defs>
        {model.edges.map((e) => {
          const from = layout.nodes.get(e.from);
          const to = layout.nodes.get(e.to);
          if (from === undefined || to === undefined) return null;
          const onPath = markedEdges.has(`${e.from}>${e.to}`);
          const classes = ["edge", to.x > from.x ? "" : "edge-emit", onPath ? "edge-threat" : ""];
          return (
            <path
              key={`${e.from}>${e.to}`}
              d={edgePath(from, to)}
              class={classes.join(" ").trim()}
              marker-end={onPath ? "url(#arrow-threat)" : "url(#arrow)"}
            />
          );
        })}
        {[...layout.nodes.values()].map((p) => (
          <NodeBox key={p.node.id} placed={p} marked={marked.has(p.node.id)} />
        ))}
      </svg>
    </div>
  );
}

function NodeBox({
  placed: { node, x, y },
  marked,
}: {
  readonly placed: PlacedNode;
  readonly marked: boolean;
}) {
  const classes = [
    "node",
    `node-${node.kind}`,
    marked ? "node-threat" : "",
    node.strict === false ? "node-loose" : "",
  ];
  return (
    <g class={classes.join(" ").trim()} data-node={node.id}>
      <title>{describe(node)}</title>
      <rect class="node-box" x={x} y={y} width={NODE_W} height={NODE_H} rx="6" />
      <text x={x + 10} y={y + NODE_H / 2 + 4}>
        {clip(label(node), 24)}
      </text>
    </g>
  );
}

function label(node: GraphNode): string {
  if (node.kind === "source") return `${node.source ?? "source"}: ${node.name}`;
  if (node.kind === "function") {
    const privileges = [
      ...(node.secrets?.length ? ["secrets"] : []),
      ...(node.egress?.length ? ["egress"] : []),
      ...(node.kvWrite?.length ? ["kv"] : []),
    ];
    return privileges.length === 0 ? node.name : `${node.name} [${privileges.join(", ")}]`;
  }
  return node.name;
}

function describe(node: GraphNode): string {
  const parts = [`${node.kind} ${node.name}`];
  if (node.trust !== undefined) parts.push(`trust: ${node.trust}`);
  if (node.strict !== undefined) parts.push(node.strict ? "strict schema" : "schema not strict");
  if (node.secrets?.length) parts.push(`secrets: ${node.secrets.join(", ")}`);
  if (node.egress?.length) parts.push(`egress: ${node.egress.join(", ")}`);
  if (node.kvWrite?.length) parts.push(`kv write: ${node.kvWrite.join(", ")}`);
  return parts.join("\n");
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
