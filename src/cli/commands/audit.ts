import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { anchorsFor, verifyFileAudit } from "../../admin/index.ts";
import {
  AUDIT_FILE,
  AUDIT_NOT_FOUND,
  type AuditRecord,
  ensureAuditKey,
  formatAnchor,
  loadAuditTrust,
  openAuditLog,
  readAudit,
  readHead,
  verifyAuditLog,
} from "../../audit/index.ts";
import { isPalisadeError } from "../../errors.ts";
import { EXIT_FAILURE, EXIT_OK } from "../exit-codes.ts";
import type { OperatorNatsFlags } from "../nats-target.ts";
import { parseInstant } from "../parse-instant.ts";
import { anchorOnNats, exportOnNats, onAuditStream, tailOnNats, verifyOnNats } from "./audit-nats.ts";

const POLL_MS = 500;
const PAGE = 1000;

/**
 * `palisade audit verify [--anchor FILE] [--json] [--nats URL]`: with `--nats`, every node's chain
 * on the deployment's audit stream (audit-nats.ts; FILE then holds what `audit anchor --nats`
 * printed); else, as below, the app's own log.
 */
export async function runAuditVerifyAnywhere(
  opts: { app: string; json?: boolean; anchor?: string } & OperatorNatsFlags,
): Promise<number> {
  return (
    (await onAuditStream(opts, (stream, where) => verifyOnNats(stream, opts, where))) ?? runAuditVerify(opts)
  );
}

/**
 * `palisade audit verify [--anchor FILE] [--json]`: walks the app's audit chain and its signed
 * checkpoints (against `keys/audit/*.pub` and `keys/*.pub`), and checks that the log still holds the
 * signed head kept beside it (`.palisade/audit-head.json`) and the one in FILE (printed earlier by
 * `palisade audit anchor`). Exit 0 when intact, with the counts; exit 1 naming the first bad record.
 */
export function runAuditVerify(opts: { app: string; json?: boolean; anchor?: string }): number {
  const trusted = loadAuditTrust(opts.app);
  const result = verifyFileAudit(opts.app, opts.anchor);
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return result.ok ? EXIT_OK : EXIT_FAILURE;
  }
  if (!result.ok) {
    const where = result.firstBad === null ? "" : ` at record ${result.firstBad}`;
    process.stdout.write(`audit log is NOT intact${where}: ${result.problem}\n`);
    if (trusted.length === 0)
      process.stdout.write("(the app trusts no audit keys: keys/audit/*.pub and keys/*.pub are empty)\n");
    return EXIT_FAILURE;
  }
  const plural = (n: number, what: string): string => `${n} ${what}${n === 1 ? "" : "s"}`;
  process.stdout.write(
    `audit log intact: ${plural(result.records, "record")}, ${plural(result.checkpoints, "signed checkpoint")}\n`,
  );
  if (result.unsigned > 0) {
    process.stdout.write(
      `the last ${result.unsigned} records are not yet covered by a checkpoint (one is signed within 10 s)\n`,
    );
  }
  return EXIT_OK;
}

/**
 * `palisade audit anchor`: signs a checkpoint over every record written so far, checks the log, and
 * prints its signed head as one line of JSON, to store somewhere the app's host cannot write. Later,
 * `palisade audit verify --anchor FILE` fails if the log no longer holds that head (deleted, cut
 * back, or the whole data directory put back to an older copy). With `--nats`: every node's newest
 * signed checkpoint on the deployment's audit stream (anchorOnNats). The anchor is JSON either way,
 * so `--json` prints the same line (accepted like every command that prints data).
 */
export async function runAuditAnchorAnywhere(
  opts: { app: string; json?: boolean } & OperatorNatsFlags,
): Promise<number> {
  return (await onAuditStream(opts, (stream) => anchorOnNats(stream, opts))) ?? runAuditAnchor(opts);
}

/** `palisade audit anchor` on the app's file log (see runAuditAnchorAnywhere for `--nats`). */
export function runAuditAnchor(opts: { app: string }): number {
  const dir = resolve(opts.app);
  const file = join(dir, AUDIT_FILE);
  readAudit(file, { limit: 1 }); // AUDIT_NOT_FOUND, with its explanation, if the app never ran
  openAuditLog(file, { signingKeyPem: ensureAuditKey(dir) }).close(); // signs the tail
  const result = verifyAuditLog(file, loadAuditTrust(dir), anchorsFor(file));
  const head = readHead(file);
  if (!result.ok || head === undefined) {
    const why = result.ok ? "it has no records yet" : `it is NOT intact: ${result.problem}`;
    process.stderr.write(`palisade: cannot anchor the audit log: ${why}\n`);
    return EXIT_FAILURE;
  }
  process.stdout.write(`${formatAnchor(head)}\n`);
  return EXIT_OK;
}

