import { matchesTypePattern, PLATFORM_EVENT_TYPES } from "../events/index.ts";
import type { AppModel, FunctionSpec, ManifestPath, PrincipalSpec } from "../manifest/index.ts";
import { lintSchema } from "./schema-lint.ts";
import { type SinkNode, sinkNodeOf } from "./sink-node.ts";

/**
 * How far the platform trusts a source: `internal` (schedules, the platform itself), `verified` (a
 * principal whose every event must carry a producer signature that verifies: outside, but only a
 * holder of its signing key can send as it), `authenticated` (a principal with an API key or a
 * client certificate: known, but outside), `external` (a webhook from a third party, a principal
 * whose JWTs an outside issuer signs).
 */
export type Trust = "internal" | "verified" | "authenticated" | "external";

export interface SourceNode {
  /** Node id: `s:principal:<name>`, `s:webhook:<path>`, `s:schedule:<index>` or `s:platform`. */
  readonly id: string;
  readonly kind: "principal" | "webhook" | "schedule" | "platform";
  readonly name: string;
  /** How it authenticates or what it is, for labels: `apiKey`, `cron 0 * * * *`. */
  readonly detail: string;
  readonly trust: Trust;
  /** Event types it can put on the bus. */
  readonly types: readonly string[];
  /** Where the manifest declares it. */
  readonly at: ManifestPath;
  /** A principal's event-signing keys (`signing:`): its key ids, and whether unsigned events are refused. */
  readonly signing?: { readonly keys: readonly string[]; readonly requireSigned: boolean };
}

/** What a function may do beyond emitting: the grants that make it worth attacking. */
export interface Privileges {
  readonly secrets: readonly string[];
  readonly egress: readonly string[];
  readonly kvWrite: readonly string[];
}

export interface FunctionNode {
  /** Node id: `f:<name>`. */
  readonly id: string;
  readonly spec: FunctionSpec;
  /** Subscribed types, patterns expanded. */
  readonly on: readonly string[];
  readonly privileges: Privileges;
}

export interface TypeNode {
  /** Node id: `t:<type>`. */
  readonly id: string;
  readonly type: string;
  /** The schema bounds every field (no schema-lint issue); the platform's own types count as strict. */
  readonly strict: boolean;
}

/** The event flow of an app: sources → event types → functions (→ emitted types → …) and sinks. */
export interface FlowGraph {
  readonly sources: readonly SourceNode[];
  readonly types: readonly TypeNode[];
  readonly functions: readonly FunctionNode[];
  readonly sinks: readonly SinkNode[];
  /** Every edge, in a stable order. */
  readonly edges: readonly (readonly [string, string])[];
  /** Successor node ids of a node id. */
  next(id: string): readonly string[];
  /** Predecessor node ids of a node id. */
  prev(id: string): readonly string[];
}

/** Builds the event-flow graph of `app`. */
export function buildFlowGraph(app: AppModel): FlowGraph {
  const declared = [...app.events.keys()];
  const subscribed = (t: string) =>
    [...app.functions.values(), ...app.sinks.values()].some((f) =>
      f.on.some((p) => matchesTypePattern(p, t)),
    );
  const platform = [...PLATFORM_EVENT_TYPES.keys()].filter(subscribed);
  const types: TypeNode[] = [
    ...[...app.events.values()].map((e) => ({
      id: `t:${e.type}`,
      type: e.type,
      strict: lintSchema(e.schema).length === 0,
    })),
    ...platform.map((type) => ({ id: `t:${type}`, type, strict: true })),
  ];
  const all = types.map((t) => t.type);
  const functions = [...app.functions.values()].map((spec) => ({
    id: `f:${spec.name}`,
    spec,
    on: all.filter((t) => spec.on.some((p) => matchesTypePattern(p, t))),
    privileges: privilegesOf(spec),
  }));
  const sinks = [...app.sinks.values()].map((spec) => sinkNodeOf(spec, all));
  const sources = sourcesOf(app, declared, platform);
  const edges: [string, string][] = [];
  for (const s of sources) for (const t of s.types) edges.push([s.id, `t:${t}`]);
  for (const f of functions) {
    for (const t of f.on) edges.push([`t:${t}`, f.id]);
    for (const t of f.spec.emit) edges.push([f.id, `t:${t}`]);
  }
  for (const k of sinks) for (const t of k.on) edges.push([`t:${t}`, k.id]);
  const next = adjacency(edges, 0);
  const prev = adjacency(edges, 1);
  return {
    sources,
    types,
    functions,
    sinks,
    edges,
    next: (id) => next.get(id) ?? [],
    prev: (id) => prev.get(id) ?? [],
  };
}

