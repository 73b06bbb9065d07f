/**
 * The operator commands with `--url`: the same reads and actions through a running gateway's admin
 * API (its role decides what is allowed), printed as the local commands print them.
 */
import type {
  ArchiveReplayResult,
  AuditVerdict,
  DlqReplayResult,
  KeysStatus,
  QuarantineEntry,
  SecretStatus,
} from "../../admin/index.ts";
import type { AuditRecord } from "../../audit/index.ts";
import type { DeadLetter } from "../../bus/index.ts";
import type { StoredSpan } from "../../observe/index.ts";
import { type AdminUrlFlags, adminApi } from "../admin-client.ts";
import { EXIT_FAILURE, EXIT_OK } from "../exit-codes.ts";
import { usageError } from "../usage-error.ts";
import { formatRecord } from "./audit.ts";
import { printDeadLetters, printDlqReplay } from "./dlq.ts";
import { printKeysStatus } from "./keys.ts";
import { printQuarantine } from "./quarantine.ts";
import { printReplay } from "./replay.ts";
import { printSecretNames } from "./secrets.ts";
import { printSpans } from "./traces.ts";

type Remote = AdminUrlFlags & { url: string };

const POLL_MS = 1000;

export async function remoteDlqList(opts: Remote & { json?: boolean; limit: number }): Promise<number> {
  printDeadLetters(await adminApi<DeadLetter[]>(opts, "GET", `/dlq?limit=${opts.limit}`), opts.json === true);
  return EXIT_OK;
}

export async function remoteDlqReplay(
  eventId: string | undefined,
  opts: Remote & { all?: boolean; function?: string; json?: boolean },
): Promise<number> {
  if (eventId === undefined || opts.all)
    throw usageError(
      "With --url, replay one event's dead letters at a time: palisade dlq replay <eventId> --url …",
    );
  const result = await adminApi<DlqReplayResult>(opts, "POST", "/dlq/replay", {
    eventId,
    ...(opts.function === undefined ? {} : { function: opts.function }),
  });
  return printDlqReplay(result, opts.json === true);
}

export async function remoteReplay(
  opts: Remote & { since: string; until?: string; type?: string; function?: string; json?: boolean },
): Promise<number> {
  const result = await adminApi<ArchiveReplayResult>(opts, "POST", "/replay", {
    since: opts.since,
    ...(opts.until === undefined ? {} : { until: opts.until }),
    ...(opts.type === undefined ? {} : { type: opts.type }),
    ...(opts.function === undefined ? {} : { function: opts.function }),
  });
  return printReplay(result, opts.json === true);
}

export async function remoteAuditVerify(opts: Remote & { json?: boolean; anchor?: string }): Promise<number> {
  if (opts.anchor !== undefined)
    throw usageError(
      "--anchor is checked against the log itself: run audit verify --anchor on the host that holds it (or with --nats)",
    );
  const verdict = await adminApi<AuditVerdict>(opts, "POST", "/audit/verify");
  if (opts.json) process.stdout.write(`${JSON.stringify(verdict)}\n`);
  else if (!verdict.ok) {
    const at = [
      verdict.node ? `node ${verdict.node}` : "",
      verdict.firstBad ? `record ${verdict.firstBad}` : "",
    ]
      .filter((s) => s !== "")
      .join(" ");
    process.stdout.write(`audit log is NOT intact${at === "" ? "" : ` at ${at}`}: ${verdict.problem}\n`);
    if (verdict.noTrustedKeys)
      process.stdout.write("(the app trusts no audit keys: keys/audit/*.pub and keys/*.pub are empty)\n");
  } else {
    process.stdout.write(
      `audit log intact: ${verdict.records} records, ${verdict.checkpoints} signed checkpoints${verdict.nodes === undefined ? "" : ` on ${verdict.nodes.length} nodes`}\n`,
    );
    if (verdict.unsigned > 0)
      process.stdout.write(
        `the last ${verdict.unsigned} records are not yet covered by a checkpoint (one is signed within 10 s)\n`,
      );
  }
  return verdict.ok ? EXIT_OK : EXIT_FAILURE;
}

