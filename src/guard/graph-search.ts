import { stronglyConnected } from "../manifest/index.ts";
import type { FlowGraph } from "./flow-graph.ts";

/**
 * Searches of the flow graph that follow events as routing delivers them. A function with
 * `requireVerified` takes only events whose producer signature verified, and only the gateway marks
 * an event verified: a principal with signing keys can send such events, nothing else can (a
 * function's emits, webhooks, schedules and platform events never are). The edge `t:<type>` →
 * `f:<name>` of such a function stays in the graph (diagrams draw it), but a search takes it only
 * right after a source that can send verified events. So each search walks states, not nodes: a node
 * id and whether the event there is verified (which matters only at type nodes).
 */
export interface SearchOptions {
  /**
   * Follow only events without a verified signature: what a sender holding a principal's credential
   * but not its signing key can reach. A principal with `requireSigned` then reaches nothing (the
   * gateway refuses its unsigned events), and no event enters a requireVerified function.
   * @default false
   */
  readonly unsigned?: boolean;
}

/** Every node id reachable from `start` (included), following edges as events can. */
export function reachable(
  graph: FlowGraph,
  start: readonly string[],
  options: SearchOptions = {},
): Set<string> {
  const states = explore(
    start.map((id) => key(id, false)),
    forward(graph, options),
  );
  return new Set([...states].map(idOf));
}

/** A shortest path of node ids from `from` to `to` (both included) events can take, or undefined. */
export function shortestPath(
  graph: FlowGraph,
  from: string,
  to: string,
  options: SearchOptions = {},
): string[] | undefined {
  const step = forward(graph, options);
  const start = key(from, false);
  const parent = new Map<string, string>([[start, start]]);
  const queue = [start];
  let end: string | undefined;
  for (let k = queue.shift(); k !== undefined; k = queue.shift()) {
    if (idOf(k) === to) {
      end = k;
      break;
    }
    for (const n of step(k)) {
      if (parent.has(n)) continue;
      parent.set(n, k);
      queue.push(n);
    }
  }
  if (end === undefined) return undefined;
  const path = [end];
  for (let k = end; k !== start; ) {
    k = parent.get(k) as string;
    path.unshift(k);
  }
  return path.map(idOf);
}

/**
 * The node ids on some path events can take from `from` to `to` (both included when connected):
 * a node reached forward from `from` in a state that can still go on to `to`.
 */
export function nodesBetween(
  graph: FlowGraph,
  from: string,
  to: string,
  options: SearchOptions = {},
): Set<string> {
  const ahead = explore([key(from, false)], forward(graph, options));
  // Backward, the flag means "the event here must be verified" (it is about to enter a
  // requireVerified function); a forward state meets it when it is verified or need not be.
  const behind = explore([key(to, false)], backward(graph, options));
  const out = new Set<string>();
  for (const k of behind) {
    const id = idOf(k);
    if (ahead.has(key(id, true)) || (!isSet(k) && ahead.has(key(id, false)))) out.add(id);
  }
  return out;
}

/**
 * One closed path per loop of the graph: per strongly connected component with more than one node
 * (or a node with an edge to itself), a shortest cycle through its first node. Each path ends where
 * it starts. An edge into a requireVerified function is never part of a loop: the event going round
 * was emitted by a function, so it is not verified.
 */
export function findCycles(graph: FlowGraph): string[][] {
  const rv = requireVerified(graph);
  const next = (id: string) => graph.next(id).filter((n) => !(id.startsWith("t:") && rv.has(n)));
  const out: string[][] = [];
  for (const component of components(graph, next)) {
    const first = component[0] as string;
    const inside = new Set(component);
    const selfLoop = next(first).includes(first);
    if (component.length === 1 && !selfLoop) continue;
    if (selfLoop) {
      out.push([first, first]);
      continue;
    }
    const via = next(first).filter((n) => inside.has(n));
    const paths = via.map((n) => shortestPath(graph, n, first)).filter((p) => p !== undefined);
    const best = paths.sort((a, b) => a.length - b.length)[0];
    if (best) out.push([first, ...best]);
  }
  return out;
}

// Strongly connected components, iterating nodes in the graph's stable order.
function components(graph: FlowGraph, next: (id: string) => readonly string[]): string[][] {
  const ids = [...graph.types.map((t) => t.id), ...graph.functions.map((f) => f.id)];
  return stronglyConnected(ids, next);
}

// Breadth-first: every state reachable from `starts` (included) by `step`.
function explore(starts: readonly string[], step: (k: string) => string[]): Set<string> {
  const seen = new Set(starts);
  const queue = [...seen];
  for (let k = queue.shift(); k !== undefined; k = queue.shift()) {
    for (const n of step(k)) {
      if (seen.has(n)) continue;
      seen.add(n);
      queue.push(n);
    }
  }
  return seen;
}

// A state: "1" + id for a verified event at the node, "0" + id otherwise.
const key = (id: string, flag: boolean) => `${flag ? "1" : "0"}${id}`;
const idOf = (k: string) => k.slice(1);
const isSet = (k: string) => k.startsWith("1");

function forward(graph: FlowGraph, options: SearchOptions): (k: string) => string[] {
  const rv = requireVerified(graph);
  const sources = new Map(graph.sources.map((s) => [s.id, s]));
  return (k) => {
    const id = idOf(k);
    const source = sources.get(id);
    if (source !== undefined) {
      if (options.unsigned && source.signing?.requireSigned) return [];
      const signed = !options.unsigned && source.signing !== undefined;
      return graph.next(id).map((n) => key(n, signed));
    }
    if (id.startsWith("t:"))
      return graph
        .next(id)
        .filter((n) => isSet(k) || !rv.has(n))
        .map((n) => key(n, false));
    return graph.next(id).map((n) => key(n, false));
  };
}

function backward(graph: FlowGraph, options: SearchOptions): (k: string) => string[] {
  const rv = requireVerified(graph);
  const sources = new Map(graph.sources.map((s) => [s.id, s]));
  const sends = (id: string, verified: boolean) => {
    const s = sources.get(id);
    if (s === undefined) return !verified;
    if (options.unsigned) return !verified && s.signing?.requireSigned !== true;
    return !verified || s.signing !== undefined;
  };
  return (k) => {
    const id = idOf(k);
    if (id.startsWith("t:"))
      return graph
        .prev(id)
        .filter((p) => sends(p, isSet(k)))
        .map((p) => key(p, false));
    if (sources.has(id)) return [];
    return graph.prev(id).map((p) => key(p, rv.has(id)));
  };
}

function requireVerified(graph: FlowGraph): Set<string> {
  return new Set(graph.functions.filter((f) => f.spec.requireVerified === true).map((f) => f.id));
}
