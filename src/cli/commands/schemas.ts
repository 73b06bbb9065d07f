import { join } from "node:path";
import { loadApp } from "../../manifest/index.ts";
import {
  checkCompatibility,
  type RegisteredSchema,
  readSchemaHistory,
  SCHEMAS_FILE,
} from "../../schema/index.ts";
import { EXIT_OK } from "../exit-codes.ts";
import { unifiedDiff } from "../unified-diff.ts";
import { usageError } from "../usage-error.ts";

type Options = { app: string; json?: boolean };

/** What `palisade schemas diff` reports. */
export interface SchemaDiff {
  readonly type: string;
  readonly from: number;
  readonly to: number;
  /** Unified diff of the two schemas pretty-printed; "" when they are the same. */
  readonly diff: string;
  /** Whether `to` accepts every event `from` accepted (the check `dev` and `start` make). */
  readonly compatible: boolean;
  /** Why not: each way `to` may reject an event `from` accepted. */
  readonly breaking: readonly string[];
}

/**
 * `palisade schemas list`: each event type with its stored versions (`.palisade/schemas.db`, which
 * `dev` and `start` register the manifest's schemas in), read-only.
 */
export async function runSchemasList(opts: Options): Promise<number> {
  const app = loadApp(opts.app);
  const byType = groupByType(readSchemaHistory(join(app.dataDir, SCHEMAS_FILE)));
  const rows = [...byType].map(([type, versions]) => ({
    type,
    latest: versions.at(-1)?.version ?? 0,
    inManifest: app.events.has(type),
    versions: versions.map(({ version, digest, registeredAt }) => ({ version, digest, registeredAt })),
  }));
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(rows)}\n`);
    return EXIT_OK;
  }
  if (rows.length === 0) process.stdout.write(`no schemas registered yet (${REGISTERED_BY})\n`);
  const width = Math.max(0, ...rows.map((r) => r.type.length));
  for (const r of rows) {
    const at = new Date(r.versions.at(-1)?.registeredAt ?? 0).toISOString();
    process.stdout.write(
      `${r.type.padEnd(width)}  v${r.latest}  ${r.versions.length} version(s), latest registered ${at}${r.inManifest ? "" : "  (no longer in palisade.yaml)"}\n`,
    );
  }
  return EXIT_OK;
}

/** `palisade schemas show <type> [version]`: one stored version (default: the latest), pretty-printed. */
export async function runSchemasShow(
  type: string,
  version: string | undefined,
  opts: Options,
): Promise<number> {
  const versions = versionsOf(opts.app, type);
  const found = version === undefined ? versions.at(-1) : pick(versions, type, version);
  if (found === undefined) throw usageError(`Event type "${type}" has no stored version`);
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(found)}\n`);
    return EXIT_OK;
  }
  process.stdout.write(
    `${type} v${found.version} of ${versions.length}, registered ${new Date(found.registeredAt).toISOString()}, sha256 ${found.digest}\n${pretty(found.schema)}\n`,
  );
  return EXIT_OK;
}

/**
 * `palisade schemas diff <type> [v1 [v2]]`: a unified diff of two stored versions (default: the
 * last two; with only v1, it against the latest) and the compatibility verdict from v1 to v2.
 */
export async function runSchemasDiff(
  type: string,
  v1: string | undefined,
  v2: string | undefined,
  opts: Options,
): Promise<number> {
  const versions = versionsOf(opts.app, type);
  if (v1 === undefined && versions.length < 2)
    throw usageError(
      `Event type "${type}" has only v1 stored: nothing to diff (a changed schema is registered as v2 at the next dev or start)`,
    );
  const from = v1 === undefined ? versions.at(-2) : pick(versions, type, v1);
  const to = v2 === undefined ? versions.at(-1) : pick(versions, type, v2);
  if (from === undefined || to === undefined) throw usageError(`Event type "${type}" has no stored version`);
  const breaking = checkCompatibility(from.schema, to.schema);
  const result: SchemaDiff = {
    type,
    from: from.version,
    to: to.version,
    diff: unifiedDiff(pretty(from.schema), pretty(to.schema), {
      from: `${type} v${from.version}`,
      to: `${type} v${to.version}`,
    }),
    compatible: breaking.length === 0,
    breaking,
  };
  if (opts.json) process.stdout.write(`${JSON.stringify(result)}\n`);
  else process.stdout.write(diffText(result));
  return EXIT_OK;
}

function diffText(d: SchemaDiff): string {
  const body = d.diff === "" ? `v${d.from} and v${d.to} are the same schema\n` : d.diff;
  const verdict = d.compatible
    ? `compatible: v${d.to} accepts every event v${d.from} accepted\n`
    : `breaking: v${d.to} may reject events v${d.from} accepted:\n${d.breaking.map((r) => `  ${r}\n`).join("")}`;
  return `${body}${verdict}`;
}

const REGISTERED_BY = "dev and start register the manifest's schemas in .palisade/schemas.db";

/** The stored versions of `type`, oldest first; a usage error naming the stored types when none. */
function versionsOf(appDir: string, type: string): RegisteredSchema[] {
  const app = loadApp(appDir);
  const byType = groupByType(readSchemaHistory(join(app.dataDir, SCHEMAS_FILE)));
  const versions = byType.get(type);
  if (versions !== undefined) return versions;
  const known = [...byType.keys()];
  throw usageError(
    known.length === 0
      ? `No schema of event type "${type}" is stored: none are yet (${REGISTERED_BY})`
      : `No schema of event type "${type}" is stored; stored types: ${known.map((t) => `"${t}"`).join(", ")}`,
  );
}

/** Version `text` (`2` or `v2`) of `type`; a usage error naming the stored versions when absent. */
function pick(versions: readonly RegisteredSchema[], type: string, text: string): RegisteredSchema {
  const m = /^v?(\d+)$/i.exec(text);
  if (m === null) throw usageError(`"${text}" is not a schema version; give a number such as 2 or v2`);
  const found = versions.find((v) => v.version === Number(m[1]));
  if (found !== undefined) return found;
  throw usageError(
    `Event type "${type}" has no version ${m[1]}; stored versions: ${versions.map((v) => `v${v.version}`).join(", ")}`,
  );
}

function groupByType(all: readonly RegisteredSchema[]): Map<string, RegisteredSchema[]> {
  const byType = new Map<string, RegisteredSchema[]>();
  for (const s of all) byType.set(s.type, [...(byType.get(s.type) ?? []), s]);
  return byType;
}

function pretty(schema: object): string {
  return JSON.stringify(schema, null, 2);
}
