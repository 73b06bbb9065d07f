export { type ClientBlocks, createClientBlocks } from "./client-blocks.ts";
export { type CredentialStuffing, createCredentialStuffing } from "./credential-stuffing.ts";
export { createDeniedBurst, type DeniedBurst } from "./denied-burst.ts";
export { findingEventId, openQuarantine, type Quarantine, quarantineKey } from "./quarantine.ts";
