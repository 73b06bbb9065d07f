/**
 * A sink as delivery sees it: where events go, in which content mode, with which credential, and
 * the egress grants that follow from its url and `allowAddresses`.
 *
 * Threat model: the receiver, its DNS and everything between are untrusted; a sink's url is the
 * operator's, but the name in it may resolve anywhere (rebinding, a hijacked zone). So a sink reaches
 * exactly its url's host and port, over https, at public addresses only; a private, loopback,
 * link-local or metadata address only when `allowAddresses` lists it exactly, and plain http only to
 * such a listed address written in the url. The egress policy is ctx.fetch's (runtime/egress.ts).
 */
import { isIP } from "node:net";
import ipaddr from "ipaddr.js";
import { PalisadeError } from "../errors.ts";
import type { EgressRule } from "../manifest/index.ts";

/** A sink's configuration is unusable: a bad url, address list or secret. */
export const SINK_INVALID = "PAL_SINK_INVALID";

/** Most response bytes read from a receiver; the rest is never read (the connection is closed). */
export const DEFAULT_SINK_MAX_RESPONSE_BYTES = 64 * 1024;

/** One sink, resolved: secret values already read from the secret store. */
export interface SinkTarget {
  name: string;
  url: URL;
  /** CloudEvents HTTP binding content mode (§3.1 binary, §3.2 structured). */
  mode: "structured" | "binary";
  /**
   * `bearer`: `Authorization: Bearer <secret>`. `webhook`: a Standard Webhooks signature; the secret
   * is `whsec_<base64>` or plain base64 of the key, as Standard Webhooks libraries read it.
   */
  auth?: { kind: "bearer"; secret: string } | { kind: "webhook"; secret: string };
  /** IP addresses this sink may reach although they are not public (loopback, RFC 1918, ...). */
  allowAddresses: readonly string[];
  timeoutMs: number;
  maxResponseBytes: number;
}

/**
 * The egress grants of a sink: its url's host and port (https; plain http only when the url's host
 * is an address listed in `allowAddresses`), and each listed address exactly, on the url's port.
 * Throws SINK_INVALID for a url that is not http(s) or a listed entry that is not an IP address.
 */
export function egressRulesFor(target: Pick<SinkTarget, "name" | "url" | "allowAddresses">): EgressRule[] {
  const { name, url } = target;
  if (url.protocol !== "https:" && url.protocol !== "http:")
    throw invalid(`Sink "${name}" has url scheme "${url.protocol}"; use an https url`);
  if (url.username !== "" || url.password !== "")
    throw invalid(`Sink "${name}" has credentials in its url; remove them and set the sink's auth`);
  const scheme = url.protocol === "http:" ? "http" : "https";
  const port = url.port === "" ? (scheme === "http" ? 80 : 443) : Number(url.port);
  const host = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
  const listed = target.allowAddresses.map((address) => {
    // net.isIP, not ipaddr.isValid: ipaddr.js also takes octal and short IPv4 forms ("010.1").
    if (isIP(address) === 0)
      throw invalid(
        `Sink "${name}" lists "${address.slice(0, 64)}" in allowAddresses, which is not an IP address; list exact addresses such as "10.0.0.5" or "::1"`,
      );
    return ipaddr.process(address).toString();
  });
  const hostListed = isIP(host) !== 0 && listed.includes(ipaddr.process(host).toString());
  const rules: EgressRule[] = [];
  if (scheme === "https" || hostListed)
    // ip false: naming the url's host grants the host, never a non-public address by itself.
    rules.push({ entry: grantEntry(scheme, host, port), scheme, host, port, ip: false });
  for (const address of new Set(listed))
    rules.push({ entry: grantEntry(scheme, address, port), scheme, host: address, port, ip: true });
  return rules;
}

const grantEntry = (scheme: "http" | "https", host: string, port: number) =>
  `${scheme === "http" ? "http://" : ""}${isIP(host) === 6 ? `[${host}]` : host}:${port}`;

function invalid(message: string): PalisadeError {
  return new PalisadeError(SINK_INVALID, message, { status: 400 });
}
