import type { KeyObject } from "node:crypto";

/** The resolved, frozen app: what every other domain reads instead of palisade.yaml. */
export interface AppModel {
  readonly name: string;
  /** Absolute app directory. */
  readonly dir: string;
  /** Absolute path of palisade.yaml. */
  readonly manifestPath: string;
  /** Absolute path of the app's private data directory (`.palisade/`). */
  readonly dataDir: string;
  readonly events: ReadonlyMap<string, EventTypeSpec>;
  readonly functions: ReadonlyMap<string, FunctionSpec>;
  readonly principals: ReadonlyMap<string, PrincipalSpec>;
  /** Outbound delivery to HTTP endpoints (`sinks:`), keyed by name. */
  readonly sinks: ReadonlyMap<string, SinkSpec>;
  /** Operators of the admin API and dashboard (`admins:`; without it, the implicit `local`). */
  readonly admins: ReadonlyMap<string, AdminSpec>;
  /** `GET /metrics` is served without a credential only when `metrics.public` is true. */
  readonly metricsPublic: boolean;
  readonly sources: readonly SourceSpec[];
  /** Days the log keeps finished events for replay. */
  readonly retentionDays: number;
  /** Longest chain of emits (DESIGN invariant 7). */
  readonly hopLimit: number;
  /** Seconds during which a resent source + id (from the same principal) is recognised as a duplicate. */
  readonly dedupeWindowSec: number;
  /** HTTPS for the gateway; absent means plain HTTP (bind to loopback). */
  readonly tls?: TlsSpec;
  /** Accepted `palisade check` findings, in manifest order (`waivers[i]`). */
  readonly waivers: readonly Waiver[];
  /** Anomaly detectors and their responses (`detect:`). */
  readonly detect: DetectPolicy;
  /** What an invocation costs (`cost.prices`), in US dollars. */
  readonly prices: Prices;
}

/** The cost model's unit prices in US dollars (`cost.prices`). */
export interface Prices {
  /** Per attempt. */
  readonly request: number;
  /** Per GB-second: wall time × `limits.memoryMb`. */
  readonly gbSecond: number;
  /** Per GB received by ctx.fetch. */
  readonly egressGb: number;
  /** Per 64 KiB chunk of event data handed to an attempt. */
  readonly payload64k: number;
  /** Per capability call. */
  readonly capabilityCall: number;
}

/** Lambda-like list prices (AWS Lambda x86 us-east-1, EventBridge, DynamoDB on-demand reads). */
export const DEFAULT_PRICES: Prices = Object.freeze({
  request: 0.0000002,
  gbSecond: 0.0000166667,
  egressGb: 0.09,
  payload64k: 0.000001,
  capabilityCall: 0.00000025,
});

/** `detect:` of the manifest, defaults filled in. */
export interface DetectPolicy {
  readonly amplification: AmplificationPolicy;
  readonly deniedBurst: DeniedBurstPolicy;
  readonly credentialStuffing: CredentialStuffingPolicy;
  readonly ingressFlood: IngressFloodPolicy;
  readonly novelty: NoveltyPolicy;
  readonly outliers: OutliersPolicy;
  readonly costDrift: CostDriftPolicy;
}

/**
 * `detect.outliers`: per function, streaming estimates of the p50 and p99 of attempt durations and
 * event data sizes; after `warmup` observations, one above `factor` × p99 (and above a floor) is an
 * outlier, reported at most once per function and measure within `windowSec`.
 */
export interface OutliersPolicy {
  readonly factor: number;
  /** Observations of a measure before its outliers are judged. */
  readonly warmup: number;
  readonly windowSec: number;
  /** `alert` (default) only reports; `off`. Event data sets the size: never a hold. */
  readonly response: "alert" | "off";
}

/**
 * `detect.costDrift`: per function, a baseline of cost per invocation learned over `warmup`
 * invocations, then a one-sided CUSUM over each minute's mean cost, standardized: a finding when it
 * reaches `threshold`; `slack` is what each minute may drift without counting.
 */
