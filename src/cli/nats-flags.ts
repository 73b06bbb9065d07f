/**
 * The `--nats`, `--nats-creds` and `--nats-ca` flags of the operator commands. Kept apart from
 * `nats-target.ts`, which opens the deployment, so defining the commands loads nothing of NATS.
 */
import { type Command, Option } from "commander";

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
