/**
 * The incubating (not yet stable) OpenTelemetry semantic conventions Palisade's spans use, copied as
 * @opentelemetry/semantic-conventions recommends for its `incubating` entry point, which may break
 * in a minor version (its README, "Unstable SemConv"). semconv.test.ts checks each value against
 * the installed package, so an update that renames one fails there. Stable names are imported.
 */

/** The messaging system: Palisade's own event bus. */
export const ATTR_MESSAGING_SYSTEM = "messaging.system";
export const ATTR_MESSAGING_OPERATION_TYPE = "messaging.operation.type";
export const ATTR_MESSAGING_OPERATION_NAME = "messaging.operation.name";
export const ATTR_MESSAGING_DESTINATION_NAME = "messaging.destination.name";
export const ATTR_MESSAGING_MESSAGE_ID = "messaging.message.id";
export const MESSAGING_OPERATION_TYPE_VALUE_SEND = "send";
export const MESSAGING_OPERATION_TYPE_VALUE_PROCESS = "process";

export const ATTR_FAAS_TRIGGER = "faas.trigger";
export const ATTR_FAAS_INVOKED_NAME = "faas.invoked_name";
export const ATTR_FAAS_INVOCATION_ID = "faas.invocation.id";
export const ATTR_FAAS_COLDSTART = "faas.coldstart";
export const FAAS_TRIGGER_VALUE_PUBSUB = "pubsub";

export const ATTR_CLOUDEVENTS_EVENT_ID = "cloudevents.event_id";
export const ATTR_CLOUDEVENTS_EVENT_SOURCE = "cloudevents.event_source";
export const ATTR_CLOUDEVENTS_EVENT_TYPE = "cloudevents.event_type";
export const ATTR_CLOUDEVENTS_EVENT_SPEC_VERSION = "cloudevents.event_spec_version";
export const ATTR_CLOUDEVENTS_EVENT_SUBJECT = "cloudevents.event_subject";
