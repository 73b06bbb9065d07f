import { PLATFORM_PRINCIPAL } from "../events/index.ts";
import { loadVerifyingKeys, type VerifyingKeysSpec } from "../verifiable/index.ts";
import { appFile } from "./app-file.ts";
import {
  type AdminRole,
  type AdminSpec,
  DEFAULT_JWT_ALGORITHMS,
  DEFAULT_MAX_BODY_BYTES,
  DEFAULT_RATE_LIMIT,
  DEFAULT_SOURCES,
  LOCAL_ADMIN_SECRET,
  type PrincipalSpec,
  type SigningSpec,
  type SourceSpec,
  type TlsSpec,
} from "./app-model.ts";
import type { ManifestPath, Problem } from "./problem.ts";
import { type RawSchedule, resolveSchedule } from "./resolve-schedule.ts";

export interface RawPrincipal {
  apiKey?: { secret: string };
  jwt?: { issuer: string; audience: string; jwks: string; algorithms?: string[]; clockToleranceSec?: number };
  mtls?: { subject: string };
  publish: string[];
  rateLimit?: { perSecond: number; burst?: number };
  costPerDay?: number;
  overBudget?: "hold" | "reject";
  signing?: { keys?: { keyid: string; publicKey: string }[]; jwks?: string; requireSigned?: boolean };
}

export interface RawAdmin {
  apiKey?: { secret: string };
  jwt?: RawPrincipal["jwt"];
  mtls?: { subject: string };
  role: AdminRole;
}

export type RawSource =
  | { http: { path: string; maxBodyBytes?: number } }
  | { webhook: { path: string; secret: string; emit: string; toleranceSec?: number; maxBodyBytes?: number } }
  | { schedule: RawSchedule };

// Routes the platform itself serves; a source may not shadow them.
const RESERVED_PATHS = ["/healthz", "/readyz", "/metrics", "/admin", "/ui"];

/** Resolves `principals`: one authentication method each, publish patterns that match declared types. */
export function resolvePrincipals(
  raw: Record<string, RawPrincipal>,
  dir: string,
  declared: readonly string[],
  hasClientCa: boolean,
  problems: Problem[],
): Map<string, PrincipalSpec> {
  const principals = new Map<string, PrincipalSpec>();
  for (const [name, p] of Object.entries(raw)) {
    const at = ["principals", name];
    if (name === PLATFORM_PRINCIPAL) {
      // The platform's own events carry this principal, and dedupe is scoped to it.
      problems.push({
        path: at,
        message: `"${name}" is the platform's own principal; give this sender another name`,
      });
      continue;
    }
    const auth = resolveAuth(p, at, dir, hasClientCa, "give each sender its own principal", problems);
    if (auth === undefined) continue;
    p.publish.forEach((pattern, i) => {
      if (matchesDeclared(pattern, declared)) return;
      problems.push({
        path: [...at, "publish", i],
        message: `"${pattern}" matches no declared event type; use a type name or "prefix.*" (declared: ${declared.join(", ")})`,
      });
    });
    const rateLimit = p.rateLimit
      ? {
          perSecond: p.rateLimit.perSecond,
          burst: p.rateLimit.burst ?? Math.max(1, Math.ceil(p.rateLimit.perSecond * 2)),
        }
      : DEFAULT_RATE_LIMIT;
    principals.set(
      name,
      Object.freeze({
        name,
        auth,
        publish: Object.freeze([...p.publish]),
        rateLimit: Object.freeze(rateLimit),
        ...(p.costPerDay === undefined ? {} : { costPerDay: p.costPerDay }),
        ...(p.overBudget === undefined ? {} : { overBudget: p.overBudget }),
        ...signingOf(p.signing, [...at, "signing"], dir, problems),
      }),
    );
  }
  return principals;
}

/**
 * A principal's event-signing keys: each file inside the app, each key Ed25519 or P-256 with a unique
 * id. Declaring keys makes signatures required unless `requireSigned: false` says otherwise.
 */
