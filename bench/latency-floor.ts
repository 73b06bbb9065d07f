/**
 * The latency floor: the same open-loop sender, at the same rates, against two servers with none of
 * Palisade in them. `bare`: Fastify answering 202 at once (what HTTP and the machine's scheduling
 * cost alone). `pipeline`: Fastify doing per event only what Palisade's path cannot leave out — an
 * fsync'd SQLite commit of the event and its delivery row (group commit, Palisade's pragmas and
 * schema), one invocation round trip to an echo child started as the sandboxes are (bubblewrap when it
 * works here, else the permission flags; fd 3, v8 frames), and an fsync'd commit of the settle — then
 * answering. Its reply time is the floor of Palisade's "POST sent → handler done and settled"
 * (Palisade answers after the first commit and settles later; the floor answers after the settle).
 */
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import Fastify from "fastify";
import { SQLITE_PRAGMAS, SQLITE_SCHEMA_SQL } from "../src/bus/index.ts";
import { createGroupCommit } from "../src/group-commit.ts";
import { detectOsLayer } from "../src/runtime/index.ts";
import { startBare } from "./bare.ts";
import { startEcho, writeEchoScript } from "./floors-ipc.ts";
import { benchEvent } from "./invoke.ts";
import { type LatencyConfig, sendOpenLoop } from "./latency.ts";
import { LATENCY_AIMS } from "./latency-report.ts";
import { printTable, quantile, round, perSecond as rps } from "./stats.ts";

export interface FloorRate {
  offeredRate: number;
  p50Ms: number;
  p99Ms: number;
  httpErrors: number;
  firstError?: string;
}

export interface LatencyFloor {
  bare: FloorRate[];
  pipeline: FloorRate[];
  /** How the echo child was started (bubblewrap or the permission flags alone). */
  child: string;
}

interface Server {
  url: string;
  close(): Promise<void>;
}

async function startPipeline(dir: string): Promise<Server & { child: string }> {
  const db = new DatabaseSync(join(dir, "floor.db"));
  db.exec(SQLITE_PRAGMAS);
  db.exec(SQLITE_SCHEMA_SQL);
  const insertEvent = db.prepare(
    "INSERT INTO events (origin, source, id, type, body, accepted_at) VALUES (?, ?, ?, ?, ?, ?)",
  );
  const insertDelivery = db.prepare(
    "INSERT INTO deliveries (seq, target, state, attempts, next_at, updated_at, mac) VALUES (?, 'noop', 'pending', 0, ?, ?, ?)",
  );
  const settle = db.prepare(
    "UPDATE deliveries SET state = 'delivered', attempts = attempts + 1, updated_at = ? WHERE seq = ? AND target = 'noop'",
  );
  const writer = createGroupCommit(db);
  const os = detectOsLayer();
  const variant = os.active ? "bwrap" : "permission";
  const echo = startEcho(variant, writeEchoScript(dir));
  await echo.next(); // ready
  // The echo answers in order: each reply settles the oldest invocation waiting.
  const waiting: (() => void)[] = [];
  void (async () => {
    for (;;) {
      await echo.next();
      waiting.shift()?.();
    }
  })().catch(() => undefined); // the child is gone: the server is closing
  const body = "x".repeat(300); // about a sealed envelope's size as stored
  const mac = "m".repeat(43);

  const app = Fastify({ logger: false });
  app.post("/events", async (request, reply) => {
    const now = Date.now();
    const id = randomUUID();
    const event = { ...benchEvent(0), id, data: (request.body as { data?: unknown }).data };
    const seq = await writer.run(() => {
      const s = Number(insertEvent.run("bench", "/bench", id, "bench.ping", body, now).lastInsertRowid);
      insertDelivery.run(s, now, now, mac);
      return s;
    });
    await new Promise<void>((resolve) => {
      waiting.push(resolve);
      echo.send({ t: "invoke", items: [{ id: seq, event, attempt: 1 }] });
    });
    await writer.run(() => settle.run(Date.now(), seq));
    return reply.status(202).send({ ids: [id] });
  });
  const url = await app.listen({ port: 0, host: "127.0.0.1" });
  return {
    url,
    child:
      variant === "bwrap"
        ? "under bubblewrap with the sandbox flags"
        : "with the sandbox flags (no bubblewrap here)",
    async close() {
      await app.close();
      await echo.stop();
      db.close();
    },
  };
}

