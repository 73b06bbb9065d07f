/**
 * Floors (issue 14): what this machine allows for the pieces Palisade's hot paths are made of,
 * measured in the same run with Palisade's settings: raw SQLite commits and rows (floors-cpu.ts), raw
 * AES-256-GCM, raw JSON.parse + ajv, and the raw IPC round trip to a child started as a sandbox is
 * (floors-ipc.ts). From them, the single-core ceilings those pieces imply for batch ingest and batched
 * end to end (Palisade's data path runs on one main thread), printed next to Palisade's own figures
 * when given. Left out of the ceilings: HTTP (its floor is the bare Fastify baseline of run.ts, not
 * measured again here), the sandbox's own CPU (it runs on the other core), and opening records
 * (events just appended are delivered from the in-memory window, not decrypted again).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type CipherFloors,
  FLOOR_BATCH,
  measureCipher,
  measureParse,
  measureSqlite,
  type SqliteFloors,
} from "./floors-cpu.ts";
import { type IpcConfig, type IpcFloor, type IpcFloors, measureIpc } from "./floors-ipc.ts";
import { printTable, perSecond as rps } from "./stats.ts";

export interface FloorsConfig {
  /** Time each in-process loop runs. @default 700 */
  budgetMs?: number;
  /** @default { roundTrips: 2000, warmup: 200, batches: 200, starts: 10, timeoutMs: 15000 } */
  ipc?: Partial<IpcConfig>;
}

/** Per-event µs of each piece a ceiling adds up, and the ceiling (events/s on one core). */
export interface Ceiling {
  parts: Record<string, number>;
  eventsPerSec: number;
}

export interface Floors {
  sqlite: SqliteFloors;
  cipher: CipherFloors;
  /** JSON.parse of a batch + ajv on each event's data, events/s. */
  parseEventsPerSec: number;
  ipc: IpcFloors;
  ceilings: {
    /** Parse + validate, seal each record, insert share of a 500-row commit. */
    batchIngest: Ceiling;
    /** The same with one cipher call per batch. */
    batchIngestSealPerBatch: Ceiling;
    /** Batch ingest of a routed event, its settle, and the host's CPU for it in a 32-invocation frame. */
    e2eBatch: Ceiling;
  };
}

/** Palisade's figures from the same run, to print as a share of the floor. */
export interface PalisadeFigures {
  batchIngest: number;
  e2eBatch: number;
  warmInvokeP50Us: number;
  /** A sandbox's cold start (spawn → runner and bundle loaded), p50. */
  coldStartP50Us?: number;
}

/** Issue 14's aims on 2 cores, in events/s. */
const AIMS = { batchIngest: 100_000, e2eBatch: 25_000 };

const us = (perSec: number): number => (perSec > 0 ? 1e6 / perSec : 0);

function ceiling(parts: Record<string, number>): Ceiling {
  const total = Object.values(parts).reduce((sum, v) => sum + v, 0);
  return { parts, eventsPerSec: total > 0 ? 1e6 / total : 0 };
}

/** The sandboxed variant Palisade runs (bubblewrap when it works, else the permission model). */
export function sandboxedIpc(ipc: IpcFloors): IpcFloor | undefined {
  return (
    ipc.results.find((r) => r.variant === "bwrap") ?? ipc.results.find((r) => r.variant === "permission")
  );
}

