import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { type TestContext, test } from "node:test";
import { pathToFileURL } from "node:url";
import { Spec, Validation } from "@cyclonedx/cyclonedx-library";
import { version as esbuildVersion } from "esbuild";
import {
  ATTESTATION_FILE,
  BUNDLE_FILE,
  buildFunction,
  type CycloneDxBom,
  generateSigningKey,
  SBOM_FILE,
  SUPPLY_BUILD_FAILED,
  signFunction,
} from "./index.ts";

function write(root: string, path: string, content: string): void {
  mkdirSync(dirname(join(root, path)), { recursive: true });
  writeFileSync(join(root, path), content);
}

/** The SRI string npm would record for a tarball, and the hex digest CycloneDX should carry. */
function tarball(name: string): { integrity: string; hex: string } {
  const digest = createHash("sha512").update(`${name}.tgz`).digest();
  return { integrity: `sha512-${digest.toString("base64")}`, hex: digest.toString("hex") };
}

const LEFT_PAD = tarball("left-pad-ish-1.2.3");
const INNER = tarball("inner-ish-0.1.0");
const SHOUT = tarball("shout-2.0.0");
const REGISTRY = "https://registry.npmjs.org";

/**
 * An offline app: a handler importing a CJS package (with a nested dependency), a scoped ESM package,
 * a local file and a Node built-in; a type-only import and an installed-but-unused package that must
 * not be listed.
 */
function makeApp(t: TestContext, { lockfile = true } = {}): string {
  const app = mkdtempSync(join(tmpdir(), "palisade-supply-build-"));
  t.after(() => rmSync(app, { recursive: true, force: true }));
  write(
    app,
    "functions/charge.ts",
    `import { createHash } from "node:crypto";
import { shout } from "@acme/shout";
import pad from "left-pad-ish";
import type { Unused } from "typed-only";
import { label } from "./lib/label.ts";

export default (input: string): string => {
  const unused: Unused | undefined = undefined;
  void unused;
  return \`\${label}:\${shout(pad(input, 5))}:\${createHash("sha256").update(input).digest("hex").slice(0, 8)}\`;
};
`,
  );
  write(app, "functions/lib/label.ts", `export const label = "fn";\n`);
  write(
    app,
    "node_modules/left-pad-ish/package.json",
    '{"name":"left-pad-ish","version":"1.2.3","main":"index.js","license":"MIT","author":"Ada Lovelace <ada@example.com> (https://ada.example)","dependencies":{"inner-ish":"^0.1.0","not-imported":"^1.0.0"}}',
  );
  write(
    app,
    "node_modules/left-pad-ish/index.js",
    `const inner = require("inner-ish");\nmodule.exports = (s, n) => inner(String(s).padStart(n, "*"));\n`,
  );
  write(
    app,
    "node_modules/left-pad-ish/node_modules/inner-ish/package.json",
    '{"name":"inner-ish","version":"0.1.0+build.7","licenses":[{"type":"bsd-3-clause"},{"type":"Acme-Custom-1"}]}',
  );
  write(
    app,
    "node_modules/left-pad-ish/node_modules/inner-ish/index.js",
    'module.exports = (s) => "[" + s + "]";\n',
  );
  write(
    app,
    "node_modules/@acme/shout/package.json",
    '{"name":"@acme/shout","version":"2.0.0","type":"module","exports":{".":"./dist/index.js"},"license":"SEE LICENSE IN LICENSE.txt","author":{"name":"Acme Inc."}}',
  );
  // Uses left-pad-ish without declaring it: the import esbuild followed is an edge all the same.
  write(
    app,
    "node_modules/@acme/shout/dist/index.js",
    'import pad from "left-pad-ish";\nexport const shout = (s) => pad(s, 0).toUpperCase();\n',
  );
  write(
    app,
    "node_modules/typed-only/package.json",
    '{"name":"typed-only","version":"9.9.9","types":"index.d.ts"}',
  );
  write(app, "node_modules/typed-only/index.d.ts", "export type Unused = string;\n");
  write(app, "node_modules/not-imported/package.json", '{"name":"not-imported","version":"1.0.0"}');
  write(app, "node_modules/not-imported/index.js", "module.exports = 1;\n");
  if (lockfile) {
    const entry = (name: string, version: string, integrity: string) => ({
      version,
      resolved: `${REGISTRY}/${name}/-/${name.split("/").pop()}-${version}.tgz`,
      integrity,
    });
    const lock = {
      name: "shop",
      lockfileVersion: 3,
      requires: true,
      packages: {
        "": { name: "shop", dependencies: { "@acme/shout": "^2.0.0", "left-pad-ish": "^1.2.0" } },
        "node_modules/@acme/shout": entry("@acme/shout", "2.0.0", SHOUT.integrity),
        "node_modules/left-pad-ish": entry("left-pad-ish", "1.2.3", LEFT_PAD.integrity),
        "node_modules/left-pad-ish/node_modules/inner-ish": entry(
          "inner-ish",
          "0.1.0+build.7",
          INNER.integrity,
        ),
        "node_modules/not-imported": entry("not-imported", "1.0.0", tarball("not-imported").integrity),
        "node_modules/typed-only": entry("typed-only", "9.9.9", tarball("typed-only").integrity),
      },
    };
    write(app, "package-lock.json", JSON.stringify(lock, null, 2));
  }
  return app;
}

