import { usageError } from "./usage-error.ts";

/** An ISO 8601 instant, or a duration ago: 30s, 15m, 2h, 7d (`--since`, `--until`). */
export function parseInstant(value: string, now: number, flag: string): number {
  const ago = /^(\d+)(s|m|h|d)$/.exec(value);
  if (ago)
    return (
      now -
      Number(ago[1]) * { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[ago[2] as "s" | "m" | "h" | "d"]
    );
  const at = Date.parse(value);
  if (Number.isNaN(at))
    throw usageError(`${flag} "${value}" is neither an ISO 8601 time nor a duration like 30m, 2h, 7d`);
  return at;
}
