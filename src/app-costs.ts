/**
 * The app's usage meter and spend budgets, connected: each attempt's cost is a metric and counts
 * against the budgets of its function and of its chain's principal; a budget used up is an audit
 * record, a warning and a `palisade.security.budget-exceeded` event (functions may subscribe).
 */
import { AUDIT_KIND, type AuditLog } from "./audit/index.ts";
import type { SharedState } from "./bus/index.ts";
import { type CostMeter, type CostScope, openCostMeter } from "./cost/index.ts";
import type { DataPath } from "./data-path.ts";
import { toPalisadeError } from "./errors.ts";
import type { AppModel } from "./manifest/index.ts";
import type { Logger, Metrics } from "./observe/index.ts";
import type { Signals } from "./signals/index.ts";

export interface AppCostsParts {
  app: AppModel;
  state: SharedState;
  signals: Signals;
  dataPath: DataPath;
  audit: AuditLog;
  metrics: Metrics;
  logger: Logger;
}

export function openAppCosts(parts: AppCostsParts): CostMeter {
  const { app, state, signals, metrics, logger } = parts;
  return openCostMeter({
    app,
    state,
    signals,
    onSpent: (fn, principal, usd) => metrics.costUsd.inc({ fn, principal }, usd),
    onExhausted: (scope, limitUsd, day) => exhausted(parts, scope, limitUsd, day),
    onError: (err) =>
      logger.warn({ err: toPalisadeError(err).message }, "spend not recorded in shared state yet; retrying"),
  });
}

/** A spend budget is used up for today: audit, warn, and emit the platform event. */
function exhausted(parts: AppCostsParts, scope: CostScope, limitUsd: number, day: string): void {
  const { audit, logger, dataPath } = parts;
  const held =
    scope.kind === "function"
      ? "its deliveries are held until the next UTC day"
      : parts.app.principals.get(scope.name)?.overBudget === "reject"
        ? "its chains' deliveries are held and its new requests refused with 429 until the next UTC day"
        : "its chains' deliveries are held until the next UTC day";
  audit.record({
    kind: AUDIT_KIND.budgetHeld,
    subject: scope.kind === "function" ? scope.name : `principal:${scope.name}`,
    outcome: "denied",
    details: { budget: "costPerDay", limitUsd, day, scope: scope.kind },
  });
  logger.warn(
    { [scope.kind === "function" ? "fn" : "principal"]: scope.name, limitUsd, day },
    `daily spend budget used up; ${held}`,
  );
  dataPath
    .platformEvent(
      "palisade.security.budget-exceeded",
      {
        ...(scope.kind === "function" ? { function: scope.name } : { principal: scope.name }),
        budget: "costPerDay",
        limitUsd,
        day,
      },
      `budget-exceeded:cost:${scope.kind}:${scope.name}:${day}`,
    )
    .catch((err: unknown) =>
      logger.error({ err: toPalisadeError(err).message }, "cannot emit budget-exceeded"),
    );
}
