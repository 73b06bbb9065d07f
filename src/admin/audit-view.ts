/**
 * The audit log as an operator reads it, on either backend: the app's file (`.palisade/audit.db`,
 * one chain) or a NATS deployment's audit stream (one chain per node, merged by time). The CLI's
 * `audit verify` and the admin API's `POST /admin/v1/audit/verify` give the same verdict.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import {
  AUDIT_FILE,
  type AuditRecord,
  headFileOf,
  loadAuditTrust,
  type NodeReport,
  nodeRecords,
  parseAnchor,
  readAnchorFile,
  readAudit,
  type SourcedAnchor,
  type StreamMessage,
  type VerifyResult,
  verifyAuditLog,
  verifyNodeChains,
} from "../audit/index.ts";
import type { AuditStream } from "../bus/index.ts";
import { PalisadeError } from "../errors.ts";
import { ADMIN_BAD_REQUEST } from "./errors.ts";

/** Uncovered records older than this fail verify (checkpoints are due every 10 s and at shutdown). */
const UNSIGNED_GRACE_MS = 60_000;

/** The verdict on an audit log, the same shape for the file and the stream. */
export interface AuditVerdict {
  readonly ok: boolean;
  readonly backend: "file" | "nats";
  /** Why it is not intact. */
  readonly problem?: string;
  /** The first record to blame (its seq in its chain), when one can be named. */
  readonly firstBad?: number | null;
  /** On NATS, the node whose chain is broken. */
  readonly node?: string | null;
  readonly records: number;
  readonly checkpoints: number;
  /** Records no signed checkpoint covers yet. */
  readonly unsigned: number;
  /** On NATS, each node's chain. */
  readonly nodes?: readonly NodeReport[];
  /** The app trusts no audit keys: every checkpoint is unverifiable. */
  readonly noTrustedKeys: boolean;
}

/** Reading and verifying one audit log. */
export interface AuditView {
  /** The newest `n` records, oldest first. */
  tail(n: number): Promise<AuditRecord[]>;
  /** Records written at or after `sinceMs`, oldest first, at most `limit`. */
  since(sinceMs: number, limit: number): Promise<AuditRecord[]>;
  verify(): Promise<AuditVerdict>;
}

/**
 * The app's own log, `.palisade/audit.db` under `appDir`. Verify runs in a worker thread, one at a
 * time (callers meanwhile share its verdict), so asking for it again and again cannot stall the
 * process that serves events.
 */
export function fileAuditView(appDir: string): AuditView {
  const file = join(appDir, AUDIT_FILE);
  let running: Promise<VerifyResult> | undefined;
  return {
    async tail(n) {
      return existsSync(file) ? readAudit(file, { last: n, limit: n }) : [];
    },
    async since(sinceMs, limit) {
      return existsSync(file) ? readAudit(file, { sinceMs, limit }) : [];
    },
    async verify() {
      const trusted = loadAuditTrust(appDir);
      running ??= verifyFileAuditOffLoop(appDir).finally(() => {
        running = undefined;
      });
      const result = await running;
      return {
        backend: "file",
        noTrustedKeys: trusted.length === 0,
        ...(result.ok
          ? { ok: true, records: result.records, checkpoints: result.checkpoints, unsigned: result.unsigned }
          : {
              ok: false,
              problem: result.problem,
              firstBad: result.firstBad,
              records: 0,
              checkpoints: 0,
              unsigned: 0,
            }),
      };
    },
  };
}

/**
 * Verifies the app's file log: the hash chain and its signed checkpoints (against `keys/audit/*.pub`
 * and `keys/*.pub`), that the log still holds the signed head kept beside it and the one in
 * `anchorFile` (printed earlier by `palisade audit anchor`), and that no record is left unsigned
 * long after a checkpoint was due.
 */
