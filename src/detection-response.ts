/**
 * What a finding does (DESIGN §9), for src/detection.ts: the hold its response names, on the
 * narrowest scope (a function's quarantine, a chain's root, one capability target, a client
 * address), then an audit record, a metric, a log line and a `palisade.security.anomaly` event.
 */
import { AUDIT_KIND, type AuditLog } from "./audit/index.ts";
import type { DataPath } from "./data-path.ts";
import {
  type CapabilityGate,
  type ClientBlocks,
  findingEventId,
  type Lineage,
  type Quarantine,
  type RootHolds,
} from "./detect/index.ts";
import { toPalisadeError } from "./errors.ts";
import type { AppModel } from "./manifest/index.ts";
import type { Logger, Metrics } from "./observe/index.ts";
import type { Finding, Signals } from "./signals/index.ts";

/** What a response reaches besides the holds. */
export interface ResponseParts {
  app: AppModel;
  signals: Signals;
  dataPath: DataPath;
  audit: AuditLog;
  metrics: Metrics;
  logger: Logger;
  /** Stops a function's work in flight (its sandbox pool gives it back): it was quarantined. */
  held: (fn: string) => void;
}

/** What a finding's response holds, and where (set up by `openDetection`). */
export interface Holds {
  /** The time of the last finding per scope: each finding of a scope gets its own (its event id). */
  lastAt: Map<string, number>;
  quarantine: Quarantine | undefined;
  principals: Quarantine;
  blocks: ClientBlocks | undefined;
  lineage: Lineage | undefined;
  rootHolds: RootHolds | undefined;
  capabilities: CapabilityGate | undefined;
}

/** The audit record of each response. */
const RESPONSE_KIND: Record<Finding["response"], string> = {
  alert: AUDIT_KIND.anomaly,
  quarantine: AUDIT_KIND.quarantined,
  block: AUDIT_KIND.clientBlocked,
  hold: AUDIT_KIND.chainHeld,
  throttle: AUDIT_KIND.principalThrottled,
};

/** The audit record of a finding: by its response, and for a hold or throttle by its scope too. */
function auditKindOf(finding: Finding): string {
  if (finding.response === "hold" && finding.scope.kind === "capability") return AUDIT_KIND.capabilityHeld;
  if (finding.response === "throttle" && finding.scope.kind === "function")
    return AUDIT_KIND.functionThrottled;
  return RESPONSE_KIND[finding.response];
}

/** What the log line adds to the finding's summary, by response. */
const RESPONSE_TEXT: Record<Finding["response"], string> = {
  alert: "",
  quarantine: "; quarantined: its deliveries are held (palisade quarantine list)",
  block: "; blocked: its requests are refused with 429 until the block ends",
  hold: "; its further work is held (palisade quarantine list)",
  throttle:
    "; throttled for a while (a principal to its baseline rate, a function to its spend-neutral start rate; deliveries wait, pending)",
};

/**
 * The finding with a time no earlier finding of its scope has: its event id is derived from scope
 * and time, so two detectors reporting one scope in the same millisecond would share one event.
 */
function distinctTime(holds: Holds, finding: Finding): Finding {
  const scope = `${finding.scope.kind}:${finding.scope.name}`;
  const last = holds.lastAt.get(scope) ?? 0;
  const at = finding.at > last ? finding.at : last + 1;
  holds.lastAt.delete(scope);
  holds.lastAt.set(scope, at);
  if (holds.lastAt.size > 10_000) holds.lastAt.delete(holds.lastAt.keys().next().value ?? "");
  return at === finding.at ? finding : { ...finding, at };
}

/** What a finding leaves behind: a hold (when its response says so), a record, a metric, an event. */
export function respond(parts: ResponseParts, holds: Holds, found: Finding): void {
  const { app, audit, metrics, logger, dataPath, signals } = parts;
  const { quarantine, blocks, rootHolds } = holds;
  const finding = distinctTime(holds, found);
  const { name } = finding.scope;
  const id = findingEventId(finding);
  if (finding.response === "quarantine" && quarantine !== undefined) {
    // Held here at once (the dispatcher starts nothing more), durably for every node once written.
    quarantine
      .impose(name, finding.at)
      .catch((err: unknown) =>
        logger.error(
          { fn: name, err: toPalisadeError(err).message },
          "cannot record the quarantine; it holds in this process only",
        ),
      );
    metrics.quarantined.set({ fn: name }, 1);
    parts.held(name);
  }
  if (finding.response === "hold" && finding.scope.kind === "capability")
    holds.capabilities?.impose(name, finding.at);
  else if (finding.response === "hold")
    rootHolds
      ?.impose(name, finding.at)
      .catch((err: unknown) =>
        logger.error(
          { root: name, err: toPalisadeError(err).message },
          "cannot record the chain's hold; it holds in this process only",
        ),
      );
  if (finding.response === "block")
    blocks?.block(name, finding.at + app.detect.credentialStuffing.blockSec * 1000);
  audit.record({
    kind: auditKindOf(finding),
    subject: name,
    outcome: finding.response === "alert" ? "info" : "denied",
    details: {
      detector: finding.detector,
      severity: finding.severity,
      summary: finding.summary,
      finding: id,
    },
  });
  metrics.anomalyFindings.inc({
    detector: finding.detector,
    severity: finding.severity,
    response: finding.response,
  });
  const who = {
    [{ function: "fn", address: "ip", root: "root", principal: "principal", capability: "capability" }[
      finding.scope.kind
    ]]: name,
  };
  logger.warn(
    { ...who, detector: finding.detector, response: finding.response, finding: id },
    `${finding.summary}${RESPONSE_TEXT[finding.response]}`,
  );
  signals.emit({ kind: "finding", finding });
  dataPath
    .platformEvent(
      "palisade.security.anomaly",
      { ...finding, scope: { ...finding.scope }, at: new Date(finding.at).toISOString() },
      id,
    )
    .catch((err: unknown) =>
      logger.error({ err: toPalisadeError(err).message }, "cannot emit palisade.security.anomaly"),
    );
}
