import { randomBytes } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { open, rename, rm } from "node:fs/promises";
import { toPalisadeError } from "../errors.ts";
import type { NoveltyPolicy } from "../manifest/index.ts";
import type { Finding, SignalOf } from "../signals/index.ts";
import { createNovelty, MAX_PAIRS, type NoveltyBaseline, type NoveltyUse } from "./novelty.ts";

/** The baselines' file in the app's data directory (one per node: each node learns what it runs). */
export const NOVELTY_FILE = "novelty.json";
/** The file's format; a file of another format is not read (every function learns again). */
const FORMAT = 1;
/** How long changes wait to be written together: learning writes once a second at most. */
const WRITE_DELAY_MS = 1000;
/** A larger file is not read: MAX_PAIRS pairs of every function fit well within it. */
const MAX_FILE_BYTES = 32 * 1024 * 1024;
/** Longest target kept (egress destinations, kv namespaces, secret names and types are shorter). */
const MAX_PAIR_CHARS = 1024;

/** Where the detector logs; the app's logger fits. */
export interface NoveltyLogger {
  info(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

export interface NoveltyOptions {
  policy: NoveltyPolicy;
  /** Path of the baselines' file (`<dataDir>/novelty.json`). */
  file: string;
  bundleVersion: (fn: string) => string | undefined;
  report: (finding: Finding) => void;
  logger: NoveltyLogger;
}

export interface NoveltyDetector {
  used(use: SignalOf<"capability.used">): void;
  /** Asked before a granted call (see Novelty.admit): false when the call must wait on its hold. */
  admit(use: NoveltyUse): boolean;
  invoked(settled: SignalOf<"invocation.settled">): void;
  /** Writes what changed since the last write; resolves when it is on disk (or failed and logged). */
  close(): Promise<void>;
}

/**
 * The novelty detector with its baselines kept in `file`: read at start, so a restart does not
 * begin a new learning period (waiting for one must not open a window), and written atomically
 * (temporary file, fsync, rename; mode 0600) at most once a second and at close, never on the
 * invocation's path. An unreadable or corrupt file is logged and every function learns again.
 */
export function openNovelty(options: NoveltyOptions): NoveltyDetector {
  const { policy, file, logger } = options;
  if (policy.response === "off")
    return { used() {}, admit: () => true, invoked() {}, close: () => Promise.resolve() };
  let timer: NodeJS.Timeout | undefined;
  let writing: Promise<void> | undefined;
  let dirty = false;
  const write = (): Promise<void> => {
    timer = undefined;
    dirty = false;
    writing = writeBaselines(file, novelty.baselines())
      .catch((err: unknown) =>
        logger.error(
          { file, err: toPalisadeError(err).message },
          "cannot save the novelty baselines; retrying at the next change",
        ),
      )
      .finally(() => {
        writing = undefined;
        if (dirty) schedule();
      });
    return writing;
  };
  const schedule = (): void => {
    dirty = true;
    if (timer !== undefined || writing !== undefined) return;
    timer = setTimeout(write, WRITE_DELAY_MS);
    timer.unref();
  };
  const novelty = createNovelty(policy, {
    bundleVersion: options.bundleVersion,
    report: options.report,
    changed: schedule,
    saved: loadBaselines(file, logger),
    learned: (fn, b) =>
      logger.info(
        { fn, bundle: b.version, invocations: b.invocations, pairs: b.learned },
        "novelty learning period ended; a capability target not used in it is reported",
      ),
  });
  return {
    used: (use) => novelty.used(use),
    admit: (use) => novelty.admit(use),
    invoked: (settled) => novelty.invoked(settled),
    async close() {
      clearTimeout(timer);
      timer = undefined;
      await writing;
      if (dirty) await write();
    },
  };
}

function loadBaselines(file: string, logger: NoveltyLogger): Map<string, NoveltyBaseline> {
  try {
    return readBaselines(file);
  } catch (err) {
    logger.error(
      { file, err: toPalisadeError(err).message },
      "cannot read the novelty baselines; every function starts a new learning period",
    );
    return new Map();
  }
}

/** The baselines in `file` (none when it does not exist); throws when it is not one we wrote. */
export function readBaselines(file: string): Map<string, NoveltyBaseline> {
  let text: string;
  try {
    if (statSync(file).size > MAX_FILE_BYTES) throw corrupt(file, `larger than ${MAX_FILE_BYTES} bytes`);
    text = readFileSync(file, "utf8");
  } catch (err) {
    if ((err as { code?: unknown }).code === "ENOENT") return new Map();
    throw err;
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw corrupt(file, (err as Error).message);
  }
  if (!isRecord(doc) || doc.format !== FORMAT || !isRecord(doc.functions))
    throw corrupt(file, `expected { "format": ${FORMAT}, "functions": {...} }`);
  const out = new Map<string, NoveltyBaseline>();
  for (const [fn, b] of Object.entries(doc.functions)) {
    if (!isBaseline(b)) throw corrupt(file, `function "${fn.slice(0, 100)}" has an invalid baseline`);
    out.set(fn, b);
  }
  return out;
}

/** Writes `baselines` to `file` atomically: a crash leaves the old file or the new one, never half. */
export async function writeBaselines(
  file: string,
  baselines: ReadonlyMap<string, NoveltyBaseline>,
): Promise<void> {
  // A name of its own per write (created anew, so mode 0600): two platforms on one directory, or
  // nodes sharing it, never write into each other's temporary file.
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  const doc = { format: FORMAT, functions: Object.fromEntries(baselines) };
  try {
    const handle = await open(tmp, "wx", 0o600);
    try {
      await handle.writeFile(`${JSON.stringify(doc)}\n`);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

function corrupt(file: string, why: string): Error {
  return new Error(`Cannot read novelty baselines "${file}": ${why}`);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

const isTime = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v) && v >= 0;
const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

function isBaseline(b: unknown): b is NoveltyBaseline {
  if (!isRecord(b)) return false;
  const learnedOk =
    (b.learnedAt === undefined && b.learned === undefined) || (isTime(b.learnedAt) && isCount(b.learned));
  return (
    typeof b.version === "string" &&
    isTime(b.since) &&
    isCount(b.invocations) &&
    learnedOk &&
    typeof b.full === "boolean" &&
    Array.isArray(b.pairs) &&
    b.pairs.length <= MAX_PAIRS &&
    b.pairs.every((p) => typeof p === "string" && p.includes(":") && p.length <= MAX_PAIR_CHARS)
  );
}
