/**
 * Signed bundles, end to end: `palisade build` writes bundle, SBOM and attestation per function;
 * the runtime loads only bundles whose signature verifies against the app's keys. Flipping one byte
 * of a bundle, its SBOM or its signature, or signing with a key the app does not trust, keeps that
 * function from loading while the others run. `palisade start` runs only prebuilt bundles, needs the
 * master key, speaks TLS from flags, and refuses plain HTTP off loopback.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { join } from "node:path";
import { test } from "node:test";
import { prepareApp, startPlatform } from "../src/main.ts";
import { signFunction } from "../src/supply/index.ts";
import { makeCertificates } from "./kit/certs.ts";
import { BIN, startDev, stop } from "./kit/cli-process.ts";
import { post, TEST_KEY } from "./kit/http.ts";
import { captureLogs } from "./kit/log-capture.ts";
import { type RawReply, readReply } from "./kit/read-reply.ts";
import { twoFunctionApp } from "./kit/two-function-app.ts";

const palisade = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8" });

test("palisade build writes a bundle, its SBOM and a DSSE attestation per function", (t) => {
  const dir = twoFunctionApp(t, "signed");
  const built = palisade("build", dir);
  assert.equal(built.status, 0, built.stderr);
  assert.match(
    built.stdout,
    /alpha: dist\/alpha\/index\.mjs sha256:[0-9a-f]{16}… 0 package\(s\) in sbom\.cdx\.json, signed/,
  );
  for (const fn of ["alpha", "beta"]) {
    for (const file of ["index.mjs", "sbom.cdx.json", "attestation.dsse.json"])
      assert.ok(existsSync(join(dir, "dist", fn, file)), `${fn}/${file}`);
    const envelope = JSON.parse(readFileSync(join(dir, "dist", fn, "attestation.dsse.json"), "utf8"));
    assert.equal(envelope.payloadType, "application/vnd.in-toto+json");
    const statement = JSON.parse(Buffer.from(envelope.payload, "base64").toString("utf8"));
    assert.deepEqual(
      statement.subject.map((s: { name: string }) => s.name),
      ["index.mjs", "sbom.cdx.json"],
    );
    assert.equal(
      JSON.parse(readFileSync(join(dir, "dist", fn, "sbom.cdx.json"), "utf8")).bomFormat,
      "CycloneDX",
    );
  }
});

// Each way of breaking alpha's signed bundle; beta must keep working every time.
const TAMPER: Record<string, (dir: string) => void> = {
  "one byte of the bundle": (dir) => flipByte(join(dir, "dist", "alpha", "index.mjs"), 40),
  "one byte of the SBOM": (dir) => flipByte(join(dir, "dist", "alpha", "sbom.cdx.json"), 30),
  "one byte of the signature": (dir) => {
    const file = join(dir, "dist", "alpha", "attestation.dsse.json");
    const envelope = JSON.parse(readFileSync(file, "utf8"));
    const sig = Buffer.from(envelope.signatures[0].sig, "base64");
    sig[5] = (sig[5] ?? 0) ^ 1;
    envelope.signatures[0].sig = sig.toString("base64");
    writeFileSync(file, JSON.stringify(envelope));
  },
  "a missing signature": (dir) => rmSync(join(dir, "dist", "alpha", "attestation.dsse.json")),
  "a signature by a key the app does not trust": (dir) => {
    const { privateKey } = generateKeyPairSync("ed25519");
    signFunction(join(dir, "dist", "alpha"), privateKey.export({ type: "pkcs8", format: "pem" }).toString());
  },
};

function flipByte(file: string, at: number): void {
  const bytes = readFileSync(file);
  bytes[at] = (bytes[at] ?? 0) ^ 1;
  writeFileSync(file, bytes);
}

for (const [name, tamper] of Object.entries(TAMPER)) {
  test(`${name} keeps that function from loading; the others run`, async (t) => {
    const dir = twoFunctionApp(t, "signed");
    assert.equal(palisade("build", dir).status, 0);
    tamper(dir);
    const logs = captureLogs();
    const platform = await startPlatform(
      { appDir: dir, logger: logs.logger, port: 0 },
      await prepareApp(dir, false, true),
    );
    t.after(() => platform.close());
    const refused = await logs.waitFor(
      (l) => l.fn === "alpha" && String(l.msg).startsWith("function refused"),
    );
    assert.match(String(refused.code), /^PAL_SUPPLY_(DIGEST_MISMATCH|BAD_SIGNATURE|UNSIGNED|UNTRUSTED_KEY)$/);
    const sent = await post(`${platform.url}/events`, { type: "job.queued", data: { n: 1 } });
    assert.equal(sent.status, 202);
    await logs.waitFor((l) => l.fn === "beta" && l.msg === "beta ran");
    await logs.waitFor((l) => l.fn === "alpha" && l.msg === "delivery failed");
    const [dead] = await platform.store.queue.deadLetters(5);
    assert.equal(dead?.target, "alpha");
    assert.equal(dead?.reason, "load-failed");
    assert.ok(!logs.lines.some((l) => l.msg === "alpha ran"));
  });
}

test("a bundle changed on disk after start is refused at the next process start", async (t) => {
  const dir = twoFunctionApp(t, "signed");
  writeFileSync(
    join(dir, "functions", "alpha.ts"),
    "export default (e, ctx) => { if (e.data.n === 99) process.exit(1); ctx.log.info('alpha ran'); };",
  );
  assert.equal(palisade("build", dir).status, 0);
  const logs = captureLogs();
  const platform = await startPlatform(
    { appDir: dir, logger: logs.logger, port: 0 },
    await prepareApp(dir, false, true),
  );
  t.after(() => platform.close());
  await post(`${platform.url}/events`, { type: "job.queued", data: { n: 1 } });
  await logs.waitFor((l) => l.msg === "alpha ran");
  flipByte(join(dir, "dist", "alpha", "index.mjs"), 40);
  // This event crashes alpha's process; the pool's next start checks the signature again.
  const crash = await post(`${platform.url}/events`, { type: "job.queued", data: { n: 99 } });
  await logs.waitFor(
    (l) => l.fn === "alpha" && l.eventId === crash.body.ids[0] && l.msg === "delivery failed",
    30000,
  );
  const [dead] = await platform.store.queue.deadLetters(5);
  assert.equal(dead?.reason, "load-failed");
  assert.match(dead?.error ?? "", /modified after signing|sha256/);
  await logs.waitFor((l) => l.fn === "beta" && l.eventId === crash.body.ids[0] && l.msg === "delivered");
});

test("palisade start: needs built bundles and the master key, speaks TLS from flags, refuses plain HTTP off loopback", async (t) => {
  const dir = twoFunctionApp(t, "signed");
  const notBuilt = palisade("start", dir, "--port", "0");
  assert.equal(notBuilt.status, 2);
  assert.match(notBuilt.stderr, /No signed bundles .*run palisade build/);

  assert.equal(palisade("build", dir).status, 0);
  const open = palisade("start", dir, "--port", "0", "--host", "0.0.0.0");
  assert.equal(open.status, 2);
  assert.match(
    open.stderr,
    /Refusing to listen on 0\.0\.0\.0 without TLS.*--tls-cert FILE --tls-key FILE.*--insecure-http/,
  );
  const half = palisade("start", dir, "--port", "0", "--tls-cert", "x.crt");
  assert.equal(half.status, 2);
  assert.match(half.stderr, /both --tls-cert and --tls-key/);

  const key = readFileSync(join(dir, "keys", "master.key"));
  rmSync(join(dir, "keys", "master.key"));
  const noKey = palisade("start", dir, "--port", "0");
  assert.equal(noKey.status, 2);
  assert.match(noKey.stderr, /No master key: set PALISADE_MASTER_KEY .* or create/);
  writeFileSync(join(dir, "keys", "master.key"), key, { mode: 0o600 });

  mkdirSync(join(dir, "tls"));
  const certs = makeCertificates(join(dir, "tls"));
  const server = await startDev(dir, "start", [
    "--tls-cert",
    join(dir, "tls", "server.crt"),
    "--tls-key",
    join(dir, "tls", "server.key"),
  ]);
  t.after(() => stop(server.child));
  assert.match(server.url, /^https:\/\/127\.0\.0\.1:/);
  const reply = await new Promise<RawReply>((resolve, reject) => {
    const req = request(
      `${server.url}/events`,
      {
        method: "POST",
        ca: certs.ca,
        headers: { "content-type": "application/json", authorization: `Bearer ${TEST_KEY}` },
      },
      (res) => resolve(readReply(res)),
    );
    req.on("error", reject);
    req.end(JSON.stringify({ type: "job.queued", data: { n: 1 } }));
  });
  assert.equal(reply.status, 202, JSON.stringify(reply.body));
  await server.waitFor((l) => l.fn === "alpha" && l.msg === "alpha ran");
  // A client that does not trust the server's CA gets no connection.
  await assert.rejects(
    new Promise((resolve, reject) => {
      const req = request(`${server.url}/healthz`, resolve);
      req.on("error", reject);
      req.end();
    }),
    /self-signed|unable to verify|certificate/i,
  );
});
