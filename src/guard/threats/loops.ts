import type { AppModel } from "../../manifest/index.ts";
import { describePath } from "../describe-path.ts";
import { type FlowGraph, isExternal } from "../flow-graph.ts";
import { findCycles, reachable } from "../graph-search.ts";
import { THREAT_CLASSES, type Threat } from "../threat.ts";

/**
 * Cycles in the event flow: without recursion.maxDepth on each function in it, a chain runs until the
 * hop limit ends it. High when outside input can enter the loop and a function in it has no daily
 * budget; medium otherwise; low when every function in it declares its recursion depth.
 */
export function loops(app: AppModel, graph: FlowGraph): Threat[] {
  const external = reachable(
    graph,
    graph.sources.filter((s) => isExternal(s.trust)).map((s) => s.id),
  );
  return findCycles(graph).map((path) => {
    const fns = graph.functions.filter((f) => path.includes(f.id));
    const undeclared = fns.filter((f) => f.spec.recursion === undefined).map((f) => f.spec.name);
    const unbudgeted = fns
      .filter((f) => f.spec.limits.dailyInvocations === undefined)
      .map((f) => f.spec.name);
    const open = path.some((id) => external.has(id));
    return {
      class: "loop",
      stride: THREAT_CLASSES.loop.stride,
      severity: undeclared.length === 0 ? "low" : open && unbudgeted.length > 0 ? "high" : "medium",
      message:
        `Events can loop through ${fns.map((f) => `"${f.spec.name}"`).join(", ")}; ` +
        (undeclared.length === 0
          ? `each declares recursion.maxDepth, so a chain deeper than that is held with a finding`
          : `only the hop limit (${app.hopLimit}) ends the chain (no recursion.maxDepth on ${undeclared.join(", ")}), ` +
            `so one event entering it costs up to ${app.hopLimit} invocations (more if a handler emits more than once)`) +
        (open ? "; outside input can enter it" : "") +
        (unbudgeted.length > 0 ? `; no daily budget on ${unbudgeted.join(", ")}` : ""),
      fix: `declare recursion: { maxDepth: N } on each function in it (or break the cycle: a filter that stops the recursion, or a distinct type for the last step), and set limits.dailyInvocations on each`,
      path,
      evidence: describePath(graph, path),
    };
  });
}
