/**
 * Sender authentication for the CloudEvents intake: `Authorization: Bearer <API key | JWT>`.
 * API keys are kept only as SHA-256 digests and compared in constant time against every principal's
 * digest (no early exit). JWTs are verified with jose against the principal's JWKS: issuer,
 * audience, expiry (required) with bounded clock skew, and an allow-list of asymmetric algorithms,
 * so `alg: none` and HS/RS key confusion cannot pass. With TLS and a client CA, a verified client
 * certificate whose subject carries a principal's `mtls.subject` attributes authenticates it.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import type { Socket } from "node:net";
import { TLSSocket } from "node:tls";
import { createLocalJWKSet, createRemoteJWKSet, decodeJwt, type JWTVerifyGetKey, jwtVerify } from "jose";
import { PalisadeError } from "../errors.ts";
import type { JwtAuth, PrincipalSpec } from "../manifest/index.ts";
import { GATEWAY_UNAUTHENTICATED } from "./errors.ts";

/** The TLS client certificate of a request, when the gateway serves TLS with a client CA. */
export interface ClientCertificate {
  /** Whether it chains to the configured client CA (Node's `socket.authorized`). */
  authorized: boolean;
  subject: Readonly<Record<string, string | string[]>> | undefined;
}

/** Resolves the name of the authenticated principal, or throws a 401. */
export type Authenticate = (authorization: string | undefined, client?: ClientCertificate) => Promise<string>;

interface JwtPrincipal {
  name: string;
  auth: JwtAuth;
  keys: JWTVerifyGetKey;
}

/** How long API-key digests are kept before the secret store is read again. */
const KEYS_TTL_MS = 2000;

const JWT_SHAPE = /^[\w-]+\.[\w-]+\.[\w-]*$/;

/** Whom an authenticator knows: producers (`principals:`) or operators (`admins:`). */
export interface AuthenticatorOptions {
  /** The refusal when nobody can authenticate. @default no principal may publish */
  readonly nobody?: string;
  /** API-key secrets that may be missing at start (the implicit admin's): then nobody has that key. */
  readonly optionalSecrets?: ReadonlySet<string>;
}

/**
 * Builds the authenticator; `secret(name)` gives the API keys of an apiKey principal valid now (the
 * current one, and the previous one during a rotation's grace period). The same code authenticates
 * admins, with their own map: a producer's credential is simply not in it.
 */
export function createAuthenticator(
  principals: ReadonlyMap<string, { readonly name: string; readonly auth: PrincipalSpec["auth"] }>,
  secret: (name: string) => readonly string[],
  options: AuthenticatorOptions = {},
): Authenticate {
  const jwts: JwtPrincipal[] = [];
  const certs: { name: string; subject: Readonly<Record<string, string>> }[] = [];
  const keyed: { name: string; secret: string }[] = [];
  for (const p of principals.values()) {
    if (p.auth.kind === "apiKey") keyed.push({ name: p.name, secret: p.auth.secret });
    else if (p.auth.kind === "jwt") jwts.push({ name: p.name, auth: p.auth, keys: jwksFor(p.auth) });
    else certs.push({ name: p.name, subject: p.auth.subject });
  }
  // API-key digests are read from the secret store again at most every KEYS_TTL_MS, so a rotation
  // (both values valid in its grace period, then only the new one) or a removal takes effect in a
  // running gateway within seconds.
  let keys: { name: string; digest: Buffer }[] = [];
  let keysAt = Number.NEGATIVE_INFINITY;
  const currentKeys = () => {
    const now = Date.now();
    if (now - keysAt >= KEYS_TTL_MS) {
      keys = keyed.flatMap((k) =>
        secretValues(k.secret).map((value) => ({ name: k.name, digest: digest(value) })),
      );
      keysAt = now;
    }
    return keys;
  };
  const secretValues = (name: string): readonly string[] => {
    try {
      return secret(name);
    } catch {
      return []; // removed since the start: no key, so nobody authenticates with it
    }
  };
  // A key missing at start is an error now, not at a request.
  for (const k of keyed) if (options.optionalSecrets?.has(k.secret) !== true) secret(k.secret);
  const nobody = options.nobody ?? "No principal may publish here; declare principals in palisade.yaml";

  return async (authorization, client) => {
    if (principals.size === 0) throw unauthenticated(nobody);
    // A verified client certificate stands in for a bearer token; an unverified one counts for nothing.
    if (authorization === undefined && client?.authorized && client.subject !== undefined) {
      const subject = client.subject;
      const match = certs.find((c) => Object.entries(c.subject).every(([k, v]) => subject[k] === v));
      if (match) return match.name;
      throw unauthenticated("Client certificate subject matches no principal");
    }
    const match = /^Bearer ([\x21-\x7e]{1,8192})$/.exec(authorization ?? "");
    if (match === null)
      throw unauthenticated("Missing credentials; send Authorization: Bearer <API key or JWT>");
    const token = match[1] ?? "";
    if (jwts.length > 0 && JWT_SHAPE.test(token)) return verifyJwt(token, jwts);
    const presented = digest(token);
    let found: string | undefined;
    for (const k of currentKeys())
      if (timingSafeEqual(k.digest, presented) && found === undefined) found = k.name;
    if (found === undefined) throw unauthenticated("Unknown API key");
    return found;
  };
}

async function verifyJwt(token: string, jwts: JwtPrincipal[]): Promise<string> {
  let issuer: unknown;
  try {
    issuer = decodeJwt(token).iss;
  } catch {
    throw unauthenticated("Malformed JWT");
  }
  const candidates = jwts.filter((j) => j.auth.issuer === issuer);
  if (candidates.length === 0) throw unauthenticated("JWT issuer is not trusted");
  let reason = "JWT verification failed";
  for (const j of candidates) {
    try {
      await jwtVerify(token, j.keys, {
        issuer: j.auth.issuer,
        audience: j.auth.audience,
        algorithms: [...j.auth.algorithms],
        clockTolerance: j.auth.clockToleranceSec,
        requiredClaims: ["exp"],
      });
      return j.name;
    } catch (err) {
      // jose's codes are safe to show (ERR_JWT_EXPIRED, ERR_JWS_SIGNATURE_VERIFICATION_FAILED, …).
      reason = `JWT rejected: ${(err as { code?: string }).code ?? "ERR_JWT_INVALID"}`;
    }
  }
  throw unauthenticated(reason);
}

function jwksFor(auth: JwtAuth): JWTVerifyGetKey {
  if ("url" in auth.jwks) return createRemoteJWKSet(new URL(auth.jwks.url));
  return createLocalJWKSet(JSON.parse(readFileSync(auth.jwks.file, "utf8")));
}

function digest(value: string): Buffer {
  return createHash("sha256").update(value).digest();
}

function unauthenticated(message: string): PalisadeError {
  return new PalisadeError(GATEWAY_UNAUTHENTICATED, message, { status: 401 });
}

/** The verified-or-not client certificate of a TLS connection; undefined on plain HTTP. */
export function clientCertificate(socket: Socket): ClientCertificate | undefined {
  if (!(socket instanceof TLSSocket)) return undefined;
  const cert = socket.getPeerCertificate();
  const subject =
    cert && Object.keys(cert).length > 0
      ? (cert.subject as unknown as Record<string, string | string[]>)
      : undefined;
  return { authorized: socket.authorized, subject };
}
