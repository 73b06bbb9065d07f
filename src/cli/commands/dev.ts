import { randomBytes } from "node:crypto";
import { type FSWatcher, watch } from "node:fs";
import { resolve } from "node:path";
import { toPalisadeError } from "../../errors.ts";
import { loadApp } from "../../manifest/index.ts";
import { createLogger, type Logger, type LogLevelName } from "../../observe/index.ts";
import type { PreparedApp } from "../../prepare-app.ts";
import { EXIT_OK } from "../exit-code.ts";
import { openSharedKeys } from "../nats-target.ts";
import type { NatsFlags, PlatformOps, RunningPlatform } from "../platform-ops.ts";
import { appSecrets } from "./secrets.ts";
import { natsFlags, tlsFiles } from "./start.ts";

export interface DevOptions extends NatsFlags {
  port: number;
  host: string;
  logLevel: LogLevelName;
  allowBreaking?: boolean;
  tlsCert?: string;
  tlsKey?: string;
  tlsClientCa?: string;
}

const RELOAD_DEBOUNCE_MS = 250;

/**
 * `palisade dev`: runs the whole platform in this process, logging JSON lines to stdout (function
 * `ctx.log` lines carry `fn` and `eventId`). Restarts on any change to the app's files; a change that
 * breaks the manifest is reported and the last good version keeps running.
 */
export async function runDev(dir: string, opts: DevOptions, ops: PlatformOps): Promise<number> {
  // Pretty on a terminal; JSON lines when piped (to a file, a log shipper, a test).
  const logger = createLogger({ level: opts.logLevel, pretty: process.stdout.isTTY === true });
  const appDir = resolve(dir);
  ensureDevKeys(appDir, logger);
  const tls = tlsFiles(opts);
  const nats = natsFlags(opts);
  if (nats !== undefined) await shareDevKeys(appDir, nats, logger);
  let port = opts.port;
  const start = (prepared?: PreparedApp) =>
    ops.startPlatform(
      {
        appDir,
        logger,
        port,
        host: opts.host,
        allowBreaking: opts.allowBreaking ?? false,
        ...(tls ? { tls } : {}),
        ...(nats ? { nats } : {}),
      },
      prepared,
    );
  let platform: RunningPlatform = await start(); // a broken app at first start is a usage error (exit 2)
  port = Number(new URL(platform.url).port); // reloads keep the address, even when it was port 0

  let timer: NodeJS.Timeout | undefined;
  let reloading = Promise.resolve();
  const reload = async () => {
    logger.info({ app: appDir }, "change detected; reloading");
    let prepared: PreparedApp;
    try {
      ensureDevKeys(appDir, logger);
      prepared = await ops.prepareApp(appDir, opts.allowBreaking ?? false); // manifest and bundles: the old version serves meanwhile
    } catch (err) {
      const e = toPalisadeError(err);
      logger.error(
        { code: e.code },
        `reload failed, the previous version keeps running; fix and save again:\n${e.message}`,
      );
      return;
    }
    await platform.close();
    try {
      platform = await start(prepared);
    } catch (err) {
      const e = toPalisadeError(err);
      logger.error({ code: e.code }, `reload failed, nothing is running; fix and save again:\n${e.message}`);
    }
  };
  const watcher: FSWatcher = watch(appDir, { recursive: true }, (_event, file) => {
    if (
      file === null ||
      file.startsWith(".palisade") ||
      file.startsWith("dist") ||
      file.includes("node_modules")
    )
      return;
    clearTimeout(timer);
    timer = setTimeout(() => {
      reloading = reloading.then(reload);
    }, RELOAD_DEBOUNCE_MS);
  });

  await new Promise<void>((done) => {
    const stop = () => done();
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
  watcher.close();
  clearTimeout(timer);
  await reloading;
  await platform.close();
  logger.flush();
  return EXIT_OK;
}

/**
 * Development convenience: an API-key principal or admin whose key is not in the secret store gets a
 * fresh random key there, so `palisade send` and the dashboard work at once (the implicit admin
 * `local` included: PALISADE_ADMIN_KEY). The key itself is never printed or logged: the log says
 * which secret holds it and how to read it.
 */
function ensureDevKeys(appDir: string, logger: Logger): void {
  const app = loadApp(appDir);
  const secrets = appSecrets(appDir);
  const generate = (secret: string) => {
    if (secrets.get(secret) !== undefined) return false;
    secrets.set(secret, randomBytes(32).toString("base64url"));
    return true;
  };
  for (const p of app.principals.values())
    if (p.auth.kind === "apiKey" && generate(p.auth.secret))
      logger.info(
        { principal: p.name, secretName: p.auth.secret },
        "generated an API key for a principal (stored as a secret)",
      );
  for (const a of app.admins.values())
    if (a.auth.kind === "apiKey" && generate(a.auth.secret))
      logger.info(
        { admin: a.name, role: a.role, secretName: a.auth.secret },
        `generated an API key for admin "${a.name}" (stored as the secret ${a.auth.secret} in ${appDir}/.palisade/secrets.json; log in to /ui/ with it: palisade secrets get ${a.auth.secret} --app ${appDir})`,
      );
}

/**
 * On NATS (`dev --nats`) the gateway reads API keys from the deployment's secret store: a key the
 * app's secrets.json holds (the one `palisade send` uses, or an admin's) and the deployment's lacks
 * is copied there.
 * One already set in NATS is left alone (it may be another node's).
 */
async function shareDevKeys(appDir: string, nats: NatsFlags, logger: Logger): Promise<void> {
  const app = loadApp(appDir);
  const keys = await openSharedKeys(app, nats);
  if (keys === undefined) return;
  try {
    const local = appSecrets(appDir);
    const holders = [
      ...[...app.principals.values()].map((p) => ({ who: { principal: p.name }, auth: p.auth })),
      ...[...app.admins.values()].map((a) => ({ who: { admin: a.name }, auth: a.auth })),
    ];
    for (const { who, auth } of holders) {
      if (auth.kind !== "apiKey" || keys.secrets.get(auth.secret) !== undefined) continue;
      const value = local.get(auth.secret);
      if (value === undefined) continue;
      await keys.secrets.set(auth.secret, value);
      logger.info(
        { ...who, secretName: auth.secret },
        "copied the app's API key to the NATS deployment's secret store",
      );
    }
  } finally {
    await keys.close();
  }
}
