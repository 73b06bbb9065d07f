import { generateKeyPairSync, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { ensureAuditKey } from "../../audit/index.ts";
import { loadApp, MANIFEST_FILE } from "../../manifest/index.ts";
import { TYPES_FILE } from "../../schema/index.ts";
import { EXIT_OK } from "../exit-codes.ts";
import { usageError } from "../usage-error.ts";
import { appSecrets } from "./secrets.ts";
import { writeTypes } from "./types.ts";

const SCHEMA_FILE = fileURLToPath(new URL("../../manifest/palisade.schema.json", import.meta.url));

/**
 * The root of this Palisade package (where its package.json is). Palisade is not published on npm,
 * so a scaffolded app depends on it as `file:<this directory>`, which npm installs as a symlink.
 */
const PALISADE_ROOT = fileURLToPath(new URL("../../..", import.meta.url)).replace(/[\\/]$/, "");

/** Dev dependencies of the app, at the versions Palisade itself is checked with. */
const APP_DEV_DEPENDENCIES = ["@types/node", "typescript"];

/**
 * `palisade init [dir] [--json]`: scaffolds a working app (manifest, schema, a typed function, package.json,
 * tsconfig.json, the generated types, keys); refuses a directory that has a palisade.yaml and
 * keeps any other file that is already there.
 */
export async function runInit(dir: string, opts: { json?: boolean } = {}): Promise<number> {
  const root = resolve(dir);
  if (existsSync(join(root, MANIFEST_FILE))) {
    throw usageError(`Cannot init: "${join(root, MANIFEST_FILE)}" already exists; choose an empty directory`);
  }
  const name = appName(root);
  const written: string[] = [];
  const kept: string[] = [];
  for (const [path, content] of Object.entries(scaffold(name, relative(root, SCHEMA_FILE)))) {
    if (existsSync(join(root, path))) {
      kept.push(path);
      continue;
    }
    mkdirSync(join(root, path, ".."), { recursive: true });
    writeFileSync(join(root, path), content);
    written.push(path);
  }
  await writeTypes(loadApp(root));
  written.push(TYPES_FILE);
  writeKeys(root);
  if (opts.json) return printInitJson(name, root, written, kept);
  process.stdout.write(
    `Created app "${name}" in ${root}\n  ${written.join("\n  ")}\n` +
      `  keys/master.key (private, gitignored: encrypts .palisade/ at rest; use PALISADE_MASTER_KEY in production)\n  keys/signing.key (private, gitignored)\n  keys/signing.pub\n  keys/audit.key (private, gitignored: signs audit checkpoints)\n  keys/audit/audit-<keyid>.pub\n  .palisade/secrets.json (API key of principal "local")\n` +
      (kept.length > 0 ? `Kept the existing ${kept.join(", ")}\n` : "") +
      (kept.includes("package.json")
        ? `\nAdd "palisade": "file:${PALISADE_ROOT}" to the dependencies in package.json (Palisade is not on npm).\n`
        : `\nPalisade is a dependency from ${PALISADE_ROOT} (file:, as it is not on npm).\n`) +
      `Next: cd ${dir} && npm install\n      npx tsc --noEmit\n      npx palisade dev\n      npx palisade send greeting.requested '{"name":"Ada"}'\n`,
  );
  return EXIT_OK;
}

/** `init --json`: what was written and kept (paths relative to `root`), the keys and the secret made. */
function printInitJson(name: string, root: string, written: string[], kept: string[]): number {
  const auditPub = readdirSync(join(root, "keys/audit")).map((f) => `keys/audit/${f}`);
  const keys = [
    "keys/master.key",
    "keys/signing.key",
    "keys/signing.pub",
    "keys/audit.key",
    ...auditPub,
  ].filter(
    (f) => existsSync(join(root, f)), // no keys/master.key when PALISADE_MASTER_KEY is set
  );
  process.stdout.write(
    `${JSON.stringify({ name, dir: root, written, kept, keys, secrets: ["LOCAL_KEY"] })}\n`,
  );
  return EXIT_OK;
}

/**
 * The app's secrets and keys: the sample principal's API key (kept only in the app's secret store,
 * sealed under the app's new master key keys/master.key, 0600, gitignored), an Ed25519 pair for
 * signing function bundles (the private half gitignored and owner-only), and a separate pair for
 * audit checkpoints: the host that runs the app needs no bundle-signing key.
 */
function writeKeys(root: string): void {
  appSecrets(root).set("LOCAL_KEY", randomBytes(32).toString("base64url"));
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  mkdirSync(join(root, "keys"), { recursive: true, mode: 0o700 });
  writeFileSync(join(root, "keys/signing.key"), privateKey.export({ type: "pkcs8", format: "pem" }), {
    mode: 0o600,
  });
  writeFileSync(join(root, "keys/signing.pub"), publicKey.export({ type: "spki", format: "pem" }));
  ensureAuditKey(root);
}

function appName(root: string): string {
  const base = root.split(/[\\/]/).pop() ?? "app";
  const name = base
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/^[^a-z]+/, "")
    .slice(0, 63);
  return name === "" ? "app" : name;
}

