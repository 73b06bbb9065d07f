import type { SharedState } from "../bus/index.ts";
import { rootOf } from "../events/index.ts";
import type { AppModel } from "../manifest/index.ts";
import type { SignalOf, Signals } from "../signals/index.ts";
import { costOf, endOfUtcDay, NANO_PER_USD, reserveOf, totalOf, utcDay } from "./cost-model.ts";

/** How often spend is added to the shared counters (and other nodes' spend read back). */
export const COST_FLUSH_MS = 1000;

/** Prefix of the spend counters in shared state: `cost:<kind>:<name>:<day>` (nano-dollars). */
export const COST_PREFIX = "cost:";
/** Prefix of the attempt counters: `attempts:<kind>:<name>:<day>`. */
export const ATTEMPTS_PREFIX = "attempts:";

/** Who a budget or a spend counter is for. */
export interface CostScope {
  readonly kind: "function" | "principal";
  readonly name: string;
}

export interface CostMeterParts {
  app: AppModel;
  state: SharedState;
  signals: Signals;
  /** A scope's budget is used up for `day` (called once per scope and day, by this process). */
  onExhausted: (scope: CostScope, limitUsd: number, day: string) => void;
  /** Spend of an attempt, in US dollars (metrics). */
  onSpent?: (fn: string, principal: string, usd: number) => void;
  onError: (err: unknown) => void;
  now?: () => number;
}

export interface CostMeter {
  /**
   * Whether an attempt of `fn` for `event` fits in today's budgets (the function's and its chain's
   * principal's) with its reserve added: false holds it until the next UTC day.
   */
  admits(fn: string, event: SignalOf<"invocation.started">["event"], payloadBytes: () => number): boolean;
  /** Seconds until `principal` may send again, while it is over budget and set to `reject`. */
  refuses(principal: string): number | undefined;
  /** Writes what is not written yet and stops. */
  close(): Promise<void>;
}

/** Name of a scope's counter for `day`. */
export function costCounter(prefix: string, scope: CostScope, day: string): string {
  return `${prefix}${scope.kind}:${scope.name}:${day}`;
}

interface Attempt {
  readonly fn: string;
  readonly principal: string;
  readonly reserve: number;
  calls: number;
  egressBytes: number;
}

/**
 * The usage meter and cost budgets (issue 15): every attempt is priced by the app's cost model when
 * it settles (`invocation.cost`), and its spend is added to per-day counters of its function and of
 * the principal whose event started its chain, in the deployment's shared state, once a second. A
 * budget (`limits.costPerDay`, `principals.<p>.costPerDay`) is checked before each attempt against
 * what is spent (as last read: other nodes' spend arrives within a flush), what this process has not
 * written yet, and what attempts in flight here reserved; an attempt that would pass it waits.
 */
