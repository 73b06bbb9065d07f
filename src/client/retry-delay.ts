/** First backoff ceiling; each retry doubles it (full jitter: a uniform wait below the ceiling). */
export const BASE_RETRY_DELAY_MS = 500;
/** Largest backoff ceiling. */
export const MAX_RETRY_DELAY_MS = 10_000;
/**
 * Longest `Retry-After` the client waits out by itself; a longer one (a blocked client, a long
 * outage) ends the send at once with the wait in `retryAfterMs`, for the caller to schedule.
 */
export const MAX_RETRY_AFTER_MS = 30_000;

/**
 * The wait in ms that a `Retry-After` header asks for (RFC 9110 §10.2.3: delay-seconds or an
 * HTTP-date), or undefined when there is none or it cannot be read.
 */
export function retryAfterMs(header: string | null, now = Date.now()): number | undefined {
  if (header === null) return undefined;
  const text = header.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** Exponential backoff with full jitter before retry number `retry` (1 for the first retry). */
export function backoffMs(retry: number, random: () => number = Math.random): number {
  const ceiling = Math.min(MAX_RETRY_DELAY_MS, BASE_RETRY_DELAY_MS * 2 ** (retry - 1));
  return Math.floor(random() * ceiling);
}
