/**
 * The operator commands, which read and change an app's files without running the platform:
 * `permissions`, `traces`, `audit`, `secrets`, `keys`, `dlq`, `quarantine` and `replay`.
 */
import type { Command } from "commander";
import { type AdminUrlFlags, withAdminUrl } from "./admin-client.ts";
import type { SuggestOptions } from "./commands/permissions-suggest.ts";
import type { SecretsGetOptions } from "./commands/secrets.ts";
import { DEFAULT_SUGGEST_DAYS, SUGGEST_RULE } from "./commands/suggest-rule.ts";
import { lazy } from "./lazy.ts";
import { type OperatorNatsFlags, withNatsTarget } from "./nats-flags.ts";
import { parsePositive } from "./parse-positive.ts";
import { usageError } from "./usage-error.ts";

const auditCommands = () => import("./commands/audit.ts");
const costCommand = () => import("./commands/cost.ts");
const dlqCommands = () => import("./commands/dlq.ts");
const keysCommands = () => import("./commands/keys.ts");
const permissionsCommands = () => import("./commands/permissions.ts");
const suggestCommand = () => import("./commands/permissions-suggest.ts");
const quarantineCommands = () => import("./commands/quarantine.ts");
const remoteCommands = () => import("./commands/remote.ts");
const replayCommand = () => import("./commands/replay.ts");
const secretsCommands = () => import("./commands/secrets.ts");
const tracesCommand = () => import("./commands/traces.ts");
const runAuditAnchorAnywhere = lazy(auditCommands, "runAuditAnchorAnywhere");
const runAuditExport = lazy(auditCommands, "runAuditExport");
const runAuditTail = lazy(auditCommands, "runAuditTail");
const runAuditVerifyAnywhere = lazy(auditCommands, "runAuditVerifyAnywhere");
const runCost = lazy(costCommand, "runCost");
const runDlqList = lazy(dlqCommands, "runDlqList");
const runDlqReplay = lazy(dlqCommands, "runDlqReplay");
const runKeysRetire = lazy(keysCommands, "runKeysRetire");
const runKeysRotate = lazy(keysCommands, "runKeysRotate");
const runKeysStatus = lazy(keysCommands, "runKeysStatus");
const runEventKey = lazy(() => import("./commands/event-keys.ts"), "runEventKey");
const runPermissionsReport = lazy(permissionsCommands, "runPermissionsReport");
const runPermissionsSuggest = lazy(suggestCommand, "runPermissionsSuggest");
const runQuarantineDiscard = lazy(quarantineCommands, "runQuarantineDiscard");
const runQuarantineHold = lazy(quarantineCommands, "runQuarantineHold");
const runQuarantineList = lazy(quarantineCommands, "runQuarantineList");
const runQuarantineRelease = lazy(quarantineCommands, "runQuarantineRelease");
const remoteAuditTail = lazy(remoteCommands, "remoteAuditTail");
const remoteAuditVerify = lazy(remoteCommands, "remoteAuditVerify");
const remoteDlqList = lazy(remoteCommands, "remoteDlqList");
const remoteDlqReplay = lazy(remoteCommands, "remoteDlqReplay");
const remoteKeysStatus = lazy(remoteCommands, "remoteKeysStatus");
const remoteQuarantineChange = lazy(remoteCommands, "remoteQuarantineChange");
const remoteQuarantineList = lazy(remoteCommands, "remoteQuarantineList");
const remoteReplay = lazy(remoteCommands, "remoteReplay");
const remoteSecretsList = lazy(remoteCommands, "remoteSecretsList");
const remoteTraces = lazy(remoteCommands, "remoteTraces");
const runReplay = lazy(replayCommand, "runReplay");
const runSecretsGet = lazy(secretsCommands, "runSecretsGet");
const runSecretsList = lazy(secretsCommands, "runSecretsList");
const runSecretsRm = lazy(secretsCommands, "runSecretsRm");
const runSecretsRotate = lazy(secretsCommands, "runSecretsRotate");
const runSecretsSet = lazy(secretsCommands, "runSecretsSet");
const runTraces = lazy(tracesCommand, "runTraces");

