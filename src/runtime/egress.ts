/**
 * The host side of `ctx.fetch`: an HTTP(S) client that reaches only what a function's `egress`
 * grants name (`host:port` for https, `http://host:port` for plain http; see manifest/egress-grant.ts).
 *
 * Threat model: the function is hostile, and so is every URL, header and body it sends over IPC. It
 * must not reach a scheme, host or port that is not granted; reach an internal address (loopback,
 * RFC 1918, link-local cloud metadata, carrier-grade NAT, unique-local IPv6...) through a granted DNS
 * name, including by DNS rebinding between the check and the connect (the host resolves the name once
 * and connects to the addresses it checked); escape the grants through redirects (every hop is checked
 * like the first); smuggle requests or pick another virtual host through connection-control headers;
 * or tie up the host with unbounded bodies or time.
 *
 * Sink deliveries (`caller: "sink"`) go through the same checks: a sink's grants are its url's host
 * and port plus the addresses its `allowAddresses` lists; only the wording of messages differs.
 *
 * Not covered: what a granted host does with the data (sending data to a granted host is the point),
 * a granted host that itself forwards requests inward, and TLS to hosts that are granted by IP with a
 * certificate for that IP. HTTP proxies from the environment are never used (each request has its own
 * agent), since a proxy would connect to addresses this module never checked.
 */

import type { LookupAddress } from "node:dns";
import { lookup as dnsLookup } from "node:dns/promises";
import {
  request as httpRequest,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  validateHeaderName,
  validateHeaderValue,
} from "node:http";
import { request as httpsRequest, type RequestOptions } from "node:https";
import { isIP, type LookupFunction } from "node:net";
import { getCACertificates } from "node:tls";
import ipaddr from "ipaddr.js";
import { egressDestination } from "../egress-destination.ts";
import { isPalisadeError, PalisadeError } from "../errors.ts";
import type { EgressRule } from "../manifest/index.ts";
import {
  RUNTIME_BAD_CALL,
  RUNTIME_DENIED,
  RUNTIME_EGRESS_FAILED,
  RUNTIME_LIMIT_EXCEEDED,
  RUNTIME_OUTPUT_TOO_LARGE,
} from "./errors.ts";
import type { FetchResult } from "./guest/protocol.ts";
import type { FetchBuffer } from "./invocation-budget.ts";

/** Total time for one ctx.fetch: DNS, connect, every redirect and the body. */
export const DEFAULT_EGRESS_TIMEOUT_MS = 10_000;
export const DEFAULT_MAX_RESPONSE_BYTES = 5 * 1024 * 1024;
export const DEFAULT_MAX_REQUEST_BYTES = 5 * 1024 * 1024;
export const DEFAULT_MAX_REDIRECTS = 5;

/** Resolves a DNS name to every address it has (`dns.lookup` with `all: true`). */
export type LookupAll = (hostname: string) => Promise<readonly LookupAddress[]>;

export interface EgressOptions {
  /** Name of the calling function (or sink, with `caller: "sink"`), for messages. */
  readonly fn: string;
  /**
   * Who calls, for messages only: `ctx.fetch` of a function (denials point at `functions.<fn>.egress`)
   * or a sink's delivery (denials point at `sinks.<fn>.allowAddresses`). The policy is the same.
   * @default "function"
   */
  readonly caller?: "function" | "sink";
  /** Follow redirects, checking each hop like the first; false returns a 3xx response as it is. @default true */
  readonly followRedirects?: boolean;
  /**
   * Return the response with the body read so far (at most `maxResponseBytes`, then the connection is
   * closed) when the body goes over the limit, or the deadline or the network cuts it short after the
   * status arrived, instead of failing: for callers that act on the status alone (sink deliveries).
   * @default false
   */
  readonly truncateBody?: boolean;
  /** The function's grants (FunctionSpec.egress). */
  readonly rules: readonly EgressRule[];
  /**
   * Asked with each hop's destination (`<scheme>//<host>:<port>`) once the grants allow it, before
   * anything is sent; it throws to stop the request (a held capability target).
   */
  readonly admit?: (destination: string) => void;
  /** @default dns.promises.lookup with `all: true` */
  readonly lookup?: LookupAll;
  /** CA certificates trusted for https in addition to the default ones. */
  readonly ca?: string | Buffer | readonly (string | Buffer)[];
  /** @default DEFAULT_MAX_RESPONSE_BYTES */
  readonly maxResponseBytes?: number;
  /** @default DEFAULT_MAX_REQUEST_BYTES */
  readonly maxRequestBytes?: number;
  /** @default DEFAULT_EGRESS_TIMEOUT_MS */
  readonly timeoutMs?: number;
  /** @default DEFAULT_MAX_REDIRECTS */
  readonly maxRedirects?: number;
  /** The invocation's shared response buffer (`limits.fetchBytes`); each chunk read takes from it. */
  readonly buffer?: FetchBuffer;
}

