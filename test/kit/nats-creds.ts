/**
 * Decentralized NATS auth for tests, with no nsc: an operator, a system account and an app account
 * with JetStream, issued as JWTs signed by their nkeys, in a server config (memory resolver), and
 * `.creds` files for users of the app account, as `nsc generate creds` writes them.
 */
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { nkeys } from "@nats-io/transport-node";

type KeyPair = ReturnType<typeof nkeys.createOperator>;

const UNLIMITED = {
  subs: -1,
  data: -1,
  payload: -1,
  imports: -1,
  exports: -1,
  wildcards: true,
  conn: -1,
  leaf: -1,
};
const JETSTREAM = { mem_storage: -1, disk_storage: -1, streams: -1, consumer: -1 };

/** A NATS JWT (header.claims.signature, base64url; ed25519 by the issuer's nkey). */
function issueJwt(issuer: KeyPair, subject: string, name: string, nats: object): string {
  const enc = (text: string | Uint8Array) => Buffer.from(text).toString("base64url");
  const header = enc(JSON.stringify({ typ: "JWT", alg: "ed25519-nkey" }));
  const claims = enc(
    JSON.stringify({
      jti: randomBytes(16).toString("hex").toUpperCase(),
      iat: Math.floor(Date.now() / 1000),
      iss: issuer.getPublicKey(),
      name,
      sub: subject,
      nats,
    }),
  );
  const signature = enc(issuer.sign(new TextEncoder().encode(`${header}.${claims}`)));
  return `${header}.${claims}.${signature}`;
}

/** An operator trusting one app account (with JetStream); writes the server config into `dir`. */
export function makeOperator(dir: string): { config: string; writeCreds(file: string): string } {
  const operator = nkeys.createOperator();
  const system = nkeys.createAccount();
  const app = nkeys.createAccount();
  const account = (kp: KeyPair, name: string, limits: object) =>
    issueJwt(operator, kp.getPublicKey(), name, {
      limits,
      default_permissions: { pub: {}, sub: {} },
      type: "account",
      version: 2,
    });
  const config = join(dir, "operator.conf");
  writeFileSync(
    config,
    [
      `operator: "${issueJwt(operator, operator.getPublicKey(), "palisade-test", { type: "operator", version: 2 })}"`,
      `system_account: ${system.getPublicKey()}`,
      "resolver: MEMORY",
      "resolver_preload: {",
      `  ${system.getPublicKey()}: "${account(system, "SYS", UNLIMITED)}"`,
      `  ${app.getPublicKey()}: "${account(app, "app", { ...UNLIMITED, ...JETSTREAM })}"`,
      "}",
      "",
    ].join("\n"),
  );
  return {
    config,
    /** A new user of the app account, as a .creds file at `file`. */
    writeCreds(file: string): string {
      const user = nkeys.createUser();
      const jwt = issueJwt(app, user.getPublicKey(), "palisade", {
        pub: {},
        sub: {},
        subs: -1,
        data: -1,
        payload: -1,
        type: "user",
        version: 2,
      });
      const seed = new TextDecoder().decode(user.getSeed());
      writeFileSync(
        file,
        `-----BEGIN NATS USER JWT-----\n${jwt}\n------END NATS USER JWT------\n\n` +
          "************************* IMPORTANT *************************\n" +
          "NKEY Seed printed below can be used to sign and prove identity.\n\n" +
          `-----BEGIN USER NKEY SEED-----\n${seed}\n------END USER NKEY SEED------\n`,
        { mode: 0o600 },
      );
      return file;
    },
  };
}
