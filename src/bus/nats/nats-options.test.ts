import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { nkeys } from "@nats-io/transport-node";
import {
  NATS_CA_MISSING,
  NATS_CREDS_INVALID,
  NATS_REPLICAS_INVALID,
  NATS_URL_INVALID,
} from "./connect-errors.ts";
import { natsOptionsFrom } from "./nats-options.ts";
import { redactUrl, redactUrls } from "./redact-url.ts";

const dir = mkdtempSync(join(tmpdir(), "palisade-nats-options-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text, { mode: 0o600 });
  return path;
};
const fails =
  (c: string, ...absent: string[]) =>
  (err: unknown) => {
    const e = err as { code?: string; message: string };
    assert.equal(e.code, c, e.message);
    for (const a of absent) assert.ok(!e.message.includes(a), `"${a}" leaked into: ${e.message}`);
    return true;
  };

describe("redactUrl", () => {
  test("a password becomes *** and the rest stays readable", () => {
    assert.equal(redactUrl("nats://alice:s3cret@10.0.0.1:4222"), "nats://alice:***@10.0.0.1:4222");
    assert.equal(redactUrl("http://admin:pw@host:8222/varz"), "http://admin:***@host:8222/varz");
    assert.equal(redactUrl("nats://10.0.0.1:4222"), "nats://10.0.0.1:4222");
  });

  test("a token alone, a password with @ or /, and a URL without a scheme are redacted too", () => {
    assert.equal(redactUrl("nats://tok3n@host:4222"), "nats://***@host:4222");
    assert.equal(redactUrl("nats://u:p@ss/w@rd@host:4222"), "nats://u:***@host:4222");
    assert.equal(redactUrl("u:s3cret@host:4222"), "u:***@host:4222");
    assert.equal(redactUrls("nats://a:x@h1:1, nats://h2:2"), "nats://a:***@h1:1,nats://h2:2");
  });
});

describe("natsOptionsFrom", () => {
  test("no --nats and no PALISADE_NATS_URL asks for no NATS", () => {
    assert.equal(natsOptionsFrom({}, {}), undefined);
    assert.equal(natsOptionsFrom({ nats: "  " }, { PALISADE_NATS_URL: "" }), undefined);
  });

  test("a seed list becomes servers without credentials; the password only in the authenticator", () => {
    const o = natsOptionsFrom({ nats: "nats://alice:s3cret@127.0.0.1:4333, 127.0.0.1" }, {});
    assert.ok(o !== undefined);
    assert.deepEqual(o.servers, ["nats://127.0.0.1:4333", "nats://127.0.0.1:4222"]);
    assert.equal(o.display, "nats://alice:***@127.0.0.1:4333,127.0.0.1");
    assert.equal(o.auth, "user-password");
    assert.ok(!JSON.stringify(o).includes("s3cret"));
    assert.deepEqual(o.authenticator?.(undefined), { user: "alice", pass: "s3cret" });
    assert.equal(o.tls, undefined);
  });

  test("PALISADE_NATS_URL stands in for --nats; a percent-encoded password is decoded", () => {
    const o = natsOptionsFrom({}, { PALISADE_NATS_URL: "nats://bob:p%40ss@h:1" });
    assert.deepEqual(o?.authenticator?.(undefined), { user: "bob", pass: "p@ss" });
  });

  test("a user without a password is a token", () => {
    const o = natsOptionsFrom({ nats: "nats://t0ken@h:4222" }, {});
    assert.equal(o?.auth, "token");
    assert.deepEqual(o?.authenticator?.(undefined), { auth_token: "t0ken" });
  });

  test("tls:// or --nats-ca asks for TLS; a missing CA file is refused with the fix", () => {
    assert.deepEqual(natsOptionsFrom({ nats: "tls://h:4222" }, {})?.tls, {});
    const ca = file("ca.pem", "-----BEGIN CERTIFICATE-----\n");
    assert.deepEqual(natsOptionsFrom({ nats: "h:4222", natsCa: ca }, {})?.tls, { caFile: ca });
    assert.throws(
      () => natsOptionsFrom({ nats: "h", natsCa: join(dir, "missing.pem") }, {}),
      (err: Error & { code?: string }) =>
        err.code === NATS_CA_MISSING && /missing\.pem.*ENOENT.*--nats-ca|--nats-ca.*ENOENT/.test(err.message),
    );
  });

  test("malformed URLs are refused, naming the URL (redacted) and the form to use", () => {
    for (const bad of [
      "http://u:s3cret@h:4222",
      "nats://u:s3cret@h:99999",
      "nats://u:s3cret@h:4222/path",
      "nats://h:1,,nats://h:2",
      "nats://",
    ])
      assert.throws(() => natsOptionsFrom({ nats: bad }, {}), fails(NATS_URL_INVALID, "s3cret"), bad);
    assert.throws(
      () => natsOptionsFrom({ nats: "nats://a:x@h1:1,nats://b:y@h2:2" }, {}),
      fails(NATS_URL_INVALID, ":x@", ":y@"),
    );
    assert.throws(() => natsOptionsFrom({ nats: "h", natsMonitor: "ftp://h" }, {}), fails(NATS_URL_INVALID));
  });

  test("--replicas outside 1..5 is refused", () => {
    assert.throws(() => natsOptionsFrom({ nats: "h", replicas: 7 }, {}), fails(NATS_REPLICAS_INVALID));
    assert.equal(natsOptionsFrom({ nats: "h", replicas: 3 }, {})?.replicas, 3);
  });
});

describe("--nats-creds", () => {
  test("an nkey seed file signs the server's nonce with that key", () => {
    const user = nkeys.createUser();
    const seed = new TextDecoder().decode(user.getSeed());
    const o = natsOptionsFrom({ nats: "h", natsCreds: file("user.nk", `# palisade\n${seed}\n`) }, {});
    assert.equal(o?.auth, "nkey");
    const auth = o?.authenticator?.("nonce-1") as { nkey: string; sig: string };
    assert.equal(auth.nkey, user.getPublicKey());
    const pub = nkeys.fromPublic(user.getPublicKey());
    assert.ok(pub.verify(new TextEncoder().encode("nonce-1"), nkeys.decode(auth.sig)));
    assert.ok(!JSON.stringify(o).includes(seed));
  });

  test("a .creds file gives the JWT and signs with its seed", () => {
    const user = nkeys.createUser();
    const jwt = "eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.e30.c2ln";
    const creds = `-----BEGIN NATS USER JWT-----\n${jwt}\n------END NATS USER JWT------\n\n************************* IMPORTANT *************************\nNKEY Seed printed below can be used to sign and prove identity.\n\n-----BEGIN USER NKEY SEED-----\n${new TextDecoder().decode(user.getSeed())}\n------END USER NKEY SEED------\n`;
    const o = natsOptionsFrom({ nats: "h", natsCreds: file("user.creds", creds) }, {});
    assert.equal(o?.auth, "creds");
    const auth = o?.authenticator?.("n") as { jwt: string; nkey: string };
    assert.equal(auth.jwt, jwt);
    assert.equal(auth.nkey, user.getPublicKey());
  });

  test("an unreadable or invalid file is refused without quoting its contents", () => {
    assert.throws(
      () => natsOptionsFrom({ nats: "h", natsCreds: join(dir, "absent.creds") }, {}),
      (err: Error & { code?: string }) => err.code === NATS_CREDS_INVALID && err.message.includes("ENOENT"),
    );
    const junk = file("junk.nk", "SUnotaseedatall-PRIVATE\n");
    assert.throws(
      () => natsOptionsFrom({ nats: "h", natsCreds: junk }, {}),
      fails(NATS_CREDS_INVALID, "PRIVATE"),
    );
    const half = file("half.creds", "-----BEGIN NATS USER JWT-----\nabc\n------END NATS USER JWT------\n");
    assert.throws(() => natsOptionsFrom({ nats: "h", natsCreds: half }, {}), fails(NATS_CREDS_INVALID));
  });

  test("credentials twice (creds file and a URL password) are refused", () => {
    const seed = new TextDecoder().decode(nkeys.createUser().getSeed());
    assert.throws(
      () => natsOptionsFrom({ nats: "nats://u:s3cret@h", natsCreds: file("u2.nk", seed) }, {}),
      fails(NATS_CREDS_INVALID, "s3cret"),
    );
  });
});
