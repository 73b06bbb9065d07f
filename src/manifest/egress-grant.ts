/**
 * Egress grants (`functions.<name>.egress`): `host:port` allows https to exactly that host and port;
 * `http://host:port` allows plain http there. Plain http is never implied, and there are no
 * wildcards: each entry names one destination.
 */
import ipaddr from "ipaddr.js";
import type { EgressRule } from "./app-model.ts";

const FORMS = 'write "host:443" for https or "http://host:80" for plain http';

/** Parses one entry; returns the rule, or a message saying what is wrong with it. */
export function parseEgressGrant(entry: string): EgressRule | string {
  if (entry.includes("*")) return `wildcards are not allowed in egress; name each host and port (${FORMS})`;
  const http = entry.startsWith("http://");
  if (!http && /^[a-z][a-z0-9+.-]*:\/\//i.test(entry))
    return `only "host:port" (https) and "http://host:port" are accepted; ${FORMS}`;
  let url: URL;
  try {
    url = new URL(http ? entry : `https://${entry}`);
  } catch {
    return `"${entry}" is not a host and port; ${FORMS}`;
  }
  const bare = http ? entry.slice("http://".length) : entry;
  if (url.pathname !== "/" || url.search !== "" || url.hash !== "" || url.username !== "" || /\/$/.test(bare))
    return `"${entry}" must be just a host and port, without a path, query or credentials`;
  // new URL drops a port equal to the scheme's default, so read the one that was written.
  const written = /:(\d{1,5})$/.exec(bare)?.[1];
  if (written === undefined) return `"${entry}" has no port; ${FORMS}`;
  const port = Number(written);
  if (port < 1 || port > 65535) return `"${entry}" has port ${port}, outside 1–65535`;
  const host = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
  return { entry, scheme: http ? "http" : "https", host, port, ip: ipaddr.isValid(host) };
}