/** A URL whose grant and addresses were checked: connect only to `addresses`. */
export interface EgressTarget {
  readonly url: URL;
  readonly addresses: readonly LookupAddress[];
}

/** One request of a fetch, validated; redirects derive the next one. */
interface Outgoing {
  readonly url: URL;
  readonly method: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer | undefined;
}

/**
 * Performs `ctx.fetch(url, init)` for function `options.fn`. Rejects with RUNTIME_DENIED when policy
 * refuses it (the caller records these), RUNTIME_BAD_CALL for malformed arguments,
 * RUNTIME_OUTPUT_TOO_LARGE for a request body over the limit, and RUNTIME_EGRESS_FAILED for network
 * errors, timeouts and responses over the limit.
 */
export async function egressFetch(url: unknown, init: unknown, options: EgressOptions): Promise<FetchResult> {
  let out = prepareRequest(url, init, options);
  const started = out.url.href;
  const timeoutMs = options.timeoutMs ?? DEFAULT_EGRESS_TIMEOUT_MS;
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(), timeoutMs);
  try {
    for (let hop = 0; ; hop++) {
      const target = await resolveEgressTarget(out.url, options, deadline.signal);
      options.admit?.(egressDestination(out.url.href));
      const res = await send(target, out, options, deadline.signal);
      const next = options.followRedirects === false ? undefined : redirectOf(out, res, options);
      if (next === undefined) return await respond(out.url, res, hop > 0, options);
      res.destroy();
      if (hop >= (options.maxRedirects ?? DEFAULT_MAX_REDIRECTS))
        throw failed(`${cannot(options)} ${started}: more than ${hop} redirects`, false);
      out = next;
    }
  } catch (err) {
    if (deadline.signal.aborted)
      throw failed(`${cannot(options)} ${started}: no complete response within ${timeoutMs} ms`, true, 504);
    if (isPalisadeError(err)) throw err;
    throw failed(`${cannot(options)} ${started}: ${err instanceof Error ? err.message : String(err)}`, true);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Checks `url` against the grants, resolves its host and checks every address; resolves to what may
 * be connected to, or rejects with RUNTIME_DENIED. Makes no connection.
 */
export async function resolveEgressTarget(
  url: URL,
  options: EgressOptions,
  signal?: AbortSignal,
): Promise<EgressTarget> {
  const { scheme, host, port } = endpoint(url);
  const where = `${scheme}://${hostPort(host, port)}`;
  if (!options.rules.some((r) => r.scheme === scheme && r.host === host && r.port === port))
    throw denied(
      options.caller === "sink"
        ? `Sink "${options.fn}" may not deliver to ${where}; plain http is used only for an IP address listed in sinks.${options.fn}.allowAddresses: use an https url, or add the address to sinks.${options.fn}.allowAddresses and use it in the url`
        : `Function "${options.fn}" may not fetch ${where}; add "${grantFor(scheme, host, port)}" to functions.${options.fn}.egress in palisade.yaml`,
    );
  const addresses = isIP(host)
    ? [{ address: host, family: isIP(host) }]
    : await resolve(host, where, options, signal);
  // Any refused address refuses the request, rather than connecting to the others: a name that
  // resolves partly inward is suspect, and picking among answers invites rebinding games.
  for (const { address } of addresses) {
    const why = checkAddress(address, scheme, port, options.rules);
    if (why === undefined) continue;
    const example = grantFor(scheme, address, port);
    throw denied(
      options.caller === "sink"
        ? `Sink "${options.fn}" may not deliver to ${where}: "${host}" resolves to ${address}, ${why}; only public addresses are reachable: add the address to sinks.${options.fn}.allowAddresses in palisade.yaml`
        : `Function "${options.fn}" may not fetch ${where}: "${host}" resolves to ${address}, ${why}; only public addresses are reachable unless the exact address is granted (e.g. "${example}")`,
    );
  }
  return { url, addresses };
}

// IANA allocates global unicast IPv6 only from 2000::/3 (RFC 4291 §2.4); ipaddr.js calls anything
// it has no name for "unicast", including IPv4-compatible ::a.b.c.d, so IPv6 must also be in here.
const GLOBAL_UNICAST_V6 = ipaddr.parseCIDR("2000::/3");

/**
 * Why `address` may not be reached with `scheme` on `port` ("a loopback address"), or undefined when
 * it may: it is global unicast, or a grant names exactly this address, scheme and port.
 */
export function checkAddress(
  address: string,
  scheme: EgressRule["scheme"],
  port: number,
  rules: readonly EgressRule[],
): string | undefined {
  if (!ipaddr.isValid(address)) return "not an IP address";
  // process() turns IPv4-mapped IPv6 (::ffff:a.b.c.d) into IPv4, so IPv4's ranges apply to it.
  const ip = ipaddr.process(address);
  const same = (r: EgressRule) =>
    ipaddr.isValid(r.host) && ipaddr.process(r.host).toString() === ip.toString();
  if (rules.some((r) => r.ip && r.scheme === scheme && r.port === port && same(r))) return undefined;
  const range = ip.range();
  if (range !== "unicast") return RANGE_NAMES[range] ?? `a special-purpose address (${range})`;
  if (ip.kind() === "ipv6" && !ip.match(GLOBAL_UNICAST_V6)) return "outside IPv6 global unicast (2000::/3)";
  return undefined;
}

const RANGE_NAMES: Readonly<Record<string, string>> = {
  loopback: "a loopback address",
  private: "a private (RFC 1918) address",
  linkLocal: "a link-local address",
  uniqueLocal: "a unique-local address",
  carrierGradeNat: "a carrier-grade NAT address",
  unspecified: "the unspecified address",
  broadcast: "the broadcast address",
  multicast: "a multicast address",
  reserved: "a reserved address",
};

async function resolve(
  host: string,
  where: string,
  options: EgressOptions,
  signal: AbortSignal | undefined,
): Promise<readonly LookupAddress[]> {
  const lookup = options.lookup ?? ((name: string) => dnsLookup(name, { all: true, order: "verbatim" }));
  let addresses: readonly LookupAddress[];
  try {
    const answer = lookup(host);
    addresses = await (signal === undefined ? answer : Promise.race([answer, abortedBy(signal)]));
  } catch (err) {
    if (signal?.aborted) throw err;
    const why = (err as NodeJS.ErrnoException).code ?? String(err);
    throw failed(`${cannot(options)} ${where}: DNS lookup of "${host}" failed (${why})`, true);
  }
  if (addresses.length === 0) throw failed(`${cannot(options)} ${where}: "${host}" has no addresses`, true);
  return addresses;
}

/** Rejects with the signal's reason once it aborts; Promise.race handles that rejection. */
function abortedBy(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    if (signal.aborted) reject(signal.reason);
    signal.addEventListener("abort", () => reject(signal.reason), { once: true });
  });
}

