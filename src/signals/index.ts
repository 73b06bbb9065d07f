export {
  type CapabilityKind,
  type ChainEvent,
  createSignals,
  type Finding,
  type Scope,
  type Signal,
  type SignalKind,
  type SignalOf,
  type Signals,
} from "./signals.ts";
