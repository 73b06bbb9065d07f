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
}

/** `palisade send <type> <json|@file>`: POSTs `{ type, data }` to /events and prints the answer. */
export async function runSend(type: string, input: string, opts: SendOptions): Promise<number> {
  const data = parseData(input);
  if (opts.url === undefined || opts.principal !== undefined) requireApp(opts.app);
  const base = opts.url ?? (await gatewayUrl(opts.app));
  const headers: Record<string, string> = { "content-type": "application/json" };
  const key = opts.key ?? keyFromApp(opts.app, type, opts.principal);
  if (key !== undefined) headers.authorization = `Bearer ${key}`;
  let response: Response;
  try {
    response = await fetch(new URL("/events", base), {
      method: "POST",
      headers,
      body: JSON.stringify({ type, data }),
    });
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

// --principal NAME: that principal's key; otherwise the first principal that may publish `type`
// and whose key is in the app's secret store (DESIGN §6: commands find credentials from --app).
function keyFromApp(appDir: string, type: string, principal: string | undefined): string | undefined {
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
  for (const spec of app.principals.values()) {
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
