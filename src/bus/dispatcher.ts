import { toPalisadeError } from "../errors.ts";
import { type CloudEvent, type EventFilter, matchesTypePattern } from "../events/index.ts";
import type { RetryPolicy } from "../manifest/index.ts";
import { type AdmissionLimits, createAdmission } from "./admission.ts";
import { retryDelay } from "./backoff.ts";
import type {
  DeadLetterReason,
  Delivery,
  DeliveryRef,
  EventLog,
  Outcome,
  RefusedDelivery,
} from "./event-log.ts";

/** A delivery target (a function): how many attempts may run at once and how failures are retried. */
export interface Target {
  readonly name: string;
  /** Subscribed types: exact names or `prefix.*`. */
  readonly on: readonly string[];
  /** Compiled content filter; events it rejects are not routed to this target. */
  readonly filter?: EventFilter;
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
  log: EventLog;
  targets: readonly Target[];
  /** Runs one attempt; a rejection is a failed attempt. */
  invoke: (target: string, delivery: Delivery) => Promise<void>;
  /**
   * Observes every settled attempt (logging, metrics, audit), and every delivery refused without an
   * attempt (`corrupt`, `unauthenticated`, `not-subscribed`): those settle as `failed` with the reason.
   */
  onSettled?: (delivery: DeliveryRef, outcome: Outcome) => void;
  /** Called when a target's due deliveries start being held back by its rate limit or budget. */
  onHold?: (target: string, hold: "budget" | "rate_limit") => void;
  /** Called once when a target's daily invocation budget runs out. */
  onBudgetExhausted?: (target: string, limit: number, day: string) => void;
  /** Source of retry jitter. @default Math.random */
  random?: () => number;
  /** Observes errors of the dispatcher itself (storage failures); it keeps running and retries. */
  onError?: (err: unknown) => void;
}

export interface Dispatcher {
  /** Wakes the dispatcher: new events were appended or a slot became free. */
  notify(): void;
  /** Stops taking new work and waits for attempts in flight. */
  close(): Promise<void>;
}

const CURSOR = "dispatch";
const POLL_MS = 1000;
const PREFETCH = 256;

const ROUTE_BATCH = 512;
const ERROR_BACKOFF_MS = 1000;

/**
 * Creates the dispatcher: routes appended events to subscribed targets (recording a pending delivery
 * per target), then runs due deliveries within each target's concurrency, settling each as delivered,
 * retry-later or failed. All state lives in the log, so a restart resumes where the last one stopped.
 */
