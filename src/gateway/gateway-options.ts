import type { FastifyRequest } from "fastify";
import type { EventDraft } from "../events/index.ts";
import type { RateLimit, SigningSpec, SourceSpec } from "../manifest/index.ts";
import type { Logger, Metrics } from "../observe/index.ts";
import type { Authenticate } from "./authenticate.ts";
import type { EventVerifier } from "./event-verifier.ts";
import type { MetricsGuard, Readiness } from "./ops-routes.ts";
import type { RateLimitStore } from "./rate-limiter.ts";
import type { StoredWebhook } from "./webhook-retry.ts";

/** Outcome of one accepted event: its id, and whether it was already stored (same principal, source and id). */
export interface IngestResult {
  id: string;
  duplicate: boolean;
}

export interface GatewayOptions {
  sources: readonly SourceSpec[];
  /** The data path's ingress: authorizes, validates, stores durably. */
  ingest: (drafts: readonly EventDraft[], origin: IngressOrigin) => Promise<IngestResult[]>;
  authenticate: Authenticate;
  /**
   * The stored events with id `eventId` sent by `principal` from `source`: a webhook retry is told
   * from a reuse of its id by them (webhook-retry.ts). Without it, every repeated webhook id is refused.
   */
  storedEvents?: (eventId: string, principal: string, source: string) => Promise<StoredWebhook[]>;
  /** A principal's event-signing keys and policy (`principals.<p>.signing`), if it declares them. */
  signing?: (principal: string) => SigningSpec | undefined;
  /** Rate limit of a principal (by name). */
  principalLimit: (principal: string) => RateLimit;
  rateLimits: RateLimitStore;
  /** The values of a named secret valid now (webhook signing secrets; two during a rotation). */
  secret: (name: string) => readonly string[];
  metrics: Metrics;
  logger: Logger;
  /** Observes every refused request, rate-limited ones included (the audit log, which merges repeats). */
  onRejected?: (rejection: {
    reason: string;
    code: string;
    status: number;
    ip: string;
    route: string | undefined;
    principal: string | undefined;
  }) => void;
  /** Observes every accepted request: who sent how many events from where (detectors count it). */
  onAccepted?: (accepted: {
    principal: string;
    ip: string;
    route: string;
    events: number;
    /** The events' ids and types, in request order (a duplicate names the stored event's id). */
    ids: readonly string[];
    types: readonly string[];
  }) => void;
  /**
   * Seconds a client address stays blocked, if it is blocked now (admission: a detector's response);
   * a blocked address is refused with 429 before its credentials are looked at.
   */
  clientBlocked?: (ip: string) => number | undefined;
  /**
   * Seconds until a principal may send again, if its daily spend budget is used up and it is to be
   * refused (`principals.<p>.overBudget: reject`); its request is refused with 429.
   */
  principalOverBudget?: (principal: string) => number | undefined;
  /** Whether an operator holds a principal: its requests are refused with 429 until released. */
  principalHeld?: (principal: string) => boolean;
  /**
   * Whether the schema of declared event `type` accepts a string at `pointer` (into `data`), which
   * holds the string form of numbers JSON cannot carry exactly; undefined for an undeclared type.
   * Lets a refusal of such a number say whether sending it as a string will be accepted.
   */
  acceptsString?: (type: string, data: unknown, pointer: string) => boolean | undefined;
  /** Who may read `/metrics` (absent: anyone; `metrics.public`). */
  metricsGuard?: MetricsGuard;
  /** Why the gateway cannot accept events now (e.g. its broker is unreachable); `/readyz` answers 503. */
  readiness?: Readiness;
  /** Serve HTTPS with this material (PEM contents); `ca` makes the gateway ask for client certificates. */
  tls?: { cert: string; key: string; ca?: string };
}

/** Who sent a request, as far as the gateway established it. */
export interface IngressOrigin {
  principal: string;
  source: string;
  batch: boolean;
}

/** What every source route needs: the options plus who each request was authenticated as. */
export type RouteDeps = GatewayOptions & {
  principals: WeakMap<FastifyRequest, string>;
  /** Where producer-signed events are verified (event-verifier.ts). */
  verifyEvents: EventVerifier;
};