/**
 * `palisade audit tail [-n N] [-f] [--json]`: the newest records (20 unless -n), oldest first; with
 * -f, then every new record as it is written (polled every 500 ms) until SIGINT or SIGTERM. --json
 * prints JSON Lines.
 */
export async function runAuditTail(
  opts: {
    app: string;
    follow?: boolean;
    json?: boolean;
    lines?: number;
  } & OperatorNatsFlags,
): Promise<number> {
  const file = join(opts.app, AUDIT_FILE);
  const print = (records: AuditRecord[]): void => {
    for (const r of records) process.stdout.write(opts.json ? `${JSON.stringify(r)}\n` : formatRecord(r));
  };
  // Without --nats nothing is awaited before the first read: the newest records are those of now.
  if (opts.nats !== undefined) {
    const onNats = await onAuditStream(opts, (stream) => tailOnNats(stream, opts, print, untilSignal));
    if (onNats !== undefined) return onNats;
  }
  let after = 0;
  const poll = (): void => {
    let records: AuditRecord[];
    do {
      records = readAudit(file, { afterSeq: after, limit: PAGE });
      print(records);
      after = records.at(-1)?.seq ?? after;
    } while (records.length === PAGE);
  };
  try {
    const lines = opts.lines ?? 20;
    const newest = readAudit(file, { last: lines, limit: lines });
    print(newest);
    after = newest.at(-1)?.seq ?? after;
  } catch (err) {
    // With -f, wait for an app that has not run yet to write its first record.
    if (!opts.follow || !isPalisadeError(err) || err.code !== AUDIT_NOT_FOUND) throw err;
  }
  if (!opts.follow) return EXIT_OK;
  await untilSignal(() => {
    try {
      poll();
    } catch (err) {
      if (!isPalisadeError(err) || err.code !== AUDIT_NOT_FOUND) throw err;
    }
  });
  return EXIT_OK;
}

/**
 * `palisade audit export --since T [--nats URL]`: every record written since T as JSON Lines, oldest
 * first (on NATS, every node's, merged by time).
 */
export async function runAuditExport(
  opts: { app: string; since: string } & OperatorNatsFlags,
): Promise<number> {
  const sinceMs = parseInstant(opts.since, Date.now(), "--since");
  const onNats = await onAuditStream(opts, (stream) => exportOnNats(stream, sinceMs));
  if (onNats !== undefined) return onNats;
  const file = join(opts.app, AUDIT_FILE);
  for (let after = 0; ; ) {
    const records = readAudit(file, { sinceMs, afterSeq: after, limit: PAGE });
    if (records.length === 0) return EXIT_OK;
    process.stdout.write(records.map((r) => `${JSON.stringify(r)}\n`).join(""));
    after = records.at(-1)?.seq ?? after;
  }
}

async function untilSignal(poll: () => void | Promise<void>): Promise<void> {
  const stop = new AbortController();
  const abort = (): void => stop.abort();
  process.once("SIGINT", abort);
  process.once("SIGTERM", abort);
  try {
    while (!stop.signal.aborted) {
      // Rejects only when aborted: the loop condition then ends it.
      await sleep(POLL_MS, undefined, { signal: stop.signal }).catch(() => undefined);
      if (!stop.signal.aborted) await poll();
    }
  } finally {
    process.off("SIGINT", abort);
    process.off("SIGTERM", abort);
  }
}

/** One record as a line: time, position, kind, outcome, who, details (control characters escaped). */
export function formatRecord(r: AuditRecord): string {
  const who = [
    r.actor === undefined ? "" : `actor=${r.actor}`,
    r.subject === undefined ? "" : `subject=${r.subject}`,
  ]
    .filter((s) => s !== "")
    .join(" ");
  const details = r.details === undefined ? "" : JSON.stringify(r.details);
  const at = r.node === undefined ? `#${r.seq}` : `${r.node}#${r.seq}`;
  const line = [r.time, at, r.kind, r.outcome, who, details].filter((s) => s !== "").join("  ");
  return `${printable(line)}\n`;
}

// Records hold what attackers sent (rejected principals, reasons, addresses): never let a control
// character reach the terminal, where escape sequences could rewrite what the reader sees.
function printable(text: string): string {
  return text.replace(
    // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
    /[\u0000-\u001f\u007f-\u009f]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}
