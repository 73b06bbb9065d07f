/**
 * Where the threat graph's nodes go: three columns (sources, event types, functions), left to right
 * as events flow. Within a column nodes are ordered by the average row of what feeds them (a
 * barycentre pass), which keeps most edges short and uncrossed; columns are centred vertically.
 */
import type { GraphNode, ThreatModel } from "./types.ts";

export const NODE_W = 180;
export const NODE_H = 34;
const ROW = 50;
const COL_GAP = 90;
const PAD = 24;
const COLUMNS = ["source", "type", "function"] as const;

export interface PlacedNode {
  readonly node: GraphNode;
  readonly x: number;
  readonly y: number;
}

export interface Layout {
  readonly width: number;
  readonly height: number;
  readonly nodes: ReadonlyMap<string, PlacedNode>;
}

export function layOut(model: ThreatModel): Layout {
  const feeders = new Map<string, string[]>();
  for (const e of model.edges) feeders.set(e.to, [...(feeders.get(e.to) ?? []), e.from]);
  const row = new Map<string, number>();
  const columns = COLUMNS.map((kind) => {
    const nodes = model.nodes.filter((n) => n.kind === kind);
    const centre = (n: GraphNode): number => {
      const rows = (feeders.get(n.id) ?? []).map((f) => row.get(f)).filter((r) => r !== undefined);
      return rows.length === 0 ? Number.POSITIVE_INFINITY : rows.reduce((a, b) => a + b, 0) / rows.length;
    };
    // Sorting is stable: nodes with nothing placed feeding them keep the manifest's order, last.
    const ordered = kind === "source" ? nodes : [...nodes].sort((a, b) => centre(a) - centre(b));
    ordered.forEach((n, i) => {
      row.set(n.id, i);
    });
    return ordered;
  });
  const tallest = Math.max(1, ...columns.map((c) => c.length));
  const placed = new Map<string, PlacedNode>();
  columns.forEach((nodes, col) => {
    const offset = ((tallest - nodes.length) * ROW) / 2;
    nodes.forEach((node, i) => {
      placed.set(node.id, { node, x: PAD + col * (NODE_W + COL_GAP), y: PAD + offset + i * ROW });
    });
  });
  return {
    width: PAD * 2 + COLUMNS.length * NODE_W + (COLUMNS.length - 1) * COL_GAP,
    height: PAD * 2 + (tallest - 1) * ROW + NODE_H,
    nodes: placed,
  };
}

/** An SVG path from one node to another: forward edges leave right and enter left; an emit edge goes back. */
export function edgePath(from: PlacedNode, to: PlacedNode): string {
  const fy = from.y + NODE_H / 2;
  const ty = to.y + NODE_H / 2;
  if (to.x > from.x) {
    const fx = from.x + NODE_W;
    const mid = (fx + to.x) / 2;
    return `M${fx},${fy} C${mid},${fy} ${mid},${ty} ${to.x},${ty}`;
  }
  const fx = from.x;
  const tx = to.x + NODE_W;
  return `M${fx},${fy} C${fx - 70},${fy + 30} ${tx + 70},${ty + 30} ${tx},${ty}`;
}
