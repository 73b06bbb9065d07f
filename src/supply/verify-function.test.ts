import assert from "node:assert/strict";
import { createHash, generateKeyPairSync, type KeyObject, sign, verify } from "node:crypto";
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { type TestContext, test } from "node:test";
import { preAuthEncoding } from "./dsse.ts";
import {
  ATTESTATION_FILE,
  BUNDLE_FILE,
  buildFunction,
  type DsseEnvelope,
  generateSigningKey,
  keyIdOf,
  loadTrustedKeys,
  SBOM_FILE,
  SUPPLY_BAD_SIGNATURE,
  SUPPLY_DIGEST_MISMATCH,
  SUPPLY_MALFORMED,
  SUPPLY_NOT_BUILT,
  SUPPLY_SYMLINK,
  SUPPLY_UNSIGNED,
  SUPPLY_UNTRUSTED_KEY,
  SUPPLY_WRONG_FUNCTION,
  signFunction,
  verifyFunction,
} from "./index.ts";

interface SignedApp {
  app: string;
  /** `<app>/dist/charge`: built and signed. */
  dir: string;
  trusted: string[];
  privateKeyPem: string;
}

const HANDLER = `import { greeting } from "./lib/greeting.ts";\nexport default (name: string) => \`\${greeting}, \${name}\`;\n`;

async function signedApp(t: TestContext, handler = HANDLER): Promise<SignedApp> {
  const app = mkdtempSync(join(tmpdir(), "palisade-supply-verify-"));
  t.after(() => rmSync(app, { recursive: true, force: true }));
  mkdirSync(join(app, "functions/lib"), { recursive: true });
  writeFileSync(join(app, "functions/charge.ts"), handler);
  writeFileSync(join(app, "functions/lib/greeting.ts"), `export const greeting = "hello";\n`);
  const { privateKeyPem } = generateSigningKey(app);
  const dir = await rebuild(app, privateKeyPem);
  return { app, dir, trusted: loadTrustedKeys(app), privateKeyPem };
}

async function rebuild(app: string, privateKeyPem: string): Promise<string> {
  const { dir } = await buildFunction({
    name: "charge",
    handlerPath: join(app, "functions/charge.ts"),
    appDir: app,
    outDir: join(app, "dist"),
  });
  signFunction(dir, privateKeyPem);
  return dir;
}

const sha256 = (data: Uint8Array): string => createHash("sha256").update(data).digest("hex");
const readEnvelope = (dir: string): DsseEnvelope =>
  JSON.parse(readFileSync(join(dir, ATTESTATION_FILE), "utf8")) as DsseEnvelope;
const writeEnvelope = (dir: string, envelope: DsseEnvelope): void =>
  writeFileSync(join(dir, ATTESTATION_FILE), JSON.stringify(envelope));

/** Flips the lowest bit of the byte in the middle of `data`. */
function flipOneByte(data: Buffer): Buffer {
  const out = Buffer.from(data);
  const i = out.length >> 1;
  out[i] = (out[i] ?? 0) ^ 0x01;
  return out;
}

/** A DSSE envelope over `statement`, built here independently of signFunction. */
function envelopeOf(statement: unknown, key: KeyObject | string, keyid: string): DsseEnvelope {
  const type = "application/vnd.in-toto+json";
  const body = Buffer.from(JSON.stringify(statement));
  const pae = Buffer.concat([Buffer.from(`DSSEv1 ${type.length} ${type} ${body.length} `), body]);
  return {
    payloadType: type,
    payload: body.toString("base64"),
    signatures: [{ keyid, sig: sign(null, pae, key).toString("base64") }],
  };
}

test("DSSE pre-authentication encoding matches the specification's example", () => {
  assert.equal(
    preAuthEncoding("http://example.com/HelloWorld", Buffer.from("hello world")).toString(),
    "DSSEv1 29 http://example.com/HelloWorld 11 hello world",
  );
});

