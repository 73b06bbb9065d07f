/**
 * The admin API (`/admin/v1/...`, JSON) and the dashboard (`/ui/`) on the gateway's port. Each
 * route names the role it needs; the service does the work. Errors have the usual body
 * (`{ error: { code, message } }`); refused credentials (401/403) are reported like any refused
 * request, so the credential-stuffing detector sees guessing here too, and a blocked address is
 * refused before its credential is looked at. Every answer carries a strict Content-Security-Policy,
 * `X-Frame-Options: DENY` and `no-store`.
 */
import cookie from "@fastify/cookie";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import secureJson from "secure-json-parse";
import { AUDIT_KIND, type AuditEntry } from "../audit/index.ts";
import { PalisadeError } from "../errors.ts";
import { errorReply } from "../gateway/index.ts";
import type { AdminRole } from "../manifest/index.ts";
import { type AdminAuth, type Caller, CSRF_HEADER, requireRole, SESSION_COOKIE } from "./admin-auth.ts";
import type { AdminService } from "./admin-service.ts";
import { ADMIN_BAD_REQUEST, ADMIN_NOT_FOUND, ADMIN_UNAVAILABLE } from "./errors.ts";
import type { StreamHub } from "./event-stream.ts";
import { PAGE_DEFAULT, PAGE_MAX } from "./events-view.ts";
import { ABSOLUTE_MS, type Sessions } from "./sessions.ts";
import { registerUi } from "./ui-assets.ts";

/** Headers on every admin and dashboard answer. */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "x-frame-options": "DENY",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-resource-policy": "same-origin",
  "cache-control": "no-store",
});

const BODY_LIMIT = 64 * 1024;
const MAX_LIST = 1000;

export interface AdminRoutesOptions {
  readonly service: AdminService;
  readonly auth: AdminAuth;
  readonly sessions: Sessions;
  readonly stream: StreamHub;
  /** Set the cookie's Secure flag (the gateway serves TLS). */
  readonly secureCookies: boolean;
  /** Writes an audit record (logins). */
  readonly record: (entry: AuditEntry) => void;
  /** Hears every refused credential (401/403) here: metrics, the audit log and the detectors. */
  readonly onRefused: (refusal: {
    status: number;
    code: string;
    ip: string;
    route: string | undefined;
  }) => void;
  /** Seconds an address stays blocked (a detector's response), if it is blocked now. */
  readonly clientBlocked?: (ip: string) => number | undefined;
}

/** Registers `/admin/v1/...` and `/ui/` on `app` (the gateway), before it listens. */
export function registerAdminRoutes(app: FastifyInstance, options: AdminRoutesOptions): void {
  // Live streams never end by themselves: end them first, or closing the server would wait on them.
  app.addHook("preClose", async () => options.stream.close());
  void app.register(async (scope) => {
    await scope.register(cookie);
    scope.addContentTypeParser(
      "application/json",
      { parseAs: "string", bodyLimit: BODY_LIMIT },
      (_request, body, done) => {
        try {
          done(
            null,
            body === ""
              ? {}
              : secureJson.parse(body as string, undefined, {
                  protoAction: "error",
                  constructorAction: "error",
                }),
          );
        } catch {
          done(badRequest("The body is not valid JSON"), undefined);
        }
      },
    );
    scope.addHook("onSend", async (_request, reply) => {
      for (const [name, value] of Object.entries(SECURITY_HEADERS)) void reply.header(name, value);
    });
    scope.addHook("onRequest", async (request) => {
      const blocked = options.clientBlocked?.(request.ip);
      if (blocked !== undefined)
        throw new PalisadeError("PAL_GATEWAY_CLIENT_BLOCKED", "This address is blocked for a while", {
          status: 429,
          details: { retryAfterSec: blocked },
        });
    });
    scope.setErrorHandler((err, request, reply) => {
      const { status, body, internal } = errorReply(err);
      if (internal) request.log.error({ err }, "admin request failed");
      // A refused credential counts towards the credential-stuffing detector; a request that
      // presented none (the login page asking whether it has a session) guesses nothing.
      const presented =
        request.headers.authorization !== undefined || request.cookies?.[SESSION_COOKIE] !== undefined;
      if (status === 403 || (status === 401 && presented))
        options.onRefused({ status, code: body.error.code, ip: request.ip, route: request.routeOptions.url });
      if (status === 401) void reply.header("www-authenticate", "Bearer");
      const retryAfterSec = (body.error.details as { retryAfterSec?: unknown } | undefined)?.retryAfterSec;
      if (typeof retryAfterSec === "number") void reply.header("retry-after", String(retryAfterSec));
      void reply.status(status).type("application/json").send(body);
    });
    registerRoutes(scope, options);
    registerUi(scope);
    // Unknown admin routes answer here (not at the gateway's 404), with this scope's headers.
    scope.all("/admin/*", async (request) => {
      throw new PalisadeError(
        ADMIN_NOT_FOUND,
        `No admin route ${request.method} ${request.url.split("?")[0]}; see the README's Admin API`,
        { status: 404 },
      );
    });
  });
}

