/**
 * Names of everything a NATS-backed app owns: streams, subjects, KV buckets and consumers, all
 * derived from the app's name, and how event types and type patterns become subjects.
 */
import { createHash } from "node:crypto";

/** Everything one app owns on the broker. */
export interface NatsNames {
  /** The app's token in subjects (`palisade.<app>.…`). */
  readonly app: string;
  readonly eventsStream: string;
  /** Prefix of event subjects: `palisade.<app>.ev`. */
  readonly events: string;
  readonly outcomesStream: string;
  /** Prefix of outcome subjects: `palisade.<app>.out` (then `<seq>.<target>`). */
  readonly outcomes: string;
  readonly replaysStream: string;
  /** Prefix of replay subjects: `palisade.<app>.rp` (then `<target>`). */
  readonly replays: string;
  readonly deadBucket: string;
  readonly stateBucket: string;
  /** The key ring: data keys wrapped by the master key (which stays on each node), seal counts. */
  readonly keysBucket: string;
  /** Sealing leases of running nodes (expire on their own). */
  readonly keyLeasesBucket: string;
  /** The sealed secret store. */
  readonly secretsBucket: string;
  /** Capability use of every node (`palisade permissions report --nats`). */
  readonly usageBucket: string;
  readonly tracesStream: string;
  /** Prefix of finished-span subjects: `palisade.<app>.tr` (then `<trace id>`). */
  readonly traces: string;
  /** The audit log: every node's hash chain (audit-stream.ts). */
  readonly auditStream: string;
  /** Prefix of audit subjects: `palisade.<app>.audit` (then `<node id>`). */
  readonly audit: string;
}

const SAFE = /^[A-Za-z0-9_-]+$/;

/** The names of `app`'s streams, subjects and buckets (a name that needed changing gets a hash). */
export function natsNames(app: string): NatsNames {
  const lower = app.toLowerCase().replace(/[^a-z0-9_-]/g, "_");
  const token = lower === app && lower !== "" ? lower : `${lower}-${digest(app).slice(0, 8)}`;
  const upper = token.toUpperCase();
  return {
    app: token,
    eventsStream: `PALISADE_${upper}_EVENTS`,
    events: `palisade.${token}.ev`,
    outcomesStream: `PALISADE_${upper}_OUTCOMES`,
    outcomes: `palisade.${token}.out`,
    replaysStream: `PALISADE_${upper}_REPLAYS`,
    replays: `palisade.${token}.rp`,
    deadBucket: `palisade_${token}_dead`,
    stateBucket: `palisade_${token}_state`,
    keysBucket: `palisade_${token}_keys`,
    keyLeasesBucket: `palisade_${token}_keyleases`,
    secretsBucket: `palisade_${token}_secrets`,
    usageBucket: `palisade_${token}_usage`,
    tracesStream: `PALISADE_${upper}_TRACES`,
    traces: `palisade.${token}.tr`,
    auditStream: `PALISADE_${upper}_AUDIT`,
    audit: `palisade.${token}.audit`,
  };
}

/**
 * One subject token (or KV key token, or part of a consumer name) for any text: kept when it is
 * plain (letters, digits, `_`, `-`), else `=` and its UTF-8 bytes in hex, so distinct texts never
 * share a token and no text can smuggle in a `.`, `*` or `>`.
 */
export function encodeToken(text: string): string {
  return SAFE.test(text) ? text : `=${Buffer.from(text, "utf8").toString("hex")}`;
}

/** The text an `encodeToken` token stands for. */
export function decodeToken(token: string): string {
  return token.startsWith("=") ? Buffer.from(token.slice(1), "hex").toString("utf8") : token;
}

/**
 * The subject an event is published on: `palisade.<app>.ev.<dedupe key>.<type tokens>`. The key
 * (two tokens) makes the subject the event's own, so one publish both stores it and checks it is
 * not a duplicate (JetStream's expected-last-subject-sequence); the type after it routes it.
 */
export function eventSubject(
  names: NatsNames,
  e: { readonly id: string; readonly principal: string; readonly source: string; readonly type: string },
): string {
  return `${names.events}.${dedupeKey(e)}.${typeTokens(e.type)}`;
}

/** The subject filter of every event with this id, whoever sent it and whatever its type. */
export function idFilter(names: NatsNames, id: string): string {
  return `${names.events}.${idKey(id)}.>`;
}

/**
 * The subject filter of a Palisade type pattern: `a.b` exactly, or `a.*` (every type under `a.`,
 * at any depth) as `palisade.<app>.ev.*.*.a.>`; the two `*` are the dedupe key's tokens.
 */
export function patternSubject(names: NatsNames, pattern: string): string {
  const exact = !pattern.endsWith(".*");
  return `${names.events}.*.*.${typeTokens(exact ? pattern : pattern.slice(0, -2))}${exact ? "" : ".>"}`;
}

function typeTokens(type: string): string {
  return type.split(".").map(encodeToken).join(".");
}

/**
 * A target's patterns without the ones another of them covers (`a.*` covers `a.b` and `a.b.*`),
 * so its consumers' filters are disjoint and no event reaches one target twice.
 */
export function disjointPatterns(patterns: readonly string[]): string[] {
  const unique = [...new Set(patterns)].sort();
  return unique.filter(
    (q) => !unique.some((p) => p !== q && p.endsWith(".*") && q.startsWith(p.slice(0, -1))),
  );
}

/** Whether a subject matches a NATS filter (`*` one token, `>` the rest). */
export function subjectMatches(filter: string, subject: string): boolean {
  const f = filter.split(".");
  const s = subject.split(".");
  for (let i = 0; i < f.length; i++) {
    if (f[i] === ">") return s.length > i;
    if (i >= s.length) return false;
    if (f[i] !== "*" && f[i] !== s[i]) return false;
  }
  return f.length === s.length;
}

/** The durable consumer of `target` for one pattern: `t_<target>_<hash of its filter>`. */
export function deliveryConsumer(target: string, filter: string): string {
  return `t_${encodeToken(target)}_${digest(filter).slice(0, 12)}`;
}

/** The durable consumer of `target`'s replays. */
export function replayConsumer(target: string): string {
  return `r_${encodeToken(target)}`;
}

/** The dedupe key of an event (two subject tokens): its id, then its principal and source, hashed. */
export function dedupeKey(e: { principal: string; source: string; id: string }): string {
  // The id's own hash leads, so every event with one id is found under `<hash(id)>.>` (find).
  return `${idKey(e.id)}.${digest(JSON.stringify([e.principal, e.source])).slice(0, 32)}`;
}

/** The first token of the dedupe keys of every event with this id. */
export function idKey(id: string): string {
  return digest(id).slice(0, 32);
}

function digest(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}
