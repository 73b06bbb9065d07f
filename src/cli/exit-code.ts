import { ADMIN_BAD_REQUEST } from "../admin/index.ts";
import { NATS_USAGE_CODES } from "../bus/index.ts";
import { INVOKE_UNKNOWN_FUNCTION } from "../invoke-once.ts";
import { MANIFEST_INVALID, MANIFEST_NOT_FOUND } from "../manifest/index.ts";
import { OBSERVE_OTEL_ENV } from "../observe/index.ts";
import { SCHEMA_BREAKING } from "../schema/index.ts";
import { SECURITY_KEY_MISSING, SECURITY_SECRET_MISSING, SECURITY_SECRET_NAME } from "../security/index.ts";
import { EXIT_FAILURE, EXIT_USAGE } from "./exit-codes.ts";
import { CLI_USAGE } from "./usage-error.ts";

export { EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from "./exit-codes.ts";

const USAGE_CODES = new Set([
  CLI_USAGE,
  ADMIN_BAD_REQUEST,
  INVOKE_UNKNOWN_FUNCTION,
  MANIFEST_INVALID,
  MANIFEST_NOT_FOUND,
  SCHEMA_BREAKING,
  OBSERVE_OTEL_ENV, // an OTEL_* variable Palisade cannot honour
  SECURITY_SECRET_NAME,
  SECURITY_SECRET_MISSING,
  SECURITY_KEY_MISSING,
  // a malformed --nats URL, a bad --nats-creds or --nats-ca file, an impossible --replicas
  ...NATS_USAGE_CODES,
]);

/**
 * Usage errors, manifest mistakes, breaking schema changes, missing secrets and wrong NATS flags are
 * the caller's to fix (2); everything else, NATS unreachable or unsafe included, is a failure (1).
 */
export function exitCodeFor(code: string): number {
  return USAGE_CODES.has(code) ? EXIT_USAGE : EXIT_FAILURE;
}
