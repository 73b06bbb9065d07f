import { isIP } from "node:net";
import ipaddr from "ipaddr.js";
import { compileFilter, matchesTypePattern } from "../events/index.ts";
import {
  DEFAULT_SINK_RATE,
  DEFAULT_SINK_RETRY,
  DEFAULT_SINK_TIMEOUT_MS,
  type RateLimit,
  type RetryPolicy,
  type SinkSpec,
} from "./app-model.ts";
import type { Problem } from "./problem.ts";

export interface RawSink {
  url: string;
  on: string[];
  filter?: object;
  mode?: "structured" | "binary";
  auth?: { bearer?: { secret: string }; webhook?: { secret: string } };
  allowAddresses?: string[];
  rateLimit?: { perSecond: number; burst?: number };
  timeoutMs?: number;
  retry?: Partial<RetryPolicy>;
}

/**
 * Resolves `sinks`: each url is an absolute https URL without credentials (plain http only to an
 * address the sink lists in allowAddresses, as ctx.fetch needs `http://` grants), each allowed address
 * is an exact IP, and each subscription names a declared type or a platform one.
 */
export function resolveSinks(
  raw: Record<string, RawSink> | undefined,
  subscribable: readonly string[],
  problems: Problem[],
): Map<string, SinkSpec> {
  const sinks = new Map<string, SinkSpec>();
  for (const [name, sink] of Object.entries(raw ?? {})) {
    const at = ["sinks", name];
    const before = problems.length;
    const allowAddresses = (sink.allowAddresses ?? []).map((address, i) => {
      if (isIP(address) !== 0) return ipaddr.process(address).toString();
      problems.push({
        path: [...at, "allowAddresses", i],
        message: `"${address}" is not an IP address; list the exact addresses the url's host resolves to (e.g. "10.0.0.5"), not names or ranges`,
      });
      return address;
    });
    const url = checkUrl(sink.url, allowAddresses, [...at, "url"], problems);
    sink.on.forEach((type, i) => {
      if (subscribable.some((d) => matchesTypePattern(type, d))) return;
      problems.push({
        path: [...at, "on", i],
        message: `unknown event type "${type}"; use a declared type or "prefix.*"`,
      });
    });
    if (sink.filter !== undefined) {
      const compiled = compileFilter(sink.filter);
      if (Array.isArray(compiled))
        for (const p of compiled) problems.push({ path: [...at, "filter", ...p.path], message: p.message });
    }
    if (problems.length > before || url === undefined) continue;
    const auth = sink.auth?.bearer
      ? { kind: "bearer" as const, secret: sink.auth.bearer.secret }
      : sink.auth?.webhook
        ? { kind: "webhook" as const, secret: sink.auth.webhook.secret }
        : undefined;
    const rateLimit: RateLimit = sink.rateLimit
      ? {
          perSecond: sink.rateLimit.perSecond,
          burst: sink.rateLimit.burst ?? Math.max(1, Math.ceil(sink.rateLimit.perSecond)),
        }
      : DEFAULT_SINK_RATE;
    sinks.set(
      name,
      Object.freeze({
        name,
        url,
        on: Object.freeze([...sink.on]),
        ...(sink.filter === undefined ? {} : { filter: Object.freeze(structuredClone(sink.filter)) }),
        mode: sink.mode ?? "structured",
        ...(auth === undefined ? {} : { auth: Object.freeze(auth) }),
        allowAddresses: Object.freeze(allowAddresses),
        rateLimit: Object.freeze(rateLimit),
        timeoutMs: sink.timeoutMs ?? DEFAULT_SINK_TIMEOUT_MS,
        retry: Object.freeze({ ...DEFAULT_SINK_RETRY, ...sink.retry }),
      }),
    );
  }
  return sinks;
}

function checkUrl(
  text: string,
  allowAddresses: readonly string[],
  at: (string | number)[],
  problems: Problem[],
): string | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    problems.push({ path: at, message: `"${text}" is not an absolute URL; write https://host[:port]/path` });
    return undefined;
  }
  const fail = (message: string) => {
    problems.push({ path: at, message });
    return undefined;
  };
  if (url.username !== "" || url.password !== "")
    return fail("must not carry credentials; put them in a secret and use auth.bearer or auth.webhook");
  if (url.hash !== "") return fail(`must not have a fragment ("${url.hash}"); drop it`);
  if (url.protocol === "https:") return url.href;
  if (url.protocol !== "http:") return fail(`scheme "${url.protocol}" is not supported; use https://`);
  const host = url.hostname.replace(/^\[|\]$/g, "");
  const listed = isIP(host) !== 0 && allowAddresses.includes(ipaddr.process(host).toString());
  if (!listed)
    return fail(
      `plain http:// is only for an address listed in allowAddresses (an internal receiver); use https:// for "${url.hostname}"`,
    );
  return url.href;
}
