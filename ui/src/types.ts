/**
 * What the admin API (`/admin/v1`) answers, as the page reads it. These mirror the server's types in
 * src/admin/ by hand: the page is bundled for the browser and must not pull server modules in.
 * test/ui-wire-contract.ts makes the type check fail when the server's answers no longer fit them.
 * Every string in them may come from a sender (event ids, types, data, extensions): render as text.
 */

export type Role = "viewer" | "operator" | "admin";

export interface Whoami {
  readonly admin: string;
  readonly role: Role;
  readonly via: "credential" | "session";
  readonly csrf?: string;
  readonly app: string;
}

export interface LoginReply {
  readonly admin: string;
  readonly role: Role;
  readonly csrf: string;
  readonly expiresAt: string;
}

export interface MetricsSummary {
  readonly at: number;
  readonly accepted: number;
  readonly rejected: { readonly total: number; readonly byReason: Readonly<Record<string, number>> };
  readonly deliveries: { readonly delivered: number; readonly retry: number; readonly failed: number };
  readonly latency: { readonly count: number; readonly p50: number | null; readonly p99: number | null };
  readonly denials: { readonly total: number; readonly byFunction: Readonly<Record<string, number>> };
  readonly dlqDepth: number;
  readonly pending: number;
  readonly findings: { readonly total: number; readonly byDetector: Readonly<Record<string, number>> };
  readonly quarantined: readonly string[];
  readonly costUsd: number;
}

/** One item of the live stream (`GET /admin/v1/stream`, `batch` messages). */
export type StreamItem =
  | {
      kind: "accepted";
      at: number;
      principal: string;
      /** Events the request carried; `ids` lists at most the first 20. */
      events: number;
      ids: readonly string[];
      /** The type of each listed id (`types[i]` is the type of `ids[i]`). */
      types: readonly string[];
    }
  | {
      kind: "rejected";
      at: number;
      reason: string;
      code: string;
      status: number;
      ip: string;
      principal?: string;
    }
  | {
      kind: "denied";
      at: number;
      fn: string;
      capability: string;
      target: string;
      reason: string;
      eventId: string;
    }
  | {
      kind: "settled";
      at: number;
      fn: string;
      eventId: string;
      type: string;
      attempt: number;
      outcome: string;
      reason?: string;
      durationMs?: number;
    }
  | {
      kind: "finding";
      at: number;
      detector: string;
      severity: string;
      scope: string;
      summary: string;
      response: string;
    }
  | { kind: "held"; at: number; fn: string; hold: string };

export interface DeliveryState {
  readonly target: string;
  readonly state: "pending" | "delivered" | "failed";
  readonly attempts: number;
  readonly lastError: string | null;
}

export interface PastDelivery extends DeliveryState {
  readonly reason: string | null;
  readonly at: number;
  readonly supersededAt: number;
}

export interface EventSummary {
  readonly seq: number;
  readonly id: string;
  readonly type: string;
  readonly source: string;
  readonly principal: string;
  readonly time: string;
  readonly acceptedAt: number;
  readonly hop: number;
  readonly traceId: string | null;
  readonly rootid?: string;
  readonly deliveries: readonly DeliveryState[];
}

export interface EventsPage {
  readonly events: readonly EventSummary[];
  readonly next?: number;
}

/** A stored CloudEvent envelope: the attributes the page names, and whatever else it holds. */
export interface Envelope {
  readonly id: string;
  readonly type: string;
  readonly source: string;
  readonly principal: string;
  readonly time: string;
  readonly hop: number;
  readonly subject?: string;
  readonly causationid?: string;
  readonly rootid?: string;
  readonly replayof?: string;
  readonly replayedby?: string;
  readonly [attribute: string]: unknown;
}

export interface EventDetail {
  readonly id: string;
  readonly copies: readonly { readonly seq: number; readonly acceptedAt: number; readonly event: Envelope }[];
  readonly traceId: string | null;
  readonly deliveries: readonly DeliveryState[];
  readonly history: readonly PastDelivery[];
}

export interface GrantUse {
  readonly kind: string;
  readonly grant: string;
  readonly uses: number;
}

export interface FunctionStatus {
  readonly name: string;
  readonly on: readonly string[];
  readonly filter: unknown;
  readonly grants: { readonly tmp: boolean; readonly allowCodeGeneration: boolean };
  readonly limits: unknown;
  readonly retry: unknown;
  readonly permissions: {
    readonly granted: readonly GrantUse[];
    readonly unused: readonly string[];
    readonly denied: readonly {
      readonly kind: string;
      readonly target: string;
      readonly count: number;
      readonly reason: string | null;
    }[];
  };
  readonly bundle: {
    readonly sha256: string | null;
    readonly keyids: readonly string[];
    readonly refused: string | null;
  } | null;
  readonly processes: number | null;
  readonly quarantinedSince: string | null;
}

