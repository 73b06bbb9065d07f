/**
 * `palisade permissions suggest [--write] [--force]`: the smallest manifest that still covers the
 * capability use recorded in `.palisade/usage.db` (or, with `--nats`, the deployment's bucket),
 * shown as a diff of palisade.yaml and, with `--write`, written in place with its comments.
 *
 * It only ever removes: an emit type, secret, egress entry or kv namespace not used in the last
 * `--days` days is dropped, and a `readwrite` kv grant that only read in that window becomes `read`.
 * Refused calls are listed, never granted. Removing access the function did use once (before the
 * window), or anything from a function with no recorded use at all, can break it the next time a
 * rare path runs, so `--write` refuses those changes unless `--force`.
 *
 * Not suggested, because usage.db does not record what they would need: `limits` (it counts calls
 * per grant, not durations, memory, concurrency, rates or sizes), `tmp` and `allowCodeGeneration`.
 */
import { randomUUID } from "node:crypto";
import {
  closeSync,
  fsyncSync,
  openSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { egressTarget } from "../../admin/index.ts";
import { auditCommand } from "../../app-files.ts";
import { AUDIT_KIND } from "../../audit/index.ts";
import { PalisadeError, toPalisadeError } from "../../errors.ts";
import {
  type AppModel,
  editGrants,
  type FunctionSpec,
  type GrantKind,
  loadApp,
  MANIFEST_EDIT_REFUSED,
  MANIFEST_FILE,
} from "../../manifest/index.ts";
import type { CapabilityKind, UsageRow } from "../../security/index.ts";
import { EXIT_OK } from "../exit-codes.ts";
import type { OperatorNatsFlags } from "../nats-target.ts";
import { unifiedDiff } from "../unified-diff.ts";
import { usageError } from "../usage-error.ts";
import { usageRows } from "./permissions.ts";

export { DEFAULT_SUGGEST_DAYS, SUGGEST_RULE } from "./suggest-rule.ts";

/** `--write` would remove access that was used, or that nothing was ever seen to use. */
export const SUGGEST_REFUSED = "PAL_CLI_SUGGEST_REFUSED";
/** The edited manifest did not load (the original was put back), or could not be edited safely. */
export const SUGGEST_FAILED = "PAL_CLI_SUGGEST_FAILED";

const DAY_MS = 86_400_000;

/** What usage.db cannot support a suggestion for, and why; printed with every suggestion. */
export const NOT_SUGGESTED =
  "limits, tmp and allowCodeGeneration (usage.db counts calls per grant; it records no durations, memory, concurrency, rates, sizes or scratch-space use to size them by)";

/** A grant to remove (or, for `narrow`, the write access of a kv grant). */
export interface GrantChange {
  kind: GrantKind;
  /** As written in palisade.yaml: event type, secret name, egress entry or kv namespace. */
  grant: string;
  /** Last recorded use (for `narrow`: the last write), ISO 8601; null: never. */
  lastUsedAt: string | null;
  uses: number;
  /** `never-used`, or `stale`: used, but not within the window. */
  reason: "never-used" | "stale";
}

export interface FunctionSuggestion {
  fn: string;
  /** Some capability use was recorded for this function (otherwise nothing says what it needs). */
  observed: boolean;
  drop: GrantChange[];
  /** `readwrite` kv grants that only read within the window: suggested `read`. */
  narrow: (GrantChange & { kind: "kv"; from: "readwrite"; to: "read" })[];
  /** Calls the grants refused: shown for information, never turned into grants. */
  refused: { kind: CapabilityKind; target: string; count: number; lastAt: string; reason: string | null }[];
}

export interface SuggestOptions extends OperatorNatsFlags {
  app: string;
  days: number;
  function?: string;
  write?: boolean;
  force?: boolean;
  json?: boolean;
}

/**
 * `palisade permissions suggest`: prints the suggestion and the diff of palisade.yaml; with `write`,
 * edits the file in place (atomically, comments kept), checks it still loads, and audits the change.
 */
export async function runPermissionsSuggest(opts: SuggestOptions): Promise<number> {
  const app = loadApp(resolve(opts.app));
  const fns = selectFunctions(app, opts.function);
  const before = readFileSync(app.manifestPath, "utf8");
  const windowStart = Date.now() - opts.days * DAY_MS;
  const rows = await usageRows(app, opts);
  const suggestions = fns.map((fn) => suggestPermissions(fn, rows, windowStart));
  const after = applySuggestions(before, suggestions);
  const guarded = guardedChanges(suggestions, opts.days);
  const refuse = opts.write === true && after !== before && guarded.length > 0 && opts.force !== true;
  const write = opts.write === true && after !== before && !refuse;
  if (write) writeManifest(app, before, after);
  const name = basename(app.manifestPath);
  const diff = unifiedDiff(before, after, { from: name, to: `${name} (suggested)` });
  if (opts.json) {
    const out = { days: opts.days, windowStart: iso(windowStart), functions: suggestions, guarded };
    const rest = { notSuggested: NOT_SUGGESTED, diff, manifest: after, written: write };
    process.stdout.write(`${JSON.stringify({ ...out, ...rest })}\n`);
  } else printSuggestion(suggestions, diff, guarded, opts, windowStart);
  if (refuse) throw refusal(guarded);
  if (write) {
    auditCommand(app.dir, {
      kind: AUDIT_KIND.permissionsNarrowed,
      subject: MANIFEST_FILE,
      outcome: "info",
      details: { changes: changeList(suggestions), forced: guarded.length > 0, days: opts.days },
    });
    if (!opts.json) process.stdout.write(`Wrote ${app.manifestPath} (it loads; comments kept).\n`);
  }
  return EXIT_OK;
}

function selectFunctions(app: AppModel, name: string | undefined): FunctionSpec[] {
  if (name === undefined) return [...app.functions.values()];
  const fn = app.functions.get(name);
  if (fn !== undefined) return [fn];
  const known = [...app.functions.keys()].map((n) => `"${n}"`).join(", ") || "none";
  throw usageError(
    `Cannot suggest permissions for function "${name}": ${MANIFEST_FILE} has no such function (it has ${known}); fix --function`,
  );
}

/**
 * What `fn` could lose and keep working as observed: grants with no use at or after `windowStart`
 * (ms) are dropped, `readwrite` kv grants with no write since then become `read`. Never adds.
 */
export function suggestPermissions(
  fn: FunctionSpec,
  rows: readonly UsageRow[],
  windowStart: number,
): FunctionSuggestion {
  const mine = rows.filter((r) => r.fn === fn.name);
  const used = mine.filter((r) => r.outcome === "used");
  const useOf = (kinds: readonly CapabilityKind[], target: string) => {
    const hits = used.filter((r) => kinds.includes(r.kind) && r.target === target);
    const lastAt = hits.length === 0 ? null : Math.max(...hits.map((r) => r.lastAt));
    return { uses: hits.reduce((n, r) => n + r.count, 0), lastAt };
  };
  type Use = ReturnType<typeof useOf>;
  const change = (kind: GrantKind, grant: string, use: Use): GrantChange => ({
    kind,
    grant,
    lastUsedAt: use.lastAt === null ? null : iso(use.lastAt),
    uses: use.uses,
    reason: use.lastAt === null ? "never-used" : "stale",
  });
  const recent = (use: Use) => use.lastAt !== null && use.lastAt >= windowStart;
  const grant = (kind: GrantKind, name: string, kinds: readonly CapabilityKind[], target: string) => ({
    kind,
    name,
    use: useOf(kinds, target),
  });
  const drop = [
    ...fn.emit.map((t) => grant("emit", t, ["emit"], t)),
    ...fn.secrets.map((n) => grant("secret", n, ["secret"], n)),
    ...fn.egress.map((r) => grant("egress", r.entry, ["egress"], egressTarget(r))),
    ...Object.keys(fn.kv).map((ns) => grant("kv", ns, ["kv-read", "kv-write"], ns)),
  ]
    .filter((g) => !recent(g.use))
    .map((g) => change(g.kind, g.name, g.use));
  const narrow: FunctionSuggestion["narrow"] = [];
  for (const [ns, mode] of Object.entries(fn.kv)) {
    const writes = useOf(["kv-write"], ns);
    // There is no write-only mode: a namespace that only wrote keeps readwrite.
    if (mode === "readwrite" && recent(useOf(["kv-read"], ns)) && !recent(writes))
      narrow.push({ ...change("kv", ns, writes), kind: "kv", from: "readwrite", to: "read" });
  }
  return {
    fn: fn.name,
    observed: used.length > 0,
    drop,
    narrow,
    refused: mine
      .filter((r) => r.outcome === "denied")
      .map((r) => ({
        kind: r.kind,
        target: r.target,
        count: r.count,
        lastAt: iso(r.lastAt),
        reason: r.lastReason,
      })),
  };
}

/**
 * The changes `--write` makes only with `--force`, one line each: removing access used before the
 * window, and every change to a function with no recorded use at all.
 */
export function guardedChanges(suggestions: readonly FunctionSuggestion[], days: number): string[] {
  const out: string[] = [];
  for (const s of suggestions) {
    const changes = [...s.drop, ...s.narrow];
    if (changes.length === 0) continue;
    if (!s.observed) {
      const what = changes.map((c) => `${c.kind} ${c.grant}`).join(", ");
      out.push(`${s.fn}: ${what} (no capability use recorded for "${s.fn}" at all: it may not have run yet)`);
      continue;
    }
    for (const c of changes)
      if (c.reason === "stale")
        out.push(
          `${s.fn}: ${describe(c)} (last ${"to" in c ? "written" : "used"} ${c.lastUsedAt}, before the ${days}-day window)`,
        );
  }
  return out;
}

function refusal(guarded: readonly string[]): PalisadeError {
  return new PalisadeError(
    SUGGEST_REFUSED,
    `Refusing to write ${MANIFEST_FILE}: ${guarded.length} change(s) would remove access that was used before the window or never observed:\n${guarded.map((g) => `  ${g}`).join("\n")}\nCheck that each is really no longer needed (a rarely taken path may still use it), then run again with --force, or keep them with a larger --days.`,
    { status: 409 },
  );
}

const describe = (c: GrantChange) => ("to" in c ? `kv ${c.grant} readwrite → read` : `${c.kind} ${c.grant}`);
const changeList = (suggestions: readonly FunctionSuggestion[]) =>
  suggestions.flatMap((s) => [...s.drop, ...s.narrow].map((c) => `${s.fn}: ${describe(c)}`));
const iso = (ms: number) => new Date(ms).toISOString();

function printSuggestion(
  suggestions: readonly FunctionSuggestion[],
  diff: string,
  guarded: readonly string[],
  opts: SuggestOptions,
  windowStart: number,
): void {
  const w = (line: string) => process.stdout.write(`${line}\n`);
  w(`Grants with no recorded use since ${iso(windowStart)} (--days ${opts.days}) are dropped.`);
  for (const s of suggestions) {
    w(s.fn);
    const none = s.drop.length + s.narrow.length === 0;
    if (none) w("  nothing to remove");
    else if (!s.observed)
      w("  no capability use recorded at all: every grant would go, so --write needs --force");
    const mark = (c: GrantChange) => (c.reason === "stale" || !s.observed ? "  (needs --force)" : "");
    for (const c of s.drop)
      w(
        `  drop   ${describe(c).padEnd(40)} ${c.lastUsedAt === null ? "never used" : `used ${c.uses}×, last ${c.lastUsedAt}`}${mark(c)}`,
      );
    for (const c of s.narrow)
      w(
        `  narrow ${describe(c).padEnd(40)} ${c.lastUsedAt === null ? "never wrote" : `wrote ${c.uses}×, last ${c.lastUsedAt}`}${mark(c)}`,
      );
    for (const r of s.refused)
      w(
        `  refused, not granted: ${r.kind} ${r.target} ${r.count}×${r.reason === null ? "" : `: ${r.reason}`}`,
      );
  }
  w(`Not suggested: ${NOT_SUGGESTED}.`);
  if (diff === "") {
    w(`${MANIFEST_FILE} grants nothing beyond the recorded use: nothing to change.`);
    return;
  }
  process.stdout.write(diff);
  if (opts.write !== true)
    w(
      guarded.length === 0
        ? "Nothing written: run again with --write to apply."
        : `Nothing written: run again with --write to apply; ${guarded.length} change(s) marked (needs --force) also need --force.`,
    );
}

/** palisade.yaml's text with the suggestions applied; an edit it cannot make safely fails the command. */
function applySuggestions(text: string, suggestions: readonly FunctionSuggestion[]): string {
  try {
    return editGrants(text, suggestions);
  } catch (err) {
    const e = toPalisadeError(err);
    if (e.code !== MANIFEST_EDIT_REFUSED) throw err;
    throw new PalisadeError(SUGGEST_FAILED, e.message, { status: e.status, cause: err });
  }
}

/** Atomically replaces palisade.yaml, then proves it loads; if it does not, puts `before` back. */
function writeManifest(app: AppModel, before: string, after: string): void {
  const file = realpathSync(app.manifestPath);
  if (readFileSync(file, "utf8") !== before)
    throw new PalisadeError(
      SUGGEST_FAILED,
      `Cannot write "${file}": it changed while the suggestion was made; run palisade permissions suggest again`,
    );
  const mode = statSync(file).mode & 0o777;
  replaceFile(file, after, mode);
  try {
    loadApp(app.dir);
  } catch (err) {
    replaceFile(file, before, mode);
    throw new PalisadeError(
      SUGGEST_FAILED,
      `The suggested ${MANIFEST_FILE} does not load, so the original was put back; apply the diff by hand and fix:\n${toPalisadeError(err).message}`,
      { cause: err },
    );
  }
}

function replaceFile(file: string, text: string, mode: number): void {
  const tmp = join(dirname(file), `.${basename(file)}.${randomUUID()}.tmp`);
  try {
    const fd = openSync(tmp, "wx", mode);
    try {
      writeSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}
