/**
 * The recent-traces view: finished spans kept in `.palisade/traces.db` (the newest 20,000), so
 * `palisade traces` is useful without a collector. Spans carry names, ids, timings, status and the
 * attributes the platform sets (function, event type and id, attempt) — never payloads or secrets.
 *
 * The store takes whole traces, at most TRACES_PER_SECOND new ones each second (stored-span.ts; the
 * NATS traces stream takes the same selection): at development
 * rates that is every trace; under load it is a sample that costs little (writing every span of
 * every event cost a third of the throughput). OTLP export, when configured, gets every span.
 */
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { type ExportResult, ExportResultCode } from "@opentelemetry/core";
import type { ReadableSpan, SpanExporter } from "@opentelemetry/sdk-trace-base";
import { createTraceAdmission, type StoredSpan, toStoredSpan } from "./stored-span.ts";

export type { StoredSpan };

/** Spans kept: the newest this many. */
export const KEEP = 20_000;

function open(file: string): DatabaseSync {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const db = new DatabaseSync(file);
  db.exec(`PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 5000;
    CREATE TABLE IF NOT EXISTS spans (
      n INTEGER PRIMARY KEY AUTOINCREMENT, trace_id TEXT NOT NULL, span_id TEXT NOT NULL, parent_id TEXT,
      name TEXT NOT NULL, start REAL NOT NULL, duration_ms REAL NOT NULL, error TEXT, attributes TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS spans_by_trace ON spans (trace_id);`);
  return db;
}

/** An OpenTelemetry exporter that appends finished spans to the store at `file`. */
export function traceStoreExporter(file: string): SpanExporter {
  const db = open(file);
  const insert = db.prepare(
    "INSERT INTO spans (trace_id, span_id, parent_id, name, start, duration_ms, error, attributes) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
  );
  const prune = db.prepare("DELETE FROM spans WHERE n <= (SELECT max(n) FROM spans) - ?");
  let closed = false;
  const admit = createTraceAdmission();
  return {
    export(spans: ReadableSpan[], done: (result: ExportResult) => void) {
      if (closed) return done({ code: ExportResultCode.FAILED });
      const kept = spans.filter((s) => admit(s.spanContext().traceId));
      if (kept.length === 0) return done({ code: ExportResultCode.SUCCESS });
      try {
        db.exec("BEGIN");
        for (const s of kept.map(toStoredSpan))
          insert.run(
            s.traceId,
            s.spanId,
            s.parentId,
            s.name,
            s.start,
            s.durationMs,
            s.error,
            JSON.stringify(s.attributes),
          );
        prune.run(KEEP);
        db.exec("COMMIT");
        done({ code: ExportResultCode.SUCCESS });
      } catch (err) {
        if (db.isTransaction) db.exec("ROLLBACK");
        done({ code: ExportResultCode.FAILED, error: err instanceof Error ? err : new Error(String(err)) });
      }
    },
    async shutdown() {
      if (closed) return;
      closed = true;
      db.close();
    },
  };
}

/** Spans of one trace, or of the most recent traces, oldest first. */
export function readTraces(file: string, options: { traceId?: string; traces?: number }): StoredSpan[] {
  const db = open(file);
  try {
    const rows =
      options.traceId !== undefined
        ? db.prepare("SELECT * FROM spans WHERE trace_id = ? ORDER BY start").all(options.traceId)
        : db
            .prepare(
              `SELECT * FROM spans WHERE trace_id IN (
                 SELECT trace_id FROM spans GROUP BY trace_id ORDER BY max(n) DESC LIMIT ?) ORDER BY start`,
            )
            .all(options.traces ?? 20);
    return rows.map((r) => ({
      traceId: String(r.trace_id),
      spanId: String(r.span_id),
      parentId: r.parent_id === null ? null : String(r.parent_id),
      name: String(r.name),
      start: Number(r.start),
      durationMs: Number(r.duration_ms),
      error: r.error === null ? null : String(r.error),
      attributes: JSON.parse(String(r.attributes)) as Record<string, unknown>,
    }));
  } finally {
    db.close();
  }
}
