export { createLogger, formatPretty, type Logger, type LogLevelName } from "./create-logger.ts";
export { createMetrics, type Metrics } from "./create-metrics.ts";
export { readTraces, type StoredSpan, traceStoreExporter } from "./trace-store.ts";
export {
  type ActiveSpan,
  createTracing,
  noTracing,
  SpanKind,
  type Tracing,
  type TracingOptions,
} from "./tracing.ts";
