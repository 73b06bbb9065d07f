import { createHmac } from "node:crypto";
import type { TestContext } from "node:test";
import { exportJWK, generateKeyPair, type JWTPayload, SignJWT } from "jose";
import { type Platform, startPlatform } from "../../src/main.ts";
import { captureLogs } from "./log-capture.ts";
import { NUMBER_SCHEMA, setSecret, tempApp } from "./temp-app.ts";

export const KEYS = {
  shop: "shop-key-AAAAAAAAAAAAAAAAAAAAAAAA",
  reader: "reader-key-BBBBBBBBBBBBBBBBBBBBBB",
  slow: "slow-key-CCCCCCCCCCCCCCCCCCCCCCCCCC",
};
export const WEBHOOK_SECRET = `whsec_${Buffer.from("webhook-signing-secret-0123456789").toString("base64")}`;
export const ISSUER = "https://id.example.test";
export const AUDIENCE = "shop";

/** An app with every kind of principal and a webhook source, plus a way to mint JWTs. */
export async function startAuthApp(t: TestContext) {
  const { publicKey, privateKey } = await generateKeyPair("RS256");
  const other = await generateKeyPair("RS256");
  const jwk = { ...(await exportJWK(publicKey)), kid: "k1", alg: "RS256", use: "sig" };
  const dir = tempApp(t, {
    "palisade.yaml": `name: authz
events:
  order.created: { schema: schemas/n.json }
  order.cancelled: { schema: schemas/n.json }
  audit.read: { schema: schemas/n.json }
  payment.webhook: { schema: schemas/any.json }
principals:
  shop: { apiKey: { secret: SHOP_KEY }, publish: [order.*] }
  reader: { apiKey: { secret: READER_KEY }, publish: [audit.read] }
  slow: { apiKey: { secret: SLOW_KEY }, publish: [order.created], rateLimit: { perSecond: 0.5, burst: 2 } }
  partner: { jwt: { issuer: ${ISSUER}, audience: ${AUDIENCE}, jwks: keys/partner.jwks.json }, publish: [order.created] }
sources:
  - http: { path: /events, maxBodyBytes: 65536 }
  - webhook: { path: /hooks/pay, secret: PAY_WEBHOOK_SECRET, emit: payment.webhook }
functions:
  sink:
    handler: functions/sink.ts
    on: [order.created, order.cancelled, audit.read, payment.webhook]
# These tests check each refusal's own status, many from one address: alert instead of blocking it
# (blocking has test/credential-stuffing.test.ts).
detect:
  credentialStuffing: { response: alert }
`,
    "schemas/n.json": NUMBER_SCHEMA,
    "schemas/any.json": { type: "object" },
    "keys/partner.jwks.json": { keys: [jwk] },
    "functions/sink.ts":
      'export default (e, ctx) => { ctx.log.info("reached", { type: e.type, principal: e.principal, data: e.data }); };',
  });
  setSecret(dir, "SHOP_KEY", KEYS.shop);
  setSecret(dir, "READER_KEY", KEYS.reader);
  setSecret(dir, "SLOW_KEY", KEYS.slow);
  setSecret(dir, "PAY_WEBHOOK_SECRET", WEBHOOK_SECRET);
  const logs = captureLogs();
  const platform: Platform = await startPlatform({ appDir: dir, logger: logs.logger, port: 0 });
  t.after(() => platform.close());

  const now = Math.floor(Date.now() / 1000);
  const jwt = (
    claims: JWTPayload = {},
    options: { key?: CryptoKey; alg?: string; exp?: number | null } = {},
  ) => {
    const standard: JWTPayload = { iss: ISSUER, aud: AUDIENCE, sub: "partner-1", iat: now };
    if (options.exp !== null) standard.exp = options.exp ?? now + 300;
    return new SignJWT({ ...standard, ...claims })
      .setProtectedHeader({ alg: options.alg ?? "RS256", kid: "k1" })
      .sign(options.key ?? privateKey);
  };
  return {
    dir,
    platform,
    logs,
    jwt,
    otherKey: other.privateKey,
    publicJwk: jwk,
    events: `${platform.url}/events`,
    hook: `${platform.url}/hooks/pay`,
  };
}

/** Standard Webhooks headers for `body`, signed with `secret` at `timestamp`. */
export function signWebhook(
  id: string,
  timestamp: number,
  body: string,
  secret = WEBHOOK_SECRET,
): Record<string, string> {
  const key = Buffer.from(secret.slice("whsec_".length), "base64");
  const sig = createHmac("sha256", key).update(`${id}.${timestamp}.${body}`).digest("base64");
  return {
    "webhook-id": id,
    "webhook-timestamp": String(timestamp),
    "webhook-signature": `v1,${sig}`,
    "content-type": "application/json",
  };
}
