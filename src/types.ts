/**
 * The function API (DESIGN §4): what a handler module imports from "palisade": the types
 * (`import type { Handler } from "palisade"`) and one runtime helper, `defineFunction`. The runtime
 * behind the types lives in the sandbox runner. This module must import nothing: `palisade build`
 * inlines it into every bundle that imports "palisade" (see supply/build-function.ts).
 */

/**
 * Event type name → data type. Empty by default (data is `unknown`); generated type declarations
 * extend it by declaration merging so `Handler<"order.created">` gets typed data.
 */
// biome-ignore lint/suspicious/noEmptyInterface: extended by declaration merging.
export interface EventMap {}

/**
 * Function name → its subscribed event types (`on`, wildcards expanded) and its `emit:` grant, as
 * unions of type names. Empty by default; `palisade types` generates its entries (declaration
 * merging) so `defineFunction` types `event.data` and checks `ctx.emit`.
 */
// biome-ignore lint/suspicious/noEmptyInterface: extended by declaration merging.
export interface FunctionMap {}

/** What `FunctionMap` records of one function. */
export interface FunctionTypes {
  readonly on: string;
  readonly emit: string;
}

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
  /**
   * The producer key id that verified this event's signature at ingress (CloudEvents verifiability
   * extension). Absent: not signed, or from a principal without signing keys. A verified event
   * carries only the extension attributes the signature covers.
   */
  readonly verified?: string;
  /** The platform's signature over an event it produced (an emit, a platform event), base64 DSSE. */
  readonly dssematerial?: string;
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

/** An event of one of the types `K`; comparing `event.type` narrows `event.data`. */
export type EventOf<K extends string> = K extends string ? Event<K> : never;

/** The context of a function whose `emit:` grant is `E`: `emit` accepts only those types and their data. */
export interface FunctionContext<E extends string> extends Omit<Context, "emit"> {
  /**
   * Publishes an event of a type in the function's `emit:` grant (checked at compile time here, and by
   * the host at run time); resolves to its id once durable.
   */
  emit<K extends E>(type: K, data: EventData<K>): Promise<string>;
}

/** Names `defineFunction` accepts: the generated functions, or any name before types are generated. */
export type FunctionName = [keyof FunctionMap] extends [never] ? string : Extract<keyof FunctionMap, string>;

/**
 * The handler of function `N`: its event is one of the function's subscribed types and its `ctx.emit`
 * is limited to its `emit:` grant. A plain `Handler` when `N` has no generated entry.
 */
export type FunctionHandler<N extends string> = N extends keyof FunctionMap
  ? FunctionMap[N] extends { on: infer On extends string; emit: infer Emit extends string }
    ? (event: EventOf<On>, ctx: FunctionContext<Emit>) => Promise<unknown> | unknown
    : Handler
  : Handler;

/**
 * Declares the handler of the manifest's function `name` (`export default defineFunction("charge",
 * async (event, ctx) => …)`), typed from the declarations `palisade types` generates. At run time it
 * returns `handler` unchanged: the sandbox runs the module's default export as always.
 */
export function defineFunction<N extends FunctionName>(
  name: N,
  handler: FunctionHandler<N>,
): FunctionHandler<N> {
  if (typeof name !== "string" || name.length === 0)
    throw new TypeError("defineFunction: the first argument must be the function's name in palisade.yaml");
  if (typeof handler !== "function")
    throw new TypeError(`defineFunction("${name}"): the second argument must be the handler function`);
  return handler;
}
