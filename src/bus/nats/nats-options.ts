/**
 * The NATS flags (`--nats`, `--nats-creds`, `--nats-ca`, `--nats-monitor`, `--replicas`,
 * `--accept-lazy-fsync`) and PALISADE_NATS_URL, checked and turned into connection options before
 * anything dials. Credentials leave the URLs here: the servers handed to the client carry none, and
 * the password, token or seed lives only inside an authenticator (a provider), so neither these
 * options nor a message quoting them can leak it.
 */
import { accessSync, constants, readFileSync } from "node:fs";
import {
  type Authenticator,
  credsAuthenticator,
  nkeyAuthenticator,
  tokenAuthenticator,
  usernamePasswordAuthenticator,
} from "@nats-io/transport-node";
import { PalisadeError } from "../../errors.ts";
import {
  NATS_CA_MISSING,
  NATS_CREDS_INVALID,
  NATS_REPLICAS_INVALID,
  NATS_URL_INVALID,
} from "./connect-errors.ts";
import { redactUrl, redactUrls } from "./redact-url.ts";

/** The NATS flags as the CLI parsed them. */
export interface NatsFlags {
  /** A server URL or a comma-separated list of seed servers; else PALISADE_NATS_URL. */
  nats?: string;
  /** A .creds file (user JWT + nkey seed) or an nkey seed file. */
  natsCreds?: string;
  /** CA certificate (PEM) that signs the servers' TLS certificates. */
  natsCa?: string;
  /** User and password, when not in the URL (`nats://user:pass@host`). */
  natsUser?: string;
  natsPass?: string;
  /** Monitoring URL(s) of the servers (`http://host:8222`, comma-separated), to read their sync policy. */
  natsMonitor?: string;
  /** Stream and KV replicas. @default 3 in a cluster, else 1 */
  replicas?: number;
  acceptLazyFsync?: boolean;
}

/** How the client proves who it is. */
export type NatsAuthKind = "none" | "user-password" | "token" | "creds" | "nkey";

/** Checked connection options: no credentials in any string of it. */
export interface NatsOptions {
  /** Seed servers without credentials (`nats://host:port` or `tls://host:port`). */
  readonly servers: readonly string[];
  /** The seed list as given, passwords redacted: what messages and logs show. */
  readonly display: string;
  readonly auth: NatsAuthKind;
  /** Produces the credentials at each (re)connect. */
  readonly authenticator?: Authenticator;
  /** TLS to the servers: set when a URL is tls:// or a CA is given. */
  readonly tls?: { readonly caFile?: string };
  /** Monitoring URLs (credentials allowed; shown redacted). */
  readonly monitor?: readonly string[];
  readonly replicas?: number;
  readonly acceptLazyFsync: boolean;
}

/** The most replicas JetStream allows for a stream. */
export const MAX_REPLICAS = 5;

const FIX_URL = "use nats://host:port or tls://host:port, several separated by commas";

/**
 * The connection options the flags (else PALISADE_NATS_URL in `env`) ask for, or undefined when they
 * ask for no NATS. Throws a PalisadeError naming the flag and the fix for a malformed URL, an
 * unreadable or invalid credentials file, a missing CA file or a replica count outside 1..5.
 */
export function natsOptionsFrom(
  flags: NatsFlags,
  env: Readonly<Record<string, string | undefined>>,
): NatsOptions | undefined {
  const given = flags.nats !== undefined && flags.nats.trim() !== "" ? flags.nats : env.PALISADE_NATS_URL;
  if (given === undefined || given.trim() === "") return undefined;
  const seeds = given.split(",").map((s) => s.trim());
  const display = redactUrls(given);
  if (seeds.some((s) => s === "")) throw urlError(display, "an empty entry in the list");
  const parsed = seeds.map(parseSeed);
  // One set of credentials serves every seed (the client has one); seeds may leave it out.
  const withUser = parsed.filter((p) => p.user !== undefined);
  if (new Set(withUser.map((p) => `${p.user}\n${p.pass ?? ""}`)).size > 1)
    throw urlError(display, "the seed servers carry different credentials; give one user/password for all");
  const first = withUser[0];
  const fromUrl = first?.user === undefined ? undefined : { user: first.user, pass: first.pass };
  const tlsWanted = parsed.some((p) => p.tls) || flags.natsCa !== undefined;
  const { auth, authenticator } = credentials(flags, fromUrl);
  const replicas = flags.replicas;
  if (replicas !== undefined && (!Number.isInteger(replicas) || replicas < 1 || replicas > MAX_REPLICAS))
    throw new PalisadeError(
      NATS_REPLICAS_INVALID,
      `Cannot use --replicas ${replicas}: JetStream keeps 1 to ${MAX_REPLICAS} replicas; use 1, or 3 on a cluster of 3 or more`,
      { status: 400 },
    );
  const monitor = flags.natsMonitor?.split(",").map((m) => m.trim());
  return Object.freeze({
    servers: parsed.map((p) => p.server),
    display,
    auth,
    ...(authenticator === undefined ? {} : { authenticator }),
    ...(tlsWanted ? { tls: flags.natsCa === undefined ? {} : { caFile: checkCa(flags.natsCa) } } : {}),
    ...(monitor === undefined ? {} : { monitor: monitor.map(checkMonitorUrl) }),
    ...(replicas === undefined ? {} : { replicas }),
    acceptLazyFsync: flags.acceptLazyFsync === true,
  });
}

interface Seed {
  server: string;
  tls: boolean;
  user?: string;
  pass?: string;
}

