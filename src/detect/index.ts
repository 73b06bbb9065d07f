export {
  createDeniedBurst,
  type DeniedBurst,
} from "./denied-burst.ts";
export { findingEventId, openQuarantine, type Quarantine, quarantineKey } from "./quarantine.ts";