/** Adds the operator commands to `program`; each action reports its exit code to `setExit`. */
export function addOperatorCommands(program: Command, setExit: (code: number) => void): void {
  const permissions = program
    .command("permissions")
    .description("least privilege: what each function is granted and what it used");
  withNatsTarget(
    permissions
      .command("report")
      .description(
        "granted vs used per function, unused grants and refused calls (.palisade/usage.db, or every node's with --nats)",
      )
      .option("--app <dir>", "app directory", ".")
      .option("--json", "print a JSON array"),
  ).action(async (opts: { app: string; json?: boolean } & OperatorNatsFlags) => {
    setExit(await runPermissionsReport(opts));
  });
  withNatsTarget(
    permissions
      .command("suggest")
      .description(
        "the smallest manifest covering recorded use, as a diff of palisade.yaml: drops emit types, secrets, egress entries and kv namespaces not used in the last --days days, narrows readwrite kv grants that only read to read; never adds a grant (refused calls are listed); limits, tmp and allowCodeGeneration are not suggested (their use is not recorded)",
      )
      .option("--write", "edit palisade.yaml in place (atomically, comments kept) and check it still loads")
      .option(
        "--force",
        "with --write: also remove access used before the window, and every grant of a function with no recorded use at all (refused without it)",
      )
      .option(
        "--days <n>",
        "grants used within this many days are kept",
        (v) => parsePositive(v, "--days"),
        DEFAULT_SUGGEST_DAYS,
      )
      .option("--function <name>", "only this function")
      .option("--app <dir>", "app directory", ".")
      .option("--json", "print the suggestion, the diff and the new manifest as JSON")
      .addHelpText("after", SUGGEST_RULE),
  ).action(async (opts: SuggestOptions) => {
    setExit(await runPermissionsSuggest(opts));
  });

  withAdminUrl(
    withNatsTarget(
      program
        .command("traces")
        .description(
          "recent traces (.palisade/traces.db, or every node's with --nats), or one trace as a span tree",
        )
        .option("--id <traceId>", "show this trace's spans as a tree")
        .option("--limit <n>", "how many recent traces", (v) => parsePositive(v, "--limit"), 20)
        .option("--app <dir>", "app directory", ".")
        .option("--json", "print spans as JSON"),
    ),
  ).action(async (opts: { app: string; id?: string; json?: boolean; limit: number } & Flags) => {
    setExit(await remoteOr(opts, remoteTraces, runTraces));
  });

  const audit = program
    .command("audit")
    .description("the tamper-evident audit log of security decisions (.palisade/audit.db)");
  withAdminUrl(withNatsTarget(audit.command("verify")))
    .description(
      "check the hash chain and its signed checkpoints (with --nats: every node's); exit 1 naming the first bad record",
    )
    .option("--app <dir>", "app directory", ".")
    .option("--anchor <file>", "also check the log still holds the signed head printed by audit anchor")
    .option("--json", "print the result as JSON")
    .action(async (opts: { app: string; json?: boolean; anchor?: string } & Flags) => {
      setExit(await remoteOr(opts, remoteAuditVerify, runAuditVerifyAnywhere));
    });
  withNatsTarget(audit.command("anchor"))
    .description(
      "sign the log's head (with --nats: take every node's newest signed checkpoint) and print it as JSON, to keep where this host cannot write",
    )
    .option("--app <dir>", "app directory", ".")
    .option("--json", "print JSON (the anchor is one line of JSON either way)")
    .action(async (opts: { app: string; json?: boolean } & OperatorNatsFlags) => {
      setExit(await runAuditAnchorAnywhere(opts));
    });
  withAdminUrl(withNatsTarget(audit.command("tail")))
    .description(
      "print the newest records (with --nats: every node's, by time); with -f, keep printing new ones until Ctrl-C",
    )
    .option("-n, --lines <n>", "how many records to show first", (v) => parsePositive(v, "--lines"), 20)
    .option("-f, --follow", "keep printing records as they are written")
    .option("--json", "print JSON Lines")
    .option("--app <dir>", "app directory", ".")
    .action(async (opts: { app: string; lines: number; follow?: boolean; json?: boolean } & Flags) => {
      setExit(await remoteOr(opts, remoteAuditTail, runAuditTail));
    });
  withNatsTarget(audit.command("export"))
    .description("print every record written since a time as JSON Lines (with --nats: every node's, by time)")
    .requiredOption("--since <time>", "ISO 8601 time, or a duration ago such as 2h or 7d")
    .option("--app <dir>", "app directory", ".")
    .action(async (opts: { app: string; since: string } & OperatorNatsFlags) => {
      setExit(await runAuditExport(opts));
    });

  const secrets = program
    .command("secrets")
    .description("the app's secret store (API keys, webhook secrets)");
  withNatsTarget(secrets.command("set"))
    .description("store a secret; the value comes from --value or standard input")
    .argument("<name>", "secret name: upper-case letters, digits and _")
    .option("--app <dir>", "app directory", ".")
    .option("--value <value>", "the value (prefer stdin: command lines end up in shell history)")
    .option("--json", "print the result as JSON (never the value)")
    .action(
      async (name: string, opts: { app: string; value?: string; json?: boolean } & OperatorNatsFlags) => {
        setExit(await runSecretsSet(name, opts));
      },
    );
  withAdminUrl(withNatsTarget(secrets.command("list")))
    .description("list secret names (never values)")
    .option("--app <dir>", "app directory", ".")
    .option("--json", "print a JSON array")
    .action(async (opts: { app: string; json?: boolean } & Flags) => {
      setExit(await remoteOr(opts, remoteSecretsList, runSecretsList));
    });
  withNatsTarget(secrets.command("get"))
    .description(
      "say whether a secret is set; with --reveal, print its value to a terminal (audited as secret.read)",
    )
    .argument("<name>", "secret name")
    .option("--app <dir>", "app directory", ".")
    .option("--reveal", "print the value; only to a terminal, unless --to-pipe")
    .option(
      "--to-pipe",
      "with --reveal: print the value though standard output is a pipe or a file (for $(…) in scripts)",
    )
    .option("--json", "print JSON: { name, value (with --reveal), previousValidUntil (mid-rotation) }")
    .action(async (name: string, opts: SecretsGetOptions) => {
      setExit(await runSecretsGet(name, opts));
    });
  withNatsTarget(secrets.command("rm"))
    .description("remove a secret")
    .argument("<name>", "secret name")
    .option("--app <dir>", "app directory", ".")
    .option("--json", "print the result as JSON")
    .action(async (name: string, opts: { app: string; json?: boolean } & OperatorNatsFlags) => {
      setExit(await runSecretsRm(name, opts));
    });

  withNatsTarget(secrets.command("rotate"))
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
    .option("--json", "print the result as JSON (never the value)")
    .action(
      async (
        name: string,
        opts: { app: string; value?: string; grace: number; json?: boolean } & OperatorNatsFlags,
      ) => {
        setExit(await runSecretsRotate(name, opts));
      },
    );

  const keys = program.command("keys").description("the key ring that encrypts the app's data at rest");
  withNatsTarget(keys.command("rotate"))
    .description(
      "new data key for all new writes, then re-encrypt every record on an older key (progress on a terminal)",
    )
    .option("--resume", "only finish re-encrypting (after an interrupted rotate)")
    .option("--app <dir>", "app directory", ".")
    .option("--json", "print JSON: { rotated, active, reencrypted }")
    .action(async (opts: { app: string; resume?: boolean; json?: boolean } & OperatorNatsFlags) => {
      setExit(await runKeysRotate(opts));
    });
  withAdminUrl(withNatsTarget(keys.command("status")))
    .description("data key versions and how many records each seals")
    .option("--app <dir>", "app directory", ".")
    .option("--json", "print JSON")
    .action(async (opts: { app: string; json?: boolean } & Flags) => {
      setExit(await remoteOr(opts, remoteKeysStatus, runKeysStatus));
    });
  withNatsTarget(keys.command("retire"))
    .description("delete an old data key; refused while any record still uses it")
    .argument("<version>", "data key version")
    .option("--app <dir>", "app directory", ".")
    .option("--json", "print JSON: { retired }")
    .action(async (version: string, opts: { app: string; json?: boolean } & OperatorNatsFlags) => {
      setExit(await runKeysRetire(version, opts));
    });

  keys
    .command("event-key")
    .description(
      "the key the platform signs its events with (emits, platform events, sink deliveries); --json prints every one the app has had as a JWKS for receivers",
    )
    .option("--app <dir>", "app directory", ".")
    .option("--rotate", "make a new event key for the next start; earlier key ids stay verifiable")
    .option("--json", "print JSON: { keyid, keys: [JWK...] }")
    .action(async (opts: { app: string; rotate?: boolean; json?: boolean }) => {
      setExit(await runEventKey(opts));
    });

  const dlq = program
    .command("dlq")
    .description("the dead-letter queue: deliveries that will not be retried");
  withAdminUrl(withNatsTarget(dlq.command("list")))
    .description("list dead-lettered deliveries, newest first, with their reason")
    .option("--app <dir>", "app directory", ".")
    .option("--limit <n>", "most rows to show", (v) => parsePositive(v, "--limit"), 100)
    .option("--json", "print a JSON array")
    .action(async (opts: { app: string; json?: boolean; limit: number } & Flags) => {
      setExit(await remoteOr(opts, remoteDlqList, runDlqList));
    });

  withAdminUrl(withNatsTarget(dlq.command("replay")))
    .description("move dead letters back to pending, after checking each against the app as it is now")
    .argument("[eventId]", "the event whose dead letters to replay")
    .option("--all", "replay every dead letter")
    .option("--function <name>", "only dead letters of this function")
    .option("--app <dir>", "app directory", ".")
    .option("--json", "print JSON: { matched, requeued, refused }")
    .action(
      async (
        eventId: string | undefined,
        opts: { app: string; all?: boolean; function?: string; json?: boolean } & Flags,
      ) => {
        setExit(
          await remoteOr(
            opts,
            (o) => remoteDlqReplay(eventId, o),
            (o) => runDlqReplay(eventId, o),
          ),
        );
      },
    );

  withNatsTarget(program.command("cost"))
    .description(
      "spend per function and per principal on one UTC day, by the cost model (cost.prices), next to their budgets (limits.costPerDay, principals.<p>.costPerDay)",
    )
    .option("--day <YYYY-MM-DD>", "the UTC day (default: today)")
    .option("--app <dir>", "app directory", ".")
    .option("--json", "print JSON: { day, rows }")
    .action(async (opts: { app: string; day?: string; json?: boolean } & OperatorNatsFlags) => {
      setExit(await runCost(opts));
    });

  const quarantine = program
    .command("quarantine")
    .description(
      "functions, principals, chains and capability targets a detector or an operator held: their deliveries wait, pending, never dropped (a chain is root:<principal>/<id>, a capability target capability:<function>/<kind>:<target>)",
    );
  withAdminUrl(withNatsTarget(quarantine.command("list")))
    .description(
      "quarantined functions and held principals, chains and capability targets, with the finding behind each and the deliveries it holds",
    )
    .option("--app <dir>", "app directory", ".")
    .option("--limit <n>", "most held event ids to show per scope", (v) => parsePositive(v, "--limit"), 100)
    .option("--json", "print a JSON array")
    .action(async (opts: { app: string; json?: boolean; limit: number } & Flags) => {
      setExit(await remoteOr(opts, remoteQuarantineList, runQuarantineList));
    });
  withAdminUrl(withNatsTarget(quarantine.command("hold")))
    .description(
      "the kill switch: quarantine a function now (its work in flight stops, its deliveries wait), hold a principal (principal:<name>: its requests get 429, its chains' work waits), or hold one capability target of a function (capability:<function>/<kind>:<target>: calls to it are not made, their deliveries wait; the rest runs) until release",
    )
    .argument(
      "<scope>",
      "the function to hold, principal:<name>, or capability:<function>/<kind>:<target> (e.g. capability:checkout/egress:https://api.example.com)",
    )
    .option("--reason <text>", "why (kept in the finding and the audit log)")
    .option("--app <dir>", "app directory", ".")
    .option("--json", "print the result as JSON")
    .action(async (fn: string, opts: { app: string; json?: boolean; reason?: string } & Flags) => {
      setExit(
        await remoteOr(
          opts,
          (o) => remoteQuarantineChange("hold", fn, o),
          (o) => runQuarantineHold(fn, o),
        ),
      );
    });
  withAdminUrl(withNatsTarget(quarantine.command("release")))
    .description(
      "lift a quarantine or a hold: the held deliveries run, oldest first, each once (a principal's requests are accepted again)",
    )
    .argument(
      "<scope>",
      "the quarantined function, principal:<name>, a held chain as root:<principal>/<id>, or capability:<function>/<kind>:<target>",
    )
    .option("--app <dir>", "app directory", ".")
    .option("--json", "print the result as JSON")
    .action(async (fn: string, opts: { app: string; json?: boolean } & Flags) => {
      setExit(
        await remoteOr(
          opts,
          (o) => remoteQuarantineChange("release", fn, o),
          (o) => runQuarantineRelease(fn, o),
        ),
      );
    });
  withNatsTarget(quarantine.command("discard"))
    .description(
      "dead-letter the held deliveries of a quarantined function or a held capability target (either stays held), or of a held chain (reason quarantined)",
    )
    .argument(
      "<scope>",
      "the quarantined function, a held chain as root:<principal>/<id>, or capability:<function>/<kind>:<target>",
    )
    .option("--app <dir>", "app directory", ".")
    .option("--json", "print the result as JSON")
    .action(async (fn: string, opts: { app: string; json?: boolean } & OperatorNatsFlags) => {
      setExit(await runQuarantineDiscard(fn, opts));
    });

  withAdminUrl(withNatsTarget(program.command("replay")))
    .description(
      "deliver archived events again (original ids, marked as replays), checked against the app as it is now",
    )
    .requiredOption("--since <time>", "ISO 8601 time, or a duration ago such as 2h or 7d")
    .option("--until <time>", "ISO 8601 time, or a duration ago (default: now)")
    .option("--type <type>", "only this event type (or prefix.*)")
    .option("--function <name>", "only to this function")
    .option("--app <dir>", "app directory", ".")
    .option("--json", "print JSON: { events, replayed, refused, skipped }")
    .action(
      async (
        opts: {
          app: string;
          since: string;
          until?: string;
          type?: string;
          function?: string;
          json?: boolean;
        } & Flags,
      ) => {
        setExit(await remoteOr(opts, remoteReplay, runReplay));
      },
    );
}

/** The flags of a command that works on the app's files, a NATS deployment, or a gateway's admin API. */
type Flags = OperatorNatsFlags & AdminUrlFlags;

/** Runs `remote` when `--url` (or PALISADE_URL) names a gateway, else `local`. */
function remoteOr<T extends Flags>(
  opts: T,
  remote: (opts: T & { url: string }) => Promise<number>,
  local: (opts: T) => Promise<number> | number,
): Promise<number> | number {
  if (opts.url === undefined) return local(opts);
  if (opts.nats !== undefined)
    throw usageError("Give --url (a gateway's admin API) or --nats (the deployment's store), not both");
  return remote(opts as T & { url: string });
}