function send(target: EgressTarget, out: Outgoing, options: EgressOptions, signal: AbortSignal) {
  const { scheme, host, port } = endpoint(target.url);
  const headers: OutgoingHttpHeaders = { ...out.headers };
  if (out.body !== undefined) headers["content-length"] = out.body.length;
  const request: RequestOptions = {
    host,
    port,
    path: target.url.pathname + target.url.search,
    method: out.method,
    headers,
    signal,
    // A fresh agent per request: no pooled socket to an address checked for another request, and no
    // proxy from the environment.
    agent: false,
    // Connect to the checked addresses; TLS still verifies the certificate against `host` (SNI).
    lookup: pinnedLookup(target.addresses),
  };
  if (scheme === "https") {
    request.rejectUnauthorized = true;
    if (options.ca !== undefined) request.ca = [...getCACertificates("default"), ...[options.ca].flat()];
  }
  return new Promise<IncomingMessage>((ok, fail) => {
    const req = (scheme === "https" ? httpsRequest : httpRequest)(request, ok);
    req.on("error", fail);
    req.end(out.body);
  });
}

function pinnedLookup(addresses: readonly LookupAddress[]): LookupFunction {
  const [first] = addresses as [LookupAddress, ...LookupAddress[]]; // never empty: resolve() checks
  return (_hostname, opts, callback) => {
    if (opts.all) callback(null, [...addresses]);
    else callback(null, first.address, first.family);
  };
}