export function verifyFileAudit(appDir: string, anchorFile?: string): VerifyResult {
  const trusted = loadAuditTrust(appDir);
  const file = join(appDir, AUDIT_FILE);
  const anchors = anchorsFor(file, anchorFile);
  const [newest] = [...anchors].sort((a, b) => b.anchor.seq - a.anchor.seq);
  if (!existsSync(file) && newest !== undefined)
    return {
      ok: false,
      firstBad: 1,
      problem: `the audit log is missing, but the signed head in ${newest.source} vouches for record ${newest.anchor.seq}: it was deleted`,
    };
  const result = verifyAuditLog(file, trusted, anchors);
  // Records no signed checkpoint covers long after one was due: the chain alone is unkeyed, so
  // someone who rewrote records and dropped the checkpoints would look like this.
  if (result.ok && result.unsigned > 0) {
    const [first] = readAudit(file, { afterSeq: result.records - result.unsigned, limit: 1 });
    if (first !== undefined && Date.now() - first.at > UNSIGNED_GRACE_MS)
      return {
        ok: false,
        firstBad: first.seq,
        problem: `records ${first.seq}–${result.records} are covered by no signed checkpoint though one was due long ago: rewritten, or written by a process killed before it signed (the next run's checkpoint covers them)`,
      };
  }
  return result;
}

/** `verifyFileAudit` in a worker thread. */
function verifyFileAuditOffLoop(appDir: string): Promise<VerifyResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL("./audit-verify-worker.ts", import.meta.url), {
      workerData: { appDir },
    });
    worker.once("message", (m: { result?: VerifyResult; error?: string }) => {
      if (m.result !== undefined) resolve(m.result);
      else reject(new Error(m.error ?? "the audit verification worker failed"));
    });
    worker.once("error", reject);
    worker.once("exit", (code) => {
      if (code !== 0) reject(new Error(`the audit verification worker exited with ${code}`));
    });
  });
}

/** The signed head kept beside the log, and the one in `anchorFile` if given. */
export function anchorsFor(file: string, anchorFile?: string): SourcedAnchor[] {
  const anchors: SourcedAnchor[] = [];
  const headFile = headFileOf(file);
  const head = readAnchorFile(headFile);
  if (head !== undefined) anchors.push({ anchor: head, source: `"${headFile}"` });
  if (anchorFile === undefined) return anchors;
  let text: string;
  try {
    text = readFileSync(anchorFile, "utf8");
  } catch (err) {
    throw new PalisadeError(
      ADMIN_BAD_REQUEST,
      `Cannot read --anchor "${anchorFile}": ${(err as Error).message}`,
      {
        status: 400,
      },
    );
  }
  anchors.push({ anchor: parseAnchor(text, anchorFile), source: `--anchor "${anchorFile}"` });
  return anchors;
}

/** A NATS deployment's audit stream: every node's chain, checked against this app's trusted keys. */
export function natsAuditView(stream: AuditStream, appDir: string): AuditView {
  const all = async (): Promise<StreamMessage[]> => {
    const messages: StreamMessage[] = [];
    for await (const m of stream.read(1)) messages.push(m);
    return messages;
  };
  return {
    async tail(n) {
      return nodeRecords(await all()).slice(-n);
    },
    async since(sinceMs, limit) {
      return nodeRecords(await all())
        .filter((r) => r.at >= sinceMs)
        .slice(0, limit);
    },
    async verify() {
      const trusted = loadAuditTrust(appDir);
      // The state first: a message appended while reading is then simply one more, never a "gap".
      const state = await stream.state();
      const result = verifyNodeChains(await all(), state, trusted);
      const sum = (pick: (n: NodeReport) => number) => result.nodes.reduce((s, n) => s + pick(n), 0);
      return {
        ok: result.ok,
        backend: "nats",
        noTrustedKeys: trusted.length === 0,
        records: sum((n) => n.records),
        checkpoints: sum((n) => n.checkpoints),
        unsigned: sum((n) => n.unsigned),
        nodes: result.nodes,
        ...(result.ok ? {} : { problem: result.problem, firstBad: result.firstBad, node: result.node }),
      };
    },
  };
}
