import { generateKeyPairSync, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { ensureAuditKey } from "../../audit/index.ts";
import { MANIFEST_FILE } from "../../manifest/index.ts";
import { EXIT_OK } from "../exit-code.ts";
import { usageError } from "../usage-error.ts";
import { appSecrets } from "./secrets.ts";

const SCHEMA_FILE = fileURLToPath(new URL("../../manifest/palisade.schema.json", import.meta.url));

/** `palisade init [dir]`: scaffolds a working app; refuses to overwrite an existing one. */
export function runInit(dir: string): number {
  const root = resolve(dir);
  if (existsSync(join(root, MANIFEST_FILE))) {
    throw usageError(`Cannot init: "${join(root, MANIFEST_FILE)}" already exists; choose an empty directory`);
  }
  const name = appName(root);
  const files = scaffold(name, relative(root, SCHEMA_FILE));
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(join(root, path, ".."), { recursive: true });
    writeFileSync(join(root, path), content);
  }
  // The sample principal's API key, generated and kept only in the app's secret store, which is
  // sealed under the app's new master key (keys/master.key, 0600, gitignored).
  appSecrets(root).set("LOCAL_KEY", randomBytes(32).toString("base64url"));
  // Ed25519 key pair for signing function bundles; the private half is gitignored and owner-only.
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  mkdirSync(join(root, "keys"), { recursive: true, mode: 0o700 });
  writeFileSync(join(root, "keys/signing.key"), privateKey.export({ type: "pkcs8", format: "pem" }), {
    mode: 0o600,
  });
  writeFileSync(join(root, "keys/signing.pub"), publicKey.export({ type: "spki", format: "pem" }));
  // A separate pair for audit checkpoints: the host that runs the app needs no bundle-signing key.
  ensureAuditKey(root);

  process.stdout.write(
    `Created app "${name}" in ${root}\n` +
      `  ${Object.keys(files).join("\n  ")}\n  keys/master.key (private, gitignored: encrypts .palisade/ at rest; use PALISADE_MASTER_KEY in production)\n  keys/signing.key (private, gitignored)\n  keys/signing.pub\n  keys/audit.key (private, gitignored: signs audit checkpoints)\n  keys/audit/audit-<keyid>.pub\n  .palisade/secrets.json (API key of principal "local")\n\n` +
      `Next: npx palisade dev ${dir}\n      npx palisade send greeting.requested '{"name":"Ada"}' --app ${dir}\n`,
  );
  return EXIT_OK;
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
    "schemas/greeting.requested.json": `${JSON.stringify(
      {
        $schema: "https://json-schema.org/draft/2020-12/schema",
        title: "greeting.requested",
        type: "object",
        required: ["name"],
        additionalProperties: false,
        properties: { name: { type: "string", minLength: 1, maxLength: 100 } },
      },
      null,
      2,
    )}\n`,
    "functions/greet.ts": `import type { Handler } from "palisade";

/** Greets whoever asked. Runs sandboxed: no files, network, processes or environment. */
export default ((event, ctx) => {
  const { name } = event.data as { name: string };
  ctx.log.info(\`hello, \${name}\`);
}) satisfies Handler<"greeting.requested">;
`,
    ".gitignore": ".palisade/\nkeys/*.key\n",
  };
}