async function offerEach(server: Server, cfg: LatencyConfig): Promise<FloorRate[]> {
  const out: FloorRate[] = [];
  for (const rate of cfg.rates) {
    const sent = await sendOpenLoop(new URL(server.url), rate, cfg);
    const times = [...sent.acceptMs].sort((a, b) => a - b);
    out.push({
      offeredRate: rate,
      p50Ms: round(quantile(times, 0.5), 2),
      p99Ms: round(quantile(times, 0.99), 2),
      httpErrors: sent.httpErrors,
      ...(sent.firstError === undefined ? {} : { firstError: sent.firstError }),
    });
  }
  return out;
}

/** Both floors at every rate of `cfg`, with the same sender settings as the latency section. */
export async function runLatencyFloor(cfg: LatencyConfig): Promise<LatencyFloor> {
  const dir = mkdtempSync(join(tmpdir(), "palisade-latency-floor-"));
  try {
    const bare = await startBare();
    let bareRates: FloorRate[];
    try {
      bareRates = await offerEach(bare, cfg);
    } finally {
      await bare.close();
    }
    const pipeline = await startPipeline(dir);
    try {
      return { bare: bareRates, pipeline: await offerEach(pipeline, cfg), child: pipeline.child };
    } finally {
      await pipeline.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Prints the floors next to Palisade's latency of the same run (by offered rate). */
export function reportLatencyFloor(
  floor: LatencyFloor,
  palisade: readonly { offeredRate: number; p50Ms: number; p99Ms: number }[],
): Record<string, unknown> {
  const ms = (n: number | undefined): string => (n === undefined ? "—" : n.toFixed(1));
  printTable(
    `Latency floor: the same sender and rates against bare Fastify (202 at once) and against the unavoidable pipeline (fsync'd commit, one round trip to an echo child ${floor.child}, fsync'd settle, then 202)`,
    ["offered/s", "bare p50 / p99 ms", "pipeline p50 / p99 ms", "Palisade p50 / p99 ms", "errors"],
    floor.pipeline.map((p) => {
      const bare = floor.bare.find((b) => b.offeredRate === p.offeredRate);
      const pal = palisade.find((r) => r.offeredRate === p.offeredRate);
      return [
        rps(p.offeredRate),
        `${ms(bare?.p50Ms)} / ${ms(bare?.p99Ms)}`,
        `${ms(p.p50Ms)} / ${ms(p.p99Ms)}`,
        `${ms(pal?.p50Ms)} / ${ms(pal?.p99Ms)}`,
        String(p.httpErrors + (bare?.httpErrors ?? 0)),
      ];
    }),
  );
  for (const p of floor.pipeline) {
    const aim = LATENCY_AIMS[p.offeredRate];
    if (aim === undefined) continue;
    const below = (name: string, value: number, floorMs: number) =>
      value < floorMs
        ? `${name} aim ${value} ms is below the floor's ${floorMs.toFixed(1)} ms`
        : `${name} aim ${value} ms is above the floor's ${floorMs.toFixed(1)} ms`;
    console.log(
      `${rps(p.offeredRate)}/s: ${below("p50", aim.p50, p.p50Ms)}; ${below("p99", aim.p99, p.p99Ms)}`,
    );
  }
  for (const r of [...floor.bare, ...floor.pipeline])
    if (r.firstError) console.log(`latency floor: first error at ${r.offeredRate}/s: ${r.firstError}`);
  return { latencyFloor: floor };
}

if (import.meta.main) {
  const cfg: LatencyConfig = {
    rates: [500, 2000],
    seconds: 3,
    drainMs: 20_000,
    sockets: 256,
    warmup: 200,
    warmupSeconds: 0.5,
  };
  const floor = await runLatencyFloor(cfg);
  reportLatencyFloor(floor, []);
}
