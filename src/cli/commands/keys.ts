import { type KeysStatus, keysStatusOf } from "../../admin/index.ts";
import { auditCommand, openSealedStores, type SealedStores } from "../../app-files.ts";
import { AUDIT_KIND } from "../../audit/index.ts";
import { loadApp } from "../../manifest/index.ts";
import { EXIT_FAILURE, EXIT_OK } from "../exit-codes.ts";
import { type OperatorNatsFlags, openSharedKeys, openSharedSealedStores } from "../nats-target.ts";
import { createProgress } from "../progress.ts";
import { usageError } from "../usage-error.ts";

const BATCH = 500;
/** How long retire waits for running platforms to stop sealing with the key (a few lease periods). */
const RETIRE_WAIT_MS = 15_000;

/**
 * `palisade keys rotate [--resume] [--json]`: adds a data key version that every new write uses at
 * once (a running platform picks it up within a second), then re-encrypts every sealed record still on
 * an older version, in batches of 500, one commit each, with a progress line on a terminal. Killed
 * half-way, the records already moved stay moved; `--resume` (or another rotate) finishes the rest.
 * With `--nats` the ring is the deployment's (every node seals with the new version within moments)
 * and the records are its event and secret stores'; events in the stream cannot be rewritten, so they
 * keep their version until pruned.
 */
export async function runKeysRotate(
  opts: { app: string; resume?: boolean; json?: boolean } & OperatorNatsFlags,
): Promise<number> {
  const stores = await openStores(opts);
  const progress = createProgress("re-encrypting");
  try {
    let rotated: number | null = null;
    if (!opts.resume) {
      rotated = await stores.keyRing.rotate();
      auditCommand(opts.app, {
        kind: AUDIT_KIND.keyRotated,
        outcome: "allowed",
        details: { version: rotated },
      });
      if (!opts.json) process.stdout.write(`data key version ${rotated} is active for new writes\n`);
    }
    const active = stores.keyRing.activeVersion();
    const total = stale(await stores.versions(), active);
    let done = 0;
    progress.update(done, total);
    for (let n = await stores.reencrypt(BATCH); n > 0; n = await stores.reencrypt(BATCH)) {
      done += n;
      progress.update(Math.min(done, total), total);
    }
    progress.done();
    process.stdout.write(
      opts.json
        ? `${JSON.stringify({ rotated, active, reencrypted: done })}\n`
        : `re-encrypted ${done} records under data key version ${active}\n`,
    );
    return EXIT_OK;
  } finally {
    progress.done();
    await stores.close();
  }
}

/** `palisade keys status [--json]`: each data key version and how many records it seals, per store. */
export async function runKeysStatus(
  opts: { app: string; json?: boolean } & OperatorNatsFlags,
): Promise<number> {
  const stores = await openStores(opts);
  try {
    printKeysStatus(keysStatusOf(stores.keyRing, await stores.versions()), opts.json === true);
    return EXIT_OK;
  } finally {
    await stores.close();
  }
}

/** Prints each data key version with what it sealed and the records each store holds under it (or JSON). */
export function printKeysStatus(status: KeysStatus, json: boolean): void {
  if (json) {
    process.stdout.write(`${JSON.stringify(status)}\n`);
    return;
  }
  for (const v of status.versions) {
    const where = Object.entries(v.records)
      .map(([store, n]) => `${store} ${n}`)
      .join(", ");
    const state = v.active ? "active" : v.retired ? "retired" : "old";
    process.stdout.write(
      `version ${v.version}  ${state.padEnd(7)} created ${v.createdAt}  sealed ${v.seals}  ${where}\n`,
    );
  }
  if (status.stale > 0)
    process.stdout.write(
      `${status.stale} records are still sealed with an older version (palisade keys rotate --resume)\n`,
    );
  if (status.plaintext > 0)
    process.stdout.write(
      `${status.plaintext} records are not sealed; they are refused when read (written before encryption at rest, or planted)\n`,
    );
}

/**
 * `palisade keys retire <version> [--json]`: deletes an old data key, refused while any record still uses it.
 * Right after a rotation a running platform may still be sealing with the old key for a moment: retire
 * first waits (up to 15 s) until no running platform's lease names it, and only then counts records.
 */
export async function runKeysRetire(
  version: string,
  opts: { app: string; json?: boolean } & OperatorNatsFlags,
): Promise<number> {
  const v = Number(version);
  if (!Number.isInteger(v) || v < 1) throw usageError(`"${version}" is not a data key version`);
  const stores = await openStores(opts);
  try {
    if (v === stores.keyRing.activeVersion()) {
      process.stderr.write(`palisade: data key ${v} is the active one; run palisade keys rotate first\n`);
      return EXIT_FAILURE;
    }
    const holders = await waitUntilNotSealing(stores.keyRing, v);
    if (holders.length > 0) {
      const fix =
        stores.where === "keyring.json"
          ? "if no platform runs with that pid, remove its lease in .palisade/keyring.leases/"
          : "a stopped node's lease expires on its own within seconds";
      process.stderr.write(
        `palisade: data key ${v} is still in use by a running platform (${holders.map((h) => (typeof h === "number" ? `pid ${h}` : h)).join(", ")}), which has not moved to the new key; retry in a moment (${fix})\n`,
      );
      return EXIT_FAILURE;
    }
    const using = (await stores.versions()).filter((s) => (s.counts.get(v) ?? 0) > 0);
    if (using.length > 0) {
      process.stderr.write(
        `palisade: data key ${v} still seals ${using.map((s) => `${s.counts.get(v)} records in ${s.store}`).join(", ")}; run palisade keys rotate --resume first\n`,
      );
      return EXIT_FAILURE;
    }
    await stores.keyRing.retire(v);
    auditCommand(opts.app, { kind: AUDIT_KIND.keyRetired, outcome: "allowed", details: { version: v } });
    process.stdout.write(
      opts.json ? `${JSON.stringify({ retired: v })}\n` : `data key version ${v} retired\n`,
    );
    return EXIT_OK;
  } finally {
    await stores.close();
  }
}

/** Polls the platforms' sealing leases until none names `version`, or RETIRE_WAIT_MS passes. */
async function waitUntilNotSealing(
  keyRing: SealedStores["keyRing"],
  version: number,
): Promise<(number | string)[]> {
  const until = Date.now() + RETIRE_WAIT_MS;
  let holders = await keyRing.sealingWith(version);
  if (holders.length > 0)
    process.stderr.write(`waiting for the running platform to stop sealing with data key ${version}…\n`);
  while (holders.length > 0 && Date.now() < until) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    holders = await keyRing.sealingWith(version);
  }
  return holders;
}

/** The app's sealed files, or with `--nats` the deployment's shared key ring and stores. */
async function openStores(opts: { app: string } & OperatorNatsFlags): Promise<SealedStores> {
  const app = opts.nats !== undefined && opts.nats !== "" ? loadApp(opts.app) : undefined;
  const keys = app === undefined ? undefined : await openSharedKeys(app, opts);
  if (app === undefined || keys === undefined) return openSealedStores(opts.app);
  try {
    return await openSharedSealedStores(keys, app);
  } catch (err) {
    await keys.close();
    throw err;
  }
}

function stale(perStore: Awaited<ReturnType<SealedStores["versions"]>>, active: number): number {
  return perStore.reduce(
    (n, s) => n + [...s.counts].filter(([v]) => v !== active).reduce((m, [, c]) => m + c, 0),
    0,
  );
}