function parseSeed(seed: string): Seed {
  const shown = redactUrl(seed);
  const withScheme = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(seed) ? seed : `nats://${seed}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw urlError(shown, "it does not parse as a URL");
  }
  if (url.protocol !== "nats:" && url.protocol !== "tls:")
    throw urlError(shown, `the scheme "${url.protocol.slice(0, -1)}" is not nats or tls`);
  if (url.hostname === "") throw urlError(shown, "it names no host");
  if ((url.pathname !== "" && url.pathname !== "/") || url.search !== "" || url.hash !== "")
    throw urlError(shown, "a NATS server URL has no path, query or fragment");
  const port = url.port === "" ? 4222 : Number(url.port);
  const seedOut: Seed = { server: `${url.protocol}//${url.hostname}:${port}`, tls: url.protocol === "tls:" };
  if (url.username !== "") seedOut.user = decodeURIComponent(url.username);
  if (url.password !== "") seedOut.pass = decodeURIComponent(url.password);
  return seedOut;
}

function urlError(shown: string, why: string): PalisadeError {
  return new PalisadeError(NATS_URL_INVALID, `Cannot use NATS URL "${shown}": ${why}; ${FIX_URL}`, {
    status: 400,
  });
}

function credentials(
  flags: NatsFlags,
  fromUrl: { user: string; pass: string | undefined } | undefined,
): { auth: NatsAuthKind; authenticator?: Authenticator } {
  const fromFlags = flags.natsUser === undefined ? undefined : { user: flags.natsUser, pass: flags.natsPass };
  if (flags.natsPass !== undefined && flags.natsUser === undefined)
    throw credsError("a NATS password needs a user (--nats-user, or nats://user:password@host)");
  if (fromUrl !== undefined && fromFlags !== undefined)
    throw credsError("give the NATS user either in the URL or as a flag, not both");
  const userPass = fromUrl ?? fromFlags;
  if (flags.natsCreds !== undefined) {
    if (userPass !== undefined)
      throw credsError("give either --nats-creds or a user/password for NATS, not both");
    return credsFile(flags.natsCreds);
  }
  if (userPass === undefined) return { auth: "none" };
  // nats://token@host: a user without a password is a token (NATS URL convention).
  if (userPass.pass === undefined) return { auth: "token", authenticator: tokenAuthenticator(userPass.user) };
  return {
    auth: "user-password",
    authenticator: usernamePasswordAuthenticator(userPass.user, userPass.pass),
  };
}

const CREDS_FIX =
  "pass a .creds file (user JWT and nkey seed, as nsc generates) or an nkey seed file (SU…, as nk -gen user writes)";

/**
 * A .creds file (JWT + seed) or a plain nkey seed file, checked now (it must parse and sign), read again
 * at each reconnect so rotated credentials take effect; the last good contents serve if a read fails.
 */
function credsFile(file: string): { auth: NatsAuthKind; authenticator: Authenticator } {
  const read = (): Uint8Array => {
    try {
      return readFileSync(file);
    } catch (err) {
      throw credsError(
        `cannot read NATS credentials file "${file}" (${(err as NodeJS.ErrnoException).code ?? err})`,
      );
    }
  };
  let good = read();
  const kind = new TextDecoder().decode(good).includes("BEGIN NATS USER JWT") ? "creds" : "nkey";
  const from = (bytes: Uint8Array): Authenticator =>
    kind === "creds" ? credsAuthenticator(bytes) : nkeyAuthenticator(seedOf(bytes));
  try {
    from(good)("palisade-check");
  } catch {
    // Never quote the file: it holds a private key.
    throw credsError(
      kind === "creds"
        ? `NATS credentials file "${file}" has a JWT but no valid nkey seed`
        : `NATS credentials file "${file}" is neither a .creds file nor an nkey seed file`,
    );
  }
  const authenticator: Authenticator = (nonce) => {
    try {
      const fresh = read();
      from(fresh)(nonce);
      good = fresh;
    } catch {
      // keep the last good credentials; the server says whether they still work
    }
    return from(good)(nonce);
  };
  return { auth: kind, authenticator };
}

/** The seed in an nkey seed file: its first line that is not blank or a comment. */
function seedOf(bytes: Uint8Array): Uint8Array {
  const line = new TextDecoder()
    .decode(bytes)
    .split(/\r?\n/)
    .map((l) => l.trim())
    .find((l) => l !== "" && !l.startsWith("#") && !l.startsWith("//"));
  return new TextEncoder().encode(line ?? "");
}

function credsError(why: string): PalisadeError {
  return new PalisadeError(NATS_CREDS_INVALID, `${why}; ${CREDS_FIX}`, { status: 400 });
}

function checkCa(file: string): string {
  try {
    accessSync(file, constants.R_OK);
  } catch (err) {
    throw new PalisadeError(
      NATS_CA_MISSING,
      `Cannot read the NATS CA file "${file}" given with --nats-ca (${(err as NodeJS.ErrnoException).code ?? err}): pass the PEM file of the CA that signed the NATS servers' certificates`,
      { status: 400 },
    );
  }
  return file;
}

function checkMonitorUrl(url: string): string {
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  if (parsed === undefined || (parsed.protocol !== "http:" && parsed.protocol !== "https:"))
    throw new PalisadeError(
      NATS_URL_INVALID,
      `Cannot use --nats-monitor "${redactUrl(url)}": give the servers' monitoring URL, e.g. http://127.0.0.1:8222 (nats-server -m 8222)`,
      { status: 400 },
    );
  return url;
}
