export {
  CAPABILITY_HOLD_PREFIX,
  type CapabilityGate,
  type CapabilityHoldStore,
  type CapabilityTarget,
  type CapabilityWait,
  capabilityScope,
  createCapabilityGate,
  DISCARD_WAIT,
  HOLDABLE_KINDS,
  openCapabilityHoldStore,
  parseCapabilityScope,
} from "./capability-holds.ts";
export { type ClientBlocks, createClientBlocks } from "./client-blocks.ts";
export { type CostDrift, createCostDrift, ESCALATE_WINDOW_MS } from "./cost-drift.ts";
export { type CredentialStuffing, createCredentialStuffing } from "./credential-stuffing.ts";
export { createDeniedBurst, type DeniedBurst } from "./denied-burst.ts";
export { createIngressFlood, type IngressFlood } from "./ingress-flood.ts";
export { createLineage, type Lineage, type LineageParts, rootKey } from "./lineage.ts";
export { createNovelty, MAX_PAIRS, type Novelty, type NoveltyBaseline, type NoveltyUse } from "./novelty.ts";
export {
  NOVELTY_FILE,
  type NoveltyDetector,
  type NoveltyLogger,
  openNovelty,
  readBaselines,
  writeBaselines,
} from "./novelty-file.ts";
export { createOutliers, OUTLIER_FLOORS, type Outliers } from "./outliers.ts";
export { findingEventId, openQuarantine, type Quarantine, quarantineKey } from "./quarantine.ts";
export {
  openRootHolds,
  openScopeHolds,
  ROOT_DISCARDED,
  ROOT_HOLD_PREFIX,
  type RootHoldState,
  type RootHolds,
} from "./root-holds.ts";