type Handler = (request: FastifyRequest, caller: Caller, reply: FastifyReply) => Promise<unknown>;

function registerRoutes(scope: FastifyInstance, options: AdminRoutesOptions): void {
  const { service, auth, sessions } = options;
  const route = (method: "GET" | "POST" | "DELETE", url: string, role: AdminRole, handler: Handler) =>
    scope.route({
      method,
      url: `/admin/v1${url}`,
      handler: async (request, reply) => {
        if (method !== "GET") requireJson(request);
        const caller = await auth.identify(request);
        requireRole(caller, role);
        return handler(request, caller, reply);
      },
    });

  // Login: a credential in, a session cookie out (the dashboard's way in).
  scope.post("/admin/v1/session", async (request, reply) => {
    requireJson(request);
    let caller: Caller;
    try {
      caller = await auth.byCredential(request);
    } catch (err) {
      options.record({
        kind: AUDIT_KIND.adminLogin,
        outcome: "denied",
        details: { ip: request.ip, reason: (err as Error).message },
      });
      throw err;
    }
    const session = sessions.open(caller.name, caller.role);
    options.record({
      kind: AUDIT_KIND.adminLogin,
      actor: `admin:${caller.name}`,
      outcome: "allowed",
      details: { ip: request.ip, role: caller.role },
    });
    void reply.setCookie(SESSION_COOKIE, session.id, {
      httpOnly: true,
      sameSite: "strict",
      secure: options.secureCookies,
      // Only the admin API needs it: not sent with event requests or to the page's files.
      path: "/admin/",
      maxAge: Math.floor(ABSOLUTE_MS / 1000),
    });
    return {
      admin: caller.name,
      role: caller.role,
      csrf: session.csrf,
      expiresAt: new Date(session.expiresAt).toISOString(),
    };
  });
  route("DELETE", "/session", "viewer", async (_request, caller, reply) => {
    if (caller.session !== undefined) sessions.close(caller.session.id);
    void reply.clearCookie(SESSION_COOKIE, { path: "/admin/" });
    return { loggedOut: true };
  });
  route("GET", "/whoami", "viewer", async (_request, caller) => ({
    admin: caller.name,
    role: caller.role,
    via: caller.via,
    ...(caller.session === undefined ? {} : { csrf: caller.session.csrf, csrfHeader: CSRF_HEADER }),
    app: service.app.name,
  }));

  route("GET", "/overview", "viewer", async () => service.summary());
  route("GET", "/events", "viewer", async (request) => {
    const q = query(request);
    return service.events(
      {
        ...(q.type === undefined ? {} : { type: q.type }),
        ...(q.principal === undefined ? {} : { principal: q.principal }),
        ...(q.since === undefined ? {} : { since: instant(q.since, "since") }),
      },
      {
        ...(q.before === undefined ? {} : { before: positive(q.before, "before", Number.MAX_SAFE_INTEGER) }),
        limit: q.limit === undefined ? PAGE_DEFAULT : positive(q.limit, "limit", PAGE_MAX),
      },
    );
  });
  route("GET", "/events/:id", "viewer", async (request) => service.event(param(request, "id")));
  route("GET", "/functions", "viewer", async () => service.functions());
  route("GET", "/graph", "viewer", async () => service.threats());
  route("GET", "/dlq", "viewer", async (request) => {
    const q = query(request);
    return service.deadLetters(q.limit === undefined ? 100 : positive(q.limit, "limit", MAX_LIST));
  });
  route("POST", "/dlq/replay", "operator", async (request, caller) => {
    const body = object(request.body);
    const eventId = text(body.eventId, "eventId", true) as string;
    const fn = text(body.function, "function", false);
    return service.replayDeadLetter(caller, { eventId, ...(fn === undefined ? {} : { function: fn }) });
  });
  route("POST", "/replay", "operator", async (request, caller) => {
    const body = object(request.body);
    const now = Date.now();
    const since = instant(text(body.since, "since", true) as string, "since");
    const until =
      body.until === undefined ? now : instant(text(body.until, "until", true) as string, "until");
    const type = text(body.type, "type", false);
    const fn = text(body.function, "function", false);
    return service.replay(caller, {
      since,
      until,
      ...(type === undefined ? {} : { type }),
      ...(fn === undefined ? {} : { function: fn }),
    });
  });
  route("GET", "/audit", "viewer", async (request) => {
    const q = query(request);
    const limit = q.limit === undefined ? 100 : positive(q.limit, "limit", MAX_LIST);
    return q.since === undefined
      ? service.auditTail(limit)
      : service.auditSince(instant(q.since, "since"), limit);
  });
  route("POST", "/audit/verify", "viewer", async (_request, caller) => service.auditVerify(caller));
  route("GET", "/traces", "viewer", async (request) => {
    const q = query(request);
    return service.traces(q.limit === undefined ? 20 : positive(q.limit, "limit", 200));
  });
  route("GET", "/traces/:traceId", "viewer", async (request) => service.trace(param(request, "traceId")));
  route("GET", "/keys", "viewer", async () => service.keys());
  route("POST", "/keys/rotate", "admin", async (_request, caller) => service.rotateKey(caller));
  route("GET", "/secrets", "viewer", async () => service.secrets());
  route("POST", "/secrets/:name/rotate", "admin", async (request, caller) => {
    const body = object(request.body);
    const value = text(body.value, "value", true) as string;
    const grace =
      body.graceSec === undefined ? 86_400 : positive(String(body.graceSec), "graceSec", 30 * 86_400);
    await service.rotateSecret(caller, param(request, "name"), value, grace);
    return { rotated: param(request, "name"), graceSec: grace };
  });
  route("GET", "/quarantine", "viewer", async (request) => {
    const q = query(request);
    return service.quarantine(q.limit === undefined ? 20 : positive(q.limit, "limit", MAX_LIST));
  });
  route("POST", "/quarantine/hold", "operator", async (request, caller) => {
    const body = object(request.body);
    const kind = oneOf(body.kind, "kind", ["function", "principal", "capability"] as const);
    const name = text(body.name, "name", true) as string;
    return service.hold(caller, { kind, name }, text(body.reason, "reason", false));
  });
  route("POST", "/quarantine/release", "operator", async (request, caller) => {
    const body = object(request.body);
    const kind = oneOf(body.kind, "kind", ["function", "principal", "root", "capability"] as const);
    const name = text(body.name, "name", true) as string;
    await service.release(caller, { kind, name });
    return { released: { kind, name } };
  });
  route("GET", "/stream", "viewer", async (_request, caller, reply) => {
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      ...SECURITY_HEADERS,
      "content-type": "text/event-stream; charset=utf-8",
      connection: "keep-alive",
      "x-accel-buffering": "no",
    });
    const session = caller.session;
    const owner = {
      admin: caller.name,
      ...(session === undefined ? {} : { alive: () => sessions.alive(session.id) }),
    };
    if (!options.stream.attach(res, owner)) {
      res.end(
        `event: error\ndata: ${JSON.stringify({ code: ADMIN_UNAVAILABLE, message: "Too many live streams (32 in all, 4 per admin); close one" })}\n\n`,
      );
    }
  });
}

