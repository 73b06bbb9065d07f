import { type DestinationStream, type Logger, pino } from "pino";

export type { Logger } from "pino";

/** Log levels a user may choose. @default "info" */
export type LogLevelName = "debug" | "info" | "warn" | "error" | "silent";

/**
 * Creates the structured (JSON lines) logger every domain writes to. Fields that commonly carry
 * credentials are redacted wherever they appear, so a careless log call cannot leak them.
 */
export function createLogger(
  options: { level?: LogLevelName; destination?: DestinationStream; pretty?: boolean } = {},
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
    options.destination ?? (options.pretty ? prettyStdout() : pino.destination({ dest: 1, sync: false })),
  );
}

const LEVELS: Record<number, string> = {
  10: "TRACE",
  20: "DEBUG",
  30: "INFO ",
  40: "WARN ",
  50: "ERROR",
  60: "FATAL",
};
const COLORS: Record<number, string> = { 20: "\x1b[90m", 40: "\x1b[33m", 50: "\x1b[31m", 60: "\x1b[31m" };

/**
 * Human-readable lines for a terminal (`palisade dev` when stdout is a TTY): time, level, function,
 * message, then the other fields as JSON. The same redaction has already applied.
 */
function prettyStdout(): DestinationStream {
  const color = wantsColor(process.stdout);
  return { write: (line: string) => process.stdout.write(formatPretty(line, color)) };
}

/**
 * Whether to colour what goes to `stream`: only a terminal, and never when NO_COLOR is set to a
 * non-empty value (https://no-color.org).
 */
function wantsColor(stream: { readonly isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  return stream.isTTY === true && (env.NO_COLOR ?? "") === "";
}

/** One JSON log line as a human-readable line, with ANSI colours unless `color` is false. */
export function formatPretty(line: string, color = true): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const { level, time, msg, fn, ...rest } = entry;
  const n = Number(level);
  const clock = new Date(Number(time)).toISOString().slice(11, 23);
  const [on, dim, off] = color ? [COLORS[n] ?? "", "\x1b[90m", "\x1b[0m"] : ["", "", ""];
  const fields = Object.keys(rest).length > 0 ? ` ${dim}${JSON.stringify(rest)}${off}` : "";
  return `${clock} ${on}${LEVELS[n] ?? String(level)}${off} ${fn ? `[${String(fn)}] ` : ""}${String(msg)}${fields}\n`;
}