export interface CostDriftPolicy {
  /** The CUSUM's decision interval h, in standard deviations. */
  readonly threshold: number;
  /** The CUSUM's allowance k, in standard deviations per minute. */
  readonly slack: number;
  readonly warmup: number;
  /**
   * `throttle` (default): the first finding alerts; a second within an hour, against the same
   * baseline, caps the function's start rate for `throttleSec` at what keeps its spend per second
   * at the baseline price. `alert` only reports (and learns the new level); `off`.
   */
  readonly response: "throttle" | "alert" | "off";
  /** How long a throttle lasts, in seconds. */
  readonly throttleSec: number;
}

/**
 * `detect.novelty`: each bundle version of a function learns the (capability, target) pairs it uses
 * in its first `learn.invocations` invocations or `learn.hours` hours, whichever ends first; the
 * first use of a pair it did not learn is then a finding.
 */
export interface NoveltyPolicy {
  readonly learn: { readonly invocations: number; readonly hours: number };
  /**
   * `alert` (default) only reports; `hold` holds that one capability target of the function (its
   * calls and their deliveries wait, pending; the rest runs); `quarantine` holds the function's
   * deliveries; `off`.
   */
  readonly response: "alert" | "hold" | "quarantine" | "off";
}

/**
 * `detect.credentialStuffing`: a client address whose requests fail authentication or
 * authorization (401, 403) `failures` times within `windowSec`, making up at least `ratio` of its
 * requests there, is blocked for `blockSec` (429 with Retry-After, before its credentials are read).
 */
export interface CredentialStuffingPolicy {
  readonly failures: number;
  readonly windowSec: number;
  /** Share of the address's requests in the window that failed, 0..1. */
  readonly ratio: number;
  readonly blockSec: number;
  /** `block` (default), `alert` (report only) or `off`. */
  readonly response: "block" | "alert" | "off";
}

/**
 * `detect.amplification`: the invocations and emits one root event may cause are bounded by the
 * emit graph's worst case, and by `maxPerRoot` whatever the graph allows.
 */
export interface AmplificationPolicy {
  readonly maxPerRoot: number;
  /** `hold` keeps the root's further work pending (never dropped); `alert` only reports; `off`. */
  readonly response: "hold" | "alert" | "off";
}

/**
 * `detect.ingressFlood`: a principal whose accepted events in one window pass `factor` times the
 * median of its last `baselineWindows` windows (and `minEvents`), after `warmupWindows` windows.
 */
export interface IngressFloodPolicy {
  readonly windowSec: number;
  readonly baselineWindows: number;
  readonly warmupWindows: number;
  readonly factor: number;
  readonly minEvents: number;
  /** How long a throttled principal stays held to its baseline rate. */
  readonly throttleSec: number;
  /** `throttle` (default): its rate limit drops to its baseline rate; `alert` only reports; `off`. */
  readonly response: "throttle" | "alert" | "off";
}

/** `detect.deniedBurst`: how many refused capability calls within a window make a finding. */
export interface DeniedBurstPolicy {
  /** Distinct refused (capability, target) pairs of one function within `windowSec` that make a finding. */
  readonly denials: number;
  readonly windowSec: number;
  /** `quarantine` holds the function's deliveries (never drops them); `alert` only reports; `off`. */
  readonly response: "quarantine" | "alert" | "off";
}

/**
 * Detector defaults: conservative, on. A function whose code stays inside its grants is never
 * refused a capability call at all, so three refusals within a minute are probing, not noise.
 */
