import { type AppModel, worstCaseAmplification } from "../manifest/index.ts";
import type { Severity } from "./finding.ts";
import { buildFlowGraph, type FlowGraph } from "./flow-graph.ts";
import type { Threat } from "./threat.ts";
import { escalations } from "./threats/escalation.ts";
import { loops } from "./threats/loops.ts";
import { privilegedPaths } from "./threats/privileged-paths.ts";
import { sinkPaths } from "./threats/sink-paths.ts";
import { spoofableTypes } from "./threats/spoofing.ts";
import { unused } from "./threats/unused.ts";

/** The threat model of an app: its event-flow graph and what the graph shows, worst first. */
export interface ThreatModel {
  readonly app: string;
  readonly hopLimit: number;
  readonly graph: FlowGraph;
  readonly threats: readonly Threat[];
  /**
   * Per event type: the most invocations plus emits one event of it entering from outside may
   * cause (the emit graph's worst case; `Infinity` through a cycle without recursion.maxDepth),
   * before `detect.amplification.maxPerRoot` caps it at run time.
   */
  readonly amplification: ReadonlyMap<string, number>;
  /** `detect.amplification.maxPerRoot`. */
  readonly maxPerRoot: number;
}

const RANK: Record<Severity, number> = { high: 0, medium: 1, low: 2 };

/** Builds the event-flow graph of `app` and finds every threat class in it. */
export function findThreats(app: AppModel): ThreatModel {
  const graph = buildFlowGraph(app);
  const routeless = app.sources.some((s) => s.kind === "http") ? [] : [...app.principals.keys()];
  const threats = [
    ...privilegedPaths(graph),
    ...sinkPaths(graph),
    ...spoofableTypes(graph),
    ...escalations(graph),
    ...loops(app, graph),
    ...unused(graph, routeless),
  ].sort((a, b) => RANK[a.severity] - RANK[b.severity]);
  return {
    app: app.name,
    hopLimit: app.hopLimit,
    graph,
    threats,
    amplification: worstCaseAmplification(app),
    maxPerRoot: app.detect.amplification.maxPerRoot,
  };
}
