/**
 * A CloudEvents 1.0 envelope as Palisade stores and delivers it: the required and optional context
 * attributes (CloudEvents spec §3.1) plus the platform extensions that only Palisade sets.
 */
export interface CloudEvent<T = unknown> {
  specversion: "1.0";
  id: string;
  source: string;
  type: string;
  time: string;
  /** Media type of `data`: JSON types carry parsed JSON, text and XML types a string. */
  datacontenttype: string;
  dataschema?: string;
  subject?: string;
  data: T;
  /** CloudEvents extension attributes the producer set (CloudEvents spec §3.3), kept as sent. */
  extensions?: Record<string, string | number | boolean>;
  /** W3C trace context of the hop that produced this event. */
  traceparent: string;
  /**
   * Authenticated origin, set only by the platform: a principal's name, `webhook:<path>`,
   * `schedule:<name>`, `function:<name>` or `palisade`. Dedupe is scoped to it; `source` is the sender's.
   */
  principal: string;
  /** Chain depth: 0 for events from outside, +1 for each `ctx.emit`. */
  hop: number;
  /** Id of the event whose handler emitted this one. */
  causationid?: string;
  /**
   * The chain's root: the id and principal of the event from outside that this one descends from
   * (its own for an event from outside). Amplification budgets are kept per root (DESIGN §9).
   */
  rootid?: string;
  rootprincipal?: string;
  /** Version of the type's schema the data was validated against. */
  schemaversion?: number;
  /** On a replayed delivery: the id of the event replayed (its own id), who replayed it and when. */
  replayof?: string;
  replayedby?: string;
  replayedat?: string;
  /**
   * Set only by the platform: the key id that verified the producer's signature (`dssematerial`,
   * CloudEvents verifiability extension) at ingress. Absent: the event was not signed, or not checked.
   */
  verified?: string;
  /**
   * The event's verification material (a DSSE envelope, base64) when it verifies over the event as
   * stored: the platform's signature on what it produced (emits, platform events), or a producer's
   * that survives as sent. Absent otherwise; a sink signs such an event when it leaves.
   */
  dssematerial?: string;
}

/** Extensions a sender may never set: the platform owns them (see DESIGN §2). */
export const RESERVED_EXTENSIONS = [
  "principal",
  "hop",
  "causationid",
  "rootid",
  "rootprincipal",
  "schemaversion",
  "replayof",
  "replayedby",
  "replayedat",
  "verified",
] as const;

/** Default `datacontenttype` (CloudEvents JSON format §3.1). */
export const JSON_MEDIA_TYPE = "application/json";

/** Default hop limit on event chains (DESIGN invariant 7); `hopLimit` in the manifest changes it. */
export const MAX_HOP = 16;
