/**
 * Where the threat graph's nodes go: four columns (sources, event types, functions, sinks), left to
 * right as events flow, sinks last as events leave the platform there; a column with no nodes (an
 * app without sinks) takes no room. Within a column nodes are ordered by the average row of what
 * feeds them (a barycentre pass), which keeps most edges short and uncrossed; columns are centred
 * vertically. An edge that skips a column (a type into a sink, past the functions) runs through the
 * gap between that column's nodes, so it never seems to pass through a node it does not touch.
 */
import type { GraphNode, ThreatModel } from "./types.ts";

export const NODE_W = 180;
export const NODE_H = 34;
/** Row pitch: the gap between nodes (24) holds an edge's lane clear of the tags on a node's top edge. */
const ROW = 58;
const COL_GAP = 90;
const PAD = 24;
/** Column order, left to right: a node of another kind (a newer server's) is not drawn. */
export const COLUMNS = ["source", "type", "function", "sink"] as const;

export interface PlacedNode {
  readonly node: GraphNode;
  readonly x: number;
  readonly y: number;
}

/** A drawn column: its left edge and the y of each node's top, top to bottom. */
export interface Column {
  readonly x: number;
  readonly tops: readonly number[];
}

export interface Layout {
  readonly width: number;
  readonly height: number;
  readonly nodes: ReadonlyMap<string, PlacedNode>;
  readonly columns: readonly Column[];
}

export function layOut(model: ThreatModel): Layout {
  const feeders = new Map<string, string[]>();
  for (const e of model.edges) feeders.set(e.to, [...(feeders.get(e.to) ?? []), e.from]);
  const row = new Map<string, number>();
  const kinds = COLUMNS.filter((kind) => model.nodes.some((n) => n.kind === kind));
  const columns = kinds.map((kind) => {
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
  const bands = columns.map((nodes, col): Column => {
    const offset = ((tallest - nodes.length) * ROW) / 2;
    const x = PAD + col * (NODE_W + COL_GAP);
    const tops = nodes.map((node, i) => {
      const y = PAD + offset + i * ROW;
      placed.set(node.id, { node, x, y });
      return y;
    });
    return { x, tops };
  });
  return {
    width: PAD * 2 + columns.length * NODE_W + Math.max(0, columns.length - 1) * COL_GAP,
    height: PAD * 2 + (tallest - 1) * ROW + NODE_H,
    nodes: placed,
    columns: bands,
  };
}

/**
 * An SVG path from one node to another: forward edges leave right and enter left, through a lane of
 * each column they skip; an emit edge goes back.
 */
export function edgePath(from: PlacedNode, to: PlacedNode, columns: readonly Column[]): string {
  const fy = from.y + NODE_H / 2;
  const ty = to.y + NODE_H / 2;
  if (to.x > from.x) {
    let x = from.x + NODE_W;
    let y = fy;
    let d = `M${x},${y}`;
    for (const column of columns.filter((c) => c.x > from.x && c.x < to.x)) {
      // The lane nearest where a straight line would cross this column.
      const lane = laneNear(column, fy + ((ty - fy) * (column.x - from.x)) / (to.x - from.x));
      d += ` ${curve(x, y, column.x, lane)} L${column.x + NODE_W},${lane}`;
      x = column.x + NODE_W;
      y = lane;
    }
    return `${d} ${curve(x, y, to.x, ty)}`;
  }
  const fx = from.x;
  const tx = to.x + NODE_W;
  return `M${fx},${fy} C${fx - 70},${fy + 30} ${tx + 70},${ty + 30} ${tx},${ty}`;
}

/** An S-curve from (x0, y0) to (x1, y1), level at both ends. */
function curve(x0: number, y0: number, x1: number, y1: number): string {
  const mid = (x0 + x1) / 2;
  return `C${mid},${y0} ${mid},${y1} ${x1},${y1}`;
}

/** The free lane of `column` (the middle of a gap above, between or below its nodes) nearest `y`. */
function laneNear(column: Column, y: number): number {
  const half = (ROW - NODE_H) / 2;
  const last = column.tops.at(-1);
  const lanes = [
    ...column.tops.map((top) => top - half),
    ...(last === undefined ? [] : [last + NODE_H + half]),
  ];
  let best = lanes[0] ?? y;
  for (const lane of lanes) if (Math.abs(lane - y) < Math.abs(best - y)) best = lane;
  return best;
}