function signingOf(
  raw: RawPrincipal["signing"],
  at: ManifestPath,
  dir: string,
  problems: Problem[],
): { signing?: SigningSpec } {
  if (raw === undefined) return {};
  const before = problems.length;
  let spec: VerifyingKeysSpec | undefined;
  if (raw.jwks !== undefined && raw.keys !== undefined)
    problems.push({ path: at, message: 'declares both "keys" and "jwks"; keep one of them' });
  else if (raw.jwks !== undefined) {
    const file = appFile(dir, raw.jwks, [...at, "jwks"], problems);
    if (file !== undefined) spec = { jwks: file };
  } else if (raw.keys !== undefined) {
    const keys = raw.keys.flatMap((k, i) => {
      const file = appFile(dir, k.publicKey, [...at, "keys", i, "publicKey"], problems);
      return file === undefined ? [] : [{ keyid: k.keyid, publicKey: file }];
    });
    spec = { keys };
  } else
    problems.push({ path: at, message: 'needs "keys" (key id and PEM file each) or "jwks" (a JWKS file)' });
  if (spec === undefined || problems.length > before) return {};
  try {
    const keys = loadVerifyingKeys(spec, dir);
    return { signing: Object.freeze({ keys, requireSigned: raw.requireSigned ?? true }) };
  } catch (err) {
    problems.push({ path: at, message: err instanceof Error ? err.message : String(err) });
    return {};
  }
}

/**
 * Resolves `admins` like principals (one authentication method each), with a role. An admin may not
 * share an API-key secret with a principal: a producer's key must never open /admin. Without
 * `admins:` the app has the implicit admin `local` (role admin, API key in PALISADE_ADMIN_KEY).
 */
export function resolveAdmins(
  raw: Record<string, RawAdmin> | undefined,
  principals: ReadonlyMap<string, PrincipalSpec>,
  dir: string,
  hasClientCa: boolean,
  problems: Problem[],
): Map<string, AdminSpec> {
  const admins = new Map<string, AdminSpec>();
  if (raw === undefined) {
    const auth = Object.freeze({ kind: "apiKey" as const, secret: LOCAL_ADMIN_SECRET });
    admins.set(
      "local",
      Object.freeze({ name: "local", auth, role: "admin" as const, implicit: true as const }),
    );
    return admins;
  }
  const producerSecrets = new Map(
    [...principals.values()].flatMap((p) => (p.auth.kind === "apiKey" ? [[p.auth.secret, p.name]] : [])),
  );
  for (const [name, a] of Object.entries(raw)) {
    const at = ["admins", name];
    const auth = resolveAuth(a, at, dir, hasClientCa, "give each operator their own admin", problems);
    if (auth === undefined) continue;
    const producer = auth.kind === "apiKey" ? producerSecrets.get(auth.secret) : undefined;
    if (producer !== undefined) {
      problems.push({
        path: [...at, "apiKey", "secret"],
        message: `"${(auth as { secret: string }).secret}" is principal "${producer}"'s API key; an admin needs a key of its own (a producer's key must never open /admin)`,
      });
      continue;
    }
    const shared = [...principals.values()].find((p) => sameIdentity(auth, p.auth));
    if (shared !== undefined) {
      problems.push({
        path: [...at, auth.kind],
        message:
          auth.kind === "jwt"
            ? `principal "${shared.name}" accepts tokens of the same issuer and audience; give admins an audience of their own (a producer's token must never open /admin)`
            : `principal "${shared.name}"'s certificates could match this subject too (one subject contains the other); name an attribute only admins' certificates carry`,
      });
      continue;
    }
    admins.set(name, Object.freeze({ name, auth, role: a.role }));
  }
  return admins;
}

/** Whether one credential could authenticate as both: the same token issuer and audience, or overlapping certificate subjects. */
function sameIdentity(a: PrincipalSpec["auth"], b: PrincipalSpec["auth"]): boolean {
  if (a.kind === "jwt" && b.kind === "jwt") return a.issuer === b.issuer && a.audience === b.audience;
  if (a.kind !== "mtls" || b.kind !== "mtls") return false;
  const within = (x: Readonly<Record<string, string>>, y: Readonly<Record<string, string>>) =>
    Object.entries(x).every(([k, v]) => y[k] === v);
  return within(a.subject, b.subject) || within(b.subject, a.subject);
}

/** The one authentication method of a principal or an admin, or undefined (a problem is recorded). */
function resolveAuth(
  p: { apiKey?: { secret: string }; jwt?: RawPrincipal["jwt"]; mtls?: { subject: string } },
  at: (string | number)[],
  dir: string,
  hasClientCa: boolean,
  hint: string,
  problems: Problem[],
): PrincipalSpec["auth"] | undefined {
  const methods = [p.apiKey, p.jwt, p.mtls].filter((m) => m !== undefined).length;
  if (methods !== 1) {
    problems.push({ path: at, message: `needs exactly one of apiKey, jwt, mtls; ${hint}` });
    return undefined;
  }
  if (p.mtls && !hasClientCa) {
    const message =
      "needs tls.clientCa: client certificates are only checked when the gateway serves TLS with a client CA";
    problems.push({ path: [...at, "mtls"], message });
    return undefined;
  }
  if (p.mtls) return { kind: "mtls" as const, subject: Object.freeze(parseSubject(p.mtls.subject)) };
  if (p.apiKey) return { kind: "apiKey" as const, secret: p.apiKey.secret };
  return resolveJwt(p.jwt, dir, [...at, "jwt", "jwks"], problems);
}

