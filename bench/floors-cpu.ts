/**
 * Floors of the in-process pieces of Palisade's hot paths, each alone in a tight loop with Palisade's
 * own settings: SQLite (its pragmas, its event and delivery tables with their indexes), AES-256-GCM
 * (node:crypto as security/aes-gcm.ts uses it) and JSON.parse + ajv (the gateway's ajv options, the
 * bench schema). What is left out on purpose is Palisade's own work around them (savepoints, dedupe
 * lookups, row codes, base64url, the defensive JSON guard): the gap to Palisade is that work.
 */
import { createCipheriv, createDecipheriv, randomFillSync, randomUUID } from "node:crypto";
import { join } from "node:path";
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { SQLITE_PRAGMAS, SQLITE_SCHEMA_SQL } from "../src/bus/index.ts";
import { createAjv } from "../src/schema/index.ts";
import { SCHEMA } from "./e2e.ts";
import { batchBodies } from "./ingest.ts";

/** Rows per transaction and records per batch: one batch request of the bench. */
export const FLOOR_BATCH = 500;

/** Calls `op` (worth `units` each) until `budgetMs` has passed, after one untimed call; units/s. */
export function ratePerSecond(op: () => void, units: number, budgetMs: number): number {
  op();
  let calls = 0;
  const t0 = performance.now();
  let elapsed = 0;
  while (elapsed < budgetMs) {
    op();
    calls += 1;
    elapsed = performance.now() - t0;
  }
  return (calls * units * 1000) / elapsed;
}

export interface SqliteFloors {
  /** fsync'd commits/s, one small insert each. */
  commitsPerSec: number;
  /** Event rows/s in transactions of FLOOR_BATCH (an unrouted append: bench.ingest). */
  eventRowsPerSec: number;
  /** Event rows/s with a pending delivery row each (a routed append: bench.ping). */
  routedRowsPerSec: number;
  /** Delivery rows/s set to delivered in transactions of FLOOR_BATCH (settles). */
  settlesPerSec: number;
  bodyBytes: number;
}

function prepare(db: DatabaseSync): Record<"event" | "delivery" | "settle", StatementSync> {
  return {
    event: db.prepare(
      "INSERT INTO events (origin, source, id, type, body, accepted_at) VALUES (?, ?, ?, ?, ?, ?)",
    ),
    delivery: db.prepare(
      "INSERT INTO deliveries (seq, target, state, attempts, next_at, updated_at, mac) VALUES (?, ?, 'pending', 0, ?, ?, ?)",
    ),
    settle: db.prepare(
      "UPDATE deliveries SET state = ?, attempts = attempts + 1, next_at = ?, last_error = ?, dead_reason = ?, updated_at = ? WHERE seq = ? AND target = ?",
    ),
  };
}

/** SQLite in `dir` (a fresh file), opened and shaped as the embedded log is. */
export function measureSqlite(dir: string, budgetMs: number): SqliteFloors {
  const db = new DatabaseSync(join(dir, "floor.db"));
  try {
    db.exec(SQLITE_PRAGMAS);
    db.exec(SQLITE_SCHEMA_SQL);
    const q = prepare(db);
    // About what a sealed envelope is as stored (prefix + base64url of ~220 bytes).
    const body = "x".repeat(300);
    const mac = "m".repeat(43); // an HMAC-SHA256 in base64url
    const run = randomUUID().slice(0, 8);
    let n = 0;
    const insert = (): number =>
      Number(q.event.run("bench", "/bench", `${run}-${n++}`, "bench.ping", body, Date.now()).lastInsertRowid);
    const inTransaction = (op: () => void): void => {
      db.exec("BEGIN IMMEDIATE");
      op();
      db.exec("COMMIT");
    };
    const commitsPerSec = ratePerSecond(() => inTransaction(insert), 1, budgetMs);
    const eventRowsPerSec = ratePerSecond(
      () =>
        inTransaction(() => {
          for (let i = 0; i < FLOOR_BATCH; i++) insert();
        }),
      FLOOR_BATCH,
      budgetMs,
    );
    const routed: number[] = [];
    const routedRowsPerSec = ratePerSecond(
      () =>
        inTransaction(() => {
          const now = Date.now();
          for (let i = 0; i < FLOOR_BATCH; i++) {
            const seq = insert();
            q.delivery.run(seq, "noop", now, now, mac);
            routed.push(seq);
          }
        }),
      FLOOR_BATCH,
      budgetMs,
    );
    let at = 0;
    const settlesPerSec = ratePerSecond(
      () =>
        inTransaction(() => {
          const now = Date.now();
          for (let i = 0; i < FLOOR_BATCH; i++)
            q.settle.run("delivered", now, null, null, now, routed[at++ % routed.length] ?? 0, "noop");
        }),
      FLOOR_BATCH,
      budgetMs,
    );
    return { commitsPerSec, eventRowsPerSec, routedRowsPerSec, settlesPerSec, bodyBytes: body.length };
  } finally {
    db.close();
  }
}

