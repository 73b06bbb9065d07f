/**
 * The detectors of a running app and what a finding does (DESIGN §9): each detector subscribes to
 * the signals it needs; a finding is a `palisade.security.anomaly` event (functions may subscribe),
 * an audit record, a metric and a log line. A response holds the finding's scope where it is
 * consulted: `quarantine` a function (every dispatcher), `hold` a chain's root (the dispatcher asks
 * `verdict` of each delivery) or one capability target of a function (the capability host asks
 * `capability` before each call; the delivery that hit it then waits through `verdict`), `block` a
 * client address (the gateway), `throttle` a principal (the gateway's rate limit) or a function
 * (the dispatcher's admission asks `functionThrottle`); held work stays pending, never dropped,
 * until an operator releases or discards it (`palisade quarantine`) or the throttle ends.
 */
import { join } from "node:path";
import { AUDIT_KIND, type AuditLog } from "./audit/index.ts";
import type { SharedState, Verdict } from "./bus/index.ts";
import type { DataPath } from "./data-path.ts";
import {
  type CapabilityGate,
  type ClientBlocks,
  createCapabilityGate,
  createClientBlocks,
  createCostDrift,
  createCredentialStuffing,
  createDeniedBurst,
  createIngressFlood,
  createLineage,
  createOutliers,
  type DeniedBurst,
  findingEventId,
  type Lineage,
  NOVELTY_FILE,
  openCapabilityHoldStore,
  openNovelty,
  openQuarantine,
  openRootHolds,
  type Quarantine,
  type RootHolds,
} from "./detect/index.ts";
import { toPalisadeError } from "./errors.ts";
import { rootOf } from "./events/index.ts";
import { type AppModel, type RateLimit, runnersOf, worstCaseAmplification } from "./manifest/index.ts";
import type { Logger, Metrics } from "./observe/index.ts";
import type { CapabilityKind, ChainEvent, Finding, Signals } from "./signals/index.ts";

/** How often the quarantine and the chains' holds are re-read for changes made elsewhere (the CLI). */
const REFRESH_MS = 1000;
/** Every this many refreshes, roots held by other nodes (or before a restart) are read too. */
const LIST_EVERY = 5;

export interface DetectionParts {
  app: AppModel;
  signals: Signals;
  /** The deployment's shared state: the holds every node and the CLI see. */
  state: SharedState;
  /** Whether functions run here (a gateway runs none: no function or chain holds there). */
  functions: boolean;
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
  /** What one delivery's chain lets it do now (lineage holds), or a capability hold it hit. */
  verdict(fn: string, event: ChainEvent): Verdict;
  /**
   * Asked before a granted call of `fn` is made: the held scope that makes the call (and its
   * delivery) wait, when its capability target is held or is found new with novelty's response
   * `hold`; undefined when it may go ahead.
   */
  capability(
    fn: string,
    kind: Exclude<CapabilityKind, "unknown">,
    target: string,
    event: ChainEvent,
  ): string | undefined;
  /** Seconds a blocked client address must wait, if it is blocked. */
  clientBlocked(ip: string): number | undefined;
  /** Whether an operator holds a principal (its requests are refused, its chains' work waits). */
  principalHeld(principal: string): boolean;
  /**
   * The start rate (per second) a function is held to now after a cost-drift finding with response
   * throttle; undefined when it is not throttled.
   */
  functionThrottle(fn: string, now: number): number | undefined;
  /**
   * A principal's rate limit now: its own, or, while it is throttled after a flood, its baseline
   * rate (never above its own).
   */
  principalLimit(principal: string, limit: RateLimit): RateLimit;
  /** Stops the detectors and saves what they learned. */
  close(): Promise<void>;
}

/** What a finding's response holds, and where (set up by `openDetection`). */
interface Holds {
  /** The time of the last finding per scope: each finding of a scope gets its own (its event id). */
  lastAt: Map<string, number>;
  quarantine: Quarantine | undefined;
  principals: Quarantine;
  blocks: ClientBlocks | undefined;
  lineage: Lineage | undefined;
  rootHolds: RootHolds | undefined;
  capabilities: CapabilityGate | undefined;
}

