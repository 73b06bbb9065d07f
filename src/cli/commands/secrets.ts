import { readFileSync } from "node:fs";
import { auditCommand, openAppSecrets } from "../../app-files.ts";
import { AUDIT_KIND } from "../../audit/index.ts";
import { loadApp } from "../../manifest/index.ts";
import type { SecretReader, SecretStore } from "../../security/index.ts";
import { EXIT_FAILURE, EXIT_OK } from "../exit-codes.ts";
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

/** `palisade secrets set NAME [--value V] [--json]`: the value comes from --value or standard input. */
export async function runSecretsSet(
  name: string,
  opts: { app: string; value?: string; json?: boolean } & OperatorNatsFlags,
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
  printSecretChange({ name, set: true }, `secret ${name} set`, opts.json === true);
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

/** How `secrets get` is asked to print. */
export interface SecretsGetOptions extends OperatorNatsFlags {
  app: string;
  /** Print the value (else only that the secret exists, and whether it is mid-rotation). */
  reveal?: boolean;
  /** With `reveal`: print it also when standard output is not a terminal. */
  toPipe?: boolean;
  json?: boolean;
}

/**
 * `palisade secrets get NAME [--reveal [--to-pipe]] [--json]`: without `--reveal`, whether the secret
 * exists (and is mid-rotation), never its value. With `--reveal` the value is printed only to a
 * terminal: a pipe or a file would keep it (in a CI log, a shell redirect). `--to-pipe` is the
 * deliberate way to hand it to another program (`$(palisade secrets get … --reveal --to-pipe)`).
 * Each value printed is audited as `secret.read` (where it went; the value itself is in no record).
 */
export async function runSecretsGet(name: string, opts: SecretsGetOptions): Promise<number> {
  if (opts.toPipe && !opts.reveal)
    throw usageError("--to-pipe only goes with --reveal: palisade secrets get NAME --reveal --to-pipe");
  const toTerminal = process.stdout.isTTY === true;
  if (opts.reveal && !toTerminal && !opts.toPipe)
    throw usageError(
      `Cannot print secret "${name}": --reveal prints only to a terminal, and standard output is a pipe or a file, which would keep the value; run it in a terminal, or add --to-pipe to hand the value to another program on purpose (audited)`,
    );
  const found = await withSecrets(opts, (store) => {
    const entry = store.list().find((s) => s.name === name);
    return entry === undefined ? undefined : { entry, value: opts.reveal ? store.get(name) : undefined };
  });
  if (found === undefined || (opts.reveal && found.value === undefined)) {
    process.stderr.write(`palisade: no secret named "${name}" (palisade secrets list shows the names)\n`);
    return EXIT_FAILURE;
  }
  const { entry, value } = found;
  if (value !== undefined)
    auditCommand(opts.app, {
      kind: AUDIT_KIND.secretRead,
      subject: name,
      outcome: "allowed",
      details: { to: toTerminal ? "terminal" : "pipe" },
    });
  printSecret(name, entry.previousUntil, value, opts.json === true);
  return EXIT_OK;
}

/** Prints one secret: its value (when revealed) or that it is set, and whether it is mid-rotation. */
function printSecret(
  name: string,
  previousUntil: string | undefined,
  value: string | undefined,
  json: boolean,
): void {
  if (json) {
    const rotating = previousUntil ? { previousValidUntil: previousUntil } : {};
    process.stdout.write(
      `${JSON.stringify({ name, ...(value === undefined ? {} : { value }), ...rotating })}\n`,
    );
  } else if (value !== undefined) process.stdout.write(`${value}\n`);
  else
    process.stdout.write(
      `secret ${name} is set${previousUntil ? ` (rotating: previous value valid until ${previousUntil})` : ""}; --reveal prints its value to a terminal\n`,
    );
}

/**
 * `palisade secrets rotate NAME [--value V] [--grace S] [--json]`: the previous value stays valid for
 * the grace period.
 */
export async function runSecretsRotate(
  name: string,
  opts: { app: string; value?: string; grace: number; json?: boolean } & OperatorNatsFlags,
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
  printSecretChange(
    { name, rotated: true, previousValidUntil: until },
    `secret ${name} rotated; the previous value stays valid until ${until}`,
    opts.json === true,
  );
  return EXIT_OK;
}

/** `palisade secrets rm NAME [--json]`. */
export async function runSecretsRm(
  name: string,
  opts: { app: string; json?: boolean } & OperatorNatsFlags,
): Promise<number> {
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
    printSecretChange({ name, removed: true }, `secret ${name} removed`, opts.json === true);
    return EXIT_OK;
  }
  process.stderr.write(`palisade: no secret named "${name}"\n`);
  return EXIT_FAILURE;
}

/** Prints what a `set`, `rotate` or `rm` changed: `text` as a line, or `result` as JSON (no value). */
function printSecretChange(
  result: { name: string } & Record<string, unknown>,
  text: string,
  json: boolean,
): void {
  process.stdout.write(`${json ? JSON.stringify(result) : text}\n`);
}