async function respond(
  url: URL,
  res: IncomingMessage,
  redirected: boolean,
  options: EgressOptions,
): Promise<FetchResult> {
  const limit = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  const tooLarge = () =>
    failed(`${cannot(options)} ${url.href}: the response body is over the limit of ${limit} bytes`, false);
  if (Number(res.headers["content-length"]) > limit && options.truncateBody !== true) {
    res.destroy();
    throw tooLarge();
  }
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const read of res as AsyncIterable<Buffer>) {
      // Leaving the loop (throw or break) destroys the response: nothing past the limit is read.
      const over = size + read.length > limit;
      if (over && options.truncateBody !== true) throw tooLarge();
      const chunk = over ? read.subarray(0, limit - size) : read;
      if (options.buffer?.take(chunk.length) === false) throw overBuffer(url, options);
      chunks.push(chunk);
      size += chunk.length;
      if (over) break;
    }
  } catch (err) {
    // The status has arrived: with truncateBody, a body cut short by the deadline or the network
    // still leaves a response to act on.
    if (options.truncateBody !== true || isPalisadeError(err)) throw err;
    res.destroy();
  }
  // A standalone copy: a Buffer may be a view into Node's shared pool.
  const body = new Uint8Array(Buffer.concat(chunks, size));
  const final = new URL(url);
  final.hash = ""; // as Response.url: the fragment is never part of a request
  const headers: [string, string][] = [];
  for (let i = 0; i + 1 < res.rawHeaders.length; i += 2)
    headers.push([(res.rawHeaders[i] as string).toLowerCase(), res.rawHeaders[i + 1] as string]);
  return {
    url: final.href,
    status: res.statusCode ?? 0,
    statusText: res.statusMessage ?? "",
    headers,
    body,
    redirected,
  };
}