export function openCostMeter(parts: CostMeterParts): CostMeter {
  const { app, state, signals } = parts;
  const now = parts.now ?? Date.now;
  const attempts = new Map<string, Attempt>();
  /** Spend (and attempts) not yet added to the shared counters, by counter name. */
  const unwritten = new Map<string, number>();
  /** Spend in the shared counters as last read, by counter name. */
  const written = new Map<string, number>();
  /** Reserves of attempts running here, by scope key. */
  const reserved = new Map<string, number>();
  /** Scopes reported exhausted, by `<scope key>\0<day>`. */
  const exhausted = new Set<string>();
  const budgeted: CostScope[] = [
    ...[...app.functions.values()].flatMap((f) =>
      f.limits.costPerDay === undefined ? [] : [{ kind: "function" as const, name: f.name }],
    ),
    ...[...app.principals.values()].flatMap((p) =>
      p.costPerDay === undefined ? [] : [{ kind: "principal" as const, name: p.name }],
    ),
  ];
  const keyOf = (scope: CostScope) => `${scope.kind}:${scope.name}`;
  const add = (map: Map<string, number>, key: string, by: number) => map.set(key, (map.get(key) ?? 0) + by);

  function budgetOf(scope: CostScope): number | undefined {
    const usd =
      scope.kind === "function"
        ? app.functions.get(scope.name)?.limits.costPerDay
        : app.principals.get(scope.name)?.costPerDay;
    return usd === undefined ? undefined : usd * NANO_PER_USD;
  }

  function spent(scope: CostScope, day: string): number {
    const counter = costCounter(COST_PREFIX, scope, day);
    return (written.get(counter) ?? 0) + (unwritten.get(counter) ?? 0) + (reserved.get(keyOf(scope)) ?? 0);
  }

  /** Whether `scope` can take `more` today; reports it exhausted (once a day) when it cannot. */
  function fits(scope: CostScope, more: number, at: number): boolean {
    const budget = budgetOf(scope);
    if (budget === undefined) return true;
    const day = utcDay(at);
    if (spent(scope, day) + more <= budget) return true;
    const once = `${keyOf(scope)}\0${day}`;
    if (!exhausted.has(once)) {
      exhausted.add(once);
      parts.onExhausted(scope, budget / NANO_PER_USD, day);
    }
    return false;
  }

  const stops = [
    signals.on("invocation.started", (s) => {
      const fn = app.functions.get(s.fn);
      if (fn === undefined) return;
      const principal = rootOf(s.event).principal;
      const reserve = reserveOf(app.prices, fn, s.payloadBytes);
      attempts.set(`${s.fn}\0${s.event.id}`, { fn: s.fn, principal, reserve, calls: 0, egressBytes: 0 });
      add(reserved, keyOf({ kind: "function", name: s.fn }), reserve);
      add(reserved, keyOf({ kind: "principal", name: principal }), reserve);
    }),
    signals.on("invocation.returned", (s) => {
      const a = attempts.get(`${s.fn}\0${s.eventId}`);
      if (a === undefined) return;
      attempts.delete(`${s.fn}\0${s.eventId}`);
      add(reserved, keyOf({ kind: "function", name: a.fn }), -a.reserve);
      add(reserved, keyOf({ kind: "principal", name: a.principal }), -a.reserve);
    }),
    signals.on("capability.used", (s) => {
      const a = attempts.get(`${s.fn}\0${s.eventId}`);
      if (a === undefined) return;
      a.calls += 1;
      a.egressBytes += s.bytes ?? 0;
    }),
    signals.on("invocation.settled", (s) => {
      const key = `${s.fn}\0${s.eventId}`;
      const a = attempts.get(key);
      if (a === undefined || s.durationMs === undefined) return;
      attempts.delete(key);
      add(reserved, keyOf({ kind: "function", name: a.fn }), -a.reserve);
      add(reserved, keyOf({ kind: "principal", name: a.principal }), -a.reserve);
      const cost = costOf(app.prices, {
        durationMs: s.durationMs,
        memoryMb: app.functions.get(a.fn)?.limits.memoryMb ?? 0,
        payloadBytes: s.payloadBytes ?? 0,
        egressBytes: a.egressBytes,
        capabilityCalls: a.calls,
      });
      const total = totalOf(cost);
      const day = utcDay(now());
      for (const scope of [
        { kind: "function" as const, name: a.fn },
        { kind: "principal" as const, name: a.principal },
      ]) {
        add(unwritten, costCounter(COST_PREFIX, scope, day), total);
        add(unwritten, costCounter(ATTEMPTS_PREFIX, scope, day), 1);
      }
      parts.onSpent?.(a.fn, a.principal, total / NANO_PER_USD);
      signals.emit({
        kind: "invocation.cost",
        fn: a.fn,
        eventId: s.eventId,
        principal: a.principal,
        nanoUsd: total,
        parts: cost,
      });
    }),
  ];

  let flushing: Promise<void> | undefined;
  async function flush(): Promise<void> {
    const batch = [...unwritten];
    unwritten.clear();
    for (const [counter, by] of batch) {
      try {
        const after = await state.increment(counter, by, Number.MAX_SAFE_INTEGER);
        if (after !== undefined && counter.startsWith(COST_PREFIX)) written.set(counter, after);
      } catch (err) {
        add(unwritten, counter, by); // written on the next flush
        parts.onError(err);
      }
    }
    // Other nodes' spend on budgeted scopes, and a new day's start.
    const day = utcDay(now());
    for (const scope of budgeted) {
      const counter = costCounter(COST_PREFIX, scope, day);
      try {
        written.set(counter, await state.cursor(counter));
      } catch (err) {
        parts.onError(err);
      }
    }
    for (const counter of written.keys()) if (!counter.endsWith(day)) written.delete(counter);
  }
  const timer = setInterval(() => {
    flushing ??= flush().finally(() => {
      flushing = undefined;
    });
  }, COST_FLUSH_MS);
  timer.unref();
  // Spend already counted today (before a restart, or by other nodes) counts from the first check.
  flushing = flush().finally(() => {
    flushing = undefined;
  });

  return {
    admits(fn, event, payloadBytes) {
      const spec = app.functions.get(fn);
      if (spec === undefined || budgeted.length === 0) return true;
      const at = now();
      const reserve = reserveOf(app.prices, spec, payloadBytes());
      const fnOk = fits({ kind: "function", name: fn }, reserve, at);
      const principalOk = fits({ kind: "principal", name: rootOf(event).principal }, reserve, at);
      return fnOk && principalOk;
    },
    refuses(principal) {
      const spec = app.principals.get(principal);
      if (spec?.costPerDay === undefined || spec.overBudget !== "reject") return undefined;
      const at = now();
      const scope = { kind: "principal" as const, name: principal };
      const day = utcDay(at);
      // Over budget: an attempt of its chains was held for it today, or its spend reached it.
      const over =
        exhausted.has(`${keyOf(scope)}\0${day}`) || spent(scope, day) >= spec.costPerDay * NANO_PER_USD;
      return over ? Math.max(1, Math.ceil((endOfUtcDay(at) - at) / 1000)) : undefined;
    },
    async close() {
      clearInterval(timer);
      for (const stop of stops) stop();
      await flushing;
      await flush();
    },
  };
}
