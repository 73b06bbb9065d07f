/**
 * The admin side of a test app: the implicit admin `local`'s key (PALISADE_ADMIN_KEY), `/metrics`
 * read with it, and admin API calls.
 */
import { openAppSecrets } from "../../src/main.ts";
import { NUMBER_SCHEMA, setSecret, testPrincipal } from "./temp-app.ts";

/** The API keys of the three admins `TEST_ADMINS` declares, by secret name. */
export const KEYS = {
  ROOT_KEY: "root-key-0123456789",
  OPS_KEY: "ops-key-0123456789",
  EVE_KEY: "eve-key-0123456789",
} as const;

/** Manifest lines declaring one admin per role: root (admin), ops (operator), eve (viewer). */
export const TEST_ADMINS = `admins:
  root: { apiKey: { secret: ROOT_KEY }, role: admin }
  ops: { apiKey: { secret: OPS_KEY }, role: operator }
  eve: { apiKey: { secret: EVE_KEY }, role: viewer }
`;

/** Stores the keys of `TEST_ADMINS` in the app's secret store. */
export function setAdminKeys(dir: string): void {
  for (const [name, value] of Object.entries(KEYS)) setSecret(dir, name, value);
}

/**
 * An app with the three admins and one function, `work`, tried once: an event whose `n` is a time
 * (epoch ms, above 1e12) fails until that time, so it is a dead letter to replay once it has passed
 * (the cause fixed); any other `n` works and is logged as "worked".
 */
export function deadLetterApp(name: string): Record<string, string | object> {
  return {
    "palisade.yaml": `name: ${name}
events:
  job.queued: { schema: schemas/n.json }
${testPrincipal(["job.queued"])}${TEST_ADMINS}functions:
  work:
    handler: functions/work.ts
    on: [job.queued]
    retry: { attempts: 1 }
`,
    "schemas/n.json": NUMBER_SCHEMA,
    "functions/work.ts":
      'export default (e, ctx) => { if (e.data.n > 1e12 && Date.now() < e.data.n) throw new Error("not yet"); ctx.log.info("worked", { n: e.data.n }); };',
  };
}

/** The key tests give the implicit admin `local` (role admin). */
export const ADMIN_KEY = "admin-key-0123456789abcdef";

/** Stores ADMIN_KEY as PALISADE_ADMIN_KEY in the app's secret store (once). */
export function setAdminKey(dir: string, name = "PALISADE_ADMIN_KEY", value = ADMIN_KEY): void {
  const secrets = openAppSecrets(dir);
  if (secrets.get(name) !== value) secrets.set(name, value);
}

/**
 * `GET /metrics` of a running platform as its admin. A key set after the gateway last read its keys
 * counts within 2 s, so a 401 is retried for a few seconds.
 */
export async function scrape(platform: { url: string; app: { dir: string } }): Promise<string> {
  setAdminKey(platform.app.dir);
  const deadline = Date.now() + 5000;
  for (;;) {
    const res = await fetch(`${platform.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
    const text = await res.text();
    if (res.status === 200) return text;
    if (res.status !== 401 || Date.now() > deadline) throw new Error(`GET /metrics: ${res.status} ${text}`);
    // Slowly: ten refusals a minute from one address is what the credential-stuffing detector blocks.
    await new Promise((r) => setTimeout(r, 700));
  }
}

/** An admin API call; resolves to the status and the parsed body. */
export async function adminCall(
  url: string,
  method: "GET" | "POST" | "DELETE",
  path: string,
  options: { key?: string | null; body?: unknown; headers?: Record<string, string> } = {},
): Promise<{ status: number; body: any; headers: Headers }> {
  const key = options.key === undefined ? ADMIN_KEY : options.key;
  const headers: Record<string, string> = { ...options.headers };
  if (key !== null) headers.authorization = `Bearer ${key}`;
  if (method !== "GET") headers["content-type"] ??= "application/json";
  const res = await fetch(`${url}/admin/v1${path}`, {
    method,
    headers,
    ...(method === "GET" ? {} : { body: JSON.stringify(options.body ?? {}) }),
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: res.status, body, headers: res.headers };
}
