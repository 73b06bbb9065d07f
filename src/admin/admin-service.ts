/**
 * The admin service: every read and action an operator has, over sources a running platform (or the
 * CLI, from an app's files or a NATS deployment) hands in. Reads return data; actions check what
 * they act on, do it, and write an audit record naming the admin. The HTTP routes only map requests
 * to these and roles to routes.
 */
import { AUDIT_KIND, type AuditEntry, type AuditRecord } from "../audit/index.ts";
import type { Store } from "../bus/index.ts";
import { openQuarantine } from "../detect/index.ts";
import { PalisadeError } from "../errors.ts";
import { findThreats, threatsJson } from "../guard/index.ts";
import type { AdminRole, AppModel } from "../manifest/index.ts";
import type { Metrics, StoredSpan } from "../observe/index.ts";
import type { UsageRow } from "../security/index.ts";
import type { AuditVerdict, AuditView } from "./audit-view.ts";
import { ADMIN_BAD_REQUEST, ADMIN_CONFLICT, ADMIN_NOT_FOUND } from "./errors.ts";
import { type EventDetail, type EventFilter, type EventsPage, getEvent, listEvents } from "./events-view.ts";
import { type FunctionRuntime, type FunctionStatus, functionStatuses } from "./functions-view.ts";
import type { KeysStatus } from "./keys-view.ts";
import { type MetricsSummary, summarizeMetrics } from "./metrics-summary.ts";
import {
  capabilityHoldScope,
  HOLD_AUDIT_KIND,
  type HoldTarget,
  imposeHold,
  liftHold,
  listQuarantine,
  type QuarantineEntry,
  RELEASE_AUDIT_KIND,
  releaseChain,
} from "./quarantine-view.ts";
import {
  type ArchiveReplayResult,
  type ArchiveSelection,
  type DlqReplayResult,
  dlqReplayDetails,
  replayArchive,
  replayDeadLetters,
} from "./replay.ts";

/** Who acts: an admin of the manifest, by name and role. */
export interface Actor {
  readonly name: string;
  readonly role: AdminRole;
}

/** A secret's name and rotation state; never its value. */
export interface SecretStatus {
  readonly name: string;
  /** Whether the manifest uses it, and how. */
  readonly usedBy: readonly string[];
  /** The end of a rotation's grace period (the previous value is valid until then). */
  readonly previousUntil: string | null;
}

/** What the service reads and acts on. */
export interface AdminSources {
  readonly app: AppModel;
  readonly store: Store;
  readonly audit: AuditView;
  /** Writes an audit record (the platform's log). */
  readonly record: (entry: AuditEntry) => void;
  readonly traces: (options: { traceId?: string; traces?: number }) => Promise<StoredSpan[]>;
  readonly usage: () => Promise<readonly UsageRow[]>;
  readonly runtime: (fn: string) => FunctionRuntime | undefined;
  readonly metrics: Metrics;
  readonly keys: () => Promise<KeysStatus>;
  readonly secretNames: () => readonly { name: string; previousUntil?: string }[];
  /** Adds a data key version (new writes use it at once) and re-encrypts older records in the background. */
  readonly rotateKey: () => Promise<{ version: number }>;
  /**
   * Replaces a secret's value; the previous one stays valid for `graceSec`. Resolves to the audit
   * details that record the store's new generation (its rollback floor).
   */
  readonly rotateSecret: (name: string, value: string, graceSec: number) => Promise<Record<string, number>>;
  /** Whether the service runs inside the platform (then it must not take due work to list it). */
  readonly inProcess: boolean;
}

export interface AdminService {
  readonly app: AppModel;
  events(filter: EventFilter, page: { before?: number; limit?: number }): Promise<EventsPage>;
  event(id: string): Promise<EventDetail>;
  functions(): Promise<FunctionStatus[]>;
  deadLetters(limit: number): ReturnType<Store["queue"]["deadLetters"]>;
  replayDeadLetter(actor: Actor, selection: { eventId: string; function?: string }): Promise<DlqReplayResult>;
  replay(actor: Actor, selection: ArchiveSelection): Promise<ArchiveReplayResult>;
  auditTail(limit: number): Promise<AuditRecord[]>;
  auditSince(sinceMs: number, limit: number): Promise<AuditRecord[]>;
  auditVerify(actor: Actor): Promise<AuditVerdict>;
  traces(limit: number): Promise<TraceSummary[]>;
  trace(traceId: string): Promise<StoredSpan[]>;
  keys(): Promise<KeysStatus>;
  rotateKey(actor: Actor): Promise<{ version: number }>;
  secrets(): SecretStatus[];
  rotateSecret(actor: Actor, name: string, value: string, graceSec: number): Promise<void>;
  quarantine(limit: number): Promise<QuarantineEntry[]>;
  hold(actor: Actor, target: HoldTarget, reason: string | undefined): Promise<{ since: string }>;
  release(
    actor: Actor,
    scope: { kind: "function" | "principal" | "root" | "capability"; name: string },
  ): Promise<void>;
  summary(): Promise<MetricsSummary>;
  /** The app's event-flow graph with `palisade threats`' findings (as `threats --format json`). */
  threats(): object;
}

