/**
 * The function API (DESIGN §4): what a handler module imports with `import type { Handler } from "palisade"`.
 * Types only; the runtime behind them lives in the sandbox runner.
 */

/**
 * Event type name → data type. Empty by default (data is `unknown`); generated type declarations
 * extend it by declaration merging so `Handler<"order.created">` gets typed data.
 */
// biome-ignore lint/suspicious/noEmptyInterface: extended by declaration merging.
export interface EventMap {}

/** The data type of event type `K`. */
export type EventData<K extends string> = K extends keyof EventMap ? EventMap[K] : unknown;

/** A delivered CloudEvent (see DESIGN §2). */
export interface Event<K extends string = string> {
  readonly specversion: "1.0";
  readonly id: string;
  readonly source: string;
  readonly type: K;
  readonly time: string;
  readonly datacontenttype: string;
  readonly dataschema?: string;
  readonly subject?: string;
  readonly data: EventData<K>;
  /** CloudEvents extension attributes set by the producer. */
  readonly extensions?: Readonly<Record<string, string | number | boolean>>;
  readonly traceparent: string;
  readonly principal: string;
  readonly hop: number;
  readonly causationid?: string;
  /** Id and principal of the event from outside this chain started with (its own for such an event). */
  readonly rootid?: string;
  readonly rootprincipal?: string;
  /** Version of the type's schema the data was validated against. */
  readonly schemaversion?: number;
  /** On a replayed delivery: the event's id, who replayed it and when (ISO 8601). */
  readonly replayof?: string;
  readonly replayedby?: string;
  readonly replayedat?: string;
}

/**
 * Structured log fields; values that are secrets are redacted by the host. The host owns `level`,
 * `time`, `msg`, `fn`, `eventId`, `traceId`, `host`, `hostname` and `pid`: fields of those names are
 * written as `fn.<name>`. Lines are cut to `limits.logLineBytes` and dropped past `limits.logsPerSecond`.
 */
export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

/**
 * Capabilities of one invocation; each call is checked by the host against the manifest's grants and
 * the function's `limits` (at most `capabilityCalls` calls in flight, more wait or are refused with
 * `PAL_RUNTIME_LIMIT_EXCEEDED`).
 */
export interface Context {
  /** Name of the function being invoked. */
  readonly functionName: string;
  /** Attempt number of this delivery, 1 for the first. */
  readonly attempt: number;
  /** `<event id>:<function>`: identical across retries and replays of one delivery, unique otherwise. */
  readonly idempotencyKey: string;
  /**
   * Publishes an event of a type listed in the function's `emit:` grant; resolves to its id once
   * durable. At most `limits.emitsPerInvocation` per invocation; data is plain JSON (no `__proto__` or
   * `constructor.prototype` keys, at most 32 levels deep).
   */
  emit<K extends string>(type: K, data: EventData<K>): Promise<string>;
  /** Secrets listed in the function's `secrets:` grant, read at call time (never from the environment). */
  readonly secrets: { get(name: string): Promise<string> };
  /**
   * `fetch` limited to the function's `egress:` grants: `host:port` for https, `http://host:port` for
   * plain http. Private, loopback, link-local and metadata addresses are refused unless granted by
   * exact address; redirects are re-checked; response size and time are bounded, and the responses
   * of one invocation's concurrent fetches share `limits.fetchBytes`.
   */
  fetch(url: string | URL, init?: FetchInit): Promise<Response>;
  /**
   * Key-value namespaces listed in the function's `kv:` grant (`read` or `readwrite`); values are plain
   * JSON of at most `limits.kvValueBytes`, in namespaces of at most `limits.kvNamespaceBytes`.
   */
  readonly kv: Kv;
  /** The private scratch directory of this instance when the manifest grants `tmp: true`. */
  readonly tmpdir: string | undefined;
  readonly log: Logger;
}

/** The part of RequestInit that ctx.fetch carries. */
export interface FetchInit {
  method?: string;
  headers?: Record<string, string> | [string, string][] | Headers;
  body?: string | Uint8Array | ArrayBuffer | Blob | URLSearchParams;
}

export interface Kv {
  get(namespace: string, key: string): Promise<unknown>;
  set(namespace: string, key: string, value: unknown): Promise<void>;
  delete(namespace: string, key: string): Promise<boolean>;
  /** Keys in order (at most `limit`, default 100, max 1000); pass `next` as `after` for the next page. */
  list(
    namespace: string,
    options?: { prefix?: string; after?: string; limit?: number },
  ): Promise<{ keys: string[]; next?: string }>;
}

/**
 * A function's default export. Throwing (or timing out) fails the attempt. A returned value (JSON,
 * within `limits.outputBytes`) is shown by `palisade invoke`; deliveries ignore it.
 */
export type Handler<K extends string = string> = (
  event: Event<K>,
  ctx: Context,
) => Promise<unknown> | unknown;