export interface GraphNode {
  readonly id: string;
  readonly kind: "source" | "type" | "function" | "sink";
  readonly name: string;
  /** Sources: how it comes in (principal, webhook, schedule) and how far it is trusted (`verified`: every event signed). */
  readonly source?: string;
  readonly trust?: string;
  readonly detail?: string;
  /** Principals with event-signing keys: their key ids, and whether unsigned events are refused. */
  readonly signing?: { readonly keys: readonly string[]; readonly requireSigned: boolean };
  /** Types: whether its schema is strict. */
  readonly strict?: boolean;
  /** Functions: the privileges a threat is about, and whether it takes only verified events. */
  readonly secrets?: readonly string[];
  readonly egress?: readonly string[];
  readonly kvWrite?: readonly string[];
  readonly requireVerified?: boolean;
  /** Functions and sinks: whether a filter narrows what they get. */
  readonly filter?: boolean;
  /** Sinks: where events leave (`https://host/...`: never the path or query), how, and with what auth. */
  readonly endpoint?: string;
  readonly mode?: string;
  readonly auth?: string | null;
  readonly allowAddresses?: readonly string[];
}

export interface Threat {
  readonly class: string;
  readonly stride: readonly string[];
  readonly severity: string;
  readonly message: string;
  readonly fix: string;
  readonly path: readonly string[];
  readonly evidence: string;
}

/** `palisade threats --format json`. */
export interface ThreatModel {
  readonly app: string;
  readonly hopLimit: number;
  readonly nodes: readonly GraphNode[];
  readonly edges: readonly { readonly from: string; readonly to: string }[];
  readonly threats: readonly Threat[];
  readonly amplification: Readonly<Record<string, number | null>>;
  readonly maxPerRoot: number;
}

export interface DeadLetter {
  readonly seq: number;
  readonly eventId: string;
  readonly type: string;
  readonly target: string;
  readonly attempts: number;
  readonly reason: string;
  readonly error: string;
  readonly at: number;
}

export interface ReplayRefusal {
  readonly eventId: string;
  readonly target: string;
  readonly reason: string;
}

export interface DlqReplayResult {
  readonly matched: number;
  readonly requeued: number;
  readonly refused: readonly ReplayRefusal[];
}

export interface ArchiveReplayResult {
  readonly events: number;
  readonly replayed: number;
  readonly refused: readonly ReplayRefusal[];
  readonly skipped: readonly { readonly seq: number; readonly error: string }[];
}

export interface AuditRecord {
  readonly node?: string;
  readonly seq: number;
  readonly at: number;
  readonly time: string;
  readonly kind: string;
  readonly actor?: string;
  readonly subject?: string;
  readonly outcome: string;
  readonly details?: Readonly<Record<string, unknown>>;
  readonly prevHash: string;
  readonly hash: string;
}

export interface AuditVerdict {
  readonly ok: boolean;
  readonly backend: "file" | "nats";
  readonly problem?: string;
  readonly firstBad?: number | null;
  readonly node?: string | null;
  readonly records: number;
  readonly checkpoints: number;
  readonly unsigned: number;
  readonly noTrustedKeys: boolean;
}

export interface TraceSummary {
  readonly traceId: string;
  readonly name: string;
  readonly start: number;
  readonly durationMs: number;
  readonly spans: number;
  readonly errors: number;
}

export interface Span {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentId: string | null;
  readonly name: string;
  readonly start: number;
  readonly durationMs: number;
  readonly error: string | null;
  readonly attributes: Readonly<Record<string, unknown>>;
  readonly node?: string;
}

export interface KeysStatus {
  readonly active: number;
  readonly versions: readonly {
    readonly version: number;
    readonly createdAt: string;
    readonly retired: boolean;
    readonly active: boolean;
    readonly records: Readonly<Record<string, number>>;
  }[];
  readonly plaintext: number;
  readonly stale: number;
}

export interface SecretStatus {
  readonly name: string;
  readonly usedBy: readonly string[];
  readonly previousUntil: string | null;
}

export interface QuarantineEntry {
  readonly scope: { readonly kind: "function" | "principal" | "root" | "capability"; readonly name: string };
  readonly since: string;
  readonly reason: string;
  readonly finding: Readonly<Record<string, unknown>> | null;
  readonly findingId: string;
  readonly held: {
    readonly count: number;
    readonly more: boolean;
    readonly eventIds: readonly string[];
  } | null;
  readonly heldNote?: string;
}
