export { createLogger, type Logger, type LogLevelName } from "./create-logger.ts";
export { createMetrics, type Metrics } from "./create-metrics.ts";
