import { type DestinationStream, type Logger, pino } from "pino";

export type { Logger } from "pino";

/** Log levels a user may choose. @default "info" */
export type LogLevelName = "debug" | "info" | "warn" | "error" | "silent";

/**
 * Creates the structured (JSON lines) logger every domain writes to. Fields that commonly carry
 * credentials are redacted wherever they appear, so a careless log call cannot leak them.
 */
export function createLogger(
  options: { level?: LogLevelName; destination?: DestinationStream } = {},
): Logger {
  return pino(
    {
      level: options.level ?? "info",
      base: null,
      redact: {
        paths: [
          "authorization",
          "*.authorization",
          "headers.authorization",
          "apiKey",
          "*.apiKey",
          "password",
          "*.password",
          "secret",
          "*.secret",
          "token",
          "*.token",
        ],
        censor: "[redacted]",
      },
    },
    options.destination ?? pino.destination({ dest: 1, sync: false }),
  );
}
