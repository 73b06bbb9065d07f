import type { AppModel } from "../../manifest/index.ts";
import { describePath } from "../describe-path.ts";
import { type FlowGraph, isExternal } from "../flow-graph.ts";
import { findCycles, reachable } from "../graph-search.ts";
import { THREAT_CLASSES, type Threat } from "../threat.ts";

/**
 * Cycles in the event flow: each one runs until the hop limit ends the chain. High when outside input
 * can enter the loop and a function in it has no daily budget; medium otherwise.
 */
export function loops(app: AppModel, graph: FlowGraph): Threat[] {
  const external = reachable(
    graph,
    graph.sources.filter((s) => isExternal(s.trust)).map((s) => s.id),
  );
  return findCycles(graph).map((path) => {
    const fns = graph.functions.filter((f) => path.includes(f.id));
    const unbudgeted = fns
      .filter((f) => f.spec.limits.dailyInvocations === undefined)
      .map((f) => f.spec.name);
    const open = path.some((id) => external.has(id));
    return {
      class: "loop",
      stride: THREAT_CLASSES.loop.stride,
      severity: open && unbudgeted.length > 0 ? "high" : "medium",
      message:
        `Events can loop through ${fns.map((f) => `"${f.spec.name}"`).join(", ")}; only the hop limit (${app.hopLimit}) ends the chain, ` +
        `so one event entering it costs up to ${app.hopLimit} invocations (more if a handler emits more than once)` +
        (open ? "; outside input can enter it" : "") +
        (unbudgeted.length > 0 ? `; no daily budget on ${unbudgeted.join(", ")}` : ""),
      fix: `break the cycle (a filter: that stops the recursion, or a distinct type for the last step), lower hopLimit, and set limits.dailyInvocations on each function in it`,
      path,
      evidence: describePath(graph, path),
    };
  });
}