/** Subscribes the detectors and starts watching the quarantine and the chains' holds. */
export async function openDetection(parts: DetectionParts): Promise<Detection> {
  const { app, signals, state, metrics, logger } = parts;
  const stops: (() => void)[] = [];
  const holds: Holds = {
    lastAt: new Map(),
    quarantine: parts.functions ? await openQuarantine(state, [...app.functions.keys()]) : undefined,
    principals: await openQuarantine(state, [...app.principals.keys()], "principal"),
    blocks: parts.ingress ? createClientBlocks() : undefined,
    lineage: undefined,
    rootHolds: parts.functions ? openRootHolds(state) : undefined,
    capabilities: parts.functions ? createCapabilityGate(openCapabilityHoldStore(state)) : undefined,
  };
  const report = (f: Finding) => respond(parts, holds, f);
  const { quarantine, principals, blocks, rootHolds, capabilities: gate } = holds;
  // Refreshed every REFRESH_MS: holds changed elsewhere (another node, the CLI).
  const refreshes: ((round: number) => Promise<void>)[] = [
    async () => {
      const { lifted } = await principals.refresh();
      for (const principal of lifted)
        logger.info({ principal }, "principal's hold lifted; its held work runs now");
      if (lifted.length > 0) parts.chainsChanged();
    },
  ];
  const heldBy = (event: ChainEvent): boolean => principals.held(rootOf(event).principal);
  const detection: Detection = {
    quarantined: (fn) => quarantine?.held(fn) ?? false,
    verdict: (_fn, event) => (heldBy(event) ? "wait" : "run"),
    capability: () => undefined,
    clientBlocked: (ip) => blocks?.blocked(ip),
    principalHeld: (principal) => principals.held(principal),
    principalLimit: (_principal, limit) => limit,
    functionThrottle: () => undefined,
    close: async () => {
      clearInterval(timer);
      for (const stop of stops) stop();
    },
  };
  let refreshing = false;
  let round = 0;
  const timer = setInterval(() => {
    if (refreshing) return;
    refreshing = true;
    round += 1;
    Promise.all(refreshes.map((refresh) => refresh(round)))
      .catch((err: unknown) =>
        logger.error({ err: toPalisadeError(err).message }, "cannot read the quarantine state; retrying"),
      )
      .finally(() => {
        refreshing = false;
      });
  }, REFRESH_MS);
  timer.unref();
  if (blocks !== undefined) {
    const stuffing = createCredentialStuffing(app.detect.credentialStuffing, report);
    stops.push(signals.on("ingress.rejected", (s) => stuffing.rejected(s)));
    stops.push(signals.on("ingress.accepted", (s) => stuffing.accepted(s)));
    // Per gateway: each counts (and throttles) the traffic that reaches it.
    const flood = createIngressFlood(app.detect.ingressFlood, report);
    stops.push(signals.on("ingress.accepted", (s) => flood.accepted(s)));
    detection.principalLimit = (principal, limit) => {
      const throttled = flood.throttled(principal);
      return throttled === undefined || throttled >= limit.perSecond
        ? limit
        : { perSecond: throttled, burst: Math.max(1, Math.ceil(throttled)) };
    };
  }
  if (quarantine === undefined || rootHolds === undefined || gate === undefined) return detection;
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
  detection.capability = (fn, kind, target, event) => {
    // A target new after learning, with response hold, is reported here: respond() holds its scope.
    novelty.admit({ fn, capability: kind, target, eventId: event.id });
    return gate.check(fn, kind, target, event);
  };
  stops.push(signals.on("invocation.settled", (s) => novelty.invoked(s)));
  // Both learn in memory from the attempts this node runs; a restart learns again.
  const outliers = createOutliers(app.detect.outliers, report);
  stops.push(signals.on("invocation.settled", (s) => outliers.settled(s)));
  const costDrift = createCostDrift(app.detect.costDrift, report);
  stops.push(signals.on("invocation.cost", (s) => costDrift.cost(s)));
  // Per node: each throttles the attempts its dispatcher starts.
  detection.functionThrottle = (fn, now) => costDrift.throttled(fn, now);
  const lineage = createLineage({
    policy: app.detect.amplification,
    budget: budgetsOf(app),
    maxDepth: (fn) => app.functions.get(fn)?.recursion?.maxDepth,
    subscribers: countOf(runnersOf(app)),
    report,
  });
  holds.lineage = lineage;
  stops.push(signals.on("event.emitted", (s) => lineage.emitted(s.fn, s.event)));
  for (const { root, since } of await rootHolds.list()) lineage.hold(root, since);
  // Holds and discards made while this node was down apply from its start.
  for (const scope of (await gate.refresh(true)).imposed)
    logger.info({ capability: scope }, "capability target held: calls to it wait with their deliveries");
  for (const root of await rootHolds.discarded()) lineage.discard(root);
  detection.verdict = (fn, event) => {
    if (heldBy(event)) return "wait";
    const chain = lineage.verdict(fn, event);
    return chain === "run" ? gate.verdict(fn, event) : chain;
  };
  for (const fn of app.functions.keys()) {
    metrics.quarantined.set({ fn }, quarantine.held(fn) ? 1 : 0);
    if (quarantine.held(fn)) parts.held(fn);
  }
  refreshes.push(
    () => refreshQuarantine(parts, quarantine, deniedBurst),
    (r) => refreshChains(parts, lineage, rootHolds, r % LIST_EVERY === 0),
    async (r) => {
      const { changed, imposed } = await gate.refresh(r % LIST_EVERY === 0);
      for (const scope of imposed)
        logger.info({ capability: scope }, "capability target held: calls to it wait with their deliveries");
      if (changed) parts.chainsChanged();
    },
  );
  detection.close = async () => {
    clearInterval(timer);
    for (const stop of stops) stop();
    await novelty.close();
  };
  return detection;
}

/** How many functions an event of a type at a hop runs (the invocations one such event causes). */
function countOf(runners: ReturnType<typeof runnersOf>): (type: string, hop: number) => number {
  return (type, hop) => runners(type, hop).length;
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
function respond(parts: DetectionParts, holds: Holds, found: Finding): void {
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
