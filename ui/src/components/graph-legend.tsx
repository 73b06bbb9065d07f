/**
 * The threat graph's key: how many nodes of each kind it draws (sinks included: where events leave
 * the platform) and what its marks mean. Swatches are styled by class (the CSP allows no inline style).
 */
import { COLUMNS } from "../graph-layout.ts";
import type { GraphNode } from "../types.ts";

const KIND_WORDS: Readonly<Record<(typeof COLUMNS)[number], readonly [string, string]>> = {
  source: ["source", "sources"],
  type: ["event type", "event types"],
  function: ["function", "functions"],
  sink: ["sink", "sinks"],
};

const MARKS: readonly (readonly [swatch: string, text: string])[] = [
  ["verified", "✓ verified: a source whose every event must carry a producer signature that verifies"],
  ["verified-only", "verified only: a function that takes only verified events"],
  ["loose", "dashed border: a schema that does not bound every field"],
  ["threat", "red: on a threat's path"],
];

export function GraphLegend({ nodes }: { readonly nodes: readonly GraphNode[] }) {
  return (
    <div class="graph-legend">
      <ul class="graph-counts">
        {COLUMNS.map((kind) => {
          const n = nodes.filter((node) => node.kind === kind).length;
          const [one, many] = KIND_WORDS[kind];
          return (
            <li key={kind} class={`graph-count graph-count-${kind}`}>
              <span class={`legend-swatch legend-${kind}`} aria-hidden="true" />
              {n} {n === 1 ? one : many}
            </li>
          );
        })}
      </ul>
      <ul class="graph-marks muted small">
        {MARKS.map(([swatch, text]) => (
          <li key={swatch}>
            <span class={`legend-swatch legend-${swatch}`} aria-hidden="true" />
            {text}
          </li>
        ))}
      </ul>
    </div>
  );
}
