/**
 * W3C Trace Context on the envelope. An event carries `traceparent` (a platform field) and, when its
 * trace has one, `tracestate` as an extension attribute: the two attributes of the CloudEvents
 * distributed-tracing extension, so a structured or binary event that sets `tracestate` keeps it there.
 */
import { randomUUID } from "node:crypto";
import { parseTraceParent } from "@opentelemetry/core";
import type { CloudEvent } from "./cloud-event.ts";

/** The trace context an event or a draft carries: its traceparent and its `tracestate` extension. */
export interface EventTraceContext {
  traceparent?: string;
  tracestate?: string;
}

/**
 * Returns a traceparent (version 00) for a new hop: the same trace as `parent` if valid, a new trace
 * otherwise. Validity is the W3C propagator's (Trace Context, "Versioning of traceparent"): all-zero
 * ids and version ff are invalid, and a later version is read by its first four fields.
 */
export function nextTraceparent(parent?: string): string {
  const traceId =
    (parent === undefined ? null : parseTraceParent(parent))?.traceId ??
    // randomUUID draws from Node's pooled CSPRNG buffer: far cheaper per event than randomBytes.
    randomUUID().replaceAll("-", "");
  const spanId = randomUUID().replaceAll("-", "").slice(16);
  return `00-${traceId}-${spanId}-01`;
}

/** The trace context `e` (an event or a draft) carries; a non-string `tracestate` extension is none. */
export function traceContextOf(e: {
  readonly traceparent?: string | undefined;
  readonly extensions?: Readonly<Record<string, unknown>> | undefined;
}): EventTraceContext {
  const tracestate = e.extensions?.tracestate;
  return {
    ...(e.traceparent === undefined ? {} : { traceparent: e.traceparent }),
    ...(typeof tracestate === "string" ? { tracestate } : {}),
  };
}

/**
 * `event` as handed on by a hop: its traceparent replaced by the hop's, its `tracestate` extension
 * set to the hop's or removed when the hop's trace has none (a tracestate never outlives its trace).
 */
export function withTraceContext<E extends CloudEvent>(
  event: E,
  hop: { readonly traceparent: string; readonly tracestate?: string | undefined },
): E {
  const { tracestate: _dropped, ...others } = event.extensions ?? {};
  const extensions = hop.tracestate === undefined ? others : { ...others, tracestate: hop.tracestate };
  const { extensions: _old, ...rest } = event;
  return Object.keys(extensions).length === 0
    ? ({ ...rest, traceparent: hop.traceparent } as E)
    : ({ ...rest, traceparent: hop.traceparent, extensions } as E);
}
