import type { Severity } from "../finding.ts";
import type { FlowGraph, SourceNode } from "../flow-graph.ts";
import { reachable } from "../graph-search.ts";

/**
 * What producer signatures change in a threat that starts from outside input. When only events whose
 * signature verified reach the target (the principal requires signing, or the way in is through a
 * requireVerified function), a stolen API key, a compromised proxy or a man in the middle is not
 * enough: the attacker also needs the producer's signing key. Such a threat is one severity step
 * lower than the same one from an unverified sender. It is still outside input (a producer's own
 * bugs and a stolen signing key remain), so it is never dropped.
 */
export interface Exposure {
  readonly source: SourceNode;
  /** Node ids any event of the source can reach. */
  readonly reach: ReadonlySet<string>;
  /** Node ids its events reach without a verified signature. */
  readonly unsigned: ReadonlySet<string>;
}

/** How far the events of `source` reach, with and without a verified signature. */
export function exposureOf(graph: FlowGraph, source: SourceNode): Exposure {
  return {
    source,
    reach: reachable(graph, [source.id]),
    unsigned: reachable(graph, [source.id], { unsigned: true }),
  };
}

/** Only signed events of the source reach `id` (it reaches it at all). */
export function signedOnly(exposure: Exposure, id: string): boolean {
  return exposure.reach.has(id) && !exposure.unsigned.has(id);
}

/** One step lower: high → medium → low. */
export function lowerSeverity(severity: Severity): Severity {
  return severity === "high" ? "medium" : "low";
}

/** What a message says when only signed events of `source` reach the target. */
export function signedClause(source: SourceNode): string {
  return source.trust === "verified"
    ? "; its events are signed (requireSigned), so sending as it takes its signing key, not only its credential"
    : "; only its signed events get there (requireVerified on the way), so it takes its signing key, not only its credential";
}
