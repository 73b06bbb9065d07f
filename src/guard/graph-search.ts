import { stronglyConnected } from "../manifest/index.ts";
import type { FlowGraph } from "./flow-graph.ts";

/** Every node id reachable from `start` (included), following edges forward (or backward). */
export function reachable(graph: FlowGraph, start: readonly string[], backward = false): Set<string> {
  const seen = new Set(start);
  const queue = [...start];
  for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
    for (const n of backward ? graph.prev(id) : graph.next(id)) {
      if (seen.has(n)) continue;
      seen.add(n);
      queue.push(n);
    }
  }
  return seen;
}

/** A shortest path of node ids from `from` to `to` (both included), or undefined. */
export function shortestPath(graph: FlowGraph, from: string, to: string): string[] | undefined {
  const parent = new Map<string, string>([[from, from]]);
  const queue = [from];
  for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
    if (id === to) break;
    for (const n of graph.next(id)) {
      if (parent.has(n)) continue;
      parent.set(n, id);
      queue.push(n);
    }
  }
  if (!parent.has(to)) return undefined;
  const path = [to];
  for (let id = to; id !== from; ) {
    id = parent.get(id) as string;
    path.unshift(id);
  }
  return path;
}

/**
 * One closed path per loop of the graph: per strongly connected component with more than one node
 * (or a node with an edge to itself), a shortest cycle through its first node. Each path ends where
 * it starts.
 */
export function findCycles(graph: FlowGraph): string[][] {
  const out: string[][] = [];
  for (const component of components(graph)) {
    const first = component[0] as string;
    const inside = new Set(component);
    const selfLoop = graph.next(first).includes(first);
    if (component.length === 1 && !selfLoop) continue;
    if (selfLoop) {
      out.push([first, first]);
      continue;
    }
    const via = graph.next(first).filter((n) => inside.has(n));
    const paths = via.map((n) => shortestPath(graph, n, first)).filter((p) => p !== undefined);
    const best = paths.sort((a, b) => a.length - b.length)[0];
    if (best) out.push([first, ...best]);
  }
  return out;
}

// Strongly connected components, iterating nodes in the graph's stable order.
function components(graph: FlowGraph): string[][] {
  const ids = [...graph.types.map((t) => t.id), ...graph.functions.map((f) => f.id)];
  return stronglyConnected(ids, (v) => graph.next(v));
}
