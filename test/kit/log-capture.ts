import { createLogger, type Logger } from "../../src/observe/index.ts";

export interface LogLine {
  level: number;
  msg: string;
  fn?: string;
  eventId?: string;
  [key: string]: unknown;
}

/** A real logger whose JSON lines land in `lines`, with a way to wait for one. */
export function captureLogs(): {
  logger: Logger;
  lines: LogLine[];
  waitFor: (match: (l: LogLine) => boolean, ms?: number) => Promise<LogLine>;
} {
  const lines: LogLine[] = [];
  const waiters: { match: (l: LogLine) => boolean; resolve: (l: LogLine) => void }[] = [];
  const logger = createLogger({
    level: "debug",
    destination: {
      write(chunk: string) {
        const line = JSON.parse(chunk) as LogLine;
        lines.push(line);
        for (const w of [...waiters]) {
          if (w.match(line)) {
            waiters.splice(waiters.indexOf(w), 1);
            w.resolve(line);
          }
        }
      },
    },
  });
  return {
    logger,
    lines,
    waitFor(match, ms = 15000) {
      const found = lines.find(match);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no matching log line within ${ms} ms`)), ms);
        waiters.push({
          match,
          resolve: (l) => {
            clearTimeout(timer);
            resolve(l);
          },
        });
      });
    },
  };
}
