import { toPalisadeError } from "../errors.ts";
import type { RetryPolicy } from "../manifest/index.ts";
import { type AdmissionLimits, createAdmission } from "./admission.ts";
import { retryDelay } from "./backoff.ts";
import type { DeadLetterReason, Delivery, DeliveryRef, Outcome, RefusedDelivery } from "./event-log.ts";
import type { DeliveryQueue, SharedState } from "./store.ts";

/**
 * A delivery target (a function): how many attempts may run at once and how failures are retried.
 * What it subscribes to is the store's business (its subscriptions route and check deliveries).
 */
export interface Target {
  readonly name: string;
  readonly concurrency: number;
  /**
   * Deliveries handed to `invoke` per unit of concurrency: the target queues them and runs at most
   * `concurrency` at once (the sandbox pool sends them to its processes in batches). @default 1
   */
  readonly batch?: number;
  readonly retry: RetryPolicy;
  /** Rate and daily budget; deliveries beyond them wait, durably. */
  readonly admission?: AdmissionLimits;
}

export interface DispatcherOptions {
  /** Where due work is taken from and outcomes are recorded. */
  queue: DeliveryQueue;
  /** Where daily budgets are counted (shared by every worker of the deployment). */
  state: SharedState;
  targets: readonly Target[];
  /** Runs one attempt; a rejection is a failed attempt. */
  invoke: (target: string, delivery: Delivery) => Promise<void>;
  /**
   * Observes every settled attempt (logging, metrics, audit), and every delivery refused without an
   * attempt (`corrupt`, `unauthenticated`, `not-subscribed`): those settle as `failed` with the reason.
   */
  onSettled?: (delivery: DeliveryRef, outcome: Outcome) => void;
  /**
   * Whether a target is held (quarantined) now: it starts nothing, and what it had taken goes back to
   * the store, pending, until the hold is lifted and `notify` names it. Asked every round.
   */
  held?: (target: string) => boolean;
  /**
   * Whether one delivery may start (asked when it is taken and again before it starts): `wait` sets
   * it aside, claimed and unattempted, until a later round finds it may run (its chain's hold was
   * lifted: `notify`); `discard` dead-letters it with reason `quarantined` (an operator discarded
   * its chain's held work). At most MAX_WAITING wait in memory; more go back to the store.
   */
  verdict?: (target: string, delivery: Delivery) => Verdict;
  /**
   * A detector's lowered start rate of a target (per second) while it lasts, undefined otherwise:
   * the target's deliveries past it wait, pending (counted as a `throttle` hold).
   */
  throttle?: (target: string, now: number) => number | undefined;
  /** Called when a target's due deliveries start being held back: rate limit, budget or quarantine. */
  onHold?: (target: string, hold: DispatchHold) => void;
  /** Called once when a target's daily invocation budget runs out. */
  onBudgetExhausted?: (target: string, limit: number, day: string) => void;
  /** Source of retry jitter. @default Math.random */
  random?: () => number;
  /** Observes errors of the dispatcher itself (storage failures); it keeps running and retries. */
  onError?: (err: unknown) => void;
}

/** What may happen to one delivery now (see `verdict`). */
export type Verdict = "run" | "wait" | "discard";

/** Why a target's due deliveries wait. */
export type DispatchHold = "budget" | "rate_limit" | "throttle" | "quarantine";

export interface Dispatcher {
  /** Wakes the dispatcher: `targets` (undefined: any target) may have new work or a free slot. */
  notify(targets?: readonly string[]): void;
  /** Stops taking new work and waits for attempts in flight. */
  close(): Promise<void>;
}

/** What an attempt that never ran (its target was held meanwhile) comes back as. */
const NOT_ATTEMPTED = Symbol("not attempted");

const POLL_MS = 1000;
/** Deliveries set aside (`verdict` wait) in memory at once, over every target. */
const MAX_WAITING = 1000;
const PREFETCH = 256;
const ERROR_BACKOFF_MS = 1000;

/**
 * Creates the dispatcher: takes due deliveries from each target's queue and runs them within the
 * target's concurrency and admission limits, settling each as delivered, retry-later or failed. All
 * state lives in the store, so a restart (or another worker) resumes where the last one stopped.
 */
