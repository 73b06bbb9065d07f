import type { SharedState } from "./store.ts";

/** Admission limits of one target, beyond its concurrency. */
export interface AdmissionLimits {
  /** Most attempts started per second (a token bucket holding `burst`, by default one second's worth). */
  readonly ratePerSec?: number;
  /** Attempts the rate bucket holds. @default max(1, ratePerSec) */
  readonly burst?: number;
  /** Most attempts per UTC day; past it, deliveries are held (not dropped) until the next day. */
  readonly dailyInvocations?: number;
}

export interface Admission {
  /** How many attempts `target` may start now (Infinity when unlimited). */
  allowance(target: string, now: number): Promise<number>;
  /**
   * Takes up to `n` attempts from the rate and the daily budget (counted atomically in shared state,
   * so every worker draws from one budget); resolves to how many may start now.
   */
  take(target: string, n: number, now: number): Promise<number>;
  /** When `target` may next start an attempt, if it is held now. */
  nextChance(target: string, now: number): number | undefined;
  /** Which limit holds the target back now, if any (`throttle`: a detector's lowered rate). */
  holding(target: string): "budget" | "rate_limit" | "throttle" | undefined;
}

interface State {
  limits: AdmissionLimits;
  tokens: number;
  at: number;
  /** The bucket of a detector's throttle while one lasts (its rate, tokens, last refill). */
  throttle: { rate: number; tokens: number; at: number } | undefined;
  day: string;
  used: number;
  loaded: boolean;
}

/** Increments tried before a take gives up (other workers drew from the budget meanwhile). */
const GRANT_TRIES = 3;

/**
 * Admission control: a rate bucket per target (per process) and a daily budget per target, a durable
 * counter in shared state (per target and day), so neither a restart nor a second worker hands out a
 * fresh budget. `onExhausted` is called once, by the worker whose take used the budget up.
 * `throttle`, when given, is asked for a detector's lowered rate of a target (per second): while it
 * answers, a second bucket at that rate (burst max(1, ceil(rate))) holds the target back too.
 */
export function createAdmission(
  state: SharedState,
  limits: ReadonlyMap<string, AdmissionLimits>,
  onExhausted: (target: string, limit: number, day: string) => void,
  onError: (err: unknown) => void,
  throttle?: (target: string, now: number) => number | undefined,
): Admission {
  const states = new Map<string, State>();
  const stateOf = (target: string): State | undefined => {
    let s = states.get(target);
    if (s === undefined && throttle !== undefined) {
      // A target without limits of its own can still be throttled.
      s = { limits: {}, tokens: 0, at: 0, throttle: undefined, day: "", used: 0, loaded: false };
      states.set(target, s);
    }
    return s;
  };
  for (const [name, l] of limits)
    states.set(name, {
      limits: l,
      tokens: l.ratePerSec ?? 0,
      at: 0,
      throttle: undefined,
      day: "",
      used: 0,
      loaded: false,
    });

  async function current(target: string, now: number): Promise<State | undefined> {
    const s = stateOf(target);
    if (s === undefined) return undefined;
    refillThrottle(s, throttle?.(target, now), now);
    const day = utcDay(now);
    if (s.limits.dailyInvocations !== undefined && (!s.loaded || s.day !== day)) {
      s.day = day;
      s.used = await state.cursor(budgetCursor(target, day));
      s.loaded = true;
    }
    if (s.limits.ratePerSec !== undefined) {
      const rate = s.limits.ratePerSec;
      const burst = s.limits.burst ?? Math.max(1, rate);
      s.tokens = s.at === 0 ? burst : Math.min(burst, s.tokens + ((now - s.at) / 1000) * rate);
      s.at = now;
    }
    return s;
  }

  return {
    async allowance(target, now) {
      const s = await current(target, now);
      if (s === undefined) return Number.POSITIVE_INFINITY;
      const byRate = Math.min(
        s.limits.ratePerSec === undefined ? Number.POSITIVE_INFINITY : Math.floor(s.tokens),
        s.throttle === undefined ? Number.POSITIVE_INFINITY : Math.floor(s.throttle.tokens),
      );
      const byBudget =
        s.limits.dailyInvocations === undefined
          ? Number.POSITIVE_INFINITY
          : s.limits.dailyInvocations - s.used;
      return Math.max(0, Math.min(byRate, byBudget));
    },
    async take(target, n, now) {
      const s = states.get(target);
      if (s === undefined || n <= 0) return Math.max(0, n);
      const granted = await grant(s, target, n, now);
      if (s.limits.ratePerSec !== undefined) s.tokens -= granted;
      if (s.throttle !== undefined) s.throttle.tokens -= granted;
      return granted;
    },
    holding(target) {
      const s = states.get(target);
      if (s === undefined) return undefined;
      if (s.limits.dailyInvocations !== undefined && s.used >= s.limits.dailyInvocations) return "budget";
      if (s.limits.ratePerSec !== undefined && s.tokens < 1) return "rate_limit";
      if (s.throttle !== undefined && s.throttle.tokens < 1) return "throttle";
      return undefined;
    },
    nextChance(target, now) {
      const s = states.get(target);
      if (s === undefined) return undefined;
      if (s.limits.dailyInvocations !== undefined && s.used >= s.limits.dailyInvocations) {
        return Date.parse(`${utcDay(now)}T00:00:00Z`) + 86_400_000;
      }
      const waits: number[] = [];
      if (s.limits.ratePerSec !== undefined && s.tokens < 1)
        waits.push(Math.ceil(((1 - s.tokens) / s.limits.ratePerSec) * 1000));
      if (s.throttle !== undefined && s.throttle.tokens < 1)
        waits.push(Math.ceil(((1 - s.throttle.tokens) / s.throttle.rate) * 1000));
      return waits.length === 0 ? undefined : now + Math.max(...waits);
    },
  };

  // Draws `n` from the day's budget, or as many as are left; others may be drawing at the same time.
  async function grant(s: State, target: string, n: number, now: number): Promise<number> {
    const budget = s.limits.dailyInvocations;
    if (budget === undefined) return n;
    const name = budgetCursor(target, utcDay(now));
    let want = Math.min(n, budget - s.used);
    for (let tries = 0; tries < GRANT_TRIES && want > 0; tries++) {
      let after: number | undefined;
      try {
        after = await state.increment(name, want, budget);
      } catch (err) {
        onError(err);
        return 0;
      }
      if (after !== undefined) {
        s.used = after;
        if (after >= budget && after - want < budget) onExhausted(target, budget, s.day);
        return want;
      }
      s.used = await state.cursor(name);
      want = Math.min(want, budget - s.used);
    }
    return 0;
  }
}

/** Refills (or starts, or ends) the throttle bucket of `s` for the rate asked now. */
function refillThrottle(s: State, rate: number | undefined, now: number): void {
  if (rate === undefined || !(rate > 0)) {
    s.throttle = undefined;
    return;
  }
  const burst = Math.max(1, Math.ceil(rate));
  const t = s.throttle;
  s.throttle =
    t === undefined || t.rate !== rate
      ? { rate, tokens: Math.min(burst, t?.tokens ?? burst), at: now }
      : { rate, tokens: Math.min(burst, t.tokens + ((now - t.at) / 1000) * rate), at: now };
}

function utcDay(now: number): string {
  return new Date(now).toISOString().slice(0, 10);
}

function budgetCursor(target: string, day: string): string {
  return `budget:${target}:${day}`;
}
