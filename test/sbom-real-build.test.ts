/**
 * The CycloneDX SBOM of a real build: `palisade build` (the CLI, as a child process) on an app whose
 * function imports real npm packages (ajv, ajv-formats and yaml, with ajv's own dependencies), copied
 * as npm installed them into this repository's node_modules, with their entries of its
 * package-lock.json. The SBOM must pass the official schema in strict mode and hold the NTIA minimum
 * elements, each checked against the packages' own package.json files and the lockfile; and the
 * bundle must run in its sandbox, where no node_modules is readable.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { cpSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { Spec, Validation } from "@cyclonedx/cyclonedx-library";
import { prepareApp, startPlatform } from "../src/main.ts";
import { type CycloneDxBom, SBOM_FILE, SIGNING_PUB_FILE, verifyFunction } from "../src/supply/index.ts";
import { BIN } from "./kit/cli-process.ts";
import { post, TEST_KEY } from "./kit/http.ts";
import { captureLogs } from "./kit/log-capture.ts";
import { NUMBER_SCHEMA, setSecret, tempApp, testPrincipal } from "./kit/temp-app.ts";

const REPO = new URL("../", import.meta.url);
const IMPORTED = ["ajv", "ajv-formats", "yaml"];
// What ajv's package.json depends on (checked below); all installed, but ajv's code that the function
// reaches never requires require-from-string, so esbuild leaves it out and the SBOM must too.
const AJV_DEPENDENCIES = ["fast-deep-equal", "fast-uri", "json-schema-traverse", "require-from-string"];
const PULLED_IN = AJV_DEPENDENCIES.filter((n) => n !== "require-from-string");

type PackageJson = { name: string; version: string; license?: string; dependencies?: object };
const installed = (name: string): PackageJson =>
  JSON.parse(readFileSync(new URL(`node_modules/${name}/package.json`, REPO), "utf8"));
const repoLock = JSON.parse(readFileSync(new URL("package-lock.json", REPO), "utf8")) as {
  packages: Record<string, { version: string; integrity?: string }>;
};
const purl = (name: string) => `pkg:npm/${name}@${installed(name).version}`;

/**
 * An app whose function `validate` checks, with ajv's formats, an e-mail address it parses from YAML,
 * and whose function `read` only parses YAML (ajv compiles code from strings, which the sandbox
 * forbids: `validate` is here for its SBOM, `read` to run).
 */
function realApp(t: Parameters<typeof tempApp>[0]): string {
  const names = [...IMPORTED, ...AJV_DEPENDENCIES];
  const dir = tempApp(t, {
    "palisade.yaml": `name: real-deps
events:
  doc.received: { schema: schemas/n.json }
  doc.read: { schema: schemas/n.json }
${testPrincipal(["doc.received", "doc.read"])}functions:
  validate:
    handler: functions/validate.ts
    on: [doc.received]
  read:
    handler: functions/read.ts
    on: [doc.read]
`,
    "schemas/n.json": NUMBER_SCHEMA,
    "functions/validate.ts": `import Ajv from "ajv";
import addFormats from "ajv-formats";
import { parse } from "yaml";

const ajv = new Ajv();
addFormats(ajv);
const isEmailDoc = ajv.compile({ type: "object", properties: { to: { type: "string", format: "email" } } });

export default (event: { data: { yaml: string } }) => isEmailDoc(parse(event.data.yaml));
`,
    "functions/read.ts": `import { parse } from "yaml";

export default (event: { data: { n: number } }, ctx: { log: { info(msg: string): void } }) => {
  ctx.log.info(\`read \${JSON.stringify(parse(\`n: \${event.data.n}\\nlist: [a, b]\`))}\`);
};
`,
    "package.json": {
      name: "real-deps",
      private: true,
      dependencies: Object.fromEntries(IMPORTED.map((n) => [n, `^${installed(n).version}`])),
    },
    "package-lock.json": {
      name: "real-deps",
      lockfileVersion: 3,
      requires: true,
      packages: Object.fromEntries(
        names.map((n) => [`node_modules/${n}`, repoLock.packages[`node_modules/${n}`]]),
      ),
    },
  });
  for (const n of names)
    cpSync(new URL(`node_modules/${n}`, REPO), join(dir, "node_modules", n), { recursive: true });
  setSecret(dir, "TEST_KEY", TEST_KEY);
  return dir;
}

