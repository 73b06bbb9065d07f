/**
 * The detectors of a running app and what a finding does (DESIGN §9): each detector subscribes to
 * the signals it needs; a finding is a `palisade.security.anomaly` event (functions may subscribe),
 * an audit record, a metric and a log line. A response holds the finding's scope where it is
 * consulted: `quarantine` a function (every dispatcher), `hold` a chain's root (the dispatcher asks
 * `verdict` of each delivery), `block` a client address (the gateway); held work stays pending,
 * never dropped, until an operator releases or discards it (`palisade quarantine`).
 */
import { join } from "node:path";
import { AUDIT_KIND, type AuditLog } from "./audit/index.ts";
import type { SharedState, Verdict } from "./bus/index.ts";
import type { DataPath } from "./data-path.ts";
import {
  type ClientBlocks,
  createClientBlocks,
  createCredentialStuffing,
  createDeniedBurst,
  createLineage,
  type DeniedBurst,
  findingEventId,
  type Lineage,
  NOVELTY_FILE,
  openNovelty,
  openQuarantine,
  openRootHolds,
  type Quarantine,
  type RootHolds,
} from "./detect/index.ts";
import { toPalisadeError } from "./errors.ts";
import { type AppModel, worstCaseAmplification } from "./manifest/index.ts";
import type { Logger, Metrics } from "./observe/index.ts";
import type { ChainEvent, Finding, Signals } from "./signals/index.ts";

/** How often the quarantine and the chains' holds are re-read for changes made elsewhere (the CLI). */
const REFRESH_MS = 1000;
/** Every this many refreshes, roots held by other nodes (or before a restart) are read too. */
const LIST_EVERY = 5;

export interface DetectionParts {
  app: AppModel;
  signals: Signals;
  /** The deployment's shared state where functions run; absent in a process that runs none (a gateway). */
  state: SharedState | undefined;
  /** Whether requests come in here (this process's gateway blocks client addresses). */
  ingress: boolean;
  dataPath: DataPath;
  audit: AuditLog;
  metrics: Metrics;
  logger: Logger;
  /** Stops a function's work in flight (its sandbox pool gives it back): it was quarantined. */
  held: (fn: string) => void;
  /** Lets functions whose quarantine was lifted run again and wakes the dispatcher for them. */
  released: (fns: readonly string[]) => void;
  /** Wakes the dispatcher for every function: held chains may run (or be discarded) now. */
  chainsChanged: () => void;
  /** The bundle version (sha256) a function runs here; undefined for one that does not run. */
  bundleVersion: (fn: string) => string | undefined;
}

/** The running detectors, and the answers the dispatcher and the gateway ask of them. */
export interface Detection {
  /** Whether a function is quarantined now (its deliveries wait, pending). */
  quarantined(fn: string): boolean;
  /** What one delivery's chain lets it do now (lineage holds). */
  verdict(fn: string, event: ChainEvent): Verdict;
  /** Seconds a blocked client address must wait, if it is blocked. */
  clientBlocked(ip: string): number | undefined;
  /** Stops the detectors and saves what they learned. */
  close(): Promise<void>;
}

/** What a finding's response holds, and where (set up by `openDetection`). */
interface Holds {
  quarantine: Quarantine | undefined;
  blocks: ClientBlocks | undefined;
  lineage: Lineage | undefined;
  rootHolds: RootHolds | undefined;
}

