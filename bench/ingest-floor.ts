/**
 * The single-event ingest floor: what a durable 202 costs with nothing of Palisade in it. The same
 * client and bodies as the ingest section drive bare Fastify (202 at once) and Fastify whose route
 * does only an fsync'd SQLite insert of the event (group commit, Palisade's pragmas and schema; no
 * authentication, validation, sealing, dedupe or routing) before its 202, alternating three times;
 * the median ratio is the ceiling of Palisade's "single-event ingest vs bare Fastify".
 */
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import Fastify from "fastify";
import { SQLITE_PRAGMAS, SQLITE_SCHEMA_SQL } from "../src/bus/index.ts";
import { createGroupCommit } from "../src/group-commit.ts";
import { startBare } from "./bare.ts";
import { INGEST_BODY } from "./ingest.ts";
import { drive } from "./load.ts";
import { printTable, ratio, perSecond as rps, times as x } from "./stats.ts";

export interface IngestFloorRound {
  bareRps: number;
  durableRps: number;
  ratio: number;
}

export interface IngestFloor {
  rounds: IngestFloorRound[];
  /** The median round's durable / bare. */
  ratio: number;
}

export async function runIngestFloor(
  requests: number,
  concurrency: number,
  warmup: number,
): Promise<IngestFloor> {
  const dir = mkdtempSync(join(tmpdir(), "palisade-ingest-floor-"));
  const db = new DatabaseSync(join(dir, "floor.db"));
  const app = Fastify({ logger: false });
  const bare = await startBare();
  try {
    db.exec(SQLITE_PRAGMAS);
    db.exec(SQLITE_SCHEMA_SQL);
    const insert = db.prepare(
      "INSERT INTO events (origin, source, id, type, body, accepted_at) VALUES (?, ?, ?, ?, ?, ?)",
    );
    const writer = createGroupCommit(db);
    const body = "x".repeat(300); // about a sealed envelope's size as stored
    app.post("/events", async (_request, reply) => {
      const id = randomUUID();
      await writer.run(() => insert.run("bench", "/bench", id, "bench.ingest", body, Date.now()));
      return reply.status(202).send({ ids: [id] });
    });
    const durable = await app.listen({ port: 0, host: "127.0.0.1" });
    const rate = async (url: string): Promise<number> => {
      await drive(url, warmup, concurrency, INGEST_BODY);
      const load = await drive(url, requests, concurrency, INGEST_BODY);
      if (load.errors > 0) throw new Error(`ingest floor: ${load.errors} errors (${load.firstError ?? ""})`);
      return (load.accepted / load.ms) * 1000;
    };
    const rounds: IngestFloorRound[] = [];
    for (let i = 0; i < 3; i++) {
      const bareRps = await rate(bare.url);
      const durableRps = await rate(durable);
      rounds.push({ bareRps, durableRps, ratio: ratio(durableRps, bareRps) });
    }
    const sorted = rounds.map((r) => r.ratio).sort((a, b) => a - b);
    return { rounds, ratio: sorted[1] ?? 0 };
  } finally {
    await app.close();
    await bare.close();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export function reportIngestFloor(floor: IngestFloor, palisadeRatio: number): Record<string, unknown> {
  printTable(
    "Single-event ingest floor: bare Fastify 202 vs Fastify answering 202 after only an fsync'd SQLite insert (group commit; no auth, schema, sealing, dedupe or routing); same client, alternating",
    ["round", "bare events/s", "durable insert events/s", "durable / bare"],
    floor.rounds.map((r, i) => [String(i + 1), rps(r.bareRps), rps(r.durableRps), x(r.ratio)]),
  );
  console.log(
    `a durable 202 alone is ${x(floor.ratio)} bare Fastify (median round); Palisade with every control on is ${x(palisadeRatio)}` +
      ` = ${Math.round((palisadeRatio / Math.max(floor.ratio, 1e-9)) * 100)}% of that floor` +
      (floor.ratio < 0.7 ? " (the 0.7× aim is above the floor)" : ""),
  );
  return { ingestFloor: floor };
}

if (import.meta.main) {
  const floor = await runIngestFloor(5000, 64, 500);
  reportIngestFloor(floor, 0);
}