function resolveJwt(jwt: RawPrincipal["jwt"], dir: string, at: (string | number)[], problems: Problem[]) {
  if (jwt === undefined) return undefined;
  let jwks: { file: string } | { url: string };
  if (/^[a-z]+:\/\//i.test(jwt.jwks)) {
    const url = new URL(jwt.jwks);
    // Keys fetched over plain HTTP could be swapped in transit; loopback is the one exception (tests, sidecars).
    if (
      url.protocol !== "https:" &&
      !(url.protocol === "http:" && ["127.0.0.1", "localhost", "[::1]"].includes(url.hostname))
    ) {
      problems.push({
        path: at,
        message: `"${jwt.jwks}" must be an https:// URL (plain http only on loopback)`,
      });
      return undefined;
    }
    jwks = { url: url.href };
  } else {
    const file = appFile(dir, jwt.jwks, at, problems);
    if (file === undefined) return undefined;
    jwks = { file };
  }
  return Object.freeze({
    kind: "jwt" as const,
    issuer: jwt.issuer,
    audience: jwt.audience,
    jwks,
    algorithms: Object.freeze([...(jwt.algorithms ?? DEFAULT_JWT_ALGORITHMS)]),
    clockToleranceSec: jwt.clockToleranceSec ?? 30,
  });
}

/** Resolves `sources` (default: one CloudEvents intake at /events); paths are unique and not reserved. */
export function resolveSources(
  raw: RawSource[] | undefined,
  declared: readonly string[],
  problems: Problem[],
): readonly SourceSpec[] {
  if (raw === undefined) return DEFAULT_SOURCES;
  const seen = new Set<string>();
  const sources: SourceSpec[] = [];
  raw.forEach((entry, i) => {
    if ("schedule" in entry) {
      const schedule = resolveSchedule(entry.schedule, ["sources", i, "schedule"], declared, problems);
      if (schedule) sources.push(schedule);
      return;
    }
    const kind = "http" in entry ? "http" : "webhook";
    const spec = "http" in entry ? entry.http : entry.webhook;
    const at = ["sources", i, kind];
    if (seen.has(spec.path) || RESERVED_PATHS.some((r) => spec.path === r || spec.path.startsWith(`${r}/`))) {
      problems.push({
        path: [...at, "path"],
        message: `"${spec.path}" is already used; give each source its own path`,
      });
      return;
    }
    seen.add(spec.path);
    const maxBodyBytes = spec.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
    if ("http" in entry) {
      sources.push(Object.freeze({ kind: "http", path: spec.path, maxBodyBytes }));
      return;
    }
    const hook = entry.webhook;
    if (!declared.includes(hook.emit)) {
      problems.push({
        path: [...at, "emit"],
        message: `unknown event type "${hook.emit}"; declared types are: ${declared.join(", ")}`,
      });
      return;
    }
    sources.push(
      Object.freeze({
        kind: "webhook",
        path: hook.path,
        secret: hook.secret,
        emit: hook.emit,
        toleranceSec: hook.toleranceSec ?? 300,
        maxBodyBytes,
      }),
    );
  });
  return Object.freeze(sources);
}

function matchesDeclared(pattern: string, declared: readonly string[]): boolean {
  if (pattern.endsWith(".*")) return declared.some((t) => t.startsWith(pattern.slice(0, -1)));
  return declared.includes(pattern);
}

/** Resolves `tls`: every file inside the app directory. */
export function resolveTls(
  raw: { cert: string; key: string; clientCa?: string } | undefined,
  dir: string,
  problems: Problem[],
): TlsSpec | undefined {
  if (raw === undefined) return undefined;
  const cert = appFile(dir, raw.cert, ["tls", "cert"], problems);
  const key = appFile(dir, raw.key, ["tls", "key"], problems);
  const clientCa =
    raw.clientCa === undefined ? undefined : appFile(dir, raw.clientCa, ["tls", "clientCa"], problems);
  if (cert === undefined || key === undefined || (raw.clientCa !== undefined && clientCa === undefined))
    return undefined;
  return Object.freeze(clientCa === undefined ? { cert, key } : { cert, key, clientCa });
}

// "CN=storefront,O=Shop" → { CN: "storefront", O: "Shop" } (the schema checked the shape).
function parseSubject(subject: string): Record<string, string> {
  return Object.fromEntries(
    subject.split(",").map((pair) => pair.split("=", 2).map((x) => x.trim()) as [string, string]),
  );
}
