export {
  type AppModel,
  DEFAULT_LIMITS,
  DEFAULT_RETRY,
  type EventTypeSpec,
  type FunctionSpec,
  type Limits,
  type RetryPolicy,
} from "./app-model.ts";
export { MANIFEST_INVALID, MANIFEST_NOT_FOUND } from "./errors.ts";
export { loadApp, MANIFEST_FILE } from "./load-app.ts";