test("palisade build of a function with real npm dependencies writes a valid SBOM with the NTIA minimum elements", async (t) => {
  const dir = realApp(t);
  const run = spawnSync(process.execPath, [BIN, "build", dir, "--json"], { encoding: "utf8" });
  assert.equal(run.status, 0, run.stderr);
  const fnDir = join(dir, "dist", "validate");
  const text = readFileSync(join(fnDir, SBOM_FILE), "utf8");

  // The official CycloneDX 1.5 JSON schema, strictly (no property it does not define).
  const validator = new Validation.JsonStrictValidator(Spec.Version.v1dot5);
  assert.equal(await validator.validate(text), null);

  const sbom = JSON.parse(text) as CycloneDxBom;
  const bundleSha256 = verifyFunction(fnDir, [readFileSync(join(dir, SIGNING_PUB_FILE), "utf8")]).sha256;
  // Author of the SBOM data, timestamp, unique serial, the tools that made it.
  assert.deepEqual(sbom.metadata.authors, [{ name: "real-deps (palisade build)" }]);
  assert.match(sbom.metadata.timestamp, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
  assert.match(
    sbom.serialNumber,
    /^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
  );
  assert.deepEqual(
    sbom.metadata.tools.components.map((c) => c.name),
    ["palisade", "esbuild"],
  );
  assert.equal(sbom.metadata.component.version, `sha256:${bundleSha256.slice(0, 12)}`);
  assert.deepEqual(sbom.metadata.component.hashes, [{ alg: "SHA-256", content: bundleSha256 }]);
  assert.equal(sbom.metadata.component.supplier?.name, "real-deps");

  // Exactly the packages in the bundle: supplier (their author), name, version, purl, hash, license.
  const names = [...IMPORTED, ...PULLED_IN].sort();
  assert.deepEqual(sbom.components.map((c) => c.name).sort(), names);
  for (const component of sbom.components) {
    const pkg = installed(component.name);
    const integrity = repoLock.packages[`node_modules/${component.name}`]?.integrity ?? "";
    assert.equal(component.version, pkg.version);
    assert.equal(component.purl, purl(component.name));
    assert.equal(component["bom-ref"], component.purl);
    assert.match(component.supplier?.name ?? "", /\S/, `${component.name} has a supplier`);
    assert.deepEqual(component.hashes, [
      { alg: "SHA-512", content: Buffer.from(integrity.replace(/^sha512-/, ""), "base64").toString("hex") },
    ]);
    assert.deepEqual(component.licenses, [{ license: { id: pkg.license } }]);
  }
  assert.equal(sbom.components.find((c) => c.name === "fast-uri")?.supplier?.name, "Vincent Le Goff");

  // The graph: the function on what its file imports, each package on its package.json dependencies
  // that are in the bundle.
  const graph = Object.fromEntries(sbom.dependencies.map((d) => [d.ref, d.dependsOn]));
  assert.deepEqual(graph[sbom.metadata.component["bom-ref"] ?? ""], IMPORTED.map(purl).sort());
  assert.deepEqual(graph[purl("ajv-formats")], [purl("ajv")]);
  assert.deepEqual(Object.keys(installed("ajv").dependencies ?? {}).sort(), AJV_DEPENDENCIES);
  assert.deepEqual(graph[purl("ajv")], PULLED_IN.map(purl));
  for (const leaf of [...PULLED_IN, "yaml"]) assert.deepEqual(graph[purl(leaf)], [], leaf);
  assert.equal(sbom.dependencies.length, names.length + 1);
});

test("a function with a real CommonJS dependency that requires Node built-ins runs in its sandbox", async (t) => {
  const dir = realApp(t);
  const run = spawnSync(process.execPath, [BIN, "build", dir], { encoding: "utf8" });
  assert.equal(run.status, 0, run.stderr);
  const logs = captureLogs();
  const platform = await startPlatform(
    { appDir: dir, logger: logs.logger, port: 0 },
    await prepareApp(dir, false, true),
  );
  t.after(() => platform.close());
  const sent = await post(`${platform.url}/events`, { type: "doc.read", data: { n: 7 } });
  assert.equal(sent.status, 202, JSON.stringify(sent.body));
  // yaml require()s "process": without a require in the ES module bundle, loading failed with
  // 'Dynamic require of "process" is not supported'.
  const done = await logs.waitFor((l) => l.fn === "read" && /^read |delivery failed/.test(l.msg));
  assert.equal(done.msg, 'read {"n":7,"list":["a","b"]}', JSON.stringify(done));
});