function requireJson(request: FastifyRequest): void {
  // Cross-site forms cannot send JSON without a preflight this API never answers: every state
  // change is JSON, so a browser that holds a client certificate cannot be made to send one.
  const type = (request.headers["content-type"] ?? "").split(";")[0]?.trim().toLowerCase();
  if (type !== "application/json")
    throw badRequest("Send state-changing requests as Content-Type: application/json (an empty body is {})");
}

function query(request: FastifyRequest): Record<string, string | undefined> {
  const q = request.query as Record<string, unknown>;
  const out: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(q ?? {})) {
    if (typeof v !== "string") throw badRequest(`Query parameter "${k}" must be given once`);
    out[k] = v;
  }
  return out;
}

function param(request: FastifyRequest, name: string): string {
  const value = (request.params as Record<string, string | undefined>)[name];
  if (value === undefined || value === "" || value.length > 512)
    throw badRequest(`Missing or too long: ${name}`);
  return value;
}

function object(body: unknown): Record<string, unknown> {
  if (body === undefined || body === null) return {};
  if (typeof body !== "object" || Array.isArray(body)) throw badRequest("The body must be a JSON object");
  return body as Record<string, unknown>;
}

function text(value: unknown, field: string, required: boolean): string | undefined {
  if (value === undefined && !required) return undefined;
  if (typeof value !== "string" || value === "" || value.length > 4096)
    throw badRequest(`"${field}" must be a non-empty string${required ? " (required)" : ""}`);
  return value;
}

function oneOf<T extends string>(value: unknown, field: string, allowed: readonly T[]): T {
  if (typeof value === "string" && (allowed as readonly string[]).includes(value)) return value as T;
  throw badRequest(`"${field}" must be one of: ${allowed.join(", ")}`);
}

function positive(value: string, field: string, max: number): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < 1 || n > max)
    throw badRequest(`"${field}" must be a whole number from 1 to ${max}; got "${value.slice(0, 40)}"`);
  return n;
}

/** An ISO 8601 time, or a duration ago: `90s`, `15m`, `2h`, `7d`. */
export function instant(value: string, field: string, now = Date.now()): number {
  const ago = /^(\d{1,6})([smhd])$/.exec(value);
  if (ago !== null) {
    const unit = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[ago[2] as "s" | "m" | "h" | "d"];
    return now - Number(ago[1]) * unit;
  }
  const at = Date.parse(value);
  if (/^\d{4}-\d{2}-\d{2}/.test(value) && Number.isFinite(at)) return at;
  throw badRequest(
    `"${field}" must be an ISO 8601 time or a duration ago such as 15m, 2h or 7d; got "${value.slice(0, 40)}"`,
  );
}

function badRequest(message: string): PalisadeError {
  return new PalisadeError(ADMIN_BAD_REQUEST, message, { status: 400 });
}