export const DEFAULT_DETECT: DetectPolicy = Object.freeze({
  amplification: Object.freeze({ maxPerRoot: 2_000, response: "hold" as const }),
  ingressFlood: Object.freeze({
    windowSec: 60,
    baselineWindows: 60,
    warmupWindows: 10,
    factor: 10,
    minEvents: 600,
    throttleSec: 300,
    response: "throttle" as const,
  }),
  deniedBurst: Object.freeze({ denials: 3, windowSec: 60, response: "quarantine" as const }),
  credentialStuffing: Object.freeze({
    failures: 10,
    windowSec: 60,
    ratio: 0.5,
    blockSec: 900,
    response: "block" as const,
  }),
  // Event data can steer a function's code to a target it has not used yet: report, never hold.
  novelty: Object.freeze({
    learn: Object.freeze({ invocations: 100, hours: 24 }),
    response: "alert" as const,
  }),
  // A sender picks its events' sizes and, through them, durations: report, never hold.
  outliers: Object.freeze({ factor: 5, warmup: 200, windowSec: 600, response: "alert" as const }),
  costDrift: Object.freeze({
    threshold: 10,
    slack: 0.5,
    warmup: 200,
    response: "throttle" as const,
    throttleSec: 600,
  }),
});

/** A recorded exception to one `palisade check` finding: which, why, and until when. */
export interface Waiver {
  /** Rule id, such as `PAL013`. */
  readonly rule: string;
  /** The finding's path as check prints it, such as `functions.charge.egress[0]`. */
  readonly path: string;
  readonly reason: string;
  /** Last day (UTC) the waiver applies, as `YYYY-MM-DD`. */
  readonly expires: string;
}

/** Absolute paths of the gateway's TLS material. */
export interface TlsSpec {
  readonly cert: string;
  readonly key: string;
  readonly clientCa?: string;
}

/** An authenticated sender and what it may publish. */
export interface PrincipalSpec {
  readonly name: string;
  readonly auth: ApiKeyAuth | JwtAuth | MtlsAuth;
  /** Exact event type names, or `prefix.*` patterns. */
  readonly publish: readonly string[];
  readonly rateLimit: RateLimit;
  /** Spend budget per UTC day in US dollars for what its events cause. */
  readonly costPerDay?: number;
  /** Past the budget: hold the chains' work (absent: hold), or also refuse new requests with 429. */
  readonly overBudget?: "hold" | "reject";
  /** Keys its events are signed with (CloudEvents verifiability extension), and whether they must be. */
  readonly signing?: SigningSpec;
}

/** A producer's event-signing keys (`principals.<p>.signing`). */
export interface SigningSpec {
  /** Public keys by key id (Ed25519 or ECDSA P-256), loaded from the files the manifest names. */
  readonly keys: ReadonlyMap<string, KeyObject>;
  /** Every event must carry a `dssematerial` that verifies (default true). */
  readonly requireSigned: boolean;
}

/** An outbound HTTP endpoint (`sinks.<name>`): a delivery target like a function. */
export interface SinkSpec {
  readonly name: string;
  /** Absolute https URL (http only to an address in allowAddresses). */
  readonly url: string;
  readonly on: readonly string[];
  readonly filter?: object;
  readonly mode: "structured" | "binary";
  /** Name of the secret with the bearer token or the Standard Webhooks secret. */
  readonly auth?: { readonly kind: "bearer" | "webhook"; readonly secret: string };
  /** Exact addresses the url's host may resolve to although they are not public. */
  readonly allowAddresses: readonly string[];
  readonly rateLimit: RateLimit;
  readonly timeoutMs: number;
  readonly retry: RetryPolicy;
}

/** A sink's delivery target name: `sink:<name>`, apart from function names (which have no colon). */
export function sinkTarget(name: string): string {
  return `sink:${name}`;
}

/** The sink name of a delivery target, or undefined for a function. */
export function sinkOfTarget(target: string): string | undefined {
  return target.startsWith("sink:") ? target.slice(5) : undefined;
}

/** What an admin may do: read; also replay, DLQ and quarantine release; also rotate keys and secrets. */
export type AdminRole = "viewer" | "operator" | "admin";

/** Roles in order of power: a route needing one is open to it and the ones after it. */
export const ADMIN_ROLES: readonly AdminRole[] = Object.freeze(["viewer", "operator", "admin"]);