export function createDispatcher(options: DispatcherOptions): Dispatcher {
  const { log, invoke } = options;
  const admission = createAdmission(
    log,
    new Map(options.targets.flatMap((t) => (t.admission ? [[t.name, t.admission] as const] : []))),
    (target, limit, day) => options.onBudgetExhausted?.(target, limit, day),
    (err) => options.onError?.(err),
  );
  const random = options.random ?? Math.random;
  // type → subscribed targets, worked out once per type seen.
  const routes = new Map<string, Target[]>();
  const routesFor = (type: string): Target[] => {
    let found = routes.get(type);
    if (found === undefined) {
      found = options.targets.filter((t) => t.on.some((pattern) => matchesTypePattern(pattern, type)));
      routes.set(type, found);
    }
    return found;
  };
  // Payloads are read only when some target filters on content.
  const needsPayload = options.targets.some((t) => t.filter !== undefined);
  const targets = new Map(options.targets.map((t) => [t.name, t]));
  const claims = new Map<string, Set<string>>(options.targets.map((t) => [t.name, new Set<string>()]));
  const queues = new Map<string, Delivery[]>(options.targets.map((t) => [t.name, []]));
  const runningCount = new Map<string, number>();
  const held = new Set<string>();
  const running = new Set<Promise<void>>();
  let pumping = false;
  let again = false;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  let timerAt = 0;

  // This process is the only router of its log, so the cursor is read once and then kept here.
  let routed: number | undefined;

  async function route(): Promise<void> {
    for (;;) {
      routed ??= await log.cursor(CURSOR);
      const after = routed;
      const batch = await log.typesAfter(after, ROUTE_BATCH, needsPayload);
      const last = batch.at(-1);
      if (last === undefined) return;
      // A record that does not open cannot be filtered: it goes to every subscriber of its stored
      // type, where each delivery is refused as `corrupt` (visible in the DLQ, never invoked).
      const passes = (t: Target, event: CloudEvent | undefined) =>
        t.filter === undefined || event === undefined || t.filter(event);
      const deliveries = batch.flatMap((item) =>
        routesFor(item.type)
          .filter((t) => passes(t, item.event))
          .map((t) => ({ seq: item.seq, target: t.name })),
      );
      await log.route(CURSOR, last.seq, deliveries);
      routed = last.seq;
    }
  }

  // Due deliveries are fetched PREFETCH at a time into a per-target queue, so the log is read once
  // per batch rather than once per attempt. `claimed` holds every delivery queued, running or
  // being settled, so none is started twice.
  async function fill(): Promise<void> {
    const now = Date.now();
    for (const [name, target] of targets) {
      const claimed = claims.get(name) ?? new Set<string>();
      const queue = queues.get(name) ?? [];
      const slots = target.concurrency * (target.batch ?? 1) - (runningCount.get(name) ?? 0);
      if (slots <= 0) continue;
      if (queue.length < slots) {
        for (const d of await log.due(name, now, PREFETCH + claimed.size)) {
          if (claimed.has(key(d))) continue;
          claimed.add(key(d));
          const refused = "refused" in d ? d : untrusted(target, d);
          if (refused !== undefined) refuse(refused, claimed);
          else if ("event" in d) queue.push(d);
        }
      }
      const free = Math.min(slots, await admission.allowance(name, now));
      const starting = queue.splice(0, free);
      admission.take(name, starting.length, now);
      for (const delivery of starting) start(target, delivery, claimed);
      // Held back by rate or budget: look again when admission allows.
      const chance =
        queue.length > 0 && starting.length < slots ? admission.nextChance(name, now) : undefined;
      if (chance !== undefined) arm(chance);
      // Count each time a target goes from flowing to held, not every round it stays held.
      const hold = chance === undefined ? undefined : admission.holding(name);
      if (hold !== undefined && !held.has(name)) options.onHold?.(name, hold);
      if (hold === undefined) held.delete(name);
      else held.add(name);
    }
  }

  // Never invoked and takes no slot: dead-lettered at once with the log's reason.
  function refuse(d: RefusedDelivery, claimed: Set<string>): void {
    const outcome: Outcome = { kind: "failed", ...d.refused };
    const settling = record(d, outcome, claimed);
    running.add(settling);
    void settling.finally(() => running.delete(settling));
  }

  async function record(d: DeliveryRef, outcome: Outcome, claimed: Set<string>): Promise<void> {
    try {
      await log.settle(d.seq, d.target, outcome);
      options.onSettled?.(d, outcome);
    } catch (err) {
      // Not settled means still pending in the log: it is attempted again (at-least-once).
      options.onError?.(err);
    } finally {
      claimed.delete(key(d));
      notify();
    }
  }

  function start(target: Target, delivery: Delivery, claimed: Set<string>): void {
    runningCount.set(target.name, (runningCount.get(target.name) ?? 0) + 1);
    const attempt = (async () => {
      const outcome = await attemptOnce(target, delivery);
      // The slot is free as soon as the attempt ends; the outcome is recorded meanwhile, many
      // settles to a commit. The delivery stays claimed until then, so it is not picked again.
      runningCount.set(target.name, (runningCount.get(target.name) ?? 1) - 1);
      notify();
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

  async function attemptOnce(target: Target, delivery: Delivery): Promise<Outcome> {
    try {
      await invoke(target.name, delivery);
      return { kind: "delivered" };
    } catch (err) {
      const e = toPalisadeError(err);
      // The domain that failed says when no retry can cure it (not retryable, with a reason): then
      // the delivery is dead-lettered at once. Anything else may be transient and is retried.
      if (!e.retryable && e.deadLetter !== undefined)
        return { kind: "failed", reason: e.deadLetter as DeadLetterReason, error: e.message };
      const attempt = delivery.attempts + 1;
      if (attempt >= target.retry.attempts)
        return { kind: "failed", reason: "attempts-exhausted", error: e.message };
      return { kind: "retry", at: Date.now() + retryDelay(target.retry, attempt, random), error: e.message };
    }
  }

  async function pump(): Promise<void> {
    if (pumping) {
      again = true;
      return;
    }
    pumping = true;
    try {
      do {
        again = false;
        await route();
        await fill();
        // Yield to I/O between rounds: group commits (settles) must get to flush.
        if (again) await new Promise((r) => setImmediate(r));
      } while (again && !closed);
      await armTimer();
    } catch (err) {
      options.onError?.(err);
      if (!closed) arm(Date.now() + ERROR_BACKOFF_MS);
    } finally {
      pumping = false;
    }
  }

  // Wake up when the earliest retry falls due, and at least every POLL_MS: other processes
  // (`palisade dlq replay`) change delivery state too.
  async function armTimer(): Promise<void> {
    const now = Date.now();
    const at = await log.nextDue();
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
        notify();
      },
      Math.max(0, at - Date.now()),
    );
    timer.unref();
  }

  function notify(): void {
    if (!closed) void pump();
  }

  notify();
  return {
    notify,
    async close() {
      closed = true;
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

/**
 * The stored routing is not trusted: a delivery runs only if the function subscribes to the event's
 * (decrypted, authenticated) type now and its filter matches. Checked before the delivery takes a
 * slot or a token of the function's rate and budget.
 */
function untrusted(target: Target, d: Delivery): RefusedDelivery | undefined {
  const { event } = d;
  const why = !target.on.some((pattern) => matchesTypePattern(pattern, event.type))
    ? `function "${target.name}" does not subscribe to "${event.type}"`
    : target.filter !== undefined && !target.filter(event)
      ? `function "${target.name}"'s filter does not match it`
      : undefined;
  if (why === undefined) return undefined;
  const error = `Cannot deliver event "${event.id}": ${why}`;
  return { ...refOf(d), refused: { reason: "not-subscribed", error } };
}
