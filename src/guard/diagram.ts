import type { ThreatModel } from "./find-threats.ts";
import type { Severity } from "./finding.ts";
import type { Trust } from "./flow-graph.ts";

/** A node as diagrams draw it. */
export interface DiagramNode {
  readonly id: string;
  readonly kind: "source" | "type" | "function" | "sink";
  /** Lines of the label, first the name. */
  readonly lines: readonly string[];
  readonly trust?: Trust;
  /** The worst threat whose path touches it. */
  readonly threat?: Severity;
}

export interface DiagramEdge {
  readonly from: string;
  readonly to: string;
  /** The worst threat whose path runs along it. */
  readonly threat?: Severity;
  /** Into a function with requireVerified: only events whose producer signature verified take it. */
  readonly verifiedOnly?: true;
}

const RANK: Record<Severity, number> = { high: 0, medium: 1, low: 2 };
const worse = (a: Severity | undefined, b: Severity) => (a === undefined || RANK[b] < RANK[a] ? b : a);

/** The graph of a threat model with every node and edge marked by the worst threat along it. */
export function diagramOf(model: ThreatModel): { nodes: DiagramNode[]; edges: DiagramEdge[] } {
  const nodeThreat = new Map<string, Severity>();
  const edgeThreat = new Map<string, Severity>();
  for (const t of model.threats) {
    t.path.forEach((id, i) => {
      nodeThreat.set(id, worse(nodeThreat.get(id), t.severity));
      const next = t.path[i + 1];
      if (next !== undefined)
        edgeThreat.set(`${id}\0${next}`, worse(edgeThreat.get(`${id}\0${next}`), t.severity));
    });
  }
  const { graph } = model;
  const mark = (id: string) => {
    const threat = nodeThreat.get(id);
    return threat === undefined ? {} : { threat };
  };
  const nodes: DiagramNode[] = [
    ...graph.sources.map((s) => ({
      id: s.id,
      kind: "source" as const,
      lines: [
        s.kind === "principal" ? s.name : s.kind === "platform" ? "platform" : `${s.kind} ${s.name}`,
        `${s.kind === "principal" ? `${s.detail} · ` : ""}${s.trust}`,
      ],
      trust: s.trust,
      ...mark(s.id),
    })),
    ...graph.types.map((t) => ({
      id: t.id,
      kind: "type" as const,
      lines: [t.type, t.strict ? "strict schema" : "loose schema"],
      ...mark(t.id),
    })),
    ...graph.functions.map((f) => {
      const p = f.privileges;
      const lines = [
        f.spec.name,
        ...(f.spec.filter === undefined ? [] : ["filter"]),
        ...(p.secrets.length > 0 ? [`secrets: ${p.secrets.join(", ")}`] : []),
        ...(p.egress.length > 0 ? [`egress: ${p.egress.join(", ")}`] : []),
        ...(p.kvWrite.length > 0 ? [`kv write: ${p.kvWrite.join(", ")}`] : []),
        ...(f.spec.requireVerified ? ["verified events only"] : []),
        limitsLine(f.spec.limits),
      ];
      return { id: f.id, kind: "function" as const, lines, ...mark(f.id) };
    }),
    ...graph.sinks.map((k) => ({
      id: k.id,
      kind: "sink" as const,
      lines: [
        k.spec.name,
        k.endpoint,
        ...(k.spec.filter === undefined ? [] : ["filter"]),
        k.spec.auth === undefined ? "no auth" : `auth: ${k.spec.auth.kind}`,
        ...(k.spec.allowAddresses.length > 0 ? [`allows: ${k.spec.allowAddresses.join(", ")}`] : []),
      ],
      ...mark(k.id),
    })),
  ];
  const verifiedOnly = new Set(graph.functions.filter((f) => f.spec.requireVerified).map((f) => f.id));
  const edges = graph.edges.map(([from, to]): DiagramEdge => {
    const threat = edgeThreat.get(`${from}\0${to}`);
    return {
      from,
      to,
      ...(threat === undefined ? {} : { threat }),
      ...(verifiedOnly.has(to) ? { verifiedOnly: true as const } : {}),
    };
  });
  return { nodes, edges };
}

/** Colours of the diagrams: threats by severity, sources by trust, and sinks. */
export const COLOURS = {
  high: "#d92d20",
  medium: "#f79009",
  low: "#98a2b3",
  external: "#fee4e2",
  authenticated: "#fef0c7",
  verified: "#dcfae6",
  internal: "#e0f2fe",
  sink: "#f4f3ff",
} as const;

function limitsLine(limits: { concurrency: number; dailyInvocations?: number }): string {
  const daily = limits.dailyInvocations === undefined ? "no daily budget" : `${limits.dailyInvocations}/day`;
  return `≤${limits.concurrency} at once · ${daily}`;
}
