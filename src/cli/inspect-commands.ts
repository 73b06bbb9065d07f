/**
 * The read-only inspection commands: `events` (the log with each delivery's state), `schemas` (the
 * stored versions of each event type's schema) and `kv` (the functions' key-value store). Each
 * implementation is imported when its command runs, so defining them loads only commander.
 */
import type { Command } from "commander";
import { type AdminUrlFlags, withAdminUrl } from "./admin-client.ts";
import type { EventsListOptions } from "./commands/events.ts";
import type { KvGetOptions, KvListOptions } from "./commands/kv.ts";
import { lazy } from "./lazy.ts";
import { type OperatorNatsFlags, withNatsTarget } from "./nats-flags.ts";
import { parsePositive } from "./parse-positive.ts";

const eventsCommands = () => import("./commands/events.ts");
const schemasCommands = () => import("./commands/schemas.ts");
const kvCommands = () => import("./commands/kv.ts");
const runEventsList = lazy(eventsCommands, "runEventsList");
const runEventsShow = lazy(eventsCommands, "runEventsShow");
const runSchemasList = lazy(schemasCommands, "runSchemasList");
const runSchemasShow = lazy(schemasCommands, "runSchemasShow");
const runSchemasDiff = lazy(schemasCommands, "runSchemasDiff");
const runKvList = lazy(kvCommands, "runKvList");
const runKvGet = lazy(kvCommands, "runKvGet");

/** Adds `events list|show`, `schemas list|show|diff` and `kv list|get` to `program`. */
export function addInspectCommands(program: Command, setExit: (code: number) => void): void {
  addEventsCommands(program, setExit);
  addSchemasCommands(program, setExit);
  addKvCommands(program, setExit);
}

function addEventsCommands(program: Command, setExit: (code: number) => void): void {
  const events = program
    .command("events")
    .description("the event log: events newest first with where each delivery stands (read-only)");
  withAdminUrl(withNatsTarget(events.command("list")))
    .description("events newest first, each with its delivery state per function")
    .option("--type <type>", "only this event type (or prefix.*)")
    .option("--since <time>", "only events accepted since: ISO 8601 time, or a duration ago such as 2h or 7d")
    .option("--principal <name>", "only events from this principal (or webhook:<path>, function:<name>)")
    .option("--limit <n>", "most events to show", (v) => parsePositive(v, "--limit"), 50)
    .option(
      "--before <cursor>",
      "page on: only events older than this cursor (printed after a full page)",
      (v) => parsePositive(v, "--before"),
    )
    .option("--app <dir>", "app directory", ".")
    .option("--json", "print JSON: { events, next }")
    .action(async (opts: EventsListOptions) => {
      setExit(await runEventsList(opts));
    });
  withAdminUrl(withNatsTarget(events.command("show")))
    .description(
      "one event: its envelope and data, each delivery's state, attempts and error (with the function's stack), earlier outcomes replays started over, and its trace id",
    )
    .argument("<id>", "event id")
    .option("--app <dir>", "app directory", ".")
    .option("--json", "print JSON: { id, copies, traceId, deliveries, history }")
    .action(async (id: string, opts: { app: string; json?: boolean } & OperatorNatsFlags & AdminUrlFlags) => {
      setExit(await runEventsShow(id, opts));
    });
}

function addSchemasCommands(program: Command, setExit: (code: number) => void): void {
  const schemas = program
    .command("schemas")
    .description("the stored versions of each event type's schema (.palisade/schemas.db, read-only)");
  schemas
    .command("list")
    .description("every event type with its registered versions, newest last")
    .option("--app <dir>", "app directory", ".")
    .option("--json", "print a JSON array: [{ type, latest, versions }]")
    .action(async (opts: { app: string; json?: boolean }) => {
      setExit(await runSchemasList(opts));
    });
  schemas
    .command("show")
    .description("one version of a type's schema (default: the latest), pretty-printed")
    .argument("<type>", "event type")
    .argument("[version]", "version number, such as 2 or v2")
    .option("--app <dir>", "app directory", ".")
    .option("--json", "print JSON: { type, version, digest, registeredAt, schema }")
    .action(async (type: string, version: string | undefined, opts: { app: string; json?: boolean }) => {
      setExit(await runSchemasShow(type, version, opts));
    });
  schemas
    .command("diff")
    .description(
      "a unified diff of two versions of a type's schema (default: the last two; one version: it against the latest) and whether the newer accepts every event the older did",
    )
    .argument("<type>", "event type")
    .argument("[v1]", "the older version")
    .argument("[v2]", "the newer version (default: the latest)")
    .option("--app <dir>", "app directory", ".")
    .option("--json", "print JSON: { type, from, to, diff, compatible, breaking }")
    .action(
      async (
        type: string,
        v1: string | undefined,
        v2: string | undefined,
        opts: { app: string; json?: boolean },
      ) => {
        setExit(await runSchemasDiff(type, v1, v2, opts));
      },
    );
}

function addKvCommands(program: Command, setExit: (code: number) => void): void {
  const kv = program
    .command("kv")
    .description("the functions' key-value store (.palisade/kv.db, ctx.kv) on this machine, read-only");
  kv.command("list")
    .description("keys per namespace, with the functions granted each (values: kv get)")
    .option("--function <name>", "only the namespaces this function is granted")
    .option("--namespace <ns>", "only this namespace")
    .option("--prefix <p>", "only keys starting with this")
    .option("--limit <n>", "most keys to show per namespace", (v) => parsePositive(v, "--limit"), 1000)
    .option("--app <dir>", "app directory", ".")
    .option("--json", "print a JSON array: [{ namespace, grants, keys, next }]")
    .action(async (opts: KvListOptions) => {
      setExit(await runKvList(opts));
    });
  kv.command("get")
    .description(
      "one value, decrypted, as the function reads it (audited as kv.read: values may be sensitive)",
    )
    .argument("<function>", "the function whose namespace to read")
    .argument("<key>", "the key")
    .option("--namespace <ns>", "which of the function's namespaces (needed when it has more than one)")
    .option("--app <dir>", "app directory", ".")
    .option("--json", "print JSON: { function, namespace, key, value }")
    .action(async (fn: string, key: string, opts: KvGetOptions) => {
      setExit(await runKvGet(fn, key, opts));
    });
}
