export { assertBundleHasNoSymlinks } from "./bundle-check.ts";
export {
  type CapabilityBackends,
  type CapabilityHost,
  type CapabilityObserver,
  type CapabilityUse,
  createCapabilityHost,
  type Invocation,
  type KvBackend,
} from "./capability-host.ts";
export { deliveryError } from "./delivery-error.ts";
export { egressFetch, type FetchResult } from "./egress.ts";
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
export { CAPABILITY_QUEUE, type FetchBuffer, type LimitName } from "./invocation-budget.ts";
export { detectOsLayer, type OsLayer } from "./os-layer.ts";
export type { LogLevel } from "./protocol.ts";
export {
  createSandboxPool,
  type FunctionLog,
  IDLE_STOP_MS,
  INVOKE_BATCH,
  type SandboxPool,
} from "./sandbox-pool.ts";
export { sandboxFlags } from "./sandbox-process.ts";