/** One recent trace: its root span and size. */
export interface TraceSummary {
  readonly traceId: string;
  readonly name: string;
  readonly start: number;
  readonly durationMs: number;
  readonly spans: number;
  readonly errors: number;
}

/**
 * How long the key status is reused: it counts every sealed record, so a page left open (or a
 * script) asking again and again must not keep the gateway's loop busy.
 */
const HEAVY_READ_TTL_MS = 10_000;

export function createAdminService(sources: AdminSources): AdminService {
  const { app, store } = sources;
  const keys = reuse(() => sources.keys());
  const actorOf = (actor: Actor) => `admin:${actor.name}`;
  const record = (actor: Actor, entry: Omit<AuditEntry, "actor">) =>
    sources.record({ ...entry, actor: actorOf(actor) });
  const threatModel = threatsJson(findThreats(app));

  return {
    app,
    events: (filter, page) => listEvents(store, filter, page),
    async event(id) {
      const found = await getEvent(store, id);
      if (found === undefined)
        throw notFound(`No event "${id}" in the log (never accepted, or pruned after the retention period)`);
      return found;
    },
    async functions() {
      const usage = await sources.usage();
      const quarantine = await openQuarantine(store.state, [...app.functions.keys()]);
      return functionStatuses(app.functions.values(), usage, sources.runtime, (fn) => quarantine.since(fn));
    },
    deadLetters: (limit) => store.queue.deadLetters(limit),
    async replayDeadLetter(actor, selection) {
      if (selection.function !== undefined && !app.functions.has(selection.function))
        throw badRequest(
          `No function "${selection.function}"; functions are: ${[...app.functions.keys()].join(", ")}`,
        );
      const result = await replayDeadLetters(app, store, selection, { by: actorOf(actor), at: Date.now() });
      if (result.matched === 0)
        throw notFound(
          `No dead letter of event "${selection.eventId}"${selection.function === undefined ? "" : ` for "${selection.function}"`} (GET /admin/v1/dlq lists them)`,
        );
      record(actor, {
        kind: AUDIT_KIND.replayed,
        outcome: "allowed",
        details: dlqReplayDetails(result, selection.eventId),
      });
      return result;
    },
    async replay(actor, selection) {
      if (selection.function !== undefined && !app.functions.has(selection.function))
        throw badRequest(
          `No function "${selection.function}"; functions are: ${[...app.functions.keys()].join(", ")}`,
        );
      const result = await replayArchive(app, store, selection, { by: actorOf(actor), at: Date.now() });
      record(actor, {
        kind: AUDIT_KIND.replayed,
        outcome: "allowed",
        details: {
          from: "archive",
          count: result.replayed,
          refused: result.refused.length,
          since: new Date(selection.since).toISOString(),
          until: new Date(selection.until).toISOString(),
          ...(selection.type === undefined ? {} : { type: selection.type }),
          ...(selection.function === undefined ? {} : { function: selection.function }),
        },
      });
      return result;
    },
    auditTail: (limit) => sources.audit.tail(limit),
    auditSince: (sinceMs, limit) => sources.audit.since(sinceMs, limit),
    async auditVerify(actor) {
      const verdict = await sources.audit.verify();
      record(actor, {
        kind: AUDIT_KIND.adminCall,
        outcome: verdict.ok ? "allowed" : "denied",
        details: { action: "audit.verify", intact: verdict.ok },
      });
      return verdict;
    },
    async traces(limit) {
      const spans = await sources.traces({ traces: limit });
      const byTrace = new Map<string, StoredSpan[]>();
      for (const s of spans) byTrace.set(s.traceId, [...(byTrace.get(s.traceId) ?? []), s]);
      return [...byTrace]
        .map(([traceId, list]) => {
          const first = list.reduce((a, b) => (b.start < a.start ? b : a));
          const end = Math.max(...list.map((s) => s.start + s.durationMs));
          return {
            traceId,
            name: first.name,
            start: first.start,
            durationMs: end - first.start,
            spans: list.length,
            errors: list.filter((s) => s.error !== null).length,
          };
        })
        .sort((a, b) => b.start - a.start); // newest first
    },
    async trace(traceId) {
      if (!/^[0-9a-f]{32}$/.test(traceId))
        throw badRequest(`"${traceId}" is not a trace id: 32 lower-case hex digits, as in a traceparent`);
      const spans = await sources.traces({ traceId });
      if (spans.length === 0)
        throw notFound(
          `No spans of trace ${traceId} (only the newest spans are kept; palisade traces lists them)`,
        );
      return spans;
    },
    keys: async () => (await keys()).value,
    async rotateKey(actor) {
      const rotated = await sources.rotateKey();
      record(actor, {
        kind: AUDIT_KIND.keyRotated,
        outcome: "allowed",
        details: { version: rotated.version },
      });
      return rotated;
    },
    secrets() {
      const users = new Map<string, string[]>();
      const use = (name: string, by: string) => users.set(name, [...(users.get(name) ?? []), by]);
      for (const f of app.functions.values()) for (const s of f.secrets) use(s, `function ${f.name}`);
      for (const p of app.principals.values())
        if (p.auth.kind === "apiKey") use(p.auth.secret, `principal ${p.name}`);
      for (const a of app.admins.values())
        if (a.auth.kind === "apiKey") use(a.auth.secret, `admin ${a.name}`);
      for (const s of app.sources) if (s.kind === "webhook") use(s.secret, `webhook ${s.path}`);
      return sources.secretNames().map((s) => ({
        name: s.name,
        usedBy: users.get(s.name) ?? [],
        previousUntil: s.previousUntil ?? null,
      }));
    },
    async rotateSecret(actor, name, value, graceSec) {
      if (!sources.secretNames().some((s) => s.name === name))
        throw notFound(
          `No secret "${name}" (GET /admin/v1/secrets lists them; palisade secrets set creates one)`,
        );
      const generation = await sources.rotateSecret(name, value, graceSec);
      record(actor, {
        kind: AUDIT_KIND.secretRotated,
        subject: name,
        outcome: "allowed",
        details: { graceSec, ...generation },
      });
    },
    quarantine: (limit) => listQuarantine(app, store, { limit, scanChains: !sources.inProcess }),
    async hold(actor, asked, reason) {
      const target = checkedTarget(app, asked);
      const hold = await imposeHold(app, store, target, actorOf(actor), reason);
      if (!hold.ok)
        throw conflict(
          `${target.kind} "${target.name}" is already ${target.kind === "function" ? "quarantined" : "held"} (since ${hold.since})`,
        );
      record(actor, {
        kind: HOLD_AUDIT_KIND[target.kind],
        subject: target.name,
        outcome: "denied",
        details: { detector: "operator", severity: "high", summary: hold.summary, finding: hold.findingId },
      });
      return { since: hold.since };
    },
    async release(actor, scope) {
      if (scope.kind === "root") {
        if (!(await releaseChain(store, scope.name))) throw conflict(`Chain "${scope.name}" is not held`);
        record(actor, { kind: AUDIT_KIND.chainReleased, subject: scope.name, outcome: "allowed" });
        return;
      }
      const target = checkedTarget(app, scope as HoldTarget);
      const since = await liftHold(app, store, target);
      if (since === undefined)
        throw conflict(
          `${target.kind} "${target.name}" is not ${target.kind === "function" ? "quarantined" : "held"}`,
        );
      record(actor, {
        kind: RELEASE_AUDIT_KIND[target.kind],
        subject: target.name,
        outcome: "allowed",
        details: { since: new Date(since).toISOString() },
      });
    },
    summary: () => summarizeMetrics(sources.metrics),
    threats: () => threatModel,
  };
}

