/**
 * Everything that can refuse an app before it runs: the manifest, its schema changes and a signed,
 * verified bundle per function. `dev` and `start` (through `main.ts`) and `palisade invoke` prepare
 * here; `palisade build` signs here.
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { DIST_DIR } from "./app-files.ts";
import { type PreparedFunction, verifyFunctions } from "./function-runtime.ts";
import { type AppModel, loadApp } from "./manifest/index.ts";
import { openSchemaStore, registerSchemas, SCHEMAS_FILE } from "./schema/index.ts";
import {
  type BuiltFunction,
  buildFunction,
  generateSigningKey,
  loadSigningKey,
  SIGNING_KEY_FILE,
  SIGNING_PUB_FILE,
  signFunction,
} from "./supply/index.ts";

/** An app whose manifest is valid and whose functions are bundled: all that can fail before a start. */
export interface PreparedApp {
  readonly app: AppModel;
  /**
   * Every function with its signed bundle directory, or the reason it was refused (a bundle that
   * does not verify stays unavailable; the other functions run).
   */
  readonly bundles: readonly PreparedFunction[];
  /**
   * Directory (in `.palisade/`) of the verified bundles this version runs: built there in dev, staged
   * there from dist/ for start. Removed when the platform using it closes.
   */
  readonly buildDir?: string;
  /** Whether the bundles came from `palisade build` (start) rather than built here (dev). */
  readonly prebuilt?: boolean;
  /** Event type → registered schema version in force. */
  readonly schemaVersions: ReadonlyMap<string, number>;
}

/**
 * Loads the manifest, registers changed schemas (refusing breaking changes unless `allowBreaking`)
 * and gets a signed bundle for every function: in dev (`prebuilt` false) it bundles and signs each
 * with the app's signing key (creating one if the app has none) into a fresh build directory; for
 * `palisade start` it takes the bundles `palisade build` left in `dist/`, refusing one built before the
 * last one accepted unless `allowDowngrade`. Either way each bundle is verified against the app's
 * trusted keys (`keys/*.pub`), and the verified bytes are what runs.
 */
export async function prepareApp(
  appDir: string,
  allowBreaking = false,
  prebuilt = false,
  allowDowngrade = false,
  onBuilt?: BuildProgress,
): Promise<PreparedApp> {
  const app = loadApp(appDir);
  mkdirSync(app.dataDir, { recursive: true, mode: 0o700 });
  const store = openSchemaStore(join(app.dataDir, SCHEMAS_FILE));
  let schemaVersions: Map<string, number>;
  try {
    schemaVersions = registerSchemas(store, schemasOf(app), allowBreaking);
  } finally {
    store.close();
  }
  // A fresh directory per build: a sandbox respawned by a running version must load that version's
  // code, never a newer build that was prepared under a different manifest (and different grants).
  // Its name carries the pid, so a later start can tell a live run's build from a dead one's.
  const buildDir = join(
    app.dataDir,
    "bundles",
    `${Date.now().toString(36)}-${process.pid}-${randomBytes(4).toString("hex")}`,
  );
  mkdirSync(buildDir, { recursive: true, mode: 0o700 });
  try {
    if (!prebuilt) await buildSigned(app, buildDir, onBuilt);
    const bundles = prebuilt
      ? verifyFunctions(app, join(app.dir, DIST_DIR), buildDir, { allowDowngrade })
      : verifyFunctions(app, buildDir, buildDir);
    return { app, bundles, buildDir, prebuilt, schemaVersions };
  } catch (err) {
    rmSync(buildDir, { recursive: true, force: true });
    throw err;
  }
}

/** Told after each function is bundled and signed: how many of how many, and which. */
export type BuildProgress = (done: number, total: number, fn: string) => void;

/** Bundles and signs every function of `app` into `outDir/<function>/`; returns what was built. */
export async function buildSigned(
  app: AppModel,
  outDir: string,
  onBuilt?: BuildProgress,
): Promise<BuiltFunction[]> {
  if (!existsSync(join(app.dir, SIGNING_KEY_FILE)) && !existsSync(join(app.dir, SIGNING_PUB_FILE)))
    generateSigningKey(app.dir);
  const key = loadSigningKey(app.dir);
  const built: BuiltFunction[] = [];
  for (const fn of app.functions.values()) {
    const b = await buildFunction({
      name: fn.name,
      handlerPath: fn.handlerPath,
      appDir: app.dir,
      outDir,
      appName: app.name,
    });
    signFunction(b.dir, key);
    built.push(b);
    onBuilt?.(built.length, app.functions.size, fn.name);
  }
  return built;
}

/** Event type → JSON Schema, as the app's manifest declares them. */
export function schemasOf(app: AppModel): Map<string, object> {
  return new Map([...app.events].map(([type, spec]) => [type, spec.schema]));
}

/**
 * Removes the build directories next to `buildDir` that a killed process left behind; those of a
 * process still running (another platform on this app, whose sandboxes respawn from them) are kept.
 */
export function removeDeadBuilds(buildDir: string): void {
  const root = dirname(buildDir);
  for (const name of readdirSync(root)) {
    const pid = Number(/^[0-9a-z]+-([0-9]+)-[0-9a-f]+$/.exec(name)?.[1]);
    if (join(root, name) === buildDir || (pid > 0 && isRunning(pid))) continue;
    rmSync(join(root, name), { recursive: true, force: true });
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0); // signal 0: only asks whether the process exists
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM"; // exists, owned by another user
  }
}