/** The newest records; with `follow`, new ones (polled every second, by time) until SIGINT or SIGTERM. */
export async function remoteAuditTail(
  opts: Remote & { lines?: number; follow?: boolean; json?: boolean },
): Promise<number> {
  const seen = new Set<string>();
  let since = 0;
  const print = (records: readonly AuditRecord[]) => {
    for (const r of records) {
      const key = `${r.node ?? ""}#${r.seq}`;
      if (seen.has(key)) continue;
      seen.add(key);
      since = Math.max(since, r.at);
      process.stdout.write(opts.json ? `${JSON.stringify(r)}\n` : formatRecord(r));
    }
  };
  print(await adminApi<AuditRecord[]>(opts, "GET", `/audit?limit=${opts.lines ?? 20}`));
  if (!opts.follow) return EXIT_OK;
  const stop = new AbortController();
  const abort = () => stop.abort();
  process.once("SIGINT", abort);
  process.once("SIGTERM", abort);
  try {
    while (!stop.signal.aborted) {
      await new Promise((r) => setTimeout(r, POLL_MS));
      if (stop.signal.aborted) break;
      print(
        await adminApi<AuditRecord[]>(
          opts,
          "GET",
          `/audit?limit=1000&since=${new Date(since).toISOString()}`,
        ),
      );
    }
  } finally {
    process.off("SIGINT", abort);
    process.off("SIGTERM", abort);
  }
  return EXIT_OK;
}

export async function remoteTraces(
  opts: Remote & { id?: string; json?: boolean; limit: number },
): Promise<number> {
  if (opts.id === undefined) {
    const traces = await adminApi<{ traceId: string }[]>(opts, "GET", `/traces?limit=${opts.limit}`);
    const spans = (
      await Promise.all(traces.map((t) => adminApi<StoredSpan[]>(opts, "GET", `/traces/${t.traceId}`)))
    ).flat();
    return printSpans(spans, opts, "spans are");
  }
  try {
    return printSpans(
      await adminApi<StoredSpan[]>(opts, "GET", `/traces/${encodeURIComponent(opts.id)}`),
      opts,
      "spans are",
    );
  } catch (err) {
    if ((err as { status?: number }).status === 404) return printSpans([], opts, "spans are");
    throw err;
  }
}

export async function remoteQuarantineList(
  opts: Remote & { json?: boolean; limit: number },
): Promise<number> {
  printQuarantine(
    await adminApi<QuarantineEntry[]>(opts, "GET", `/quarantine?limit=${opts.limit}`),
    opts.json === true,
  );
  return EXIT_OK;
}

/**
 * `hold` and `release` of a function, `principal:<name>`, `capability:<function>/<kind>:<target>` or
 * (release) `root:<principal>/<id>`.
 */
export async function remoteQuarantineChange(
  action: "hold" | "release",
  scope: string,
  opts: Remote & { json?: boolean; reason?: string },
): Promise<number> {
  const kind = ["principal", "root", "capability"].find((k) => scope.startsWith(`${k}:`)) ?? "function";
  const name = kind === "function" ? scope : scope.slice(kind.length + 1);
  const result = await adminApi<object>(opts, "POST", `/quarantine/${action}`, {
    kind,
    name,
    ...(opts.reason === undefined ? {} : { reason: opts.reason }),
  });
  process.stdout.write(
    opts.json
      ? `${JSON.stringify(result)}\n`
      : `${action === "hold" ? "held" : "released"} ${scope} (the platform picks this up within a second)\n`,
  );
  return EXIT_OK;
}

export async function remoteKeysStatus(opts: Remote & { json?: boolean }): Promise<number> {
  printKeysStatus(await adminApi<KeysStatus>(opts, "GET", "/keys"), opts.json === true);
  return EXIT_OK;
}

export async function remoteSecretsList(opts: Remote & { json?: boolean }): Promise<number> {
  printSecretNames(await adminApi<SecretStatus[]>(opts, "GET", "/secrets"), opts.json === true);
  return EXIT_OK;
}
