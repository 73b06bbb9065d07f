export { createLogger, formatPretty, type Logger, type LogLevelName } from "./create-logger.ts";
export { createMetrics, type Metrics, resetGauges } from "./create-metrics.ts";
export { OBSERVE_OTEL_ENV } from "./errors.ts";
export {
  type NatsTraceStream,
  natsTraceExporter,
  openNatsTraceStream,
  readNatsTraces,
  TRACES_MAX_AGE_MS,
  TRACES_MAX_BYTES,
} from "./nats-trace-store.ts";
export { coldStartAttribute, eventSpanAttributes, invocationSpanAttributes } from "./span-attributes.ts";
export type { StoredSpan } from "./stored-span.ts";
export { readTraces, traceStoreExporter } from "./trace-store.ts";
export {
  type ActiveSpan,
  checkTracingEnv,
  createTracing,
  noTracing,
  SpanKind,
  type TraceContext,
  type Tracing,
  type TracingOptions,
} from "./tracing.ts";