/** An operator of the admin API (`admins.<name>`): one authentication method and a role. */
export interface AdminSpec {
  readonly name: string;
  readonly auth: ApiKeyAuth | JwtAuth | MtlsAuth;
  readonly role: AdminRole;
  /**
   * The admin the manifest did not declare (no `admins:`): `local`, role admin, whose API key is the
   * secret PALISADE_ADMIN_KEY when it is set (`palisade dev` sets it). Absent key: no such admin.
   */
  readonly implicit?: true;
}

/** The secret that holds the implicit `local` admin's API key. */
export const LOCAL_ADMIN_SECRET = "PALISADE_ADMIN_KEY";

export interface ApiKeyAuth {
  readonly kind: "apiKey";
  /** Name of the secret holding the key. */
  readonly secret: string;
}

export interface JwtAuth {
  readonly kind: "jwt";
  readonly issuer: string;
  readonly audience: string;
  /** Absolute path of a JWKS file, or the URL of a JWKS endpoint. */
  readonly jwks: { readonly file: string } | { readonly url: string };
  readonly algorithms: readonly string[];
  readonly clockToleranceSec: number;
}

export interface MtlsAuth {
  readonly kind: "mtls";
  /** Subject attributes a verified client certificate must carry, such as `{ CN: "storefront" }`. */
  readonly subject: Readonly<Record<string, string>>;
}

/** A token bucket: `perSecond` refill, `burst` capacity. */
export interface RateLimit {
  readonly perSecond: number;
  readonly burst: number;
}

export type SourceSpec =
  | { readonly kind: "http"; readonly path: string; readonly maxBodyBytes: number }
  | {
      readonly kind: "webhook";
      readonly path: string;
      readonly secret: string;
      readonly emit: string;
      readonly toleranceSec: number;
      readonly maxBodyBytes: number;
    }
  | {
      readonly kind: "schedule";
      /** Stable identity of the schedule (its cron, time zone and type), used for its progress. */
      readonly name: string;
      readonly cron: string;
      readonly timezone: string;
      readonly catchUp: boolean;
      readonly emit: string;
      readonly data: unknown;
    };

export interface EventTypeSpec {
  readonly type: string;
  readonly schemaPath: string;
  readonly schema: object;
}

export type KvMode = "read" | "readwrite";

/** One egress grant: `host:port` (https) or `http://host:port`. */
export interface EgressRule {
  /** As written in the manifest. */
  readonly entry: string;
  readonly scheme: "https" | "http";
  /** Lower-case DNS name, or an IP literal (IPv6 without brackets). */
  readonly host: string;
  readonly port: number;
  /** The host is an IP literal: that exact address is granted, even if private or loopback. */
  readonly ip: boolean;
}

export interface FunctionSpec {
  readonly name: string;
  /** Absolute path of the handler module. */
  readonly handlerPath: string;
  /** Subscribed event types: exact names or `prefix.*`. */
  readonly on: readonly string[];
  /** EventBridge-style content pattern; only matching events are delivered. */
  readonly filter?: object;
  readonly emit: readonly string[];
  /** Secret names ctx.secrets.get may read. */
  readonly secrets: readonly string[];
  /** Where ctx.fetch may go. */
  readonly egress: readonly EgressRule[];
  /** Key-value namespaces and their mode. */
  readonly kv: Readonly<Record<string, KvMode>>;
  /** A private writable scratch directory per instance. */
  readonly tmp: boolean;
  /** eval / new Function allowed (off unless the manifest opts out). */
  readonly allowCodeGeneration: boolean;
  readonly limits: Limits;
  readonly retry: RetryPolicy;
  /** How deep in one chain a function on a cycle of the emit graph may run (`recursion.maxDepth`). */
  readonly recursion?: { readonly maxDepth: number };
  /** Only events whose producer signature verified are routed to it (absent: any event). */
  readonly requireVerified?: true;
}

