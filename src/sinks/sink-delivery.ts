import type { LookupAddress } from "node:dns";
import { PalisadeError } from "../errors.ts";
import { type CloudEvent, type EventSigningKey, signWireForm } from "../events/index.ts";
import type { SinkSpec } from "../manifest/index.ts";
import { sendToSink } from "./send-to-sink.ts";
import { DEFAULT_SINK_MAX_RESPONSE_BYTES, type SinkTarget } from "./sink-target.ts";

/** A delivery to a sink that did not succeed (the dispatcher retries it or dead-letters it). */
export const SINK_DELIVERY_FAILED = "PAL_SINK_DELIVERY_FAILED";

export interface SinkDeliveryOptions {
  readonly sinks: Iterable<SinkSpec>;
  /** The values of a named secret valid now (the first is the newest). */
  readonly secret: (name: string) => readonly string[];
  /** Signs what leaves the platform that was not signed when it was produced. */
  readonly eventKey: EventSigningKey;
  /** @default dns.promises.lookup */
  readonly lookup?: (hostname: string) => Promise<readonly LookupAddress[]>;
  /** CA certificates trusted for https beside the default ones. */
  readonly ca?: string | Buffer | readonly (string | Buffer)[];
}

/** Delivers one event to the sink named `sink`; rejects with what the dispatcher needs to decide. */
export type DeliverToSink = (
  sink: string,
  event: CloudEvent,
  trace: { traceparent?: string; tracestate?: string },
) => Promise<void>;

/**
 * The sinks' side of delivery: each attempt sends the event once (send-to-sink.ts) with the
 * platform's `dssematerial` (the one made when Palisade produced the event, or one made now over
 * exactly what is sent), and turns the receiver's verdict into the dispatcher's terms: a retry
 * (after the receiver's Retry-After, if it gave one), or a dead letter no retry can cure (`denied`
 * by the egress policy or the sink's configuration, `sink-rejected` for a 4xx or a redirect).
 */
export function createSinkDelivery(options: SinkDeliveryOptions): DeliverToSink {
  const specs = new Map([...options.sinks].map((s) => [s.name, s]));
  return async (name, event, trace) => {
    const spec = specs.get(name);
    if (spec === undefined) throw new Error(`No sink named "${name}"`);
    const target = targetOf(spec, options.secret);
    const dssematerial = event.dssematerial ?? signWireForm(event, options.eventKey);
    const outcome = await sendToSink(target, event, {
      dssematerial,
      ...trace,
      ...(options.lookup === undefined ? {} : { lookup: options.lookup }),
      ...(options.ca === undefined ? {} : { ca: options.ca }),
    });
    if (outcome.kind === "delivered") return;
    if (outcome.kind === "retry")
      throw new PalisadeError(SINK_DELIVERY_FAILED, outcome.message, {
        status: 502,
        retryable: true,
        ...(outcome.retryAfterMs === undefined ? {} : { retryAfterMs: outcome.retryAfterMs }),
      });
    throw new PalisadeError(SINK_DELIVERY_FAILED, outcome.message, {
      status: 502,
      deadLetter: outcome.status === undefined ? "denied" : "sink-rejected",
    });
  };
}

// The secret is read at each attempt: a rotated token or webhook secret is used at once.
function targetOf(spec: SinkSpec, secret: (name: string) => readonly string[]): SinkTarget {
  const auth =
    spec.auth === undefined ? undefined : { kind: spec.auth.kind, secret: secret(spec.auth.secret)[0] ?? "" };
  return {
    name: spec.name,
    url: new URL(spec.url),
    mode: spec.mode,
    ...(auth === undefined ? {} : { auth }),
    allowAddresses: spec.allowAddresses,
    timeoutMs: spec.timeoutMs,
    maxResponseBytes: DEFAULT_SINK_MAX_RESPONSE_BYTES,
  };
}
