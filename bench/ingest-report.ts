/** Prints the ingest tables (single events and batches, each against its baseline) and returns their JSON. */
import type { IngestConfig, IngestRun } from "./ingest.ts";
import { printTable, ratio, round, perSecond as rps, times as x } from "./stats.ts";

const ms = (n: number): string => n.toFixed(2);

export function reportIngest({ single, batch }: IngestRun, cfg: IngestConfig): Record<string, unknown> {
  const singleRatio = ratio(single.palisade.rps, single.baseline.rps);
  printTable(
    `Authenticated + validated single-event ingest (${cfg.requests} requests, ${cfg.concurrency} in flight;` +
      " bench.ingest has no subscriber; baseline = bare Fastify 202)",
    ["measure", "events/s", "p50 ms", "p99 ms", "vs baseline"],
    [single.baseline, single.palisade].map((side, i) => [
      i === 0 ? "baseline: bare Fastify POST /events" : "palisade ingest (auth+schema+durable 202)",
      rps(side.rps),
      ms(side.p50Ms),
      ms(side.p99Ms),
      x(i === 0 ? 1 : singleRatio),
    ]),
  );
  console.log(
    `ingest/baseline = ${x(singleRatio)} (aim ≥ 0.7×, p99 ≤ 2× bare's)` +
      ` | http errors: baseline ${single.baseline.load.errors}, palisade ${single.palisade.load.errors}`,
  );
  if (single.palisade.load.firstError)
    console.log(`first palisade error: ${single.palisade.load.firstError}`);

  const batchRatio = ratio(batch.palisade.eventsPerSec, batch.baseline.eventsPerSec);
  printTable(
    `Batch ingest (${cfg.batches} requests of ${cfg.batchSize} CloudEvents, ${cfg.batchConcurrency} in flight;` +
      " baseline = bare Fastify 202 echoing the ids)",
    ["measure", "events/s", "batches/s", "vs baseline"],
    [batch.baseline, batch.palisade].map((side, i) => [
      i === 0 ? "baseline: bare Fastify POST /events" : "palisade batch ingest (durable 202)",
      rps(side.eventsPerSec),
      rps(side.requestsPerSec),
      x(i === 0 ? 1 : batchRatio),
    ]),
  );
  console.log(
    `palisade batch ingest: ${rps(batch.palisade.eventsPerSec)} events/s (aim ≥ 100,000 events/s on 2 cores)` +
      ` | ids returned ${batch.palisade.ids}/${batch.palisade.load.accepted * cfg.batchSize}` +
      ` | timed batches: ${batch.writes} writes in ${batch.commits} commits` +
      ` | http errors: baseline ${batch.baseline.load.errors}, palisade ${batch.palisade.load.errors}`,
  );
  if (batch.palisade.load.firstError) console.log(`first palisade error: ${batch.palisade.load.firstError}`);

  return {
    ingest: {
      baselineRps: round(single.baseline.rps),
      rps: round(single.palisade.rps),
      ratio: singleRatio,
      baselineP50Ms: single.baseline.p50Ms,
      baselineP99Ms: single.baseline.p99Ms,
      p50Ms: single.palisade.p50Ms,
      p99Ms: single.palisade.p99Ms,
      httpErrors: { baseline: single.baseline.load.errors, palisade: single.palisade.load.errors },
    },
    batchIngest: {
      baselineEventsPerSec: round(batch.baseline.eventsPerSec),
      eventsPerSec: round(batch.palisade.eventsPerSec),
      ratio: batchRatio,
      baselineBatchesPerSec: round(batch.baseline.requestsPerSec),
      batchesPerSec: round(batch.palisade.requestsPerSec),
      idsReturned: batch.palisade.ids,
      commits: batch.commits,
      writes: batch.writes,
      httpErrors: { baseline: batch.baseline.load.errors, palisade: batch.palisade.load.errors },
    },
  };
}
