export {
  type Authenticate,
  type AuthenticatorOptions,
  type ClientCertificate,
  clientCertificate,
  createAuthenticator,
} from "./authenticate.ts";
export { createGateway } from "./create-gateway.ts";
export { DEFAULT_HOST, DEFAULT_PORT } from "./default-address.ts";
export { type ErrorBody, errorReply } from "./error-reply.ts";
export {
  GATEWAY_BAD_ENCODING,
  GATEWAY_BAD_JSON,
  GATEWAY_BAD_REQUEST,
  GATEWAY_CLIENT_BLOCKED,
  GATEWAY_FORBIDDEN_KEY,
  GATEWAY_NOT_FOUND,
  GATEWAY_RATE_LIMITED,
  GATEWAY_RATE_STORE_UNAVAILABLE,
  GATEWAY_TOO_DEEP,
  GATEWAY_TOO_LARGE,
  GATEWAY_UNAUTHENTICATED,
  GATEWAY_UNSAFE_NUMBER,
  GATEWAY_UNSUPPORTED_MEDIA,
  GATEWAY_WEBHOOK_REPLAY,
} from "./errors.ts";
export type { GatewayOptions, IngestResult, IngressOrigin } from "./gateway-options.ts";
export {
  createNatsRateLimitStore,
  type NatsRateLimitStoreOptions,
  rateLimitKey,
} from "./nats-rate-limit-store.ts";
export { createOpsServer, type MetricsGuard, type Readiness, registerOpsRoutes } from "./ops-routes.ts";
export {
  MAX_JSON_DEPTH,
  type ParseJsonOptions,
  parseJsonBody,
  type StringFormCheck,
} from "./parse-json-body.ts";
export {
  DEFAULT_RATE_LIMIT_TIMEOUT_MS,
  DEFAULT_RATE_LIMIT_TTL_MS,
  openRateLimitBucket,
  type RateLimitBucketOptions,
} from "./rate-limit-bucket.ts";
export {
  createMemoryRateLimitStore,
  DEFAULT_CLIENT_RATE_LIMIT,
  type RateLimitStore,
  type SyncRateLimitStore,
} from "./rate-limiter.ts";
export { verifyWebhook } from "./verify-webhook.ts";
export { webhookPrincipal } from "./webhook-route.ts";