test("a built and signed function verifies, and its attestation is a DSSE in-toto statement over both files", async (t) => {
  const { app, dir, trusted } = await signedApp(t);
  const pub = readFileSync(join(app, "keys/signing.pub"), "utf8");
  assert.deepEqual(trusted, [pub]);

  const bundle = readFileSync(join(dir, BUNDLE_FILE));
  const verified = verifyFunction(dir, trusted);
  assert.deepEqual(
    { ...verified, builtAt: undefined },
    {
      bundlePath: join(dir, BUNDLE_FILE),
      keyid: keyIdOf(pub),
      bundle,
      sha256: sha256(bundle),
      builtAt: undefined,
    },
  );

  // The format, checked by hand: another DSSE/in-toto verifier must be able to read it.
  const envelope = readEnvelope(dir);
  assert.equal(envelope.payloadType, "application/vnd.in-toto+json");
  const body = Buffer.from(envelope.payload, "base64");
  const statement = JSON.parse(body.toString());
  assert.equal(statement._type, "https://in-toto.io/Statement/v1");
  assert.deepEqual(statement.subject, [
    { name: "index.mjs", digest: { sha256: sha256(readFileSync(join(dir, BUNDLE_FILE))) } },
    { name: "sbom.cdx.json", digest: { sha256: sha256(readFileSync(join(dir, SBOM_FILE))) } },
  ]);
  assert.equal(statement.predicate.function, "charge");
  assert.equal(statement.predicate.builtAt, verified.builtAt);
  assert.match(statement.predicate.builtAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  const [signature] = envelope.signatures;
  const spki = Buffer.from(pub.replace(/-----[^-]+-----|\s/g, ""), "base64");
  assert.equal(signature?.keyid, sha256(spki));
  const pae = Buffer.concat([Buffer.from(`DSSEv1 28 application/vnd.in-toto+json ${body.length} `), body]);
  assert.equal(verify(null, pae, pub, Buffer.from(signature?.sig ?? "", "base64")), true);
});

for (const { what, file, code, message } of [
  {
    what: "the bundle",
    file: BUNDLE_FILE,
    code: SUPPLY_DIGEST_MISMATCH,
    message:
      /^Bundle of function "charge" was modified after signing \(.*\/charge\/index\.mjs: sha256 [0-9a-f]{12}… ≠ signed [0-9a-f]{12}…\); rebuild with palisade build$/,
  },
  {
    what: "the SBOM",
    file: SBOM_FILE,
    code: SUPPLY_DIGEST_MISMATCH,
    message: /^SBOM of function "charge" was modified after signing \(.*\/charge\/sbom\.cdx\.json: sha256 /,
  },
] as const) {
  test(`flipping one byte of ${what} makes verification fail with ${code}`, async (t) => {
    const { dir, trusted } = await signedApp(t);
    const path = join(dir, file);
    const original = readFileSync(path);
    writeFileSync(path, flipOneByte(original));
    assert.throws(() => verifyFunction(dir, trusted), { code, message });
    writeFileSync(path, original);
    assert.equal(verifyFunction(dir, trusted).bundlePath, join(dir, BUNDLE_FILE));
  });
}

test("flipping one byte of the signature makes verification fail with PAL_SUPPLY_BAD_SIGNATURE", async (t) => {
  const { dir, trusted } = await signedApp(t);
  const envelope = readEnvelope(dir);
  const [signature] = envelope.signatures;
  assert.ok(signature);
  const sig = Buffer.from(signature.sig, "base64");
  writeEnvelope(dir, {
    ...envelope,
    signatures: [{ ...signature, sig: flipOneByte(sig).toString("base64") }],
  });
  assert.throws(() => verifyFunction(dir, trusted), {
    code: SUPPLY_BAD_SIGNATURE,
    message: new RegExp(
      `^Signature of function "charge" does not verify with trusted key ${signature.keyid} `,
    ),
  });
  writeEnvelope(dir, envelope);
  verifyFunction(dir, trusted);
});

test("a payload swapped for a statement with other digests fails, signed or not", async (t) => {
  const { app, dir, trusted, privateKeyPem } = await signedApp(t);
  const envelope = readEnvelope(dir);
  const statement = JSON.parse(Buffer.from(envelope.payload, "base64").toString());
  const forged = {
    ...statement,
    subject: [{ name: BUNDLE_FILE, digest: { sha256: "0".repeat(64) } }, statement.subject[1]],
  };

  // Kept signature, new payload: the signature no longer covers it.
  writeEnvelope(dir, { ...envelope, payload: Buffer.from(JSON.stringify(forged)).toString("base64") });
  assert.throws(() => verifyFunction(dir, trusted), { code: SUPPLY_BAD_SIGNATURE });
  // Kept signature and payload, other payload type: the type is signed too (DSSE PAE).
  writeEnvelope(dir, { ...envelope, payloadType: "application/json" });
  assert.throws(() => verifyFunction(dir, trusted), { code: SUPPLY_BAD_SIGNATURE });

  // A genuine attestation of an older build, next to the current bundle.
  writeFileSync(join(app, "functions/lib/greeting.ts"), `export const greeting = "hi";\n`);
  const older = envelope;
  await rebuild(app, privateKeyPem);
  verifyFunction(dir, trusted);
  writeEnvelope(dir, older);
  assert.throws(() => verifyFunction(dir, trusted), {
    code: SUPPLY_DIGEST_MISMATCH,
    message: /^Bundle of function "charge"/,
  });
});

test("a function signed by a key the app does not trust is refused", async (t) => {
  const { dir, trusted } = await signedApp(t);
  const other = generateKeyPairSync("ed25519");
  signFunction(dir, other.privateKey.export({ type: "pkcs8", format: "pem" }).toString());
  const otherId = keyIdOf(other.publicKey);
  assert.throws(() => verifyFunction(dir, trusted), {
    code: SUPPLY_UNTRUSTED_KEY,
    message: new RegExp(`^Function "charge" is signed by untrusted key ${otherId} `),
  });
  assert.throws(() => verifyFunction(dir, []), {
    code: SUPPLY_UNTRUSTED_KEY,
    message: /the app trusts no keys/,
  });
  // Trusting that key (alongside the app's) accepts the very same files.
  const otherPem = other.publicKey.export({ type: "spki", format: "pem" }).toString();
  assert.equal(verifyFunction(dir, [...trusted, otherPem]).keyid, otherId);
});

test("a signature claiming a trusted key id but made with another key is a bad signature", async (t) => {
  const { dir, trusted } = await signedApp(t);
  const statement = JSON.parse(Buffer.from(readEnvelope(dir).payload, "base64").toString());
  const attacker = generateKeyPairSync("ed25519").privateKey;
  writeEnvelope(dir, envelopeOf(statement, attacker, keyIdOf(trusted[0] ?? "")));
  assert.throws(() => verifyFunction(dir, trusted), { code: SUPPLY_BAD_SIGNATURE });
});

test("a function without an attestation is unsigned, and one without a bundle is not built", async (t) => {
  const { dir, trusted } = await signedApp(t);
  rmSync(join(dir, ATTESTATION_FILE));
  assert.throws(() => verifyFunction(dir, trusted), {
    code: SUPPLY_UNSIGNED,
    message: `Function "charge" is not signed ("${join(dir, ATTESTATION_FILE)}" does not exist); build and sign it with palisade build`,
  });
  rmSync(join(dir, BUNDLE_FILE));
  assert.throws(() => verifyFunction(dir, trusted), { code: SUPPLY_NOT_BUILT });
  assert.throws(() => verifyFunction(join(dir, "..", "nothing"), trusted), { code: SUPPLY_NOT_BUILT });
});

for (const file of [BUNDLE_FILE, SBOM_FILE, ATTESTATION_FILE]) {
  test(`a symlinked ${file} is refused even when it points at the signed bytes`, async (t) => {
    const { app, dir, trusted } = await signedApp(t);
    const path = join(dir, file);
    const target = join(app, `elsewhere-${file}`);
    renameSync(path, target);
    symlinkSync(target, path);
    assert.throws(() => verifyFunction(dir, trusted), {
      code: SUPPLY_SYMLINK,
      message: `Refusing function "charge": "${path}" is a symbolic link, and function bundles may not contain symbolic links; rebuild with palisade build`,
    });
    rmSync(path);
    renameSync(target, path);
    verifyFunction(dir, trusted);
  });
}

test("a symlinked function directory is refused", async (t) => {
  const { app, dir, trusted } = await signedApp(t);
  const real = join(app, "real");
  mkdirSync(join(real, "dist"), { recursive: true });
  renameSync(dir, join(real, "dist", "charge"));
  symlinkSync(join(real, "dist", "charge"), dir);
  assert.throws(() => verifyFunction(dir, trusted), { code: SUPPLY_SYMLINK });
  // A trailing slash would make lstat look through the link; it must not.
  assert.throws(() => verifyFunction(`${dir}/`, trusted), { code: SUPPLY_SYMLINK });
  assert.equal(
    verifyFunction(join(real, "dist", "charge"), trusted).bundlePath,
    join(real, "dist", "charge", BUNDLE_FILE),
  );
});

test("a validly signed bundle copied into another function's directory is refused", async (t) => {
  const { dir, trusted } = await signedApp(t);
  const refund = join(dirname(dir), "refund");
  cpSync(dir, refund, { recursive: true });
  assert.throws(() => verifyFunction(refund, trusted), {
    code: SUPPLY_WRONG_FUNCTION,
    message: `Bundle in "${refund}" was signed for function "charge", not "refund"; rebuild with palisade build`,
  });
});

test("an attestation that is not a DSSE envelope of the expected statement is malformed", async (t) => {
  const { dir, trusted, privateKeyPem } = await signedApp(t);
  const statement = JSON.parse(Buffer.from(readEnvelope(dir).payload, "base64").toString());
  const keyid = keyIdOf(privateKeyPem);
  writeFileSync(join(dir, ATTESTATION_FILE), "{not json");
  assert.throws(() => verifyFunction(dir, trusted), { code: SUPPLY_MALFORMED, message: /not UTF-8 JSON/ });
  writeEnvelope(dir, { payloadType: "application/vnd.in-toto+json", payload: "e30=", signatures: [] });
  assert.throws(() => verifyFunction(dir, trusted), {
    code: SUPPLY_MALFORMED,
    message: /"signatures" is empty/,
  });
  // Signed by the trusted key, but not the statement Palisade signs.
  writeEnvelope(
    dir,
    envelopeOf({ ...statement, _type: "https://in-toto.io/Statement/v0.1" }, privateKeyPem, keyid),
  );
  assert.throws(() => verifyFunction(dir, trusted), { code: SUPPLY_MALFORMED, message: /"_type"/ });
  // A build time that would not sort as a time (it orders builds against rollback) is refused.
  for (const builtAt of ["yesterday", 1700000000000, "2026-03-01"]) {
    const predicate = { ...statement.predicate, builtAt };
    writeEnvelope(dir, envelopeOf({ ...statement, predicate }, privateKeyPem, keyid));
    assert.throws(() => verifyFunction(dir, trusted), {
      code: SUPPLY_MALFORMED,
      message: /"predicate\.builtAt" is not an ISO 8601 UTC time/,
    });
  }
  writeEnvelope(dir, envelopeOf({ ...statement, subject: [statement.subject[0]] }, privateKeyPem, keyid));
  assert.throws(() => verifyFunction(dir, trusted), { code: SUPPLY_MALFORMED, message: /"subject"/ });
  writeEnvelope(dir, envelopeOf(statement, privateKeyPem, keyid));
  verifyFunction(dir, trusted);
});

test("signing refuses a bundle changed after it was built", async (t) => {
  const { dir, privateKeyPem } = await signedApp(t);
  rmSync(join(dir, ATTESTATION_FILE));
  const path = join(dir, BUNDLE_FILE);
  writeFileSync(path, flipOneByte(readFileSync(path)));
  assert.throws(() => signFunction(dir, privateKeyPem), {
    code: SUPPLY_DIGEST_MISMATCH,
    message: /^Cannot sign function "charge": its bundle was modified after it was built/,
  });
  assert.throws(() => readFileSync(join(dir, ATTESTATION_FILE)), { code: "ENOENT" });
});
