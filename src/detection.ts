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
import type { SharedState, Verdict } from "./bus/index.ts";
import {
  createCapabilityGate,
  createClientBlocks,
  createCostDrift,
  createCredentialStuffing,
  createDeniedBurst,
  createIngressFlood,
  createLineage,
  createOutliers,
  type DeniedBurst,
  type Lineage,
  NOVELTY_FILE,
  openCapabilityHoldStore,
  openNovelty,
  openQuarantine,
  openRootHolds,
  type Quarantine,
  type RootHolds,
} from "./detect/index.ts";
import { type Holds, type ResponseParts, respond } from "./detection-response.ts";
import { toPalisadeError } from "./errors.ts";
import { rootOf } from "./events/index.ts";
import { type AppModel, type RateLimit, runnersOf, worstCaseAmplification } from "./manifest/index.ts";
import type { CapabilityKind, ChainEvent, Finding } from "./signals/index.ts";

/** How often the quarantine and the chains' holds are re-read for changes made elsewhere (the CLI). */
const REFRESH_MS = 1000;
/** Every this many refreshes, roots held by other nodes (or before a restart) are read too. */
const LIST_EVERY = 5;

export interface DetectionParts extends ResponseParts {
  /** The deployment's shared state: the holds every node and the CLI see. */
  state: SharedState;
  /** Whether functions run here (a gateway runs none: no function or chain holds there). */
  functions: boolean;
  /** Whether requests come in here (this process's gateway blocks client addresses). */
  ingress: boolean;
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
  const heldHere = (scopes: readonly string[]) => {
    for (const scope of scopes)
      logger.info({ capability: scope }, "capability target held: calls to it wait with their deliveries");
  };
  heldHere((await gate.refresh(true)).imposed);
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
      heldHere(imposed);
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
