export {
  ATTEMPTS_PREFIX,
  COST_FLUSH_MS,
  COST_PREFIX,
  type CostMeter,
  type CostMeterParts,
  type CostScope,
  costCounter,
  openCostMeter,
} from "./cost-meter.ts";
export {
  type AttemptUsage,
  costOf,
  endOfUtcDay,
  NANO_PER_USD,
  reserveOf,
  totalOf,
  utcDay,
} from "./cost-model.ts";
