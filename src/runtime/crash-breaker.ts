/**
 * Crash backoff and circuit breaker of one function. Each crash of one of its processes (an exit the
 * host did not ask for) delays the next start exponentially; CRASH_POLICY.crashes crashes within
 * `windowMs` open the circuit: the function is unavailable, its invocations are held (not failed)
 * and no process starts until `coolDownMs` has passed. Then one more start is allowed: an invocation
 * that completes closes the circuit, another crash opens it again.
 */

export interface CrashPolicy {
  /** Delay before the first start after a crash; doubled for each crash in a row. */
  readonly initialDelayMs: number;
  /** Longest delay between starts (outside an open circuit). */
  readonly maxDelayMs: number;
  /** Crashes within `windowMs` that open the circuit. */
  readonly crashes: number;
  readonly windowMs: number;
  /** How long an open circuit keeps the function unavailable. */
  readonly coolDownMs: number;
}

/** Defaults: 250 ms doubling to 30 s; 5 crashes within 60 s make the function unavailable for 60 s. */
export const CRASH_POLICY: CrashPolicy = Object.freeze({
  initialDelayMs: 250,
  maxDelayMs: 30_000,
  crashes: 5,
  windowMs: 60_000,
  coolDownMs: 60_000,
});

export interface CrashBreaker {
  /** Records a crash at `now`; says "opened" when this crash makes the function unavailable. */
  crashed(now: number): "opened" | undefined;
  /** Records an invocation that completed; says "closed" when this makes the function available again. */
  worked(): "closed" | undefined;
  /** How long to wait from `now` before a process may start (0: now). */
  delay(now: number): number;
  /** Whether the circuit is open at `now` (the function is unavailable). */
  isOpen(now: number): boolean;
  /** Whether the circuit opened and has not closed yet (open or waiting for its trial start). */
  tripped(): boolean;
}

/** Creates the breaker of one function. */
export function createCrashBreaker(policy: CrashPolicy = CRASH_POLICY): CrashBreaker {
  let recent: number[] = [];
  let streak = 0;
  let lastCrash = 0;
  /** When the open circuit lets a trial start through; undefined while closed. */
  let openUntil: number | undefined;

  return {
    crashed(now) {
      streak++;
      lastCrash = now;
      recent = [...recent.filter((t) => now - t < policy.windowMs), now];
      // A crash of the trial start (or of any process while tripped) opens it again.
      if (openUntil !== undefined) {
        openUntil = now + policy.coolDownMs;
        return undefined;
      }
      if (recent.length < policy.crashes) return undefined;
      openUntil = now + policy.coolDownMs;
      return "opened";
    },
    worked() {
      streak = 0;
      recent = [];
      if (openUntil === undefined) return undefined;
      openUntil = undefined;
      return "closed";
    },
    delay(now) {
      if (openUntil !== undefined && now < openUntil) return openUntil - now;
      if (streak === 0) return 0;
      const backoff = Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** (streak - 1));
      // After a cool-down, the trial start goes at once.
      if (openUntil !== undefined) return 0;
      return Math.max(0, lastCrash + backoff - now);
    },
    isOpen: (now) => openUntil !== undefined && now < openUntil,
    tripped: () => openUntil !== undefined,
  };
}