/** Measures every floor (about 10 s at the defaults); temp files are removed before it returns. */
export async function runFloors(config: FloorsConfig = {}): Promise<Floors> {
  const budgetMs = config.budgetMs ?? 700;
  const ipcConfig: IpcConfig = {
    roundTrips: 2000,
    warmup: 200,
    batches: 200,
    starts: 10,
    timeoutMs: 15_000,
    ...config.ipc,
  };
  const dir = mkdtempSync(join(tmpdir(), "palisade-floors-"));
  try {
    const sqlite = measureSqlite(dir, budgetMs);
    const cipher = measureCipher(budgetMs);
    const parseEventsPerSec = measureParse(budgetMs);
    const ipc = await measureIpc(dir, ipcConfig);
    const ingest = {
      "parse + validate": us(parseEventsPerSec),
      "insert (500-row commit)": us(sqlite.eventRowsPerSec),
    };
    const box = sandboxedIpc(ipc);
    return {
      sqlite,
      cipher,
      parseEventsPerSec,
      ipc,
      ceilings: {
        batchIngest: ceiling({ ...ingest, "seal per record": us(cipher.sealPerRecord) }),
        batchIngestSealPerBatch: ceiling({ ...ingest, "seal per batch": us(cipher.sealPerBatch) }),
        e2eBatch: ceiling({
          "parse + validate": us(parseEventsPerSec),
          "seal per record": us(cipher.sealPerRecord),
          "insert event + delivery row": us(sqlite.routedRowsPerSec),
          "settle (500-row commit)": us(sqlite.settlesPerSec),
          "IPC host CPU (32 per frame)": box?.pipelinedHostCpuUs ?? 0,
        }),
      },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const pct = (part: number, whole: number): string =>
  whole > 0 ? `${((part / whole) * 100).toFixed(0)}%` : "";
const perUs = (perSec: number): string => us(perSec).toFixed(2);

/** Prints the floors, the ceilings they imply and, given Palisade's figures, how close it comes. */
export function reportFloors(floors: Floors, palisade?: PalisadeFigures): void {
  const { sqlite, cipher, ipc } = floors;
  printTable(
    `Floors: the pieces alone, Palisade's settings (SQLite WAL + synchronous=FULL, its tables and indexes; ${FLOOR_BATCH}-row transactions, ${sqlite.bodyBytes}-byte bodies; ${cipher.recordBytes.toFixed(0)}-byte records)`,
    ["piece", "per second", "µs each"],
    [
      ["SQLite fsync'd commits, one insert each", rps(sqlite.commitsPerSec), perUs(sqlite.commitsPerSec)],
      ["SQLite event rows (unrouted append)", rps(sqlite.eventRowsPerSec), perUs(sqlite.eventRowsPerSec)],
      [
        "SQLite event + delivery rows (routed append)",
        rps(sqlite.routedRowsPerSec),
        perUs(sqlite.routedRowsPerSec),
      ],
      ["SQLite settles (UPDATE of a delivery row)", rps(sqlite.settlesPerSec), perUs(sqlite.settlesPerSec)],
      ["AES-256-GCM seal, one cipher per record", rps(cipher.sealPerRecord), perUs(cipher.sealPerRecord)],
      [
        `AES-256-GCM seal, ${FLOOR_BATCH} records per cipher call`,
        rps(cipher.sealPerBatch),
        perUs(cipher.sealPerBatch),
      ],
      ["AES-256-GCM open, one decipher per record", rps(cipher.openPerRecord), perUs(cipher.openPerRecord)],
      [
        "JSON.parse of a batch + ajv per event's data",
        rps(floors.parseEventsPerSec),
        perUs(floors.parseEventsPerSec),
      ],
    ],
  );
  printTable(
    "IPC floor: echo child on fd 3, v8-serialized frames, the bench event (no runner, no checks)",
    [
      "child started as",
      "round trips/s",
      "p50 µs",
      "p99 µs",
      "pipelined events/s (32 per frame)",
      "host CPU µs per event",
      "start → ready p50 ms",
    ],
    ipc.results.map((r) => [
      r.variant === "node"
        ? "plain node"
        : r.variant === "permission"
          ? "node --permission (sandbox flags)"
          : "bwrap + sandbox flags",
      rps(r.roundTripsPerSec),
      r.roundTrip.p50Us.toFixed(1),
      r.roundTrip.p99Us.toFixed(1),
      rps(r.pipelinedPerSec),
      r.pipelinedHostCpuUs.toFixed(1),
      (r.start.p50Us / 1000).toFixed(1),
    ]),
  );
  if (ipc.bwrapSkipped !== undefined) console.log(`bubblewrap variant not measured: ${ipc.bwrapSkipped}`);
  for (const why of ipc.failed) console.log(`IPC floor not measured: ${why}`);
  const { batchIngest, batchIngestSealPerBatch, e2eBatch } = floors.ceilings;
  const row = (path: string, c: Ceiling, aim: number, measured: number | undefined): string[] => [
    path,
    us(c.eventsPerSec).toFixed(2),
    rps(c.eventsPerSec),
    `${rps(aim)}${c.eventsPerSec < aim ? " (above the ceiling)" : ""}`,
    measured === undefined ? "" : rps(measured),
    measured === undefined ? "" : pct(measured, c.eventsPerSec),
  ];
  printTable(
    "Single-core ceilings these floors imply (per-event µs added up; Palisade's data path runs on one main thread)",
    ["path", "µs per event", "ceiling events/s", "aim", "Palisade events/s", "Palisade / ceiling"],
    [
      row("batch ingest", batchIngest, AIMS.batchIngest, palisade?.batchIngest),
      row("batch ingest, sealed per batch", batchIngestSealPerBatch, AIMS.batchIngest, palisade?.batchIngest),
      row("end to end with batching", e2eBatch, AIMS.e2eBatch, palisade?.e2eBatch),
    ],
  );
  console.log(`batch ingest per event: ${describe(batchIngest)}`);
  console.log(`sealed per batch: ${describe(batchIngestSealPerBatch)}`);
  console.log(`end to end per event: ${describe(e2eBatch)}`);
  if (palisade === undefined) return;
  const box = sandboxedIpc(ipc);
  console.log(
    `Palisade = ${pct(palisade.batchIngest, batchIngest.eventsPerSec)} of the batch-ingest floor (${rps(palisade.batchIngest)} of ${rps(batchIngest.eventsPerSec)} events/s; ${pct(palisade.batchIngest, batchIngestSealPerBatch.eventsPerSec)} of it with per-batch sealing)`,
  );
  console.log(
    `Palisade = ${pct(palisade.e2eBatch, e2eBatch.eventsPerSec)} of the batched end-to-end floor (${rps(palisade.e2eBatch)} of ${rps(e2eBatch.eventsPerSec)} events/s)`,
  );
  if (box !== undefined)
    console.log(
      `warm invoke: Palisade's p50 ${palisade.warmInvokeP50Us.toFixed(1)} µs is ${(palisade.warmInvokeP50Us / Math.max(box.roundTrip.p50Us, 1e-9)).toFixed(2)}× the floor's (an echo child ${box.variant === "bwrap" ? "under bwrap" : "with the permission model"}, p50 ${box.roundTrip.p50Us.toFixed(1)} µs; below 1× is the two measurements' noise)`,
    );
  if (box !== undefined && palisade.coldStartP50Us !== undefined) {
    const floorMs = box.start.p50Us / 1000;
    const palisadeMs = palisade.coldStartP50Us / 1000;
    console.log(
      `cold start: an echo child ${box.variant === "bwrap" ? "under bwrap" : "with the permission flags"} starts in p50 ${floorMs.toFixed(1)} ms (no runner, no bundle); Palisade's sandbox in p50 ${palisadeMs.toFixed(1)} ms, ${(palisadeMs - floorMs).toFixed(1)} ms more (aim ≤ 100 ms${floorMs > 100 ? ", above the floor" : ""})`,
    );
  }
}

function describe(c: Ceiling): string {
  const parts = Object.entries(c.parts).map(([name, v]) => `${name} ${v.toFixed(2)}`);
  return `${parts.join(" + ")} = ${us(c.eventsPerSec).toFixed(2)} µs`;
}

// `npx node bench/floors.ts` prints the floors alone; BENCH_FLOORS_PALISADE=ingest,e2e,invokeP50Us[,coldStartP50Us]
// (figures of another run) prints them as shares too.
if (import.meta.main) {
  const given = process.env.BENCH_FLOORS_PALISADE?.split(",").map(Number);
  const [batchIngest = 0, e2eBatch = 0, warmInvokeP50Us = 0, coldStartP50Us] = given ?? [];
  reportFloors(
    await runFloors(),
    given === undefined
      ? undefined
      : {
          batchIngest,
          e2eBatch,
          warmInvokeP50Us,
          ...(coldStartP50Us === undefined ? {} : { coldStartP50Us }),
        },
  );
}
