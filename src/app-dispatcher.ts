/**
 * The dispatcher of a running app: one target per function (its subscriptions, filter, concurrency,
 * admission limits and retry policy), each delivery through the data path, and what a settled
 * delivery leaves behind: a metric, a log line, and for dead letters and budget holds an audit record.
 */
import { AUDIT_KIND, type AuditLog } from "./audit/index.ts";
import {
  createDispatcher,
  type DeadLetterReason,
  type DeliveryRef,
  type Dispatcher,
  type Outcome,
  REFUSAL_REASONS,
  type Store,
} from "./bus/index.ts";
import type { DataPath } from "./data-path.ts";
import { toPalisadeError } from "./errors.ts";
import type { AppModel } from "./manifest/index.ts";
import type { Logger, Metrics } from "./observe/index.ts";
import { INVOKE_BATCH } from "./runtime/index.ts";

/** What the app's dispatcher works with. */
export interface AppDispatcherParts {
  app: AppModel;
  store: Store;
  dataPath: DataPath;
  metrics: Metrics;
  audit: AuditLog;
  logger: Logger;
}

/** Creates the dispatcher that runs `app`'s due deliveries in its functions' sandboxes. */
export function createAppDispatcher(parts: AppDispatcherParts): Dispatcher {
  const { app, store, dataPath, metrics, audit, logger } = parts;
  return createDispatcher({
    queue: store.queue,
    state: store.state,
    targets: [...app.functions.values()].map((fn) => ({
      name: fn.name,
      concurrency: fn.limits.concurrency,
      batch: INVOKE_BATCH,
      admission: fn.limits,
      retry: fn.retry,
    })),
    async invoke(target, delivery) {
      const done = metrics.invocationSeconds.startTimer({ fn: target });
      try {
        await dataPath.deliver(target, delivery);
      } finally {
        done();
      }
    },
    onSettled(d, outcome) {
      metrics.deliveries.inc({ fn: d.target, outcome: outcome.kind });
      if (outcome.kind === "failed") auditDeadLetter(audit, d, outcome.reason, outcome.error);
      logOutcome(logger, d, outcome);
    },
    onHold: (fn, hold) => metrics.holds.inc({ fn, hold }),
    onBudgetExhausted: (fn, limit, day) => budgetExhausted(parts, fn, limit, day),
    onError: (err) => logger.error({ err: toPalisadeError(err).message }, "dispatcher error; retrying"),
  });
}

function auditDeadLetter(audit: AuditLog, d: DeliveryRef, reason: DeadLetterReason, error: string): void {
  const refused = REFUSAL_REASONS.has(reason);
  audit.record({
    kind: refused ? AUDIT_KIND.deliveryRefused : AUDIT_KIND.deadLettered,
    subject: d.target,
    outcome: refused ? "denied" : "error",
    details: {
      eventId: d.eventId,
      type: d.type,
      reason,
      attempts: d.attempts + 1,
      ...(refused ? { error } : {}),
    },
  });
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

function logOutcome(logger: Logger, d: DeliveryRef, outcome: Outcome): void {
  const fields = { fn: d.target, eventId: d.eventId, type: d.type, attempt: d.attempts + 1 };
  if (outcome.kind === "delivered") logger.info(fields, "delivered");
  else if (outcome.kind === "retry")
    logger.warn(
      { ...fields, error: outcome.error, retryAt: new Date(outcome.at).toISOString() },
      "attempt failed; will retry",
    );
  else logger.error({ ...fields, error: outcome.error }, "delivery failed");
}