export interface CipherFloors {
  /** Records/s sealed with one cipher object each (as Palisade seals). */
  sealPerRecord: number;
  /** Records/s when FLOOR_BATCH records are sealed in one cipher call (per-batch sealing). */
  sealPerBatch: number;
  /** Records/s opened with one decipher object each. */
  openPerRecord: number;
  recordBytes: number;
}

/** A bench event's envelope as the log seals it (JSON of the CloudEvent with platform fields). */
export function benchEnvelope(i: number): Buffer {
  return Buffer.from(
    JSON.stringify({
      specversion: "1.0",
      id: randomUUID(),
      source: "/bench",
      type: "bench.ping",
      time: new Date().toISOString(),
      data: { n: i },
      principal: "bench",
      hop: 0,
    }),
  );
}

/** AES-256-GCM through node:crypto: a fresh 96-bit nonce per seal, associated data naming the record. */
export function measureCipher(budgetMs: number): CipherFloors {
  const key = randomFillSync(Buffer.alloc(32));
  const nonces = randomFillSync(Buffer.alloc(12 * FLOOR_BATCH));
  const records = Array.from({ length: FLOOR_BATCH }, (_, i) => benchEnvelope(i));
  const aad = Buffer.from("event:/bench\0some-event-id");
  const nonce = (i: number): Buffer => nonces.subarray(12 * i, 12 * i + 12);
  const sealOne = (i: number): Buffer[] => {
    const cipher = createCipheriv("aes-256-gcm", key, nonce(i));
    cipher.setAAD(aad);
    return [cipher.update(records[i] as Buffer), cipher.final(), cipher.getAuthTag()];
  };
  const sealed = records.map((_, i) => sealOne(i));
  const sealPerRecord = ratePerSecond(
    () => {
      for (let i = 0; i < FLOOR_BATCH; i++) sealOne(i);
    },
    FLOOR_BATCH,
    budgetMs,
  );
  const whole = Buffer.concat(records);
  const sealPerBatch = ratePerSecond(
    () => {
      const cipher = createCipheriv("aes-256-gcm", key, nonce(0));
      cipher.setAAD(aad);
      cipher.update(whole);
      cipher.final();
      cipher.getAuthTag();
    },
    FLOOR_BATCH,
    budgetMs,
  );
  const openPerRecord = ratePerSecond(
    () => {
      for (let i = 0; i < FLOOR_BATCH; i++) {
        const [body, , tag] = sealed[i] as Buffer[];
        const decipher = createDecipheriv("aes-256-gcm", key, nonce(i));
        decipher.setAAD(aad);
        decipher.setAuthTag(tag as Buffer);
        decipher.update(body as Buffer);
        decipher.final();
      }
    },
    FLOOR_BATCH,
    budgetMs,
  );
  return { sealPerRecord, sealPerBatch, openPerRecord, recordBytes: whole.length / FLOOR_BATCH };
}

/** Events/s: JSON.parse of a batch body of FLOOR_BATCH events, then ajv on each event's data. */
export function measureParse(budgetMs: number): number {
  const validate = createAjv().compile(SCHEMA);
  const body = batchBodies(1, FLOOR_BATCH)[0] ?? "[]";
  return ratePerSecond(
    () => {
      const events = JSON.parse(body) as { data: unknown }[];
      for (const e of events) if (!validate(e.data)) throw new Error("bench event refused by its schema");
    },
    FLOOR_BATCH,
    budgetMs,
  );
}
