export { createGateway, DEFAULT_BODY_LIMIT, type GatewayOptions } from "./create-gateway.ts";
export { type ErrorBody, errorReply } from "./error-reply.ts";
export {
  GATEWAY_BAD_ENCODING,
  GATEWAY_BAD_JSON,
  GATEWAY_BAD_REQUEST,
  GATEWAY_FORBIDDEN_KEY,
  GATEWAY_NOT_FOUND,
  GATEWAY_TOO_DEEP,
  GATEWAY_TOO_LARGE,
  GATEWAY_UNSUPPORTED_MEDIA,
} from "./errors.ts";
export { MAX_JSON_DEPTH, parseJsonBody } from "./parse-json-body.ts";
