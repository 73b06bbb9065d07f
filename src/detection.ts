/**
 * The detectors of a running app and what a finding does (DESIGN §9): each detector subscribes to
 * the signals it needs; a finding is a `palisade.security.anomaly` event (functions may subscribe),
 * an audit record, a metric and a log line, and with response `quarantine` the finding's scope is
 * held through the quarantine every dispatcher consults: its deliveries stay pending, never
 * dropped, until an operator releases or discards them (`palisade quarantine`).
 */
import { join } from "node:path";
import { AUDIT_KIND, type AuditLog } from "./audit/index.ts";
import type { DataPath } from "./data-path.ts";
import {
  type ClientBlocks,
  createCredentialStuffing,
  createDeniedBurst,
  findingEventId,
  NOVELTY_FILE,
  openNovelty,
  type Quarantine,
} from "./detect/index.ts";
import { toPalisadeError } from "./errors.ts";
import type { AppModel } from "./manifest/index.ts";
import type { Logger, Metrics } from "./observe/index.ts";
import type { Finding, Signals } from "./signals/index.ts";

/** How often the quarantine is re-read for changes made elsewhere (a release from the CLI). */
const REFRESH_MS = 1000;

export interface DetectionParts {
  app: AppModel;
  signals: Signals;
  /** The deployment's quarantine; absent in a process that runs no functions (a gateway). */
  quarantine: Quarantine | undefined;
  /** The addresses this process's gateway refuses; absent in a process without ingress (a worker). */
  blocks: ClientBlocks | undefined;
  dataPath: DataPath;
  audit: AuditLog;
  metrics: Metrics;
  logger: Logger;
  /** Stops a function's work in flight (its sandbox pool gives it back): it was quarantined. */
  held: (fn: string) => void;
  /** Lets functions whose quarantine was lifted run again and wakes the dispatcher for them. */
  released: (fns: readonly string[]) => void;
  /** The bundle version (sha256) a function runs here; undefined for one that does not run. */
  bundleVersion: (fn: string) => string | undefined;
}

/** Subscribes the detectors and starts watching the quarantine; returns how to stop (and save). */
export function startDetection(parts: DetectionParts): () => Promise<void> {
  const { app, signals, quarantine, blocks, metrics, logger } = parts;
  const stops: (() => void)[] = [];
  if (blocks !== undefined) {
    const stuffing = createCredentialStuffing(app.detect.credentialStuffing, (f) => respond(parts, f));
    stops.push(signals.on("ingress.rejected", (s) => stuffing.rejected(s)));
    stops.push(signals.on("ingress.accepted", (s) => stuffing.accepted(s)));
  }
  if (quarantine === undefined)
    return async () => {
      for (const stop of stops) stop();
    };
  const deniedBurst = createDeniedBurst(app.detect.deniedBurst, (f) => respond(parts, f));
  stops.push(signals.on("capability.denied", (s) => deniedBurst.observe(s)));
  // Its baselines are this node's, in the data directory: each node learns what it runs.
  const novelty = openNovelty({
    policy: app.detect.novelty,
    file: join(app.dataDir, NOVELTY_FILE),
    bundleVersion: parts.bundleVersion,
    report: (f) => respond(parts, f),
    logger,
  });
  stops.push(signals.on("capability.used", (s) => novelty.used(s)));
  stops.push(signals.on("invocation.settled", (s) => novelty.invoked(s)));
  for (const fn of app.functions.keys()) {
    metrics.quarantined.set({ fn }, quarantine.held(fn) ? 1 : 0);
    if (quarantine.held(fn)) parts.held(fn);
  }
  let refreshing = false;
  const timer = setInterval(() => {
    if (refreshing) return;
    refreshing = true;
    quarantine
      .refresh()
      .then(({ lifted, imposed }) => {
        for (const fn of imposed) {
          metrics.quarantined.set({ fn }, 1);
          parts.held(fn); // quarantined by another node: stop what runs here too
        }
        for (const fn of lifted) {
          metrics.quarantined.set({ fn }, 0);
          deniedBurst.reset(fn); // a new burst after the release is a new finding
          logger.info({ fn }, "quarantine lifted; held deliveries run now");
        }
        if (lifted.length > 0) parts.released(lifted);
      })
      .catch((err: unknown) =>
        logger.error({ err: toPalisadeError(err).message }, "cannot read the quarantine state; retrying"),
      )
      .finally(() => {
        refreshing = false;
      });
  }, REFRESH_MS);
  timer.unref();
  return async () => {
    clearInterval(timer);
    for (const stop of stops) stop();
    await novelty.close();
  };
}

/** The audit record of each response. */
const RESPONSE_KIND: Record<Finding["response"], string> = {
  alert: AUDIT_KIND.anomaly,
  quarantine: AUDIT_KIND.quarantined,
  block: AUDIT_KIND.clientBlocked,
};

/** What the log line adds to the finding's summary, by response. */
const RESPONSE_TEXT: Record<Finding["response"], string> = {
  alert: "",
  quarantine: "; quarantined: its deliveries are held (palisade quarantine list)",
  block: "; blocked: its requests are refused with 429 until the block ends",
};

/** What a finding leaves behind: a hold (when its response says so), a record, a metric, an event. */
function respond(parts: DetectionParts, finding: Finding): void {
  const { quarantine, blocks, app, audit, metrics, logger, dataPath, signals } = parts;
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
  if (finding.response === "block")
    blocks?.block(name, finding.at + app.detect.credentialStuffing.blockSec * 1000);
  audit.record({
    kind: RESPONSE_KIND[finding.response],
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
  const who = finding.scope.kind === "function" ? { fn: name } : { ip: name };
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
