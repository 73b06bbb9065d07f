export { bundleFunction } from "./bundle-function.ts";
export {
  type CapabilityBackends,
  type CapabilityHost,
  createCapabilityHost,
  type Invocation,
} from "./capability-host.ts";
export {
  RUNTIME_BUNDLE_FAILED,
  RUNTIME_CLOSED,
  RUNTIME_CRASHED,
  RUNTIME_DENIED,
  RUNTIME_LOAD_FAILED,
  RUNTIME_TIMEOUT,
} from "./errors.ts";
export type { LogLevel } from "./protocol.ts";
export { createSandboxPool, type FunctionLog, INVOKE_BATCH, type SandboxPool } from "./sandbox-pool.ts";
export { sandboxFlags } from "./sandbox-process.ts";
