/**
 * Tracing across event hops with OpenTelemetry. Every event carries W3C Trace Context (`traceparent`
 * and, when the trace has one, `tracestate`); each hop (ingress, dispatch, invocation, capability
 * call, ctx.emit) is a span whose parent is the context it was handed (read by the W3C propagator of
 * @opentelemetry/core), and it hands its own span's context on (the event's, or the one an emitted
 * event gets), so one trace runs from the first HTTP request to the last function.
 *
 * Spans go to every exporter given: OTLP/HTTP when OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT is set
 * (otlp-exporter.ts), the app's recent-traces store for `palisade traces`, an in-memory exporter in
 * tests. Their resource names the service (tracing-resource.ts).
 */
import { randomUUID } from "node:crypto";
import {
  type Attributes,
  type Context,
  defaultTextMapGetter,
  defaultTextMapSetter,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  TraceFlags,
  type Tracer,
  trace,
} from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  ParentBasedSampler,
  type Sampler,
  SamplingDecision,
  SimpleSpanProcessor,
  type SpanExporter,
  type SpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { otlpExporterFromEnv, otlpProtocolFromEnv } from "./otlp-exporter.ts";
import { checkResourceEnv, tracingResource } from "./tracing-resource.ts";

/** W3C Trace Context as it travels between hops: a traceparent and the trace's tracestate, if any. */
export interface TraceContext {
  readonly traceparent?: string | undefined;
  readonly tracestate?: string | undefined;
}

/** A span in progress: hand its `traceparent` and `tracestate` to the next hop, then end it once. */
export interface ActiveSpan {
  readonly traceparent: string;
  /** The trace's tracestate (the parent's, as the propagator kept it); undefined when it has none. */
  readonly tracestate: string | undefined;
  /** Adds attributes learned after the start (whether an invocation was a cold start). */
  set(attributes: Attributes): void;
  end(error?: unknown): void;
}

export interface Tracing {
  /**
   * Starts a span under `parent`: a traceparent, or a traceparent with its tracestate. A new trace
   * when absent or invalid (W3C Trace Context: a later version's traceparent is read by its first
   * four fields; version ff, or 00 with more fields, is invalid, and its tracestate dropped).
   */
  start(
    name: string,
    parent: string | TraceContext | undefined,
    attributes?: Attributes,
    kind?: SpanKind,
  ): ActiveSpan;
  close(): Promise<void>;
}

const propagator = new W3CTraceContextPropagator();

export interface TracingOptions {
  /** Exporters whose spans are sent in batches (the recent-traces store, OTLP). */
  batched?: readonly SpanExporter[];
  /** Exporters that get each span as it ends (tests). */
  immediate?: readonly SpanExporter[];
  /**
   * Add OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set,
   * in the protocol OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL names. @default true
   */
  otlpFromEnv?: boolean;
  /** The app's name: the resource's `service.namespace` (OTEL_RESOURCE_ATTRIBUTES may override it). */
  app?: string;
  /**
   * New traces recorded per second when nothing else asks for every span (no OTLP endpoint, no
   * immediate exporter): what the recent-traces store keeps anyway. A trace the sender marked
   * sampled is always recorded. @default 200
   */
  tracesPerSecond?: number;
  /**
   * Spans recorded per second, on average, under the same sampling: each recorded span takes one
   * from a bucket of this many (refilled at this rate, and may go into debt), and no new trace is
   * sampled while it is empty. A trace grows with its fan-out (an event for 50 functions is 101
   * spans), so a budget in traces alone records every delivery once fan-out slows events below
   * `tracesPerSecond`. @default 1000
   */
  spansPerSecond?: number;
}

/**
 * Records at most `perSecond` new root traces a second, and none while `spans` is used up; the rest
 * get non-recording spans (almost free) that still hand a valid traceparent on, flagged unsampled,
 * so their later hops skip too.
 */
function rateLimitedSampler(perSecond: number, spans: SpanBudget): Sampler {
  let second = 0;
  let left = perSecond;
  return {
    shouldSample() {
      const now = Math.floor(Date.now() / 1000);
      if (now !== second) {
        second = now;
        left = perSecond;
      }
      if (left === 0 || !spans.available()) return { decision: SamplingDecision.NOT_RECORD };
      left -= 1;
      return { decision: SamplingDecision.RECORD_AND_SAMPLED };
    },
    toString: () => `RateLimited{${perSecond}/s}`,
  };
}

/** Spans recorded against a budget per second: a token bucket that may go into debt. */
interface SpanBudget {
  /** Whether any budget is left now (none while a large trace's spans are being paid off). */
  available(): boolean;
  /** Counts each span the SDK records (every span a processor sees is recording). */
  readonly counter: SpanProcessor;
}

function spanBudget(perSecond: number): SpanBudget {
  let tokens = perSecond;
  let at = Date.now();
  const refill = () => {
    const now = Date.now();
    // A clock stepped back refills nothing (never a debt as long as the step), and one stepped
    // forward refills at most a full second's budget.
    tokens = Math.min(perSecond, tokens + (Math.max(0, now - at) * perSecond) / 1000);
    at = now;
  };
  return {
    available() {
      refill();
      return tokens > 0;
    },
    counter: {
      onStart() {
        tokens -= 1;
      },
      onEnd() {},
      forceFlush: async () => undefined,
      shutdown: async () => undefined,
    },
  };
}