function scaffold(name: string, schemaPath: string): Record<string, string> {
  return {
    [MANIFEST_FILE]: `# yaml-language-server: $schema=${schemaPath}
name: ${name}
events:
  greeting.requested: { schema: schemas/greeting.requested.json }
principals:
  local:
    apiKey: { secret: LOCAL_KEY }
    publish: [greeting.requested]
functions:
  greet:
    handler: functions/greet.ts
    on: [greeting.requested]
    limits: { timeoutMs: 3000, memoryMb: 128, concurrency: 2, dailyInvocations: 10000 }
`,
    "schemas/greeting.requested.json": json({
      $schema: "https://json-schema.org/draft/2020-12/schema",
      title: "greeting.requested",
      type: "object",
      required: ["name"],
      additionalProperties: false,
      properties: { name: { type: "string", minLength: 1, maxLength: 100 } },
    }),
    "functions/greet.ts": `import { defineFunction } from "palisade";

/** Greets whoever asked. Runs sandboxed: no files, network, processes or environment. */
export default defineFunction("greet", (event, ctx) => {
  ctx.log.info(\`hello, \${event.data.name}\`);
});
`,
    "package.json": json(packageJson(name)),
    "tsconfig.json": json(TSCONFIG),
    ".gitignore": ".palisade/\nkeys/*.key\nnode_modules/\ndist/\n",
  };
}

/** package.json of a new app: Palisade from its installed copy, TypeScript to check the functions. */
function packageJson(name: string): object {
  const own = JSON.parse(readFileSync(join(PALISADE_ROOT, "package.json"), "utf8")) as {
    devDependencies?: Record<string, string>;
  };
  const devDependencies = Object.fromEntries(
    APP_DEV_DEPENDENCIES.flatMap((dep) => {
      const version = own.devDependencies?.[dep];
      return version === undefined ? [] : [[dep, version]];
    }),
  );
  return {
    name,
    private: true,
    type: "module",
    scripts: {
      dev: "palisade dev",
      check: "palisade check",
      types: "palisade types",
      typecheck: "tsc --noEmit",
    },
    engines: { node: ">=26" },
    dependencies: { palisade: `file:${PALISADE_ROOT}` },
    devDependencies,
  };
}

/**
 * Type-checks the functions as Node runs them and the bundler builds them (`.ts` imports), with
 * Palisade's own strictness; `palisade-env.d.ts` gives `defineFunction` the app's types.
 */
const TSCONFIG = {
  compilerOptions: {
    target: "es2024",
    lib: ["es2024"],
    module: "nodenext",
    moduleResolution: "nodenext",
    types: ["node"],
    strict: true,
    noUncheckedIndexedAccess: true,
    exactOptionalPropertyTypes: true,
    verbatimModuleSyntax: true,
    erasableSyntaxOnly: true,
    allowImportingTsExtensions: true,
    noEmit: true,
    skipLibCheck: true,
  },
  include: ["**/*.ts"],
  exclude: ["node_modules", "dist", ".palisade"],
};

function json(value: object): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}
