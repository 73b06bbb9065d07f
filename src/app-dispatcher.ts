/**
 * The dispatcher of a running app: one target per function (its subscriptions, filter, concurrency,
 * admission limits, quarantine and retry policy), each delivery through the data path. What a
 * settled delivery or a hold leaves behind (metrics, log lines, audit records) is the signals'
 * subscribers' business (src/signal-sinks.ts); a used-up daily budget is audited and announced here.
 */
import { AUDIT_KIND, type AuditLog } from "./audit/index.ts";
import { createDispatcher, type Delivery, type Dispatcher, type Store, type Verdict } from "./bus/index.ts";
import type { DataPath } from "./data-path.ts";
import { toPalisadeError } from "./errors.ts";
import { dataBytes, rootOf } from "./events/index.ts";
import { type AppModel, sinkTarget } from "./manifest/index.ts";
import type { Logger, Metrics } from "./observe/index.ts";
import { INVOKE_BATCH } from "./runtime/index.ts";
import type { Signals } from "./signals/index.ts";

/** Requests in flight to one sink at once. */
const SINK_CONCURRENCY = 4;

/** What the app's dispatcher works with. */
export interface AppDispatcherParts {
  app: AppModel;
  store: Store;
  dataPath: DataPath;
  metrics: Metrics;
  audit: AuditLog;
  logger: Logger;
  signals: Signals;
  /** Whether a function is quarantined now (its deliveries wait, pending). */
  held: (fn: string) => boolean;
  /** Whether one delivery's chain lets it run now (lineage holds); every delivery runs without it. */
  verdict?: (fn: string, event: Delivery["event"]) => Verdict;
  /**
   * Whether an attempt fits in today's spend budgets (of its function and its chain's principal);
   * one that does not waits, held, until it does (the next UTC day).
   */
  affordable?: (fn: string, event: Delivery["event"], payloadBytes: () => number) => boolean;
  /** A function's lowered start rate (per second) while a detector throttles it. */
  throttle?: (fn: string, now: number) => number | undefined;
}

/** Creates the dispatcher that runs `app`'s due deliveries in its functions' sandboxes. */
export function createAppDispatcher(parts: AppDispatcherParts): Dispatcher {
  const { app, store, dataPath, metrics, logger, signals } = parts;
  // What each attempt used, from its start to its settle (by seq and target).
  const attempts = new Map<string, AttemptUse>();
  return createDispatcher({
    queue: store.queue,
    state: store.state,
    targets: [
      ...[...app.functions.values()].map((fn) => ({
        name: fn.name,
        concurrency: fn.limits.concurrency,
        batch: INVOKE_BATCH,
        admission: fn.limits,
        retry: fn.retry,
      })),
      // A sink's rate limit is its admission rate; its deliveries run one request each.
      ...[...app.sinks.values()].map((sink) => ({
        name: sinkTarget(sink.name),
        concurrency: SINK_CONCURRENCY,
        admission: { ratePerSec: sink.rateLimit.perSecond, burst: sink.rateLimit.burst },
        retry: sink.retry,
      })),
    ],
    held: parts.held,
    ...(parts.throttle === undefined ? {} : { throttle: parts.throttle }),
    verdict(fn, d) {
      const verdict = parts.verdict?.(fn, d.event) ?? "run";
      if (verdict !== "run" || parts.affordable === undefined) return verdict;
      return parts.affordable(fn, d.event, () => dataBytes(d.event.data)) ? "run" : "wait";
    },
    async invoke(target, delivery) {
      const done = metrics.invocationSeconds.startTimer({ fn: target });
      const use = {
        principal: rootOf(delivery.event).principal,
        payloadBytes: dataBytes(delivery.event.data),
        durationMs: 0,
      };
      signals.emit({
        kind: "invocation.started",
        fn: target,
        event: delivery.event,
        attempt: delivery.attempts + 1,
        payloadBytes: use.payloadBytes,
      });
      try {
        await dataPath.deliver(target, delivery);
      } catch (err) {
        if (toPalisadeError(err).notAttempted)
          signals.emit({ kind: "invocation.returned", fn: target, eventId: delivery.event.id });
        else attempts.set(`${delivery.seq}:${target}`, use);
        throw err;
      } finally {
        use.durationMs = done() * 1000;
      }
      attempts.set(`${delivery.seq}:${target}`, use);
    },
    onSettled(d, outcome) {
      const use = attempts.get(`${d.seq}:${d.target}`);
      attempts.delete(`${d.seq}:${d.target}`);
      signals.emit({
        kind: "invocation.settled",
        fn: d.target,
        eventId: d.eventId,
        type: d.type,
        attempt: d.attempts + 1,
        outcome: outcome.kind,
        ...(outcome.kind === "delivered" ? {} : { error: outcome.error }),
        ...(outcome.kind === "failed" ? { reason: outcome.reason } : {}),
        ...(outcome.kind === "retry" ? { retryAt: outcome.at } : {}),
        ...(use === undefined ? {} : use),
      });
    },
    onHold: (fn, hold) => signals.emit({ kind: "delivery.held", fn, hold }),
    onBudgetExhausted: (fn, limit, day) => budgetExhausted(parts, fn, limit, day),
    onError: (err) => logger.error({ err: toPalisadeError(err).message }, "dispatcher error; retrying"),
  });
}

/** What one attempt used, for its settle signal (cost, outliers). */
interface AttemptUse {
  /** The principal whose event from outside started the chain (who pays for it). */
  principal: string;
  payloadBytes: number;
  durationMs: number;
}

/** A function used up its daily invocation budget: audit, warn, and emit the platform event. */
function budgetExhausted(parts: AppDispatcherParts, fn: string, limit: number, day: string): void {
  const { audit, logger, dataPath } = parts;
  audit.record({
    kind: AUDIT_KIND.budgetHeld,
    subject: fn,
    outcome: "denied",
    details: { budget: "dailyInvocations", limit, day },
  });
  logger.warn({ fn, limit, day }, "daily invocation budget exhausted; deliveries are held until tomorrow");
  dataPath
    .platformEvent(
      "palisade.security.budget-exceeded",
      { function: fn, limit, day },
      `budget-exceeded:${fn}:${day}`,
    )
    .catch((err: unknown) =>
      logger.error({ err: toPalisadeError(err).message }, "cannot emit budget-exceeded"),
    );
}
