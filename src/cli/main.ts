/**
 * The `palisade` program: every command with its flags and help (commander), and the exit codes
 * (DESIGN §6). It opens app files itself but runs nothing of the platform: `dev`, `start`, `build`
 * and `invoke` call the `PlatformOps` that `src/main.ts` hands to `main`.
 */
import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import { toPalisadeError } from "../errors.ts";
import { runAuditAnchor, runAuditExport, runAuditTail, runAuditVerify } from "./commands/audit.ts";
import { runBuild } from "./commands/build.ts";
import { type CheckCommandOptions, runCheck } from "./commands/check.ts";
import { runDev } from "./commands/dev.ts";
import { runDlqList, runDlqReplay } from "./commands/dlq.ts";
import { runInit } from "./commands/init.ts";
import { runInvoke } from "./commands/invoke.ts";
import { runKeysRetire, runKeysRotate, runKeysStatus } from "./commands/keys.ts";
import { runPermissionsReport } from "./commands/permissions.ts";
import { runReplay } from "./commands/replay.ts";
import { runSecretsList, runSecretsRm, runSecretsRotate, runSecretsSet } from "./commands/secrets.ts";
import { runSend } from "./commands/send.ts";
import { runStart, type StartOptions } from "./commands/start.ts";
import { runThreats } from "./commands/threats.ts";
import { runTraces } from "./commands/traces.ts";
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, exitCodeFor } from "./exit-code.ts";
import type { PlatformOps } from "./platform-ops.ts";

/**
 * Runs the CLI with `argv` (without node and script); resolves to the exit code. `ops` are the
 * platform operations `dev`, `start`, `build` and `invoke` call (wired by `src/main.ts`).
 */
export async function main(argv: string[], ops: PlatformOps): Promise<number> {
  let exitCode = EXIT_OK;
  const program = createProgram(ops, (code) => {
    exitCode = code;
  });
  try {
    await program.parseAsync(argv, { from: "user" });
    return exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version are successes; anything else commander rejects is a usage error.
      return err.code === "commander.helpDisplayed" ||
        err.code === "commander.version" ||
        err.code === "commander.help"
        ? EXIT_OK
        : EXIT_USAGE;
    }
    const e = toPalisadeError(err);
    process.stderr.write(`palisade: ${e.message}\n`);
    return e.code === "PAL_INTERNAL" ? EXIT_FAILURE : exitCodeFor(e.code);
  }
}