const build = (app: string, outDir = join(app, "dist"), name = "charge") =>
  buildFunction({
    name,
    handlerPath: join(app, "functions/charge.ts"),
    appDir: app,
    outDir,
    appName: "shop",
  });

const readSbom = (dir: string): CycloneDxBom => JSON.parse(readFileSync(join(dir, SBOM_FILE), "utf8"));

test("the SBOM lists exactly the bundled npm packages with versions, purls and lockfile integrity", async (t) => {
  const app = makeApp(t);
  const built = await build(app);
  assert.equal(built.dir, join(app, "dist", "charge"));
  assert.equal(built.bundlePath, join(built.dir, BUNDLE_FILE));

  const sbom = readSbom(built.dir);
  assert.equal(sbom.bomFormat, "CycloneDX");
  assert.equal(sbom.specVersion, "1.5");
  const bundleSha256 = createHash("sha256").update(readFileSync(built.bundlePath)).digest("hex");
  assert.equal(built.sha256, bundleSha256);
  assert.deepEqual(sbom.metadata.component, {
    type: "application",
    "bom-ref": "palisade-function:charge",
    name: "charge",
    version: `sha256:${bundleSha256.slice(0, 12)}`,
    supplier: { name: "shop" },
    hashes: [{ alg: "SHA-256", content: bundleSha256 }],
  });
  const palisadeVersion = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8"))
    .version as string;
  assert.deepEqual(sbom.metadata.tools.components, [
    { type: "application", name: "palisade", version: palisadeVersion },
    { type: "application", name: "esbuild", version: esbuildVersion },
  ]);
  assert.deepEqual(sbom.components, [
    {
      type: "library",
      "bom-ref": "pkg:npm/%40acme/shout@2.0.0",
      group: "@acme",
      name: "shout",
      version: "2.0.0",
      purl: "pkg:npm/%40acme/shout@2.0.0",
      author: "Acme Inc.",
      supplier: { name: "Acme Inc." },
      licenses: [{ license: { name: "SEE LICENSE IN LICENSE.txt" } }],
      hashes: [{ alg: "SHA-512", content: SHOUT.hex }],
      externalReferences: [{ type: "distribution", url: `${REGISTRY}/@acme/shout/-/shout-2.0.0.tgz` }],
    },
    {
      type: "library",
      "bom-ref": "pkg:npm/inner-ish@0.1.0%2Bbuild.7",
      name: "inner-ish",
      version: "0.1.0+build.7",
      purl: "pkg:npm/inner-ish@0.1.0%2Bbuild.7",
      supplier: { name: "registry.npmjs.org" },
      // The legacy list, entry by entry: an SPDX id as SPDX spells it, an unknown one by name.
      licenses: [{ license: { id: "BSD-3-Clause" } }, { license: { name: "Acme-Custom-1" } }],
      hashes: [{ alg: "SHA-512", content: INNER.hex }],
      externalReferences: [
        { type: "distribution", url: `${REGISTRY}/inner-ish/-/inner-ish-0.1.0+build.7.tgz` },
      ],
    },
    {
      type: "library",
      "bom-ref": "pkg:npm/left-pad-ish@1.2.3",
      name: "left-pad-ish",
      version: "1.2.3",
      purl: "pkg:npm/left-pad-ish@1.2.3",
      author: "Ada Lovelace",
      supplier: { name: "Ada Lovelace" },
      licenses: [{ license: { id: "MIT" } }],
      hashes: [{ alg: "SHA-512", content: LEFT_PAD.hex }],
      externalReferences: [
        { type: "distribution", url: `${REGISTRY}/left-pad-ish/-/left-pad-ish-1.2.3.tgz` },
      ],
    },
  ]);
  assert.deepEqual(
    built.packages.map((p) => [p.name, p.integrity]),
    [
      ["@acme/shout", SHOUT.integrity],
      ["inner-ish", INNER.integrity],
      ["left-pad-ish", LEFT_PAD.integrity],
    ],
  );

  // The dependency graph: the function on what its files import, left-pad-ish on its nested inner-ish
  // (declared and imported) but not on not-imported (declared, not in the bundle), @acme/shout on
  // left-pad-ish (imported, not declared).
  assert.deepEqual(sbom.dependencies, [
    {
      ref: "palisade-function:charge",
      dependsOn: ["pkg:npm/%40acme/shout@2.0.0", "pkg:npm/left-pad-ish@1.2.3"],
    },
    { ref: "pkg:npm/%40acme/shout@2.0.0", dependsOn: ["pkg:npm/left-pad-ish@1.2.3"] },
    { ref: "pkg:npm/inner-ish@0.1.0%2Bbuild.7", dependsOn: [] },
    { ref: "pkg:npm/left-pad-ish@1.2.3", dependsOn: ["pkg:npm/inner-ish@0.1.0%2Bbuild.7"] },
  ]);
  assert.match(
    sbom.serialNumber,
    /^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
  );
  assert.match(sbom.metadata.timestamp, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
  assert.deepEqual(sbom.metadata.authors, [{ name: "shop (palisade build)" }]);

  // The packages really are inside the one file, and node:crypto stays an import.
  const bundled = readFileSync(built.bundlePath, "utf8");
  assert.match(bundled, /from "node:crypto"/);
  assert.doesNotMatch(bundled, /require\("inner-ish"\)|from "@acme\/shout"|from "left-pad-ish"/);
  const mod = (await import(pathToFileURL(built.bundlePath).href)) as { default: (s: string) => string };
  const tag = createHash("sha256").update("ada").digest("hex").slice(0, 8);
  assert.equal(mod.default("ada"), `fn:[[**ADA]]:${tag}`); // shout pads too, through left-pad-ish
  // Nothing is listed that is not in the bundle: not the type-only import, not the unused install.
  assert.doesNotMatch(JSON.stringify(sbom), /typed-only|not-imported/);
});

test("without a lockfile the SBOM lists the same packages without hashes", async (t) => {
  const app = makeApp(t, { lockfile: false });
  const built = await build(app);
  const sbom = readSbom(built.dir);
  assert.deepEqual(
    sbom.components.map(({ name, version, purl, hashes, externalReferences }) => ({
      name,
      version,
      purl,
      hashes,
      externalReferences,
    })),
    [
      { name: "shout", version: "2.0.0", purl: "pkg:npm/%40acme/shout@2.0.0" },
      { name: "inner-ish", version: "0.1.0+build.7", purl: "pkg:npm/inner-ish@0.1.0%2Bbuild.7" },
      { name: "left-pad-ish", version: "1.2.3", purl: "pkg:npm/left-pad-ish@1.2.3" },
    ].map((c) => ({ ...c, hashes: undefined, externalReferences: undefined })),
  );
  // No registry to name as supplier without the lockfile: inner-ish (no author) has none.
  assert.equal(sbom.components[1]?.supplier, undefined);
});

test("a lockfile entry for another version than the installed one gives that package no hash", async (t) => {
  const app = makeApp(t);
  const lockPath = join(app, "package-lock.json");
  const lock = JSON.parse(readFileSync(lockPath, "utf8"));
  lock.packages["node_modules/left-pad-ish"].version = "1.2.2";
  writeFileSync(lockPath, JSON.stringify(lock));
  const sbom = readSbom((await build(app)).dir);
  const leftPad = sbom.components.find((c) => c.name === "left-pad-ish");
  assert.equal(leftPad?.version, "1.2.3");
  assert.equal(leftPad?.hashes, undefined);
  assert.deepEqual(sbom.components.find((c) => c.name === "shout")?.hashes, [
    { alg: "SHA-512", content: SHOUT.hex },
  ]);
});

test("building the same sources twice gives a byte-identical bundle and the same SBOM but its time", async (t) => {
  const app = makeApp(t);
  withSourceDateEpoch(t, undefined);
  const untimed = (dir: string) => {
    const sbom = readSbom(dir);
    return { ...sbom, metadata: { ...sbom.metadata, timestamp: "" } };
  };
  const first = await build(app, join(app, "dist-a"));
  const bundle = readFileSync(first.bundlePath);
  const sbom = untimed(first.dir);
  const again = await build(app, join(app, "dist-a"));
  const elsewhere = await build(app, join(app, "dist-b"));
  for (const built of [again, elsewhere]) {
    assert.deepEqual(readFileSync(built.bundlePath), bundle);
    assert.deepEqual(untimed(built.dir), sbom);
  }
});

test("rebuilding removes the attestation of the earlier build", async (t) => {
  const app = makeApp(t);
  const { privateKeyPem } = generateSigningKey(app);
  const built = await build(app);
  signFunction(built.dir, privateKeyPem);
  assert.ok(existsSync(join(built.dir, ATTESTATION_FILE)));
  await build(app);
  assert.equal(existsSync(join(built.dir, ATTESTATION_FILE)), false);
});

test("a handler that does not compile fails the build naming the function and the file", async (t) => {
  const app = makeApp(t);
  write(app, "functions/charge.ts", `import { nope } from "./missing.ts";\nexport default nope;\n`);
  await assert.rejects(build(app), {
    code: SUPPLY_BUILD_FAILED,
    message:
      /^Cannot bundle function "charge": Could not resolve "\.\/missing\.ts" \(functions\/charge\.ts:1\)$/,
  });
  assert.equal(existsSync(join(app, "dist", "charge", BUNDLE_FILE)), false);
});

test("a bundled package without a version fails the build naming its package.json", async (t) => {
  const app = makeApp(t);
  write(
    app,
    "node_modules/@acme/shout/package.json",
    '{"name":"@acme/shout","type":"module","exports":"./dist/index.js"}',
  );
  await assert.rejects(build(app), {
    code: SUPPLY_BUILD_FAILED,
    message: /function "charge": node_modules\/@acme\/shout\/package\.json has no "name" and "version"/,
  });
});

test("a function name that is not a plain directory name is refused before anything is written", async (t) => {
  const app = makeApp(t);
  for (const name of ["../escape", "a/b", "..", ""]) {
    await assert.rejects(build(app, join(app, "dist"), name), { code: SUPPLY_BUILD_FAILED });
  }
  assert.equal(existsSync(join(app, "escape")), false);
  assert.equal(existsSync(join(app, "dist")), false);
});

test("the SBOM passes the official CycloneDX 1.5 JSON schema, strictly (@cyclonedx/cyclonedx-library)", async (t) => {
  const app = makeApp(t);
  const built = await build(app);
  const validator = new Validation.JsonStrictValidator(Spec.Version.v1dot5);
  const sbomText = readFileSync(join(built.dir, SBOM_FILE), "utf8");
  assert.equal(await validator.validate(sbomText), null);
  // The validator can fail: a component without a name is refused.
  const broken = JSON.parse(sbomText) as CycloneDxBom;
  delete (broken.components[0] as { name?: string }).name;
  assert.notEqual(await validator.validate(JSON.stringify(broken)), null);
});

/** Sets SOURCE_DATE_EPOCH (or unsets it) for one test. */
function withSourceDateEpoch(t: TestContext, value: string | undefined): void {
  const previous = process.env.SOURCE_DATE_EPOCH;
  if (value === undefined) delete process.env.SOURCE_DATE_EPOCH;
  else process.env.SOURCE_DATE_EPOCH = value;
  t.after(() => {
    if (previous === undefined) delete process.env.SOURCE_DATE_EPOCH;
    else process.env.SOURCE_DATE_EPOCH = previous;
  });
}

test("one bundle keeps one serial number; SOURCE_DATE_EPOCH makes the SBOM byte-identical across builds", async (t) => {
  const app = makeApp(t);
  withSourceDateEpoch(t, "1767225600");
  const first = readFileSync(join((await build(app, join(app, "a"))).dir, SBOM_FILE), "utf8");
  const second = readFileSync(join((await build(app, join(app, "b"))).dir, SBOM_FILE), "utf8");
  assert.equal(first, second);
  assert.equal((JSON.parse(first) as CycloneDxBom).metadata.timestamp, "2026-01-01T00:00:00Z");
  // Another bundle of the function is another SBOM: another serial number.
  write(app, "functions/lib/label.ts", `export const label = "fn2";\n`);
  const changed = readFileSync(join((await build(app, join(app, "c"))).dir, SBOM_FILE), "utf8");
  assert.notEqual((JSON.parse(changed) as CycloneDxBom).serialNumber, JSON.parse(first).serialNumber);
});

test("a malformed SOURCE_DATE_EPOCH fails the build naming the variable, before anything is written", async (t) => {
  const app = makeApp(t);
  for (const value of ["2026-01-01", "-1", "1.5", "99999999999999"]) {
    withSourceDateEpoch(t, value);
    await assert.rejects(build(app), {
      code: SUPPLY_BUILD_FAILED,
      message: new RegExp(
        `^Cannot write the SBOM of function "charge": SOURCE_DATE_EPOCH is "${value.replace(".", "\\.")}", not a count of seconds`,
      ),
    });
  }
  assert.equal(existsSync(join(app, "dist")), false);
});
