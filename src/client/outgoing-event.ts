import type { EventMap } from "../types.ts";

/**
 * An event type name: one the app's generated `palisade-env.d.ts` declares (offered by the editor),
 * or any other string.
 */
export type EventType = (keyof EventMap & string) | (string & {});

/**
 * The `data` of an event of type `K`: typed by `EventMap` (filled by the generated types) for a
 * declared type, anything JSON can carry otherwise.
 */
export type OutgoingData<K extends string> = K extends keyof EventMap
  ? { data: EventMap[K] }
  : { data?: unknown };

/** An extension attribute value as CloudEvents JSON carries it (spec §3.1.1: string, integer, boolean). */
export type ExtensionValue = string | number | boolean;

/** The attributes of an event to send; `id`, `specversion`, `time` and `source` are filled in. */
export interface OutgoingAttributes<K extends string> {
  readonly type: K;
  /** @default a random UUID, kept across retries so the gateway stores the event once */
  readonly id?: string;
  /** @default the client's `source` option */
  readonly source?: string;
  readonly subject?: string;
  /** @default the time of the `send` call */
  readonly time?: string | Date;
  readonly dataschema?: string;
  /** @default "application/json" */
  readonly datacontenttype?: string;
  /** CloudEvents extension attributes (lower-case names); with a signing key, signed by default. */
  readonly extensions?: Readonly<Record<string, ExtensionValue>>;
}

/** One event for `send` or `sendBatch`: its attributes and data typed by its `type`. */
export type OutgoingEvent<K extends string = string> = OutgoingAttributes<K> & OutgoingData<K>;

/** The gateway's `202` answer: the stored events' ids, in request order. */
export interface SendResult {
  readonly ids: string[];
  /** Set by the gateway when it had already stored this event (same principal, source and id). */
  readonly duplicate?: boolean;
}