function createProgram(ops: PlatformOps, setExit: (code: number) => void): Command {
  const program = new Command("palisade")
    .description("Secure-by-default serverless event processing for TypeScript")
    .version(process.env.npm_package_version ?? "0.1.0", "-V, --version")
    .showHelpAfterError("(run with --help for usage)")
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });

  program
    .command("init")
    .description("scaffold an app: manifest, a schema, a TypeScript function and a signing key")
    .argument("[dir]", "directory to create the app in", ".")
    .action((dir: string) => {
      setExit(runInit(dir));
    });

  serveOptions(
    program
      .command("dev")
      .description(
        "run gateway, bus and sandboxed functions in one process on the embedded store; reload on change",
      )
      .argument("[dir]", "app directory", "."),
  )
    .option(
      "--allow-breaking",
      "register schema changes that would reject events the previous version accepted",
    )
    .action(
      async (
        dir: string,
        opts: {
          port: number;
          host: string;
          logLevel: "debug" | "info" | "warn" | "error";
          allowBreaking?: boolean;
          tlsCert?: string;
          tlsKey?: string;
          tlsClientCa?: string;
        },
      ) => {
        setExit(await runDev(dir, opts, ops));
      },
    );

  program
    .command("check")
    .description(
      "guardrails as code: every PAL rule over manifest, schemas, function sources and dependencies",
    )
    .argument("[dir]", "app directory", ".")
    .addOption(
      new Option("--format <format>", "output format").choices(["text", "json", "sarif"]).default("text"),
    )
    .addOption(
      new Option("--host <addr>", "address the gateway will listen on (TLS required off loopback)")
        .env("PALISADE_HOST")
        .default("127.0.0.1"),
    )
    .option("--offline", "skip the npm audit of dependencies (its rules report skipped)")
    .action(async (dir: string, opts: CheckCommandOptions) => {
      setExit(await runCheck(dir, opts));
    });

  program
    .command("threats")
    .description("threat model of the event-flow graph: STRIDE-classified paths, loops, unused grants")
    .argument("[dir]", "app directory", ".")
    .addOption(
      new Option("--format <format>", "output format")
        .choices(["text", "json", "mermaid", "dot"])
        .default("text"),
    )
    .action((dir: string, opts: { format: "text" | "json" | "mermaid" | "dot" }) => {
      setExit(runThreats(dir, opts));
    });

  program
    .command("build")
    .description("bundle each function into dist/<function>/ with its SBOM, signed with the app's key")
    .argument("[dir]", "app directory", ".")
    .action(async (dir: string) => {
      setExit(await runBuild(dir, ops));
    });

  serveOptions(
    program
      .command("start")
      .description(
        "production: run only signed bundles from dist/, with the existing master key; TLS required off loopback",
      )
      .argument("[dir]", "app directory", "."),
  )
    .option("--insecure-http", "allow plain HTTP on a non-loopback address (a proxy in front terminates TLS)")
    .option(
      "--allow-downgrade",
      "run a bundle built before the one last run for its function (a deliberate rollback; audited)",
    )
    .option(
      "--new-audit-key",
      "make a new keys/audit.key though the audit log has checkpoints signed by one that is missing (earlier checkpoints still verify)",
    )
    .action(async (dir: string, opts: StartOptions) => {
      setExit(await runStart(dir, opts, ops));
    });

  program
    .command("send")
    .description("publish an event through the running gateway and print its answer")
    .argument("<type>", "event type, such as order.created")
    .argument("<data>", "event data as JSON, or @file to read it from a file")
    .option("--app <dir>", "app whose running gateway to use", ".")
    .option("--url <url>", "gateway URL (default: read from the app's .palisade/gateway.json)")
    .option(
      "--key <key>",
      "API key to send (default: the key of --principal, or of the first principal that may publish the type)",
    )
    .option("--principal <name>", "send as this principal, with its API key from the app's secret store")
    .option("--json", "print the raw JSON answer")
    .action(
      async (
        type: string,
        data: string,
        opts: { app: string; url?: string; key?: string; principal?: string; json?: boolean },
      ) => {
        setExit(await runSend(type, data, opts));
      },
    );

  program
    .command("invoke")
    .description(
      "run one function once in its sandbox with its grants; print its logs, emits (not published) and result",
    )
    .argument("<function>", "function name")
    .argument("<data>", "event data as JSON, or @file to read it from a file")
    .option("--type <type>", "event type (default: the function's only subscribed type)")
    .option("--app <dir>", "app directory", ".")
    .option("--json", "print the report as JSON")
    .action(async (fn: string, data: string, opts: { app: string; type?: string; json?: boolean }) => {
      setExit(await runInvoke(fn, data, opts, ops));
    });

  program
    .command("permissions")
    .description("least privilege: what each function is granted and what it used")
    .command("report")
    .description("granted vs used per function, unused grants and refused calls (from .palisade/usage.db)")
    .option("--app <dir>", "app directory", ".")
    .option("--json", "print a JSON array")
    .action((opts: { app: string; json?: boolean }) => {
      setExit(runPermissionsReport(opts));
    });

  program
    .command("traces")
    .description("recent traces recorded by dev/start (.palisade/traces.db), or one trace as a span tree")
    .option("--id <traceId>", "show this trace's spans as a tree")
    .option("--limit <n>", "how many recent traces", (v) => parsePositive(v, "--limit"), 20)
    .option("--app <dir>", "app directory", ".")
    .option("--json", "print spans as JSON")
    .action((opts: { app: string; id?: string; json?: boolean; limit: number }) => {
      setExit(runTraces(opts));
    });

  const audit = program
    .command("audit")
    .description("the tamper-evident audit log of security decisions (.palisade/audit.db)");
  audit
    .command("verify")
    .description("check the hash chain and its signed checkpoints; exit 1 naming the first bad record")
    .option("--app <dir>", "app directory", ".")
    .option("--anchor <file>", "also check the log still holds the signed head printed by audit anchor")
    .option("--json", "print the result as JSON")
    .action((opts: { app: string; json?: boolean; anchor?: string }) => {
      setExit(runAuditVerify(opts));
    });
  audit
    .command("anchor")
    .description("sign the log's head and print it as JSON, to keep where this host cannot write")
    .option("--app <dir>", "app directory", ".")
    .action((opts: { app: string }) => {
      setExit(runAuditAnchor(opts));
    });
  audit
    .command("tail")
    .description("print the newest records; with -f, keep printing new ones until Ctrl-C")
    .option("-n, --lines <n>", "how many records to show first", (v) => parsePositive(v, "--lines"), 20)
    .option("-f, --follow", "keep printing records as they are written")
    .option("--json", "print JSON Lines")
    .option("--app <dir>", "app directory", ".")
    .action(async (opts: { app: string; lines: number; follow?: boolean; json?: boolean }) => {
      setExit(await runAuditTail(opts));
    });
  audit
    .command("export")
    .description("print every record written since a time as JSON Lines")
    .requiredOption("--since <time>", "ISO 8601 time, or a duration ago such as 2h or 7d")
    .option("--app <dir>", "app directory", ".")
    .action((opts: { app: string; since: string }) => {
      setExit(runAuditExport(opts));
    });

  const secrets = program
    .command("secrets")
    .description("the app's secret store (API keys, webhook secrets)");
  secrets
    .command("set")
    .description("store a secret; the value comes from --value or standard input")
    .argument("<name>", "secret name: upper-case letters, digits and _")
    .option("--app <dir>", "app directory", ".")
    .option("--value <value>", "the value (prefer stdin: command lines end up in shell history)")
    .action((name: string, opts: { app: string; value?: string }) => {
      setExit(runSecretsSet(name, opts));
    });
  secrets
    .command("list")
    .description("list secret names (never values)")
    .option("--app <dir>", "app directory", ".")
    .option("--json", "print a JSON array")
    .action((opts: { app: string; json?: boolean }) => {
      setExit(runSecretsList(opts));
    });
  secrets
    .command("rm")
    .description("remove a secret")
    .argument("<name>", "secret name")
    .option("--app <dir>", "app directory", ".")
    .action((name: string, opts: { app: string }) => {
      setExit(runSecretsRm(name, opts));
    });

  secrets
    .command("rotate")
    .description("replace a secret's value; the previous one stays valid for the grace period")
    .argument("<name>", "secret name")
    .option("--app <dir>", "app directory", ".")
    .option("--value <value>", "the new value (prefer stdin)")
    .option(
      "--grace <seconds>",
      "how long the previous value stays valid",
      (v) => parsePositive(v, "--grace"),
      86400,
    )
    .action((name: string, opts: { app: string; value?: string; grace: number }) => {
      setExit(runSecretsRotate(name, opts));
    });

  const keys = program.command("keys").description("the key ring that encrypts the app's data at rest");
  keys
    .command("rotate")
    .description(
      "new data key for all new writes, then re-encrypt every record on an older key (progress bar)",
    )
    .option("--resume", "only finish re-encrypting (after an interrupted rotate)")
    .option("--app <dir>", "app directory", ".")
    .action(async (opts: { app: string; resume?: boolean }) => {
      setExit(await runKeysRotate(opts));
    });
  keys
    .command("status")
    .description("data key versions and how many records each seals")
    .option("--app <dir>", "app directory", ".")
    .option("--json", "print JSON")
    .action(async (opts: { app: string; json?: boolean }) => {
      setExit(await runKeysStatus(opts));
    });
  keys
    .command("retire")
    .description("delete an old data key; refused while any record still uses it")
    .argument("<version>", "data key version")
    .option("--app <dir>", "app directory", ".")
    .action(async (version: string, opts: { app: string }) => {
      setExit(await runKeysRetire(version, opts));
    });

  const dlq = program
    .command("dlq")
    .description("the dead-letter queue: deliveries that will not be retried");
  dlq
    .command("list")
    .description("list dead-lettered deliveries, newest first, with their reason")
    .option("--app <dir>", "app directory", ".")
    .option("--limit <n>", "most rows to show", (v) => parsePositive(v, "--limit"), 100)
    .option("--json", "print a JSON array")
    .action(async (opts: { app: string; json?: boolean; limit: number }) => {
      setExit(await runDlqList(opts));
    });

  dlq
    .command("replay")
    .description("move dead letters back to pending, after checking each against the app as it is now")
    .argument("[eventId]", "the event whose dead letters to replay")
    .option("--all", "replay every dead letter")
    .option("--function <name>", "only dead letters of this function")
    .option("--app <dir>", "app directory", ".")
    .action(async (eventId: string | undefined, opts: { app: string; all?: boolean; function?: string }) => {
      setExit(await runDlqReplay(eventId, opts));
    });

  program
    .command("replay")
    .description(
      "deliver archived events again (original ids, marked as replays), checked against the app as it is now",
    )
    .requiredOption("--since <time>", "ISO 8601 time, or a duration ago such as 2h or 7d")
    .option("--until <time>", "ISO 8601 time, or a duration ago (default: now)")
    .option("--type <type>", "only this event type (or prefix.*)")
    .option("--function <name>", "only to this function")
    .option("--app <dir>", "app directory", ".")
    .action(
      async (opts: { app: string; since: string; until?: string; type?: string; function?: string }) => {
        setExit(await runReplay(opts));
      },
    );

  const all = (cmd: Command): Command[] => [cmd, ...cmd.commands.flatMap(all)];
  for (const cmd of all(program).slice(1))
    cmd.exitOverride().showHelpAfterError("(run with --help for usage)");
  return program;
}

/** Options of the commands that serve an app (`dev`, `start`): address, log level, TLS. */
function serveOptions(command: Command): Command {
  return command
    .addOption(
      new Option("--port <n>", "port to listen on").env("PALISADE_PORT").argParser(parsePort).default(8787),
    )
    .addOption(new Option("--host <addr>", "address to listen on").env("PALISADE_HOST").default("127.0.0.1"))
    .addOption(
      new Option("--log-level <level>", "lowest level logged")
        .choices(["debug", "info", "warn", "error"])
        .default("info"),
    )
    .option("--tls-cert <file>", "serve HTTPS with this certificate (PEM)")
    .option("--tls-key <file>", "private key of --tls-cert (PEM)")
    .option("--tls-client-ca <file>", "require client certificates from this CA (mTLS principals)");
}

function parsePositive(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw new InvalidArgumentError(`${flag} takes a positive whole number, not "${value}"`);
  return n;
}

function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new InvalidArgumentError(`"${value}" is not a port; use a number from 0 to 65535`);
  }
  return port;
}