/**
 * Refuses the OTEL_* settings tracing could not use (an OTLP protocol other than http/protobuf or
 * http/json, a malformed OTEL_RESOURCE_ATTRIBUTES) with an error naming the variable: called before
 * the platform opens anything, as createTracing would refuse the same later.
 */
export function checkTracingEnv(): void {
  checkResourceEnv();
  otlpProtocolFromEnv();
}

/** Tracing with the SDK: spans under the OpenTelemetry resource of tracing-resource.ts, to `options`' exporters. */
export function createTracing(options: TracingOptions = {}): Tracing {
  const processors: SpanProcessor[] = [
    ...(options.immediate ?? []).map((e) => new SimpleSpanProcessor(e)),
    ...(options.batched ?? []).map((e) => new BatchSpanProcessor(e)),
  ];
  // Both read the environment first: a refused protocol or resource stops the start before any span.
  const resource = tracingResource(options.app);
  const otlp = (options.otlpFromEnv ?? true) ? otlpExporterFromEnv() : undefined;
  if (otlp !== undefined) processors.push(new BatchSpanProcessor(otlp));
  // With a collector or a test exporter, the standard OTEL_TRACES_SAMPLER applies (default: all).
  const everything = otlp !== undefined || (options.immediate ?? []).length > 0;
  const spans = everything ? undefined : spanBudget(options.spansPerSecond ?? 1000);
  const provider = new BasicTracerProvider({
    resource,
    spanProcessors: spans === undefined ? processors : [spans.counter, ...processors],
    ...(spans === undefined
      ? {}
      : {
          sampler: new ParentBasedSampler({
            root: rateLimitedSampler(options.tracesPerSecond ?? 200, spans),
          }),
        }),
  });
  return { start: spanStarter(provider.getTracer("palisade"), everything), close: () => provider.shutdown() };
}

/**
 * Starts spans with `tracer`. Unless `everything` is recorded, a hop of a trace that is not being
 * recorded stays unrecorded (parent-based sampling): it hands on a fresh span id in the same trace
 * without asking the SDK for a span at all.
 */
function spanStarter(tracer: Tracer, everything: boolean): Tracing["start"] {
  return (name, parent, attributes, kind = SpanKind.INTERNAL) => {
    const context = extract(parent);
    const remote = trace.getSpanContext(context);
    if (!everything && remote !== undefined && (remote.traceFlags & TraceFlags.SAMPLED) === 0)
      return {
        traceparent: `00-${remote.traceId}-${randomUUID().replaceAll("-", "").slice(16)}-00`,
        tracestate: remote.traceState?.serialize() || undefined,
        set() {},
        end() {},
      };
    const span = tracer.startSpan(name, { kind, ...(attributes ? { attributes } : {}) }, context);
    const { traceparent, tracestate } = inject(span);
    let ended = false;
    return {
      traceparent,
      tracestate,
      set(attributes) {
        if (!ended) span.setAttributes(attributes);
      },
      end(error) {
        if (ended) return;
        ended = true;
        // Only the error's code: its message may quote event data or secrets, and spans are
        // stored in plaintext and shipped to collectors.
        if (error !== undefined) span.setStatus({ code: SpanStatusCode.ERROR, message: errorCode(error) });
        span.end();
      },
    };
  };
}

/** The context a span starts under: the parent's, read by the W3C propagator; the root when invalid. */
function extract(parent: string | TraceContext | undefined): Context {
  const carrier = typeof parent === "string" ? { traceparent: parent } : { ...parent };
  return propagator.extract(ROOT_CONTEXT, carrier, defaultTextMapGetter);
}

/** What a span hands to the next hop, written by the W3C propagator (always version 00). */
function inject(span: Span): { traceparent: string; tracestate: string | undefined } {
  const carrier: Record<string, string> = {};
  propagator.inject(trace.setSpan(ROOT_CONTEXT, span), carrier, defaultTextMapSetter);
  return { traceparent: carrier.traceparent ?? "", tracestate: carrier.tracestate || undefined };
}

function errorCode(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : "error";
}

/** Tracing that records nothing but still hands a valid traceparent on (benchmarks: tracing off). */
export function noTracing(next: (parent?: string) => string): Tracing {
  return {
    start(_name, parent) {
      const traceparent = next(typeof parent === "string" ? parent : parent?.traceparent);
      const remote = trace.getSpanContext(extract(parent));
      // The tracestate stays with its trace: `next` keeps the trace of a valid parent only.
      const kept = remote !== undefined && traceparent.includes(`-${remote.traceId}-`);
      return {
        traceparent,
        tracestate: (kept && remote.traceState?.serialize()) || undefined,
        set() {},
        end() {},
      };
    },
    close: async () => undefined,
  };
}

export { SpanKind };