/** Concurrent fetches of one invocation together hold more response bytes than it may buffer. */
function overBuffer(url: URL, options: EgressOptions): PalisadeError {
  return new PalisadeError(
    RUNTIME_LIMIT_EXCEEDED,
    `Cannot fetch ${url.href}: function "${options.fn}" already buffers ${options.buffer?.limit} bytes of ctx.fetch responses; raise limits.fetchBytes or fetch fewer at once`,
    { status: 429 },
  );
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
// Fetch standard §4.4 "HTTP-redirect fetch": dropped when the body is dropped, and when leaving the origin.
const BODY_HEADERS = ["content-type", "content-encoding", "content-language", "content-location"];
const CREDENTIAL_HEADERS = ["authorization", "cookie"];

/** The next request when `res` is a redirect to follow, as fetch does; undefined otherwise. */
function redirectOf(out: Outgoing, res: IncomingMessage, options: EgressOptions): Outgoing | undefined {
  const status = res.statusCode ?? 0;
  const location = res.headers.location;
  if (!REDIRECTS.has(status) || location === undefined) return undefined;
  const url = URL.parse(location, out.url);
  if (url === null)
    throw failed(`${cannot(options)} ${out.url.href}: redirect to an invalid URL ${quote(location)}`, false);
  if (url.username !== "" || url.password !== "")
    throw failed(`${cannot(options)} ${out.url.href}: redirect to a URL with credentials`, false);
  checkUrl(url, options);
  const toGet =
    (status === 303 && out.method !== "GET" && out.method !== "HEAD") ||
    ((status === 301 || status === 302) && out.method === "POST");
  const dropped = [
    ...(toGet ? BODY_HEADERS : []),
    ...(url.origin !== out.url.origin ? CREDENTIAL_HEADERS : []),
  ];
  const headers = Object.fromEntries(Object.entries(out.headers).filter(([name]) => !dropped.includes(name)));
  return { url, method: toGet ? "GET" : out.method, headers, body: toGet ? undefined : out.body };
}

const MAX_URL_LENGTH = 8192;
const MAX_HEADERS = 100;
const INIT_KEYS = ["method", "headers", "body"];
const METHOD_TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,32}$/;
// Fetch normalizes these methods to upper case; others are sent as written.
const NORMALIZED_METHODS = new Set(["DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT"]);
// Fetch's forbidden methods: CONNECT opens a tunnel; TRACE/TRACK echo the request (credentials).
const FORBIDDEN_METHODS = new Set(["CONNECT", "TRACE", "TRACK"]);
// Headers that frame the message or control the connection (RFC 9110 §7.6.1, RFC 9112 §6-7) would
// let a function desynchronize or smuggle requests; `host` would pick a virtual host other than the
// one granted; content-length is computed here. proxy-* headers are refused too.
const FORBIDDEN_HEADERS = new Set(
  "host connection keep-alive transfer-encoding te trailer upgrade content-length expect http2-settings".split(
    " ",
  ),
);

function prepareRequest(url: unknown, init: unknown, options: EgressOptions): Outgoing {
  if (typeof url !== "string" || url.length > MAX_URL_LENGTH)
    throw badCall(`ctx.fetch(url, init): url must be a string of at most ${MAX_URL_LENGTH} characters`);
  const parsed = URL.parse(url);
  if (parsed === null) throw badCall(`ctx.fetch: ${quote(url)} is not an absolute URL`);
  checkUrl(parsed, options);
  if (init === undefined || init === null)
    return { url: parsed, method: "GET", headers: {}, body: undefined };
  if (typeof init !== "object" || Array.isArray(init))
    throw badCall("ctx.fetch(url, init): init must be an object with method, headers and body");
  const fields = init as Record<string, unknown>;
  const unknown = Object.keys(fields).find((k) => !INIT_KEYS.includes(k));
  if (unknown !== undefined)
    throw badCall(`ctx.fetch: init option ${quote(unknown)} is not supported; use ${INIT_KEYS.join(", ")}`);
  const method = parseMethod(fields.method, options.fn);
  const body = parseBody(fields.body, options.maxRequestBytes ?? DEFAULT_MAX_REQUEST_BYTES);
  if (body !== undefined && (method === "GET" || method === "HEAD"))
    throw badCall(`ctx.fetch: a ${method} request cannot have a body`);
  return { url: parsed, method, headers: parseHeaders(fields.headers, options.fn), body };
}

/** Refuses what no grant can allow: schemes other than http(s), and credentials in the URL. */
function checkUrl(url: URL, options: EgressOptions): void {
  if (url.protocol !== "https:" && url.protocol !== "http:")
    throw denied(
      options.caller === "sink"
        ? `Sink "${options.fn}" may not deliver to ${quote(url.href)}; only https and http URLs are delivered to`
        : `Function "${options.fn}" may not fetch ${quote(url.href)}; only https and http URLs are fetched`,
      false,
    );
  if (url.username !== "" || url.password !== "")
    throw badCall(
      `ctx.fetch: URL ${quote(url.origin)} must not contain credentials; send an authorization header`,
    );
}