/** Subscribes the detectors and starts watching the quarantine and the chains' holds. */
export async function openDetection(parts: DetectionParts): Promise<Detection> {
  const { app, signals, state, metrics, logger } = parts;
  const stops: (() => void)[] = [];
  const holds: Holds = {
    quarantine: state === undefined ? undefined : await openQuarantine(state, [...app.functions.keys()]),
    blocks: parts.ingress ? createClientBlocks() : undefined,
    lineage: undefined,
    rootHolds: state === undefined ? undefined : openRootHolds(state),
  };
  const report = (f: Finding) => respond(parts, holds, f);
  const { quarantine, blocks, rootHolds } = holds;
  const detection: Detection = {
    quarantined: (fn) => quarantine?.held(fn) ?? false,
    verdict: () => "run",
    clientBlocked: (ip) => blocks?.blocked(ip),
    close: async () => {
      for (const stop of stops) stop();
    },
  };
  if (blocks !== undefined) {
    const stuffing = createCredentialStuffing(app.detect.credentialStuffing, report);
    stops.push(signals.on("ingress.rejected", (s) => stuffing.rejected(s)));
    stops.push(signals.on("ingress.accepted", (s) => stuffing.accepted(s)));
  }
  if (quarantine === undefined || rootHolds === undefined) return detection;
  const deniedBurst = createDeniedBurst(app.detect.deniedBurst, report);
  stops.push(signals.on("capability.denied", (s) => deniedBurst.observe(s)));
  // Its baselines are this node's, in the data directory: each node learns what it runs.
  const novelty = openNovelty({
    policy: app.detect.novelty,
    file: join(app.dataDir, NOVELTY_FILE),
    bundleVersion: parts.bundleVersion,
    report,
    logger,
  });
  stops.push(signals.on("capability.used", (s) => novelty.used(s)));
  stops.push(signals.on("invocation.settled", (s) => novelty.invoked(s)));
  const lineage = createLineage({
    policy: app.detect.amplification,
    budget: budgetsOf(app),
    maxDepth: (fn) => app.functions.get(fn)?.recursion?.maxDepth,
    report,
  });
  holds.lineage = lineage;
  stops.push(signals.on("invocation.started", (s) => lineage.started(s.fn, s.event)));
  stops.push(signals.on("event.emitted", (s) => lineage.emitted(s.fn, s.event)));
  for (const { root, since } of await rootHolds.list()) lineage.hold(root, since);
  for (const root of await rootHolds.discarded()) lineage.discard(root);
  detection.verdict = (fn, event) => lineage.verdict(fn, event);
  for (const fn of app.functions.keys()) {
    metrics.quarantined.set({ fn }, quarantine.held(fn) ? 1 : 0);
    if (quarantine.held(fn)) parts.held(fn);
  }
  let refreshing = false;
  let round = 0;
  const timer = setInterval(() => {
    if (refreshing) return;
    refreshing = true;
    round += 1;
    Promise.all([
      refreshQuarantine(parts, quarantine, deniedBurst),
      refreshChains(parts, lineage, rootHolds, round % LIST_EVERY === 0),
    ])
      .catch((err: unknown) =>
        logger.error({ err: toPalisadeError(err).message }, "cannot read the quarantine state; retrying"),
      )
      .finally(() => {
        refreshing = false;
      });
  }, REFRESH_MS);
  timer.unref();
  detection.close = async () => {
    clearInterval(timer);
    for (const stop of stops) stop();
    await novelty.close();
  };
  return detection;
}

/** Each event type's budget: the emit graph's worst case (the lineage caps it at maxPerRoot). */
function budgetsOf(app: AppModel): (type: string) => number {
  const worst = worstCaseAmplification(app);
  return (type) => worst.get(type) ?? app.detect.amplification.maxPerRoot;
}

/** Applies quarantines imposed and lifted elsewhere (another node, the CLI). */
async function refreshQuarantine(
  parts: DetectionParts,
  quarantine: Quarantine,
  deniedBurst: DeniedBurst,
): Promise<void> {
  const { metrics, logger } = parts;
  const { lifted, imposed } = await quarantine.refresh();
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
}

/** Applies chains released or discarded by an operator, and (with `all`) roots held elsewhere. */
async function refreshChains(
  parts: DetectionParts,
  lineage: Lineage,
  rootHolds: RootHolds,
  all: boolean,
): Promise<void> {
  const held = lineage.held().map((h) => h.root);
  let changed = false;
  for (const [root, now] of await rootHolds.read(held)) {
    if (now === "released") {
      lineage.release(root);
      parts.logger.info({ root }, "chain hold lifted; its held work runs now");
    } else if (now === "discarded") {
      lineage.discard(root);
      parts.logger.info({ root }, "chain's held work discarded; it is dead-lettered as it comes");
    } else continue;
    changed = true;
  }
  if (all) for (const { root, since } of await rootHolds.list()) lineage.hold(root, since);
  if (changed || all) parts.chainsChanged();
}

/** The audit record of each response. */
const RESPONSE_KIND: Record<Finding["response"], string> = {
  alert: AUDIT_KIND.anomaly,
  quarantine: AUDIT_KIND.quarantined,
  block: AUDIT_KIND.clientBlocked,
  hold: AUDIT_KIND.chainHeld,
};

/** What the log line adds to the finding's summary, by response. */
const RESPONSE_TEXT: Record<Finding["response"], string> = {
  alert: "",
  quarantine: "; quarantined: its deliveries are held (palisade quarantine list)",
  block: "; blocked: its requests are refused with 429 until the block ends",
  hold: "; its further work is held (palisade quarantine list)",
};

/** What a finding leaves behind: a hold (when its response says so), a record, a metric, an event. */
function respond(parts: DetectionParts, holds: Holds, finding: Finding): void {
  const { app, audit, metrics, logger, dataPath, signals } = parts;
  const { quarantine, blocks, rootHolds } = holds;
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
  if (finding.response === "hold")
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
  const who = { [{ function: "fn", address: "ip", root: "root" }[finding.scope.kind]]: name };
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
