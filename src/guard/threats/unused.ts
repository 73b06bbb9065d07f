import { describePath } from "../describe-path.ts";
import type { FlowGraph } from "../flow-graph.ts";
import { THREAT_CLASSES, type Threat, type ThreatClass } from "../threat.ts";

/** Event types nobody consumes, functions nothing triggers, and grants no path can use. */
export function unused(graph: FlowGraph, principalsWithoutRoute: readonly string[]): Threat[] {
  const out: Threat[] = [];
  const threat = (cls: ThreatClass, path: string[], message: string, fix: string): Threat => ({
    class: cls,
    stride: THREAT_CLASSES[cls].stride,
    severity: "low",
    message,
    fix,
    path,
    evidence: describePath(graph, path),
  });
  for (const t of graph.types) {
    if (graph.next(t.id).length > 0) continue;
    const producers = graph.prev(t.id);
    out.push(
      threat(
        "unconsumed-type",
        [...producers.slice(0, 1), t.id],
        `No function or sink consumes "${t.type}"${producers.length > 0 ? `; what ${describePath(graph, producers.slice(0, 1))} sends is stored and never processed` : ", and nothing produces it"}`,
        `subscribe a function or a sink to "${t.type}", or remove it from events: (and from the grants that produce it)`,
      ),
    );
  }
  // Only the gateway marks an event verified: a requireVerified function is triggered only by a
  // principal with signing keys, never by an emit, a webhook or a schedule.
  const signs = new Set(graph.sources.filter((s) => s.signing !== undefined).map((s) => s.id));
  for (const fn of graph.functions) {
    const verifiedOnly = fn.spec.requireVerified === true;
    const producers = fn.on.flatMap((t) => graph.prev(`t:${t}`));
    if (producers.some((id) => !verifiedOnly || signs.has(id))) continue;
    out.push(
      threat(
        "untriggered-function",
        [fn.id],
        verifiedOnly && producers.length > 0
          ? `Nothing can trigger function "${fn.spec.name}": it takes only verified events (requireVerified), and no principal with signing keys publishes ${fn.on.join(", ")}`
          : `Nothing can trigger function "${fn.spec.name}": no source, principal or function produces ${fn.on.join(", ")}`,
        verifiedOnly && producers.length > 0
          ? `declare signing: keys on the principal that sends ${fn.on.join(", ")}, or remove requireVerified from functions.${fn.spec.name}`
          : `remove functions.${fn.spec.name}, or add the source that should trigger it`,
      ),
    );
    const grants = grantsOf(fn.spec);
    if (grants.length > 0)
      out.push(
        threat(
          "unusable-grant",
          [fn.id],
          `Function "${fn.spec.name}" holds ${grants.join("; ")}, which no path can use`,
          `remove the grants of functions.${fn.spec.name} (or the function)`,
        ),
      );
  }
  for (const name of principalsWithoutRoute)
    out.push(
      threat(
        "unusable-grant",
        [],
        `Principal "${name}" may publish, but the app has no http source to publish through`,
        `remove principals.${name}, or add an http source`,
      ),
    );
  return out;
}

function grantsOf(fn: {
  emit: readonly string[];
  secrets: readonly string[];
  egress: readonly { entry: string }[];
  kv: Readonly<Record<string, string>>;
}): string[] {
  const kv = Object.entries(fn.kv).map(([ns, mode]) => `${ns} (${mode})`);
  return [
    fn.emit.length > 0 ? `emit ${fn.emit.join(", ")}` : "",
    fn.secrets.length > 0 ? `secrets ${fn.secrets.join(", ")}` : "",
    fn.egress.length > 0 ? `egress ${fn.egress.map((e) => e.entry).join(", ")}` : "",
    kv.length > 0 ? `kv ${kv.join(", ")}` : "",
  ].filter((x) => x !== "");
}
