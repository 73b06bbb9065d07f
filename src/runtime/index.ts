export { assertBundleHasNoSymlinks } from "./bundle-check.ts";
export {
  type CapabilityBackends,
  type CapabilityGateCheck,
  type CapabilityHost,
  type CapabilityObserver,
  type CapabilityUse,
  createCapabilityHost,
  heldCallError,
  type Invocation,
  type KvBackend,
} from "./capability-host.ts";
export { CRASH_POLICY, type CrashPolicy } from "./crash-breaker.ts";
export { deliveryError } from "./delivery-error.ts";
export { egressFetch } from "./egress.ts";
export {
  RUNTIME_CLOSED,
  RUNTIME_CRASHED,
  RUNTIME_DENIED,
  RUNTIME_LIMIT_EXCEEDED,
  RUNTIME_LOAD_FAILED,
  RUNTIME_OUTPUT_TOO_LARGE,
  RUNTIME_TIMEOUT,
} from "./errors.ts";
export { guardFunctionLog, HOST_LOG_FIELDS, type LogLimitReason } from "./guard-function-log.ts";
export type { FetchResult, LogLevel } from "./guest/protocol.ts";
export { CAPABILITY_QUEUE, type FetchBuffer, type LimitName } from "./invocation-budget.ts";
export { INVOKE_BATCH } from "./invoke-batches.ts";
export { bwrapArgs, detectOsLayer, type OsLayer } from "./os-layer.ts";
export type { SandboxPoolEvents } from "./pool-processes.ts";
export { createSandboxPool, type FunctionLog, IDLE_STOP_MS, type SandboxPool } from "./sandbox-pool.ts";
export { MAX_MESSAGE_BYTES, type SandboxViolation, sandboxFlags } from "./sandbox-process.ts";
export { removeStaleScratch } from "./scratch-dir.ts";