/** Trusted less than `internal`: what the guard treats as public or external input (`verified` included). */
export function isExternal(trust: Trust): boolean {
  return trust !== "internal";
}

function privilegesOf(fn: FunctionSpec): Privileges {
  return {
    secrets: fn.secrets,
    egress: fn.egress.map((e) => e.entry),
    kvWrite: Object.entries(fn.kv)
      .filter(([, mode]) => mode === "readwrite")
      .map(([ns]) => ns),
  };
}

function sourcesOf(app: AppModel, declared: readonly string[], platform: readonly string[]): SourceNode[] {
  const out: SourceNode[] = [];
  // Principals publish through the CloudEvents intake; without an http source they cannot send at all.
  if (app.sources.some((s) => s.kind === "http")) {
    for (const p of app.principals.values()) out.push(principalNode(p, declared));
  }
  app.sources.forEach((s, i) => {
    if (s.kind === "webhook") {
      const detail = "Standard Webhooks signature";
      out.push({
        id: `s:webhook:${s.path}`,
        kind: "webhook",
        name: s.path,
        detail,
        trust: "external",
        types: [s.emit],
        at: ["sources", i, "webhook"],
      });
    } else if (s.kind === "schedule") {
      const detail = `cron ${s.cron}`;
      out.push({
        id: `s:schedule:${i}`,
        kind: "schedule",
        name: s.cron,
        detail,
        trust: "internal",
        types: [s.emit],
        at: ["sources", i, "schedule"],
      });
    }
  });
  if (platform.length > 0)
    out.push({
      id: "s:platform",
      kind: "platform",
      name: "palisade",
      detail: "platform events",
      trust: "internal",
      types: platform,
      at: [],
    });
  return out;
}

function principalNode(p: PrincipalSpec, declared: readonly string[]): SourceNode {
  const keys = [...(p.signing?.keys.keys() ?? [])];
  const signing = keys.length === 0 ? undefined : { keys, requireSigned: p.signing?.requireSigned === true };
  // Every event of a principal that requires signing verified against its keys (the gateway refuses
  // the rest): a stolen API key or a man in the middle alone cannot send as it.
  const trust: Trust = signing?.requireSigned
    ? "verified"
    : p.auth.kind === "jwt"
      ? "external"
      : "authenticated";
  const auth = p.auth.kind === "jwt" ? `jwt ${p.auth.issuer}` : p.auth.kind;
  const detail =
    signing === undefined ? auth : `${auth}, ${signing.requireSigned ? "signed events" : "signing optional"}`;
  const types = declared.filter((t) =>
    p.publish.some((pattern) => pattern === "*" || matchesTypePattern(pattern, t)),
  );
  return {
    id: `s:principal:${p.name}`,
    kind: "principal",
    name: p.name,
    detail,
    trust,
    types,
    at: ["principals", p.name],
    ...(signing === undefined ? {} : { signing }),
  };
}

function adjacency(edges: readonly (readonly [string, string])[], from: 0 | 1): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const e of edges) {
    const list = map.get(e[from]) ?? [];
    list.push(e[1 - from] as string);
    map.set(e[from], list);
  }
  return map;
}