export interface Limits {
  readonly timeoutMs: number;
  readonly memoryMb: number;
  readonly concurrency: number;
  /** Processes kept warm when idle (more start on demand, up to `concurrency`). */
  readonly minInstances: number;
  /** Largest handler result, emit or log entry, in serialized bytes. */
  readonly outputBytes: number;
  /** Size of the private scratch directory (`tmp: true`), in MiB. */
  readonly tmpMb: number;
  readonly ratePerSec?: number;
  readonly dailyInvocations?: number;
  /** Spend budget per UTC day in US dollars (at `prices`). */
  readonly costPerDay?: number;
  /** Capability calls one invocation has in flight at once (more wait in a bounded queue). */
  readonly capabilityCalls: number;
  /** ctx.fetch response bytes the host buffers for one invocation at once. */
  readonly fetchBytes: number;
  /** ctx.emit calls one invocation may make. */
  readonly emitsPerInvocation: number;
  /** Largest ctx.kv.set value, in serialized JSON bytes. */
  readonly kvValueBytes: number;
  /** Bytes (keys plus stored values) a kv namespace may hold after a write by this function. */
  readonly kvNamespaceBytes: number;
  /** Largest ctx.log line (message plus serialized fields). */
  readonly logLineBytes: number;
  /** ctx.log lines per second for the function, across its instances. */
  readonly logsPerSecond: number;
}

export interface RetryPolicy {
  readonly attempts: number;
  readonly backoff: "exponential" | "fixed";
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
}

/** A sink's retries when it states none: more patient than a function's, for a receiver's outage. */
export const DEFAULT_SINK_RETRY: RetryPolicy = Object.freeze({
  attempts: 8,
  backoff: "exponential",
  initialDelayMs: 1000,
  maxDelayMs: 300_000,
});

/** A sink's delivery rate when it states none. */
export const DEFAULT_SINK_RATE: RateLimit = Object.freeze({ perSecond: 50, burst: 50 });

/** A sink attempt's time when it states none. */
export const DEFAULT_SINK_TIMEOUT_MS = 10_000;

/** Conservative limits for a function that states none. */
export const DEFAULT_LIMITS: Limits = Object.freeze({
  timeoutMs: 3000,
  memoryMb: 128,
  concurrency: 2,
  minInstances: 1,
  outputBytes: 256 * 1024,
  capabilityCalls: 16,
  fetchBytes: 16 * 1024 * 1024,
  emitsPerInvocation: 100,
  kvValueBytes: 256 * 1024,
  kvNamespaceBytes: 64 * 1024 * 1024,
  logLineBytes: 16 * 1024,
  logsPerSecond: 100,
  tmpMb: 64,
});

/** Grants of a function that states none: nothing. */
export const NO_GRANTS = Object.freeze({
  emit: Object.freeze([]) as readonly string[],
  secrets: Object.freeze([]) as readonly string[],
  egress: Object.freeze([]) as readonly EgressRule[],
  kv: Object.freeze({}) as Readonly<Record<string, KvMode>>,
  tmp: false,
  allowCodeGeneration: false,
});

/** Retry policy for a function that states none (attempts include the first). */
export const DEFAULT_RETRY: RetryPolicy = Object.freeze({
  attempts: 5,
  backoff: "exponential",
  initialDelayMs: 1000,
  maxDelayMs: 60000,
});

/** Duplicate window of an app that states none: 24 hours. */
export const DEFAULT_DEDUPE_WINDOW_SEC = 86400;

/** Rate limit of a principal that states none. */
export const DEFAULT_RATE_LIMIT: RateLimit = Object.freeze({ perSecond: 100, burst: 200 });

/** Signature algorithms a JWT principal accepts by default; HMAC and `none` are never accepted. */
export const DEFAULT_JWT_ALGORITHMS: readonly string[] = Object.freeze(["RS256", "PS256", "ES256", "EdDSA"]);

/** Largest accepted request body, as in EventBridge's 256 KB event limit. */
export const DEFAULT_MAX_BODY_BYTES = 256 * 1024;

/** The intake an app gets when it declares no `sources`. */
export const DEFAULT_SOURCES: readonly SourceSpec[] = Object.freeze([
  Object.freeze({ kind: "http" as const, path: "/events", maxBodyBytes: DEFAULT_MAX_BODY_BYTES }),
]);