function parseMethod(method: unknown, fn: string): string {
  if (method === undefined) return "GET";
  if (typeof method !== "string" || !METHOD_TOKEN.test(method))
    throw badCall(`ctx.fetch: method ${quote(method)} is not an HTTP method`);
  const upper = method.toUpperCase();
  if (FORBIDDEN_METHODS.has(upper)) throw denied(`Function "${fn}" may not send ${upper} requests`, false);
  return NORMALIZED_METHODS.has(upper) ? upper : method;
}

function parseHeaders(headers: unknown, fn: string): Record<string, string> {
  if (headers === undefined) return {};
  const pairs = Array.isArray(headers)
    ? headers
    : typeof headers === "object" && headers !== null
      ? Object.entries(headers)
      : undefined;
  if (pairs === undefined || pairs.length > MAX_HEADERS)
    throw badCall(`ctx.fetch: headers must be an object or [name, value] pairs, at most ${MAX_HEADERS}`);
  const out: Record<string, string> = Object.create(null);
  for (const pair of pairs as unknown[]) {
    if (!isPair(pair)) throw badCall("ctx.fetch: each header must be a [name, value] pair of strings");
    const [name, value] = [pair[0].toLowerCase(), pair[1]];
    try {
      validateHeaderName(name);
      validateHeaderValue(name, value);
    } catch {
      throw badCall(`ctx.fetch: header ${quote(name)} has an invalid name or value`);
    }
    if (FORBIDDEN_HEADERS.has(name) || name.startsWith("proxy-"))
      throw denied(`Function "${fn}" may not set the ${quote(name)} header; the platform controls it`, false);
    // Repeated names combine as Headers.append does.
    out[name] = name in out ? `${out[name]}, ${value}` : value;
  }
  return { ...out };
}

const isPair = (p: unknown): p is [string, string] =>
  Array.isArray(p) && p.length === 2 && typeof p[0] === "string" && typeof p[1] === "string";

function parseBody(body: unknown, limit: number): Buffer | undefined {
  if (body === undefined) return undefined;
  let bytes: Buffer;
  if (typeof body === "string") bytes = Buffer.from(body, "utf8");
  else if (body instanceof Uint8Array) bytes = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  else throw badCall("ctx.fetch: body must be a string or a Uint8Array");
  if (bytes.length > limit)
    throw new PalisadeError(
      RUNTIME_OUTPUT_TOO_LARGE,
      `ctx.fetch request body is ${bytes.length} bytes, over the limit of ${limit}`,
      { status: 413 },
    );
  return bytes;
}

function endpoint(url: URL) {
  const scheme: EgressRule["scheme"] = url.protocol === "http:" ? "http" : "https";
  // URL keeps IPv6 hostnames in brackets; grants and lookups use the bare address.
  const host = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
  return { scheme, host, port: url.port === "" ? (scheme === "http" ? 80 : 443) : Number(url.port) };
}

/** How failure messages start: "Cannot fetch" for ctx.fetch, "Cannot deliver to" for a sink. */
const cannot = (options: EgressOptions) => (options.caller === "sink" ? "Cannot deliver to" : "Cannot fetch");
const hostPort = (host: string, port: number) => `${isIP(host) === 6 ? `[${host}]` : host}:${port}`;
const grantFor = (scheme: EgressRule["scheme"], host: string, port: number) =>
  `${scheme === "http" ? "http://" : ""}${hostPort(host, port)}`;
// Untrusted strings are quoted as JSON (escapes control characters) and clipped before they reach logs.
const quote = (value: unknown) => JSON.stringify(String(value).slice(0, 200));

/**
 * A refused request. `grant` false: refused for its shape (scheme, method, a header the platform
 * controls), which may come from the event's data, not for a destination the grants leave out.
 */
const denied = (message: string, grant = true) =>
  new PalisadeError(RUNTIME_DENIED, message, {
    status: 403,
    ...(grant ? {} : { details: { grant: false } }),
  });
const badCall = (message: string) => new PalisadeError(RUNTIME_BAD_CALL, message, { status: 400 });
const failed = (message: string, retryable: boolean, status = 502) =>
  new PalisadeError(RUNTIME_EGRESS_FAILED, message, { status, retryable });
