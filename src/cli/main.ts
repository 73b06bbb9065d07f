/**
 * The `palisade` program: every command with its flags and help (commander), and the exit codes
 * (DESIGN §6). It opens app files itself but runs nothing of the platform: `dev`, `start`, `build`
 * and `invoke` call the `PlatformOps` that `src/main.ts` hands to `main`.
 */
import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import { toPalisadeError } from "../errors.ts";
import type { CheckCommandOptions } from "./commands/check.ts";
import type { SendOptions } from "./commands/send.ts";
import type { StartOptions } from "./commands/start.ts";
import { addTailCommand } from "./commands/tail-command.ts";
import { addTypesCommand } from "./commands/types-command.ts";
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from "./exit-codes.ts";
import { addInspectCommands } from "./inspect-commands.ts";
import { lazy } from "./lazy.ts";
import { addOperatorCommands } from "./operator-commands.ts";
import type { NatsFlags, PlatformOps } from "./platform-ops.ts";
import { usageError } from "./usage-error.ts";

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
    return e.code === "PAL_INTERNAL" ? EXIT_FAILURE : await exitCodeFor(e.code);
  }
}

const runBuild = lazy(() => import("./commands/build.ts"), "runBuild");
const runCheck = lazy(() => import("./commands/check.ts"), "runCheck");
const runDev = lazy(() => import("./commands/dev.ts"), "runDev");
const runInit = lazy(() => import("./commands/init.ts"), "runInit");
const printCompletion = lazy(() => import("./completion.ts"), "printCompletion");
const runInvoke = lazy(() => import("./commands/invoke.ts"), "runInvoke");
const runSend = lazy(() => import("./commands/send.ts"), "runSend");
const runVerifyEvent = lazy(() => import("./commands/verify-event.ts"), "runVerifyEvent");
const runStart = lazy(() => import("./commands/start.ts"), "runStart");
const runThreats = lazy(() => import("./commands/threats.ts"), "runThreats");
const exitCodeFor = lazy(() => import("./exit-code.ts"), "exitCodeFor");

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
    .option("--json", "print what was created as JSON")
    .action(async (dir: string, opts: { json?: boolean }) => {
      setExit(await runInit(dir, opts));
    });

  natsOptions(
    serveOptions(
      program
        .command("dev")
        .description(
          "run gateway, bus and sandboxed functions in one process on the embedded store; reload on change",
        )
        .argument("[dir]", "app directory", "."),
    ),
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
        } & NatsFlags,
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
    .option("--json", "print the report as JSON (--format json)")
    .action(async (dir: string, opts: CheckCommandOptions & { json?: boolean }) => {
      setExit(await runCheck(dir, opts.json === true ? { ...opts, format: "json" } : opts));
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
    .option("--json", "print the model as JSON (--format json)")
    .action(async (dir: string, opts: { format: "text" | "json" | "mermaid" | "dot"; json?: boolean }) => {
      setExit(await runThreats(dir, opts.json === true ? { format: "json" } : { format: opts.format }));
    });

  program
    .command("build")
    .description("bundle each function into dist/<function>/ with its SBOM, signed with the app's key")
    .argument("[dir]", "app directory", ".")
    .option(
      "--json",
      "print JSON: { functions: [{ name, bundle, sha256, sbom, attestation, keyId, packages }] }",
    )
    .action(async (dir: string, opts: { json?: boolean }) => {
      setExit(await runBuild(dir, ops, opts));
    });

  natsOptions(
    serveOptions(
      program
        .command("start")
        .description(
          "production: run only signed bundles from dist/, with the existing master key; TLS required off loopback",
        )
        .argument("[dir]", "app directory", "."),
    ),
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

  for (const role of ["gateway", "worker"] as const) {
    natsOptions(
      serveOptions(
        program
          .command(role)
          .description(
            role === "gateway"
              ? "scale-out: ingress only (authentication, validation, rate limits), publishing to NATS JetStream"
              : "scale-out: dispatch, admission and sandboxed functions, consuming from NATS JetStream",
          )
          .argument("[dir]", "app directory", "."),
      ),
    )
      .option(
        "--insecure-http",
        "allow plain HTTP on a non-loopback address (a proxy in front terminates TLS)",
      )
      .option(
        "--allow-downgrade",
        "run a bundle built before the one last run for its function (a deliberate rollback; audited)",
      )
      .action(async (dir: string, opts: StartOptions) => {
        setExit(await runStart(dir, opts, ops, role));
      });
  }

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
    .option(
      "--sign-key <file>",
      "sign the event with this private key (PEM PKCS#8 or JWK; Ed25519 or P-256) and send it as a CloudEvent with dssematerial",
    )
    .option("--key-id <id>", "key id the signature names (default: the key file's base name, or its JWK kid)")
    .option("--json", "print the raw JSON answer")
    .action(async (type: string, data: string, opts: SendOptions) => {
      if (opts.keyId !== undefined && opts.signKey === undefined)
        throw usageError("--key-id names the key of --sign-key; pass --sign-key <file> too");
      setExit(await runSend(type, data, opts));
    });

  program
    .command("verify-event")
    .description(
      "verify a signed CloudEvent (JSON format; an array for a batch) and print it as verified, or why it must be discarded",
    )
    .argument("<file>", "file holding the event, or - to read stdin")
    .option(
      "--app <dir>",
      "app whose keys to use: its event keys (what Palisade signed), or --principal's",
      ".",
    )
    .option("--principal <name>", "verify with this principal's declared signing keys")
    .option(
      "--key <keyid=pem>",
      "a public key (PEM) and the key id signatures name; repeatable",
      (v: string, all: string[] = []) => [...all, v],
    )
    .option(
      "--jwks <file>",
      "a JWKS file of public keys (key id: kid), e.g. from palisade keys event-key --json",
    )
    .option("--json", "print JSON: { verified, keyid, event } or { verified: false, reason, message }")
    .action(
      async (
        file: string,
        opts: { app: string; principal?: string; key?: string[]; jwks?: string; json?: boolean },
      ) => {
        setExit(await runVerifyEvent(file, opts));
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

  addOperatorCommands(program, setExit);
  addTypesCommand(program, setExit);
  program
    .command("completion")
    .description("print a completion script for bash, zsh or fish, generated from these commands")
    .addArgument(program.createArgument("<shell>", "the shell").choices(["bash", "zsh", "fish"]))
    .addHelpText(
      "after",
      "\nLoad it: source <(palisade completion bash) · source <(palisade completion zsh) · palisade completion fish | source",
    )
    .action(async (shell: string) => {
      setExit(await printCompletion(program, shell));
    });
  addTailCommand(program, setExit);
  addInspectCommands(program, setExit);

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

/** Options of the commands that can run on NATS JetStream (`dev`, `start`, `gateway`, `worker`). */
function natsOptions(command: Command): Command {
  return command
    .addOption(
      new Option(
        "--nats <urls>",
        "run on NATS JetStream: a server URL or a comma-separated list of seed servers",
      ).env("PALISADE_NATS_URL"),
    )
    .option("--nats-creds <file>", "NATS credentials: a .creds file (JWT + nkey) or an nkey seed file")
    .option("--nats-ca <file>", "CA certificate (PEM) that signs the NATS servers' TLS certificates")
    .option(
      "--nats-monitor <url>",
      "the NATS server's monitoring URL (http://host:8222), to read and print its sync policy",
    )
    .addOption(
      new Option("--replicas <n>", "stream and KV replicas (default 3 in a cluster, else 1)").argParser(
        parseReplicas,
      ),
    )
    .option(
      "--accept-lazy-fsync",
      "run on an unreplicated stream whose server does not sync every write (acknowledged events can be lost in a crash)",
    );
}

function parseReplicas(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 5)
    throw new InvalidArgumentError(`"${value}" is not a replica count; use 1, 3 or 5 (at most 5)`);
  return n;
}

function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new InvalidArgumentError(`"${value}" is not a port; use a number from 0 to 65535`);
  }
  return port;
}
