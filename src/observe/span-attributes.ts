/**
 * Span attributes after the OpenTelemetry semantic conventions, set next to Palisade's own
 * `palisade.*` ones: messaging (the bus is the messaging system "palisade", the event type the
 * destination), CloudEvents (the event's context attributes) and FaaS (each invocation of a function).
 */
import type { Attributes } from "@opentelemetry/api";
import {
  ATTR_CLOUDEVENTS_EVENT_ID,
  ATTR_CLOUDEVENTS_EVENT_SOURCE,
  ATTR_CLOUDEVENTS_EVENT_SPEC_VERSION,
  ATTR_CLOUDEVENTS_EVENT_SUBJECT,
  ATTR_CLOUDEVENTS_EVENT_TYPE,
  ATTR_FAAS_COLDSTART,
  ATTR_FAAS_INVOCATION_ID,
  ATTR_FAAS_INVOKED_NAME,
  ATTR_FAAS_TRIGGER,
  ATTR_MESSAGING_DESTINATION_NAME,
  ATTR_MESSAGING_MESSAGE_ID,
  ATTR_MESSAGING_OPERATION_NAME,
  ATTR_MESSAGING_OPERATION_TYPE,
  ATTR_MESSAGING_SYSTEM,
  FAAS_TRIGGER_VALUE_PUBSUB,
  MESSAGING_OPERATION_TYPE_VALUE_PROCESS,
  MESSAGING_OPERATION_TYPE_VALUE_SEND,
} from "./semconv.ts";

/** `messaging.system` of every Palisade span about an event. */
export const MESSAGING_SYSTEM = "palisade";

/** What the attributes read of a CloudEvent (observe knows the envelope only by these fields). */
export interface TracedEvent {
  readonly id: string;
  readonly source: string;
  readonly type: string;
  readonly specversion: string;
  readonly subject?: string | undefined;
}

/**
 * What a span does with its event (`messaging.operation.name`): `publish` at ingress and `emit` in
 * `ctx.emit` send it (`messaging.operation.type` "send"); `deliver` hands it to a function ("process").
 */
export type EventOperation = "publish" | "emit" | "deliver";

const OPERATION_TYPE: Record<EventOperation, string> = {
  publish: MESSAGING_OPERATION_TYPE_VALUE_SEND,
  emit: MESSAGING_OPERATION_TYPE_VALUE_SEND,
  deliver: MESSAGING_OPERATION_TYPE_VALUE_PROCESS,
};

/** The messaging and CloudEvents attributes of a span about one event. */
export function eventSpanAttributes(event: TracedEvent, operation: EventOperation): Attributes {
  const attributes: Attributes = {
    [ATTR_MESSAGING_SYSTEM]: MESSAGING_SYSTEM,
    [ATTR_MESSAGING_OPERATION_TYPE]: OPERATION_TYPE[operation],
    [ATTR_MESSAGING_OPERATION_NAME]: operation,
    [ATTR_MESSAGING_DESTINATION_NAME]: event.type,
    [ATTR_MESSAGING_MESSAGE_ID]: event.id,
    [ATTR_CLOUDEVENTS_EVENT_ID]: event.id,
    [ATTR_CLOUDEVENTS_EVENT_SOURCE]: event.source,
    [ATTR_CLOUDEVENTS_EVENT_TYPE]: event.type,
    [ATTR_CLOUDEVENTS_EVENT_SPEC_VERSION]: event.specversion,
  };
  if (event.subject !== undefined) attributes[ATTR_CLOUDEVENTS_EVENT_SUBJECT] = event.subject;
  return attributes;
}

/**
 * The FaaS attributes of an invocation span: function `fn` triggered by a pub/sub delivery, with an
 * id per attempt. `faas.coldstart` comes later (`coldStartAttribute`): only the pool knows, when it
 * hands the attempt to a process, whether it had to start that process for it.
 */
export function invocationSpanAttributes(fn: string, invocationId: string): Attributes {
  return {
    [ATTR_FAAS_TRIGGER]: FAAS_TRIGGER_VALUE_PUBSUB,
    [ATTR_FAAS_INVOKED_NAME]: fn,
    [ATTR_FAAS_INVOCATION_ID]: invocationId,
  };
}

/** `faas.coldstart`: whether the invocation waited for its sandbox process to start. */
export function coldStartAttribute(coldStart: boolean): Attributes {
  return { [ATTR_FAAS_COLDSTART]: coldStart };
}
