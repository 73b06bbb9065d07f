/**
 * The on-disk form of the secret store. Since issue 12 it is
 * `{ "generation": N, "head": <sealed>, "secrets": { NAME: { value, previous?, previousUntil? } } }`:
 * every write raises the generation by one, each value is sealed with the generation (and a previous
 * value with the end of its grace period) in its associated data, and `head` seals the generation
 * with the sorted list of names. So a value copied from an older file does not open, a removed or
 * added entry no longer matches the head, and an older file as a whole shows its older generation,
 * which the store compares with the newest one seen or recorded elsewhere (see secret-store.ts).
 * A file of the first encrypted format (a flat map of names, no generation) reads as generation 0.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { PalisadeError } from "../errors.ts";
import { SECURITY_SEAL_BROKEN } from "./errors.ts";
import type { Sealer } from "./key-ring.ts";

export interface SecretEntry {
  value: string;
  previous?: string;
  previousUntil?: number;
}

/** One read of the file: its generation and its sealed entries. */
export interface SecretsSnapshot {
  generation: number;
  entries: Record<string, SecretEntry>;
}

const HEAD_RECORD = "secrets-head";

/** Associated data of a secret's current value in a file of generation `generation`. */
export const valueRecord = (name: string, generation: number): string =>
  generation === 0 ? `secret:${name}` : `secret:${name}\0generation:${generation}`;

/** Associated data of a secret's previous value (in its grace period until `until`). */
export const previousRecord = (name: string, generation: number, until: number | undefined): string =>
  generation === 0
    ? `secret-previous:${name}`
    : `secret-previous:${name}\0generation:${generation}\0until:${until}`;

/** Reads `file`; undefined if there is none. Throws SECURITY_SEAL_BROKEN if its head does not match. */
export function readSecretsFile(file: string, sealer: Sealer): SecretsSnapshot | undefined {
  if (!existsSync(file)) return undefined;
  return parseSecrets(readFileSync(file, "utf8"), sealer, `"${file}"`);
}

/**
 * The snapshot in `text` (the JSON of a secrets file, or of a shared store's document); `where`
 * names it in errors. Throws SECURITY_SEAL_BROKEN if its head does not match.
 */
export function parseSecrets(text: string, sealer: Sealer, where: string): SecretsSnapshot {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw broken(where, "it is not JSON", err);
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw))
    throw broken(where, "it is not an object");
  const r = raw as Record<string, unknown>;
  if (typeof r.generation !== "number")
    return { generation: 0, entries: checkEntries(where, legacyEntries(r)) };
  const entries = checkEntries(where, r.secrets ?? {});
  const generation = r.generation;
  let head: { generation?: unknown; names?: unknown };
  try {
    head = JSON.parse(sealer.open(String(r.head), HEAD_RECORD));
  } catch (err) {
    throw broken(where, "its head does not open", err);
  }
  if (head.generation !== generation || JSON.stringify(head.names) !== JSON.stringify(namesOf(entries)))
    throw broken(where, "its entries or generation differ from what its sealed head lists");
  return { generation, entries };
}

/**
 * Writes `entries` (values in plaintext) as generation `generation`, sealing each value: write then
 * rename, so a crash leaves the old file or the new one.
 */
export function writeSecretsFile(
  file: string,
  sealer: Sealer,
  generation: number,
  plain: Record<string, SecretEntry>,
): SecretsSnapshot {
  const { text, snapshot } = sealSecrets(sealer, generation, plain);
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text, { mode: 0o600 });
  renameSync(tmp, file);
  return snapshot;
}

/** `plain` sealed as generation `generation`: the JSON text to store and the snapshot it reads as. */
export function sealSecrets(
  sealer: Sealer,
  generation: number,
  plain: Record<string, SecretEntry>,
): { text: string; snapshot: SecretsSnapshot } {
  const entries: Record<string, SecretEntry> = {};
  for (const [name, e] of Object.entries(plain)) {
    entries[name] = { value: sealer.seal(e.value, valueRecord(name, generation)) };
    if (e.previous !== undefined)
      Object.assign(entries[name], {
        previous: sealer.seal(e.previous, previousRecord(name, generation, e.previousUntil)),
        previousUntil: e.previousUntil,
      });
  }
  const head = sealer.seal(JSON.stringify({ generation, names: namesOf(entries) }), HEAD_RECORD);
  const text = `${JSON.stringify({ generation, head, secrets: entries }, null, 2)}\n`;
  return { text, snapshot: { generation, entries } };
}

/** Every entry of `snapshot` with its values opened. */
export function openEntries(snapshot: SecretsSnapshot, sealer: Sealer): Record<string, SecretEntry> {
  const plain: Record<string, SecretEntry> = {};
  for (const [name, e] of Object.entries(snapshot.entries)) {
    plain[name] = { value: sealer.open(e.value, valueRecord(name, snapshot.generation)) };
    if (e.previous !== undefined)
      Object.assign(plain[name], {
        previous: sealer.open(e.previous, previousRecord(name, snapshot.generation, e.previousUntil)),
        previousUntil: e.previousUntil,
      });
  }
  return plain;
}

function checkEntries(where: string, raw: unknown): Record<string, SecretEntry> {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw))
    throw broken(where, "its secrets are not an object");
  for (const [name, e] of Object.entries(raw)) {
    const entry = e as Partial<Record<keyof SecretEntry, unknown>> | null;
    const fine =
      typeof entry === "object" &&
      entry !== null &&
      typeof entry.value === "string" &&
      (entry.previous === undefined || typeof entry.previous === "string") &&
      (entry.previousUntil === undefined || typeof entry.previousUntil === "number");
    if (!fine) throw broken(where, `its entry "${name}" is malformed`);
  }
  return raw as Record<string, SecretEntry>;
}

function namesOf(entries: Record<string, SecretEntry>): string[] {
  return Object.keys(entries).sort();
}

// The first encrypted format: a flat map; a plain string (from before encryption, or planted) is
// refused when opened.
function legacyEntries(raw: Record<string, unknown>): Record<string, SecretEntry> {
  return Object.fromEntries(
    Object.entries(raw).map(([name, entry]) => [
      name,
      typeof entry === "string" ? { value: entry } : (entry as SecretEntry),
    ]),
  );
}

function broken(where: string, why: string, cause?: unknown): PalisadeError {
  return new PalisadeError(
    SECURITY_SEAL_BROKEN,
    `Cannot read the secret store ${where}: ${why}; it was changed outside palisade. Restore it from a backup, or remove it and set every secret again`,
    cause === undefined ? {} : { cause },
  );
}
