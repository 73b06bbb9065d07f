/**
 * `palisade audit verify|tail|export --nats <url>`: the audit log of a NATS deployment, where every
 * node (gateway, worker, one process start each) appends a hash chain of its own to the app's audit
 * stream. Verify checks every chain and its signed checkpoints against this app directory's trusted
 * audit keys; tail and export merge every node's records by time.
 */
import { readFileSync } from "node:fs";
import {
  type AuditRecord,
  formatNatsAnchor,
  loadAuditTrust,
  type NodesVerifyResult,
  nodeRecords,
  parseNatsAnchor,
  type SourcedNodeAnchor,
  type StreamMessage,
  verifyNodeChains,
} from "../../audit/index.ts";
import type { AuditStream } from "../../bus/index.ts";
import { loadApp } from "../../manifest/index.ts";
import { EXIT_FAILURE, EXIT_OK } from "../exit-codes.ts";
import { type OperatorNatsFlags, openNatsTarget } from "../nats-target.ts";
import { usageError } from "../usage-error.ts";

/**
 * Runs `fn` on the audit stream of the NATS deployment the flags (or PALISADE_NATS_URL) name, and
 * resolves to its exit code; undefined without them (the command reads `.palisade/audit.db`).
 */
export async function onAuditStream(
  opts: { app: string } & OperatorNatsFlags,
  fn: (stream: AuditStream, where: string) => Promise<number>,
): Promise<number | undefined> {
  if (opts.nats === undefined) return undefined;
  const target = await openNatsTarget(loadApp(opts.app), opts);
  if (target === undefined) return undefined;
  try {
    return await fn(await target.auditStream(), `NATS (${target.deployment.link.display})`);
  } finally {
    await target.close();
  }
}

/** Every message of the stream from `startSeq` on. */
async function readAll(stream: AuditStream, startSeq = 1): Promise<StreamMessage[]> {
  const messages: StreamMessage[] = [];
  for await (const m of stream.read(startSeq)) messages.push(m);
  return messages;
}

/** Checks every node's chain; prints the result per node; exit 1 naming the first bad record. */
export async function verifyOnNats(
  stream: AuditStream,
  opts: { app: string; json?: boolean; anchor?: string },
  where: string,
): Promise<number> {
  const trusted = loadAuditTrust(opts.app);
  const anchors = anchorsFrom(opts.anchor);
  // The state first: a message appended while reading is then simply one more, never a "gap".
  const state = await stream.state();
  const messages = await readAll(stream);
  const result: NodesVerifyResult = verifyNodeChains(messages, state, trusted, undefined, anchors);
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return result.ok ? EXIT_OK : EXIT_FAILURE;
  }
  if (!result.ok) {
    const at =
      result.node === null
        ? ""
        : ` at node ${result.node}${result.firstBad === null ? "" : ` record ${result.firstBad}`}`;
    process.stdout.write(`audit log on ${where} is NOT intact${at}: ${result.problem}\n`);
    if (trusted.length === 0)
      process.stdout.write("(the app trusts no audit keys: keys/audit/*.pub and keys/*.pub are empty)\n");
    return EXIT_FAILURE;
  }
  const plural = (n: number, what: string): string => `${n} ${what}${n === 1 ? "" : "s"}`;
  const records = result.nodes.reduce((sum, n) => sum + n.records, 0);
  process.stdout.write(
    `audit log on ${where} intact: ${plural(result.nodes.length, "node")}, ${plural(records, "record")}\n`,
  );
  for (const n of result.nodes) {
    const span = `${new Date(n.firstAt).toISOString()} to ${new Date(n.lastAt).toISOString()}`;
    process.stdout.write(
      `  node ${n.node}: ${plural(n.records, "record")}, ${plural(n.checkpoints, "signed checkpoint")} (${span})\n`,
    );
    if (n.unsigned > 0)
      process.stdout.write(
        `    its last ${plural(n.unsigned, "record")} ${n.unsigned === 1 ? "is" : "are"} covered by no checkpoint yet: signed within 10 s while the node runs; a node killed before it signed leaves them uncovered\n`,
      );
  }
  return EXIT_OK;
}

// Every node's signed head in `--anchor FILE`, printed earlier by `audit anchor --nats`.
function anchorsFrom(file: string | undefined): SourcedNodeAnchor[] {
  if (file === undefined) return [];
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw usageError(`Cannot read --anchor "${file}": ${(err as Error).message}`);
  }
  return parseNatsAnchor(text, file).map((anchor) => ({ anchor, source: `--anchor "${file}"` }));
}

/**
 * `audit anchor --nats`: checks every chain, then prints every node's newest signed checkpoint as
 * one line of JSON, to keep where no stream admin can write. `audit verify --nats --anchor FILE` then
 * fails if the stream no longer holds them: a node's chain, or its tail with its checkpoints, left out
 * of a stream made anew. Records after a node's newest checkpoint are not covered (a running node
 * signs one within 10 s).
 */
export async function anchorOnNats(stream: AuditStream, opts: { app: string }): Promise<number> {
  const state = await stream.state();
  const result = verifyNodeChains(await readAll(stream), state, loadAuditTrust(opts.app));
  const heads = result.nodes.flatMap((n) => (n.head === undefined ? [] : [n.head]));
  if (!result.ok || heads.length === 0) {
    const why = result.ok ? "no node has signed a checkpoint yet" : `it is NOT intact: ${result.problem}`;
    process.stderr.write(`palisade: cannot anchor the audit log on NATS: ${why}\n`);
    return EXIT_FAILURE;
  }
  process.stdout.write(`${formatNatsAnchor(stream.name, heads)}\n`);
  return EXIT_OK;
}

/** The newest `lines` records of every node, merged by time; with `follow`, new ones as they come. */
export async function tailOnNats(
  stream: AuditStream,
  opts: { lines?: number; json?: boolean; follow?: boolean },
  print: (records: AuditRecord[]) => void,
  untilSignal: (poll: () => Promise<void>) => Promise<void>,
): Promise<number> {
  let messages = await readAll(stream);
  let next = (messages.at(-1)?.seq ?? 0) + 1;
  print(nodeRecords(messages).slice(-(opts.lines ?? 20)));
  if (!opts.follow) return EXIT_OK;
  await untilSignal(async () => {
    messages = await readAll(stream, next);
    next = (messages.at(-1)?.seq ?? next - 1) + 1;
    print(nodeRecords(messages));
  });
  return EXIT_OK;
}

/** Every record since `sinceMs` of every node, merged by time, as JSON Lines. */
export async function exportOnNats(stream: AuditStream, sinceMs: number): Promise<number> {
  const records = nodeRecords(await readAll(stream)).filter((r) => r.at >= sinceMs);
  process.stdout.write(records.map((r) => `${JSON.stringify(r)}\n`).join(""));
  return EXIT_OK;
}
