/**
 * Operator commands against a NATS-backed deployment: `--nats <urls>` (or PALISADE_NATS_URL),
 * `--nats-creds` and `--nats-ca` on `dlq`, `replay`, `audit`, `keys`, `secrets`, `permissions` and
 * `traces`. Without them a command works on the app directory's files, as before.
 */
import type { Command } from "commander";
import { Option } from "commander";
import { pino } from "pino";
import { openAppStore } from "../app-files.ts";
import type { AppModel } from "../manifest/index.ts";
import { createLogger } from "../observe/index.ts";
import type { AppStore } from "../open-store.ts";
import { openScaleOut, type ScaleOut } from "../scale-out.ts";
import type { NatsFlags } from "./platform-ops.ts";

/** The NATS flags an operator command takes. */
export interface OperatorNatsFlags {
  nats?: string;
  natsCreds?: string;
  natsCa?: string;
}

/** Adds `--nats`, `--nats-creds` and `--nats-ca` to an operator command. */
export function withNatsTarget(command: Command): Command {
  return command
    .addOption(
      new Option(
        "--nats <urls>",
        "work on the NATS JetStream deployment at these seed servers instead of the app directory's files",
      ).env("PALISADE_NATS_URL"),
    )
    .option("--nats-creds <file>", "NATS credentials: a .creds file (JWT + nkey) or an nkey seed file")
    .option("--nats-ca <file>", "CA certificate (PEM) that signs the NATS servers' TLS certificates");
}

/**
 * The deployment's NATS side when the flags (or PALISADE_NATS_URL) name one, else undefined. Errors
 * (unreachable, refused credentials) are PalisadeErrors naming the redacted URL and the fix.
 */
export async function openNatsTarget(app: AppModel, flags: OperatorNatsFlags): Promise<ScaleOut | undefined> {
  const natsFlags: NatsFlags = {
    ...(flags.nats === undefined ? {} : { nats: flags.nats }),
    ...(flags.natsCreds === undefined ? {} : { natsCreds: flags.natsCreds }),
    ...(flags.natsCa === undefined ? {} : { natsCa: flags.natsCa }),
  };
  return openScaleOut(app, natsFlags, {
    role: "operator",
    mode: "dev",
    logger: createLogger({ level: "warn", destination: pino.destination(2) }),
  });
}

/**
 * Runs `fn` with the app's store: on the NATS deployment the flags name, or the app's SQLite file;
 * closes both afterwards.
 */
export async function withOperatorStore<T>(
  app: AppModel,
  flags: OperatorNatsFlags,
  fn: (store: AppStore) => Promise<T>,
): Promise<T> {
  const target = await openNatsTarget(app, flags);
  try {
    const store = await openAppStore(app, target === undefined ? {} : { nats: target.backend });
    try {
      return await fn(store);
    } finally {
      await store.close();
    }
  } finally {
    await target?.close();
  }
}
