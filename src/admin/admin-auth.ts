/**
 * Who is calling the admin API, and may they. Three ways in: `Authorization: Bearer <API key or
 * JWT>` of an admin (`admins:`), a verified client certificate of an mTLS admin, or the dashboard's
 * session cookie (with its CSRF token on every state-changing request). A producer's credential is
 * recognised only to be refused with 403: producers never open /admin. Roles are ordered (viewer <
 * operator < admin): a route open to one is open to those after it.
 */
import type { FastifyRequest } from "fastify";
import { isPalisadeError, PalisadeError } from "../errors.ts";
import { type Authenticate, clientCertificate } from "../gateway/index.ts";
import { ADMIN_ROLES, type AdminRole } from "../manifest/index.ts";
import type { Actor } from "./admin-service.ts";
import { ADMIN_CSRF, ADMIN_FORBIDDEN, ADMIN_UNAUTHENTICATED } from "./errors.ts";
import type { Session, Sessions } from "./sessions.ts";

/** The dashboard's session cookie. */
export const SESSION_COOKIE = "palisade_session";
/** The header that carries a session's CSRF token. */
export const CSRF_HEADER = "x-csrf-token";

/** An identified caller: the admin, and how they came in. */
export interface Caller extends Actor {
  readonly via: "credential" | "session";
  readonly session?: Session;
}

export interface AdminAuthOptions {
  /** Authenticates admins only (a map of `admins:`, never `principals:`). */
  readonly admins: Authenticate;
  /** Authenticates producers; only to tell a producer's credential apart (403, not 401). */
  readonly producers?: Authenticate;
  readonly roles: ReadonlyMap<string, AdminRole>;
  readonly sessions: Sessions;
}

export interface AdminAuth {
  /** The caller of `request` by credential (bearer or client certificate); 401/403 otherwise. */
  byCredential(request: FastifyRequest): Promise<Caller>;
  /** The caller by credential, else by session cookie (with the CSRF check for state changes). */
  identify(request: FastifyRequest): Promise<Caller>;
}

export function createAdminAuth(options: AdminAuthOptions): AdminAuth {
  const byCredential = async (request: FastifyRequest): Promise<Caller> => {
    const authorization = request.headers.authorization;
    const client = clientCertificate(request.raw.socket);
    let name: string | undefined;
    let refusal: unknown;
    try {
      name = await options.admins(authorization, client);
    } catch (err) {
      refusal = err;
    }
    // A credential that authenticates a producer never opens /admin, even when it also fits an
    // admin (one identity provider for both, a client certificate matching both subjects).
    if (await isProducer(options.producers, authorization, client))
      throw new PalisadeError(
        ADMIN_FORBIDDEN,
        "A producer's credential never opens /admin; use an admin's (admins: in palisade.yaml)",
        { status: 403 },
      );
    if (name === undefined)
      throw unauthenticated(isPalisadeError(refusal) ? refusal.message : "Not authenticated");
    return { name, role: options.roles.get(name) ?? "viewer", via: "credential" };
  };
  return {
    byCredential,
    async identify(request) {
      const cookie = request.cookies?.[SESSION_COOKIE];
      const hasCredential =
        request.headers.authorization !== undefined ||
        clientCertificate(request.raw.socket)?.authorized === true;
      if (hasCredential || cookie === undefined) return byCredential(request);
      const session = options.sessions.get(cookie);
      if (session === undefined)
        throw unauthenticated(
          "Your session ended (logged out, idle for 30 minutes, or 8 hours old); log in again",
        );
      if (!SAFE_METHODS.has(request.method)) {
        const token = request.headers[CSRF_HEADER];
        if (!options.sessions.csrfMatches(session, typeof token === "string" ? token : undefined))
          throw new PalisadeError(
            ADMIN_CSRF,
            `A state-changing request from a session needs its CSRF token in the ${CSRF_HEADER} header (GET /admin/v1/whoami gives it)`,
            { status: 403 },
          );
      }
      return { name: session.admin, role: session.role, via: "session", session };
    },
  };
}

const SAFE_METHODS = new Set(["GET", "HEAD"]);

/** Refuses `caller` unless its role is `needed` or above. */
export function requireRole(caller: Caller, needed: AdminRole): void {
  if (ADMIN_ROLES.indexOf(caller.role) >= ADMIN_ROLES.indexOf(needed)) return;
  throw new PalisadeError(
    ADMIN_FORBIDDEN,
    `This needs the ${needed} role; admin "${caller.name}" is a ${caller.role} (admins.${caller.name}.role in palisade.yaml)`,
    { status: 403 },
  );
}

async function isProducer(
  producers: Authenticate | undefined,
  authorization: string | undefined,
  client: ReturnType<typeof clientCertificate>,
): Promise<boolean> {
  if (producers === undefined) return false;
  try {
    await producers(authorization, client);
    return true;
  } catch {
    return false;
  }
}

function unauthenticated(message: string): PalisadeError {
  return new PalisadeError(ADMIN_UNAUTHENTICATED, message, { status: 401 });
}
