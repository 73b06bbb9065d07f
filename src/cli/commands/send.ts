import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { openAppSecrets, runningGatewayUrl } from "../../app-secrets.ts";
import { loadApp, MANIFEST_FILE } from "../../manifest/index.ts";
import { createAuthorizer } from "../../security/index.ts";
import { EXIT_FAILURE, EXIT_OK } from "../exit-codes.ts";
import { usageError } from "../usage-error.ts";

export interface SendOptions {
  app: string;
  url?: string;
  key?: string;
  principal?: string;
  json?: boolean;
  /** A private key file (PEM PKCS#8 or JWK): the event is sent as a signed CloudEvent. */
  signKey?: string;
  /** The key id the signature names (default: the key file's base name, or its JWK kid). */
  keyId?: string;
}

/** The `source` of events `palisade send --sign-key` signs (a signed event names its own source). */
export const SIGNED_SEND_SOURCE = "urn:palisade:send";

/**
 * `palisade send <type> <json|@file>`: POSTs `{ type, data }` to /events and prints the answer. With
 * `--sign-key`, POSTs a structured CloudEvent carrying a `dssematerial` signed with that key.
 */
export async function runSend(type: string, input: string, opts: SendOptions): Promise<number> {
  const data = parseData(input);
  if (opts.url === undefined || opts.principal !== undefined) requireApp(opts.app);
  const signing = opts.signKey === undefined ? undefined : await signingKey(opts.signKey, opts.keyId);
  const base = opts.url ?? (await gatewayUrl(opts.app));
  const key = opts.key ?? keyFromApp(opts.app, type, opts.principal, signing?.keyid);
  const headers: Record<string, string> = {
    "content-type": signing === undefined ? "application/json" : "application/cloudevents+json",
  };
  if (key !== undefined) headers.authorization = `Bearer ${key}`;
  const body = signing === undefined ? JSON.stringify({ type, data }) : await signedBody(type, data, signing);
  let response: Response;
  try {
    response = await fetch(new URL("/events", base), { method: "POST", headers, body });
  } catch {
    process.stderr.write(`palisade: Cannot reach the gateway at ${base}; is "palisade dev" running?\n`);
    return EXIT_FAILURE;
  }
  const text = await response.text();
  if (opts.json) process.stdout.write(`${text}\n`);
  if (response.ok) {
    if (!opts.json) process.stdout.write(`${response.status} accepted: ${text}\n`);
    return EXIT_OK;
  }
  if (!opts.json) process.stderr.write(describeError(response.status, text));
  return EXIT_FAILURE;
}

type SigningKey = Awaited<ReturnType<typeof signingKey>>;

// Loaded only when signing, so a plain send stays light.
async function signingKey(file: string, keyId: string | undefined) {
  const { loadSigningKey } = await import("../../verifiable/index.ts");
  try {
    return loadSigningKey(file, keyId);
  } catch (err) {
    throw usageError(`Cannot send: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** A structured CloudEvent whose data is sent as the exact bytes its signature covers. */
async function signedBody(type: string, data: unknown, key: SigningKey): Promise<string> {
  const { randomUUID } = await import("node:crypto");
  const { signEvent } = await import("../../verifiable/index.ts");
  const text = JSON.stringify(data);
  const attributes = {
    specversion: "1.0",
    id: randomUUID(),
    source: SIGNED_SEND_SOURCE,
    type,
    datacontenttype: "application/json",
    time: new Date().toISOString(),
  };
  const dssematerial = signEvent({ attributes, data: Buffer.from(text) }, key);
  return `${JSON.stringify({ ...attributes, dssematerial }).slice(0, -1)},"data":${text}}`;
}

// --principal NAME: that principal's key; otherwise the first principal that may publish `type`
// (one that declares the signing key id first, when signing) and whose key is in the app's secret
// store (DESIGN §6: commands find credentials from --app).
function keyFromApp(
  appDir: string,
  type: string,
  principal: string | undefined,
  keyid: string | undefined,
): string | undefined {
  if (principal === undefined && !existsSync(join(appDir, MANIFEST_FILE))) return undefined; // --url, no app
  const app = loadApp(appDir);
  const secrets = openAppSecrets(appDir);
  if (principal !== undefined) {
    const spec = app.principals.get(principal);
    if (spec === undefined)
      throw usageError(
        `Cannot send: no principal "${principal}"; declared: ${[...app.principals.keys()].join(", ")}`,
      );
    if (spec.auth.kind !== "apiKey")
      throw usageError(`Cannot send as "${principal}": it authenticates with a JWT; pass --key <token>`);
    const key = secrets.get(spec.auth.secret);
    if (key === undefined)
      throw usageError(`Cannot send as "${principal}": secret "${spec.auth.secret}" is not set`);
    return key;
  }
  const mayPublish = createAuthorizer(app.principals.values());
  const declares = (p: { signing?: { keys: ReadonlyMap<string, unknown> } }) =>
    keyid !== undefined && p.signing?.keys.has(keyid) === true;
  const candidates = [...app.principals.values()].sort((a, b) => Number(declares(b)) - Number(declares(a)));
  for (const spec of candidates) {
    if (spec.auth.kind !== "apiKey" || !mayPublish(spec.name, type)) continue;
    const key = secrets.get(spec.auth.secret);
    if (key !== undefined) return key;
  }
  return undefined;
}

/** Parses a JSON argument or `@file`; a usage error says which. */
export function parseData(input: string, verb = "send"): unknown {
  const text = input.startsWith("@") ? readData(input.slice(1), verb) : input;
  try {
    return JSON.parse(text);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw usageError(`Cannot ${verb}: the data is not valid JSON (${reason}); pass a JSON value or @file`);
  }
}

function readData(file: string, verb: string): string {
  if (!existsSync(file)) throw usageError(`Cannot ${verb}: file "${file}" does not exist`);
  return readFileSync(file, "utf8");
}

/** Without --url the app's files say where to send; --principal's key is in its secret store. */
function requireApp(appDir: string): void {
  if (existsSync(join(appDir, MANIFEST_FILE))) return;
  throw usageError(
    `Cannot send: there is no ${MANIFEST_FILE} in "${resolve(appDir)}"; run it inside an app directory or pass --app <dir> (or --url <gateway> and --key <API key>)`,
  );
}

async function gatewayUrl(app: string): Promise<string> {
  const running = runningGatewayUrl(app);
  if (running !== undefined) return running;
  // Not running (no gateway.json): the default address, to say it cannot be reached. Loaded only
  // here, so a send to a running app does not load the gateway (and Fastify) at all.
  const { DEFAULT_HOST, DEFAULT_PORT } = await import("../../gateway/index.ts");
  const host = process.env.PALISADE_HOST ?? DEFAULT_HOST;
  return `http://${host}:${process.env.PALISADE_PORT ?? DEFAULT_PORT}`;
}

function describeError(status: number, text: string): string {
  let error: { code?: string; message?: string; details?: unknown } | undefined;
  try {
    error = (JSON.parse(text) as { error?: typeof error }).error;
  } catch {
    // not our error body: show it raw below
  }
  if (error === undefined) return `palisade: the gateway answered ${status}: ${text}\n`;
  let out = `palisade: ${status} ${error.code}: ${error.message}\n`;
  if (Array.isArray(error.details)) {
    for (const d of error.details as { pointer?: string; message?: string }[]) {
      if (typeof d === "object" && d !== null && "pointer" in d)
        out += `  ${d.pointer || "/"}: ${d.message}\n`;
    }
  }
  return out;
}
