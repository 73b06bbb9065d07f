/**
 * Tracing across event hops with OpenTelemetry. Every event carries a W3C `traceparent`; each hop
 * (ingress, dispatch, invocation, capability call, ctx.emit) is a span whose parent is the
 * traceparent it was handed, and it hands its own span's traceparent on (the event's, or the one an
 * emitted event gets), so one trace runs from the first HTTP request to the last function.
 *
 * Spans go to every exporter given: OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT is set, the app's
 * recent-traces store for `palisade traces`, an in-memory exporter in tests.
 */
import { randomUUID } from "node:crypto";
import {
  type Attributes,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  TraceFlags,
  trace,
} from "@opentelemetry/api";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
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

/** A span in progress: hand `traceparent` to the next hop, then end it once. */
export interface ActiveSpan {
  readonly traceparent: string;
  end(error?: unknown): void;
}

export interface Tracing {
  /** Starts a span under `parent` (a W3C traceparent; a new trace when absent or invalid). */
  start(name: string, parent: string | undefined, attributes?: Attributes, kind?: SpanKind): ActiveSpan;
  close(): Promise<void>;
}

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

export interface TracingOptions {
  /** Exporters whose spans are sent in batches (the recent-traces store, OTLP). */
  batched?: readonly SpanExporter[];
  /** Exporters that get each span as it ends (tests). */
  immediate?: readonly SpanExporter[];
  /** Add OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT is set. @default true */
  otlpFromEnv?: boolean;
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

export function createTracing(options: TracingOptions = {}): Tracing {
  const processors: SpanProcessor[] = [
    ...(options.immediate ?? []).map((e) => new SimpleSpanProcessor(e)),
    ...(options.batched ?? []).map((e) => new BatchSpanProcessor(e)),
  ];
  const otlp = (options.otlpFromEnv ?? true) && Boolean(process.env.OTEL_EXPORTER_OTLP_ENDPOINT);
  if (otlp) processors.push(new BatchSpanProcessor(new OTLPTraceExporter()));
  // With a collector or a test exporter, the standard OTEL_TRACES_SAMPLER applies (default: all).
  const everything = otlp || (options.immediate ?? []).length > 0;
  const spans = everything ? undefined : spanBudget(options.spansPerSecond ?? 1000);
  const provider = new BasicTracerProvider({
    spanProcessors: spans === undefined ? processors : [spans.counter, ...processors],
    ...(spans === undefined
      ? {}
      : {
          sampler: new ParentBasedSampler({
            root: rateLimitedSampler(options.tracesPerSecond ?? 200, spans),
          }),
        }),
  });
  const tracer = provider.getTracer("palisade");

  return {
    start(name, parent, attributes, kind = SpanKind.INTERNAL) {
      const match = parent === undefined ? null : TRACEPARENT.exec(parent);
      // A hop of a trace that is not being recorded stays unrecorded (parent-based sampling): hand
      // on a fresh span id in the same trace without asking the SDK for a span at all.
      if (!everything && match !== null && (Number.parseInt(match[3] ?? "00", 16) & TraceFlags.SAMPLED) === 0)
        return { traceparent: `00-${match[1]}-${randomUUID().replaceAll("-", "").slice(16)}-00`, end() {} };
      const context =
        match === null
          ? ROOT_CONTEXT
          : trace.setSpanContext(ROOT_CONTEXT, {
              traceId: match[1] ?? "",
              spanId: match[2] ?? "",
              traceFlags: Number.parseInt(match[3] ?? "01", 16) & TraceFlags.SAMPLED,
              isRemote: true,
            });
      const span = tracer.startSpan(name, { kind, ...(attributes ? { attributes } : {}) }, context);
      const sc = span.spanContext();
      let ended = false;
      return {
        traceparent: `00-${sc.traceId}-${sc.spanId}-0${sc.traceFlags & TraceFlags.SAMPLED}`,
        end(error) {
          if (ended) return;
          ended = true;
          // Only the error's code: its message may quote event data or secrets, and spans are
          // stored in plaintext and shipped to collectors.
          if (error !== undefined) span.setStatus({ code: SpanStatusCode.ERROR, message: errorCode(error) });
          span.end();
        },
      };
    },
    close: () => provider.shutdown(),
  };
}

function errorCode(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : "error";
}

/** Tracing that records nothing but still hands a valid traceparent on (benchmarks: tracing off). */
export function noTracing(next: (parent?: string) => string): Tracing {
  return {
    start: (_name, parent) => ({ traceparent: next(parent), end() {} }),
    close: async () => undefined,
  };
}

export { SpanKind };