export function createDispatcher(options: DispatcherOptions): Dispatcher {
  const { queue: store, invoke } = options;
  const admission = createAdmission(
    options.state,
    new Map(options.targets.flatMap((t) => (t.admission ? [[t.name, t.admission] as const] : []))),
    (target, limit, day) => options.onBudgetExhausted?.(target, limit, day),
    (err) => options.onError?.(err),
    options.throttle,
  );
  const random = options.random ?? Math.random;
  const targets = new Map(options.targets.map((t) => [t.name, t]));
  const claims = new Map<string, Set<string>>(options.targets.map((t) => [t.name, new Set<string>()]));
  const queues = new Map<string, Delivery[]>(options.targets.map((t) => [t.name, []]));
  // Deliveries whose chain is held (`verdict` wait), oldest first: claimed, never attempted.
  const waiting = new Map<string, Delivery[]>(options.targets.map((t) => [t.name, []]));
  let waitingCount = 0;
  const runningCount = new Map<string, number>();
  /** What holds each held target back now (counted once per change, not every round). */
  const held = new Map<string, DispatchHold>();
  const running = new Set<Promise<void>>();
  // Targets to look at in the next round: those woken (new work, a freed slot), or all of them (a
  // timer, a backend that cannot say). Each round costs a store query per target it looks at, so an
  // event for one function does not query the store for every function of the app.
  const woken = new Set<string>();
  let wakeAll = true;
  // Targets whose last take came back short: the store had nothing else due for them then. A freed
  // slot with an empty local queue asks the store again only once new work may have come (a wake-up
  // from the store or a timer, a retry recorded, a settle that failed), not on every attempt's end.
  const drained = new Set<string>();
  let pumping = false;
  let again = false;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  let timerAt = 0;

  // Due deliveries are taken PREFETCH at a time into a per-target queue, so the store is read once
  // per batch rather than once per attempt. `claimed` holds every delivery queued, running or
  // being settled, so none is started twice.
  async function fill(): Promise<void> {
    const now = Date.now();
    const all = wakeAll;
    const marked = new Set(woken);
    wakeAll = false;
    woken.clear();
    for (const [name, target] of targets) {
      const claimed = claims.get(name) ?? new Set<string>();
      const queue = queues.get(name) ?? [];
      if (!all && !marked.has(name) && queue.length === 0) continue;
      if (options.held?.(name) === true) {
        holdBack(name, queue, claimed);
        continue;
      }
      const slots = target.concurrency * (target.batch ?? 1) - (runningCount.get(name) ?? 0);
      if (slots <= 0) continue;
      if (queue.length < slots && !(queue.length === 0 && drained.has(name))) {
        const taken = await store.take(name, PREFETCH);
        if (taken.length < PREFETCH && store.shortTakeHolds === true) drained.add(name);
        else drained.delete(name);
        for (const d of taken) {
          if (claimed.has(key(d))) continue;
          claimed.add(key(d));
          if ("refused" in d) refuse(d, claimed);
          else if (sortOut(name, d, claimed)) queue.push(d);
        }
      }
      recheckWaiting(name, queue, claimed);
      const free = Math.min(slots, queue.length, await admission.allowance(name, now));
      const starting = queue.splice(0, free > 0 ? await admission.take(name, free, now) : 0);
      // Held while this round awaited the store: nothing starts (what was taken goes back).
      if (options.held?.(name) === true) {
        queue.unshift(...starting);
        holdBack(name, queue, claimed);
        continue;
      }
      for (const delivery of starting) if (sortOut(name, delivery, claimed)) start(target, delivery, claimed);
      // Held back by rate or budget: look again when admission allows.
      const chance =
        queue.length > 0 && starting.length < slots ? admission.nextChance(name, now) : undefined;
      if (chance !== undefined) arm(chance);
      // Count each time a target goes from flowing to held, not every round it stays held.
      const hold = chance === undefined ? undefined : admission.holding(name);
      if (hold !== undefined && held.get(name) !== hold) options.onHold?.(name, hold);
      if (hold === undefined) held.delete(name);
      else held.set(name, hold);
    }
  }

  // True when `d` may run now; else it was set aside (its chain is held) or dead-lettered.
  function sortOut(name: string, d: Delivery, claimed: Set<string>): boolean {
    const verdict = options.verdict?.(name, d) ?? "run";
    if (verdict === "run") return true;
    if (verdict === "discard") {
      discard(d, claimed);
      return false;
    }
    if (waitingCount < MAX_WAITING) {
      waiting.get(name)?.push(d);
      waitingCount += 1;
    } else {
      // Past the bound it waits in the store (pending) and is looked at again on the next poll.
      claimed.delete(key(d));
      store.giveBack(refOf(d));
      drained.add(name);
    }
    return false;
  }

  // Dead-lettered unattempted: an operator discarded the held work it belongs to.
  function discard(d: Delivery, claimed: Set<string>): void {
    const outcome: Outcome = {
      kind: "failed",
      reason: "quarantined",
      error: "its held work was discarded by an operator (palisade quarantine discard)",
    };
    const settling = record(refOf(d), outcome, claimed);
    running.add(settling);
    void settling.finally(() => running.delete(settling));
  }

  // Set-aside deliveries whose chain may run now go to the front of the queue, oldest first.
  function recheckWaiting(name: string, queue: Delivery[], claimed: Set<string>): void {
    const list = waiting.get(name);
    if (list === undefined || list.length === 0) return;
    const still: Delivery[] = [];
    const ready: Delivery[] = [];
    for (const d of list.splice(0)) {
      const verdict = options.verdict?.(name, d) ?? "run";
      if (verdict === "wait") still.push(d);
      else if (verdict === "run") ready.push(d);
      else {
        waitingCount -= 1;
        discard(d, claimed); // the verdict is not asked again: it may be given once
      }
    }
    waitingCount -= ready.length;
    list.push(...still);
    queue.unshift(...ready);
  }

  // A held target's prefetched work goes back to the store unattempted (still pending there, so an
  // operator may discard it); attempts already running finish.
  function holdBack(name: string, queue: Delivery[], claimed: Set<string>): void {
    const aside = waiting.get(name)?.splice(0) ?? [];
    waitingCount -= aside.length;
    queue.push(...aside);
    for (const d of queue.splice(0)) {
      claimed.delete(key(d));
      store.giveBack(refOf(d));
    }
    drained.delete(name);
    if (held.get(name) !== "quarantine") options.onHold?.(name, "quarantine");
    held.set(name, "quarantine");
  }

  // Never invoked and takes no slot: dead-lettered at once with the store's reason.
  function refuse(d: RefusedDelivery, claimed: Set<string>): void {
    const outcome: Outcome = { kind: "failed", ...d.refused };
    const settling = record(d, outcome, claimed);
    running.add(settling);
    void settling.finally(() => running.delete(settling));
  }

  async function record(d: DeliveryRef, outcome: Outcome, claimed: Set<string>): Promise<void> {
    try {
      await store.settle(d, outcome);
      options.onSettled?.(d, outcome);
      if (outcome.kind === "retry") {
        drained.delete(d.target);
        arm(outcome.at);
      }
    } catch (err) {
      // Not settled means still pending in the store: it is attempted again (at-least-once).
      options.onError?.(err);
      drained.delete(d.target);
    } finally {
      claimed.delete(key(d));
      notify([d.target]);
    }
  }

  function start(target: Target, delivery: Delivery, claimed: Set<string>): void {
    runningCount.set(target.name, (runningCount.get(target.name) ?? 0) + 1);
    const attempt = (async () => {
      const outcome = await attemptOnce(target, delivery);
      // The slot is free as soon as the attempt ends; the outcome is recorded meanwhile, many
      // settles to a commit. The delivery stays claimed until then, so it is not picked again.
      runningCount.set(target.name, (runningCount.get(target.name) ?? 1) - 1);
      if (outcome === NOT_ATTEMPTED) {
        // Held while it waited or ran (quarantine): back to the store, unattempted.
        claimed.delete(key(delivery));
        store.giveBack(refOf(delivery));
        drained.delete(target.name);
        notify([target.name]);
        return;
      }
      notify([target.name]);
      // Stopped mid-attempt (shutdown): leave it pending, not charged as an attempt.
      if (closed && outcome.kind !== "delivered") {
        claimed.delete(key(delivery));
        return;
      }
      await record(refOf(delivery), outcome, claimed);
    })();
    running.add(attempt);
    void attempt.finally(() => running.delete(attempt));
  }

  async function attemptOnce(target: Target, delivery: Delivery): Promise<Outcome | typeof NOT_ATTEMPTED> {
    try {
      await invoke(target.name, delivery);
      return { kind: "delivered" };
    } catch (err) {
      const e = toPalisadeError(err);
      if (e.notAttempted) return NOT_ATTEMPTED;
      // The domain that failed says when no retry can cure it (not retryable, with a reason): then
      // the delivery is dead-lettered at once. Anything else may be transient and is retried.
      if (!e.retryable && e.deadLetter !== undefined)
        return { kind: "failed", reason: e.deadLetter as DeadLetterReason, error: e.message };
      const attempt = delivery.attempts + 1;
      if (attempt >= target.retry.attempts)
        return { kind: "failed", reason: "attempts-exhausted", error: e.message };
      // A receiver's Retry-After says when, within the policy's longest delay; else the backoff.
      const delay =
        e.retryAfterMs === undefined
          ? retryDelay(target.retry, attempt, random)
          : Math.min(e.retryAfterMs, target.retry.maxDelayMs);
      return { kind: "retry", at: Date.now() + delay, error: e.message };
    }
  }

  async function pump(): Promise<void> {
    if (pumping) {
      again = true;
      return;
    }
    pumping = true;
    // Only a round that looked at every target (a timer, the poll, start-up) asks the store when the
    // next retry falls due: retries this dispatcher records arm the timer themselves, new work wakes
    // it, and the poll catches what other processes change.
    let askDue = false;
    try {
      do {
        do {
          again = false;
          if (wakeAll) askDue = true;
          await fill();
          // Yield to I/O between rounds: group commits (settles) must get to flush.
          if (again) await new Promise((r) => setImmediate(r));
        } while (again && !closed);
        if (askDue) await armTimer();
        else arm(Date.now() + POLL_MS);
        askDue = false;
        // A wake-up while the timer was being armed is another round, not a wait for the poll.
      } while (again && !closed);
    } catch (err) {
      options.onError?.(err);
      // The failed round may not have reached every target it was woken for: the next looks at all.
      wakeAll = true;
      drained.clear();
      if (!closed) arm(Date.now() + ERROR_BACKOFF_MS);
    } finally {
      pumping = false;
    }
  }

  // Wake up when the earliest retry falls due, and at least every POLL_MS: other processes
  // (`palisade dlq replay`) change delivery state too.
  async function armTimer(): Promise<void> {
    const now = Date.now();
    const at = await store.nextDue();
    arm(at !== undefined && at > now ? Math.min(at, now + POLL_MS) : now + POLL_MS);
  }

  // One timer, always for the earliest wake-up anyone asked for.
  function arm(at: number): void {
    if (closed || (timer !== undefined && timerAt <= at)) return;
    clearTimeout(timer);
    timerAt = at;
    timer = setTimeout(
      () => {
        timer = undefined;
        arrived();
      },
      Math.max(0, at - Date.now()),
    );
    timer.unref();
  }

  function notify(targets?: readonly string[]): void {
    if (closed) return;
    if (targets === undefined) wakeAll = true;
    else for (const t of targets) woken.add(t);
    void pump();
  }

  // The store's wake-ups (and timers) say new work may be due: drained targets look again.
  function arrived(targets?: readonly string[]): void {
    if (targets === undefined) drained.clear();
    else for (const t of targets) drained.delete(t);
    notify(targets);
  }

  const unwatch = store.watch(arrived);
  arrived();
  return {
    notify: arrived,
    async close() {
      closed = true;
      unwatch();
      clearTimeout(timer);
      await Promise.allSettled([...running]);
    },
  };
}

function key(d: { seq: number; target: string }): string {
  return `${d.seq}:${d.target}`;
}

function refOf(d: Delivery): DeliveryRef {
  return { seq: d.seq, target: d.target, attempts: d.attempts, eventId: d.event.id, type: d.event.type };
}