/** `read`'s answer, read again only when HEAVY_READ_TTL_MS has passed (concurrent callers share one read). */
function reuse<T>(read: () => Promise<T>): () => Promise<{ value: T; fresh: boolean }> {
  let last: { at: number; value: Promise<T> } | undefined;
  return async () => {
    const now = Date.now();
    if (last !== undefined && now - last.at < HEAVY_READ_TTL_MS)
      return { value: await last.value, fresh: false };
    const value = read();
    last = { at: now, value };
    value.catch(() => {
      if (last?.value === value) last = undefined; // a failed read is not reused
    });
    return { value: await value, fresh: true };
  };
}

/** The target as held: one the app has (404 if not), a capability scope written as the host names it. */
function checkedTarget(app: AppModel, target: HoldTarget): HoldTarget {
  if (target.kind === "capability") {
    const checked = capabilityHoldScope(app, target.name);
    if ("problem" in checked) throw badRequest(checked.problem);
    return { kind: "capability", name: checked.scope };
  }
  const names = target.kind === "function" ? app.functions : app.principals;
  if (!names.has(target.name))
    throw notFound(
      `No ${target.kind} "${target.name}"; ${target.kind}s are: ${[...names.keys()].join(", ") || "none"}`,
    );
  return target;
}

function notFound(message: string): PalisadeError {
  return new PalisadeError(ADMIN_NOT_FOUND, message, { status: 404 });
}

function badRequest(message: string): PalisadeError {
  return new PalisadeError(ADMIN_BAD_REQUEST, message, { status: 400 });
}

function conflict(message: string): PalisadeError {
  return new PalisadeError(ADMIN_CONFLICT, message, { status: 409 });
}
