/**
 * The app's event flow as `palisade threats` models it (`GET /admin/v1/graph`): sources on the left,
 * then event types and functions, and sinks (where events leave the platform) on the right, with
 * every node on a threat's path marked and verified sources and verified-only functions tagged; the
 * threats are listed beside it, and choosing one marks only its path.
 */
import { useState } from "preact/hooks";
import { Badge, toneOf } from "../components/badge.tsx";
import { Card } from "../components/card.tsx";
import { GraphLegend } from "../components/graph-legend.tsx";
import { NodeBox } from "../components/graph-node.tsx";
import { ErrorNote } from "../components/notice.tsx";
import { PageHeader } from "../components/page-header.tsx";
import { edgePath, layOut } from "../graph-layout.ts";
import type { Threat, ThreatModel } from "../types.ts";
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
        // Four columns (sinks drawn) are too wide to read beside the threat list: it goes below.
        <div
          class={
            data.nodes.some((n) => n.kind === "sink") ? "graph-layout graph-layout-wide" : "graph-layout"
          }
        >
          <Card title="Event flow" class="graph-card">
            <FlowGraph
              model={data}
              paths={chosen === undefined ? data.threats : data.threats.slice(chosen, chosen + 1)}
            />
            <GraphLegend nodes={data.nodes} />
            <p class="muted small">
              Hop limit {data.hopLimit}; at most {data.maxPerRoot} events per chain. Dashed arrows are emits;
              arrows into a sink leave the platform.
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
          const classes = [
            "edge",
            to.x > from.x ? "" : "edge-emit",
            to.node.kind === "sink" ? "edge-out" : "",
            onPath ? "edge-threat" : "",
          ];
          return (
            <path
              key={`${e.from}>${e.to}`}
              d={edgePath(from, to, layout.columns)}
              class={classes.filter((c) => c !== "").join(" ")}
              data-from={e.from}
              data-to={e.to}
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
