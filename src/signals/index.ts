export {
  type CapabilityKind,
  type ChainEvent,
  type CostParts,
  createSignals,
  type Finding,
  type Scope,
  type Signal,
  type SignalKind,
  type SignalOf,
  type Signals,
} from "./signals.ts";
