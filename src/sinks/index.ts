export { MAX_RETRY_AFTER_MS, type SendToSinkOptions, type SinkOutcome, sendToSink } from "./send-to-sink.ts";
export {
  createSinkDelivery,
  type DeliverToSink,
  SINK_DELIVERY_FAILED,
  type SinkDeliveryOptions,
} from "./sink-delivery.ts";
export {
  DEFAULT_SINK_MAX_RESPONSE_BYTES,
  egressRulesFor,
  SINK_INVALID,
  type SinkTarget,
} from "./sink-target.ts";
