import { readFileSync } from "node:fs";
import { auditCommand, openAppSecrets } from "../../app-files.ts";
import { AUDIT_KIND } from "../../audit/index.ts";
import { loadApp } from "../../manifest/index.ts";
import type { SecretReader, SecretStore } from "../../security/index.ts";
import { EXIT_FAILURE, EXIT_OK } from "../exit-code.ts";
import { type OperatorNatsFlags, openSharedKeys } from "../nats-target.ts";
import { usageError } from "../usage-error.ts";

/** The secret store of the app in `appDir` (its `.palisade/secrets.json`, sealed by its key ring). */
export function appSecrets(appDir: string): SecretStore {
  return openAppSecrets(appDir);
}

/** What the `secrets` commands change: the app's file, or (`--nats`) the deployment's shared store. */
interface SecretsTarget extends SecretReader {
  set(name: string, value: string): Promise<void> | void;
  rotate(name: string, value: string, graceSec: number): Promise<void> | void;
  remove(name: string): Promise<boolean> | boolean;
  /**
   * The audit detail naming the generation written: `generation` for the file (its rollback floor is
   * read from the audit log), `natsGeneration` for the shared store (which keeps its own floor).
   */
  readonly generationKey: "generation" | "natsGeneration";
}

/** Runs `fn` on the app's secret store, or the NATS deployment's when the flags name one. */
async function withSecrets<T>(
  opts: { app: string } & OperatorNatsFlags,
  fn: (store: SecretsTarget) => Promise<T> | T,
): Promise<T> {
  const wantsNats = opts.nats !== undefined && opts.nats !== "";
  const keys = wantsNats ? await openSharedKeys(loadApp(opts.app), opts) : undefined;
  if (keys === undefined)
    return fn(Object.assign(appSecrets(opts.app), { generationKey: "generation" as const }));
  try {
    return await fn(Object.assign(keys.secrets, { generationKey: "natsGeneration" as const }));
  } finally {
    await keys.close();
  }
}

/** `palisade secrets set NAME [--value V]`: the value comes from --value or standard input. */
export async function runSecretsSet(
  name: string,
  opts: { app: string; value?: string } & OperatorNatsFlags,
): Promise<number> {
  const value = opts.value ?? readFileSync(0, "utf8").replace(/\r?\n$/, "");
  if (value === "")
    throw usageError(`Cannot set secret "${name}": the value is empty; pass --value or pipe it on stdin`);
  await withSecrets(opts, async (store) => {
    await store.set(name, value);
    auditCommand(opts.app, {
      kind: AUDIT_KIND.secretSet,
      subject: name,
      outcome: "allowed",
      details: { [store.generationKey]: store.generation() },
    });
  });
  process.stdout.write(`secret ${name} set\n`);
  return EXIT_OK;
}

/** `palisade secrets list`: names only, never values. */
export async function runSecretsList(
  opts: { app: string; json?: boolean } & OperatorNatsFlags,
): Promise<number> {
  printSecretNames(await withSecrets(opts, (store) => store.list()), opts.json === true);
  return EXIT_OK;
}

/** Prints secret names (never values), and which are mid-rotation; or a JSON array of the names. */
export function printSecretNames(
  secrets: readonly { name: string; previousUntil?: string | null | undefined }[],
  json: boolean,
): void {
  if (json) process.stdout.write(`${JSON.stringify(secrets.map((s) => s.name))}\n`);
  else
    for (const s of secrets)
      process.stdout.write(
        `${s.name}${s.previousUntil ? `  (rotating: previous value valid until ${s.previousUntil})` : ""}\n`,
      );
}

/**
 * `palisade secrets get NAME`: prints the current value (to log in to the dashboard with the key
 * `palisade dev` generated, say). Audited as `secret.read`; the value itself is in no record.
 */
export async function runSecretsGet(
  name: string,
  opts: { app: string } & OperatorNatsFlags,
): Promise<number> {
  const value = await withSecrets(opts, (store) => store.get(name));
  if (value === undefined) {
    process.stderr.write(`palisade: no secret named "${name}" (palisade secrets list shows the names)\n`);
    return EXIT_FAILURE;
  }
  auditCommand(opts.app, { kind: AUDIT_KIND.secretRead, subject: name, outcome: "allowed" });
  process.stdout.write(`${value}\n`);
  return EXIT_OK;
}

/** `palisade secrets rotate NAME [--value V] [--grace 24h]`: the previous value stays valid for the grace period. */
export async function runSecretsRotate(
  name: string,
  opts: { app: string; value?: string; grace: number } & OperatorNatsFlags,
): Promise<number> {
  const value = opts.value ?? readFileSync(0, "utf8").replace(/\r?\n$/, "");
  if (value === "")
    throw usageError(`Cannot rotate secret "${name}": the value is empty; pass --value or pipe it on stdin`);
  await withSecrets(opts, async (store) => {
    await store.rotate(name, value, opts.grace);
    auditCommand(opts.app, {
      kind: AUDIT_KIND.secretRotated,
      subject: name,
      outcome: "allowed",
      details: { graceSec: opts.grace, [store.generationKey]: store.generation() },
    });
  });
  const until = new Date(Date.now() + opts.grace * 1000).toISOString();
  process.stdout.write(`secret ${name} rotated; the previous value stays valid until ${until}\n`);
  return EXIT_OK;
}

/** `palisade secrets rm NAME`. */
export async function runSecretsRm(name: string, opts: { app: string } & OperatorNatsFlags): Promise<number> {
  const removed = await withSecrets(opts, async (store) => {
    if (!(await store.remove(name))) return false;
    auditCommand(opts.app, {
      kind: AUDIT_KIND.secretRemoved,
      subject: name,
      outcome: "allowed",
      details: { [store.generationKey]: store.generation() },
    });
    return true;
  });
  if (removed) {
    process.stdout.write(`secret ${name} removed\n`);
    return EXIT_OK;
  }
  process.stderr.write(`palisade: no secret named "${name}"\n`);
  return EXIT_FAILURE;
}
