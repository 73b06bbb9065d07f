export { createLogger, type Logger, type LogLevelName } from "./create-logger.ts";
