/**
 * Recent traces of a NATS deployment, for `palisade traces --nats`: every node publishes the spans
 * it finished (the selection `.palisade/traces.db` keeps) to one JetStream stream per app, on
 * `<prefix>.<trace id>`, so a trace that crossed a gateway and workers reads back whole. Retention
 * is bounded like the file's newest 20,000 spans: at most TRACES_MAX_BYTES and TRACES_MAX_AGE_MS,
 * oldest dropped first.
 */
import { hostname } from "node:os";
import { type JetStreamManager, jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { type ExportResult, ExportResultCode } from "@opentelemetry/core";
import type { ReadableSpan, SpanExporter } from "@opentelemetry/sdk-trace-base";
import { scanStream } from "../jetstream-scan.ts";
import { createTraceAdmission, isStoredSpanOf, type StoredSpan, toStoredSpan } from "./stored-span.ts";

/** The stream keeps at most this many bytes of spans (about the file store's 20,000 spans). */
export const TRACES_MAX_BYTES = 16 * 1024 * 1024;
/** And spans no older than this. */
export const TRACES_MAX_AGE_MS = 24 * 60 * 60 * 1000;
/** Spans per message: one message per trace per export batch, split to stay far below max_payload. */
const PER_MESSAGE = 256;
const TRACE_ID = /^[0-9a-f]{32}$/;

/** Where a deployment's spans go. */
export interface NatsTraceStream {
  readonly nc: NatsConnection;
  readonly jsm: JetStreamManager;
  readonly stream: string;
  /** Subject prefix; a trace's spans are on `<subject>.<trace id>`. */
  readonly subject: string;
}

/** Creates the stream when missing (with `replicas` copies and the retention bounds), else opens it. */
export async function openNatsTraceStream(
  nc: NatsConnection,
  names: { stream: string; subject: string },
  replicas: number,
): Promise<NatsTraceStream> {
  const jsm = await jetstreamManager(nc);
  const config = {
    name: names.stream,
    subjects: [`${names.subject}.*`],
    storage: "file" as const,
    num_replicas: replicas,
    max_bytes: TRACES_MAX_BYTES,
    max_age: TRACES_MAX_AGE_MS * 1_000_000,
    discard: "old" as const,
  };
  const existing = await jsm.streams.info(names.stream).catch((err: unknown) => {
    if (/not found/i.test(String(err))) return undefined;
    throw err;
  });
  if (existing === undefined)
    await jsm.streams.add(config).catch((err: unknown) => {
      if (!/already in use|already exists/i.test(String(err))) throw err; // else another node made it
    });
  else if (
    existing.config.num_replicas !== replicas ||
    existing.config.max_bytes !== config.max_bytes ||
    existing.config.max_age !== config.max_age
  )
    await jsm.streams.update(names.stream, { ...existing.config, ...config });
  return { nc, jsm, stream: names.stream, subject: names.subject };
}

/** An OpenTelemetry exporter that publishes finished spans to the deployment's traces stream. */
export function natsTraceExporter(target: NatsTraceStream, role: string): SpanExporter {
  const js = jetstream(target.nc);
  const node = `${role} ${hostname()} ${process.pid}`;
  const admit = createTraceAdmission();
  let closed = false;
  return {
    export(spans: ReadableSpan[], done: (result: ExportResult) => void) {
      if (closed) return done({ code: ExportResultCode.FAILED });
      const byTrace = new Map<string, StoredSpan[]>();
      for (const s of spans)
        if (admit(s.spanContext().traceId)) {
          const stored = toStoredSpan(s);
          byTrace.set(stored.traceId, [...(byTrace.get(stored.traceId) ?? []), stored]);
        }
      const published: Promise<unknown>[] = [];
      for (const [traceId, list] of byTrace)
        for (let i = 0; i < list.length; i += PER_MESSAGE)
          published.push(
            js.publish(
              `${target.subject}.${traceId}`,
              JSON.stringify({ node, spans: list.slice(i, i + PER_MESSAGE) }),
            ),
          );
      Promise.all(published).then(
        () => done({ code: ExportResultCode.SUCCESS }),
        (err: unknown) =>
          done({ code: ExportResultCode.FAILED, error: err instanceof Error ? err : new Error(String(err)) }),
      );
    },
    async shutdown() {
      closed = true;
    },
  };
}

/** Recent traces read back: the newest messages name the traces, then each is read whole. */
const TAIL = 2_000;

/**
 * Spans of one trace, or of the `traces` most recent ones (default 20), from every node, oldest
 * first. An id that is not a trace id (32 lowercase hex digits) has no spans.
 */
export async function readNatsTraces(
  target: NatsTraceStream,
  options: { traceId?: string; traces?: number },
): Promise<StoredSpan[]> {
  if (options.traceId !== undefined)
    return TRACE_ID.test(options.traceId) ? byStart(await traceSpans(target, options.traceId)) : [];
  const info = await target.jsm.streams.info(target.stream);
  if (info.state.messages === 0) return [];
  const recent: string[] = []; // newest last
  for await (const m of scanStream(jetstream(target.nc), target.jsm, target.stream, {
    startSeq: Math.max(info.state.first_seq, info.state.last_seq - TAIL + 1),
    headersOnly: true, // only the subjects (trace ids) are needed here
  })) {
    const id = m.subject.slice(target.subject.length + 1);
    const at = recent.indexOf(id);
    if (at >= 0) recent.splice(at, 1);
    recent.push(id);
  }
  const chosen = recent.slice(-(options.traces ?? 20));
  const spans: StoredSpan[] = [];
  for (const id of chosen) spans.push(...(await traceSpans(target, id)));
  return byStart(spans);
}

async function traceSpans(target: NatsTraceStream, traceId: string): Promise<StoredSpan[]> {
  const spans: StoredSpan[] = [];
  const filter = `${target.subject}.${traceId}`;
  for await (const m of scanStream(jetstream(target.nc), target.jsm, target.stream, { filter })) {
    const batch = parseBatch(m.string());
    for (const s of batch?.spans ?? [])
      if (isStoredSpanOf(s, traceId)) spans.push({ ...s, node: batch?.node ?? "" });
  }
  return spans;
}

function parseBatch(text: string): { node: string; spans: unknown[] } | undefined {
  try {
    const b = JSON.parse(text) as { node?: unknown; spans?: unknown };
    return typeof b.node === "string" && Array.isArray(b.spans)
      ? { node: b.node, spans: b.spans as unknown[] }
      : undefined;
  } catch {
    return undefined;
  }
}

function byStart(spans: StoredSpan[]): StoredSpan[] {
  return spans.sort((a, b) => a.start - b.start);
}
