export { createGateway, DEFAULT_BODY_LIMIT, type GatewayOptions } from "./create-gateway.ts";
export { type ErrorBody, errorReply } from "./error-reply.ts";
export {
  GATEWAY_BAD_JSON,
  GATEWAY_BAD_REQUEST,
  GATEWAY_NOT_FOUND,
  GATEWAY_TOO_LARGE,
  GATEWAY_UNSUPPORTED_MEDIA,
} from "./errors.ts";
