import type { SinkSpec } from "../../manifest/index.ts";
import type { CheckContext } from "../check-context.ts";
import type { Hit } from "../finding.ts";
import { internalReason } from "./grants.ts";

/**
 * PAL015–PAL017: where sinks deliver. A sink is egress the platform performs itself: its url and
 * allowAddresses are grants like a function's `egress:`, and its auth is all a receiver has to tell
 * Palisade's deliveries from anyone's.
 */
export const SINK_RULES = {
  PAL015: (ctx: CheckContext): Hit[] =>
    sinks(ctx)
      .filter((sink) => new URL(sink.url).protocol === "http:")
      .map((sink) => ({
        message: `Sink "${sink.name}" delivers over plain HTTP to ${new URL(sink.url).host}: ${sink.auth === undefined ? "events and their data" : `events, their data and its ${sink.auth.kind === "bearer" ? "bearer token" : "webhook signature"}`} travel unencrypted`,
        fix: `use an https:// url for sinks.${sink.name} (give the receiver a TLS certificate for its name or address)`,
        location: ctx.at(["sinks", sink.name, "url"]),
      })),

  PAL016: (ctx: CheckContext): Hit[] =>
    sinks(ctx).flatMap((sink) =>
      sink.allowAddresses.flatMap((address, i) => {
        const reason = internalReason(address);
        if (reason === undefined) return [];
        return [
          {
            message: `Sink "${sink.name}" may deliver to ${address}, ${reason}: the egress policy refuses such addresses (SSRF) unless listed, and this one is, so whoever can point the url's host there (its DNS, or the manifest) can make Palisade post events to that internal service`,
            fix: `keep ${address} in sinks.${sink.name}.allowAddresses only if the receiver there is an internal service you run; otherwise remove it and deliver to a public https endpoint`,
            location: ctx.at(["sinks", sink.name, "allowAddresses", i]),
          },
        ];
      }),
    ),

  PAL017: (ctx: CheckContext): Hit[] =>
    sinks(ctx)
      .filter((sink) => sink.auth === undefined)
      .map((sink) => ({
        message: `Sink "${sink.name}" delivers without authentication: its receiver cannot tell Palisade's deliveries from anyone else's posts to ${new URL(sink.url).origin}`,
        fix: `add auth: { webhook: { secret: NAME } } (a Standard Webhooks signature) or auth: { bearer: { secret: NAME } } to sinks.${sink.name}, with the secret stored by palisade secrets set NAME; receivers can also verify each delivery's dssematerial with the platform's event keys (palisade keys event-key)`,
        location: ctx.at(["sinks", sink.name]),
      })),
};

function sinks(ctx: CheckContext): SinkSpec[] {
  return [...ctx.app.sinks.values()];
}
