import { PalisadeError } from "../errors.ts";
import type { RateLimit } from "../manifest/index.ts";
import {
  GATEWAY_CLIENT_BLOCKED,
  GATEWAY_OVER_BUDGET,
  GATEWAY_PRINCIPAL_HELD,
  GATEWAY_RATE_LIMITED,
} from "./errors.ts";

/** What a held principal is told to wait before it tries again (the hold has no set end). */
const HELD_RETRY_SEC = 60;

import type { RouteDeps } from "./gateway-options.ts";
import { DEFAULT_CLIENT_RATE_LIMIT, type RateLimitStore } from "./rate-limiter.ts";

/**
 * Takes `cost` tokens from `key`'s bucket or throws a 429 whose details carry Retry-After seconds.
 * Returns a promise only when the store answered with one (a shared store), so the embedded path
 * stays synchronous; a store that cannot answer rejects with its own 503.
 */
export function enforceRateLimit(
  store: RateLimitStore,
  key: string,
  limit: RateLimit,
  cost: number,
  what: string,
): undefined | Promise<void> {
  const waitMs = store.take(key, limit, cost, Date.now());
  if (typeof waitMs === "number") return check(waitMs, limit, what);
  return waitMs.then((ms) => check(ms, limit, what));
}

/** The per-address limit every source route applies first, before any credential is looked at. */
/**
 * Refuses a blocked client address first (`blocked` says for how many seconds more), before its
 * rate limit and before any credential it sends is looked at.
 */
export function enforceClientAdmission(deps: RouteDeps, ip: string): undefined | Promise<void> {
  const retryAfterSec = deps.clientBlocked?.(ip);
  if (retryAfterSec !== undefined)
    throw new PalisadeError(
      GATEWAY_CLIENT_BLOCKED,
      `Address ${ip} is blocked for ${retryAfterSec} s more after repeated authentication failures`,
      { status: 429, details: { retryAfterSec } },
    );
  return enforceClientRateLimit(deps.rateLimits, ip);
}

/**
 * Refuses a principal an operator holds (429: its sender should try again later; nothing it sent
 * before is lost), and one whose daily spend budget is used up when set to `reject`.
 */
export function enforcePrincipalAdmission(deps: RouteDeps, principal: string): void {
  if (deps.principalHeld?.(principal) === true)
    throw new PalisadeError(
      GATEWAY_PRINCIPAL_HELD,
      `Principal "${principal}" is held by an operator (palisade quarantine list); try again later`,
      { status: 429, details: { retryAfterSec: HELD_RETRY_SEC } },
    );
  const retryAfterSec = deps.principalOverBudget?.(principal);
  if (retryAfterSec !== undefined)
    throw new PalisadeError(
      GATEWAY_OVER_BUDGET,
      `Principal "${principal}" used up its spend budget for today (principals.${principal}.costPerDay); retry after ${retryAfterSec} s, when the UTC day ends`,
      { status: 429, details: { retryAfterSec } },
    );
}

export function enforceClientRateLimit(store: RateLimitStore, ip: string): undefined | Promise<void> {
  return enforceRateLimit(store, `ip:${ip}`, DEFAULT_CLIENT_RATE_LIMIT, 1, `address ${ip}`);
}

function check(waitMs: number, limit: RateLimit, what: string): undefined {
  if (waitMs === 0) return undefined;
  const retryAfterSec = Math.max(1, Math.ceil(waitMs / 1000));
  throw new PalisadeError(
    GATEWAY_RATE_LIMITED,
    `Rate limit of ${what} exceeded (${limit.perSecond}/s, burst ${limit.burst}); retry after ${retryAfterSec} s`,
    {
      status: 429,
      details: { retryAfterSec },
    },
  );
}
