import { matchesTypePattern } from "../events/index.ts";
import type { SinkSpec } from "../manifest/index.ts";

/** A sink as the flow graph sees it: where events leave the platform. */
export interface SinkNode {
  /** Node id: `k:<name>`. */
  readonly id: string;
  readonly spec: SinkSpec;
  /** Subscribed types, patterns expanded. */
  readonly on: readonly string[];
  /** The url as reports show it: `https://host/...` (see sinkEndpoint). */
  readonly endpoint: string;
}

/**
 * A sink's url as reports and the admin graph show it: scheme, host and port, and `/...` when
 * there is more. A query may carry a receiver's token, and the graph is served to viewers, so the
 * path and query are never printed.
 */
export function sinkEndpoint(url: string): string {
  const parsed = new URL(url);
  const more = parsed.pathname !== "/" || parsed.search !== "";
  return `${parsed.origin}/${more ? "..." : ""}`;
}

/** The node of `spec`, subscribed to those of `types` its `on` patterns match. */
export function sinkNodeOf(spec: SinkSpec, types: readonly string[]): SinkNode {
  return {
    id: `k:${spec.name}`,
    spec,
    on: types.filter((t) => spec.on.some((p) => matchesTypePattern(p, t))),
    endpoint: sinkEndpoint(spec.url),
  };
}
