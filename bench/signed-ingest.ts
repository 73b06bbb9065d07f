/**
 * What producer signatures cost (issue 18): single-event ingest of signed CloudEvents (Ed25519,
 * verified by the gateway over the bytes sent) against the same CloudEvents unsigned, from one
 * principal on one platform, driven by the same client in alternating phases. And the verification
 * alone: `verifyEvent` on one event, per call, in this process.
 *
 * Standalone: `node bench/signed-ingest.ts` (also a section of `npm run bench`).
 */
import { generateKeyPairSync, randomUUID } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { openAppSecrets, startPlatform } from "../src/main.ts";
import { createLogger } from "../src/observe/index.ts";
import { signEvent, verifyEvent } from "../src/verifiable/index.ts";
import { SCHEMA } from "./e2e.ts";
import { BENCH_KEY, drive } from "./load.ts";
import { printTable, quantile, ratio, times as x } from "./stats.ts";

/** Aims of issue 18: signed ingest ≥ 0.85× unsigned; Ed25519 verification p50 ≤ 150 µs. */
export const SIGNED_AIMS = { ratio: 0.85, verifyP50Us: 150 } as const;

export interface SignedIngest {
  requests: number;
  concurrency: number;
  unsignedRps: number;
  signedRps: number;
  /** CPU time of this process (client and platform, every thread) per event of each kind, in µs. */
  unsignedCpuUs: number;
  signedCpuUs: number;
  verifyP50Us: number;
  verifyP99Us: number;
}

const KEYS = generateKeyPairSync("ed25519");
const CE = "application/cloudevents+json";
/** Requests per phase of one kind (see ingest). */
const PHASE = 250;

// One app for both: a principal with a signing key that also takes unsigned events
// (requireSigned: false), so both kinds meet the same process, store and caches.
function app(): string {
  const dir = mkdtempSync(join(tmpdir(), "palisade-bench-signed-"));
  mkdirSync(join(dir, "schemas"));
  mkdirSync(join(dir, "keys"));
  writeFileSync(join(dir, "schemas", "bench.ping.json"), JSON.stringify(SCHEMA));
  writeFileSync(join(dir, "keys", "producer.pem"), KEYS.publicKey.export({ type: "spki", format: "pem" }));
  writeFileSync(
    join(dir, "palisade.yaml"),
    `name: bench-signed
events:
  bench.ingest: { schema: schemas/bench.ping.json }
principals:
  bench:
    apiKey: { secret: BENCH_KEY }
    publish: [bench.ingest]
    rateLimit: { perSecond: 1000000, burst: 10000000 }
    signing: { keys: [{ keyid: producer, publicKey: keys/producer.pem }], requireSigned: false }
functions: {}
`,
  );
  openAppSecrets(dir).set("BENCH_KEY", BENCH_KEY);
  return dir;
}

/** `count` structured CloudEvents with distinct ids, signed or not; built before any timing. */
function bodies(count: number, signed: boolean): string[] {
  const run = randomUUID().slice(0, 8);
  return Array.from({ length: count }, (_, i) => {
    const attributes = {
      specversion: "1.0",
      id: `${run}-${i}`,
      source: "https://bench.example/producer",
      type: "bench.ingest",
      datacontenttype: "application/json",
      time: "2026-12-04T12:00:00Z",
    };
    const data = `{"n":${i}}`;
    const material = signed
      ? `,"dssematerial":"${signEvent({ attributes, data: Buffer.from(data) }, { keyid: "producer", privateKey: KEYS.privateKey })}"`
      : "";
    return `${JSON.stringify(attributes).slice(0, -1)}${material},"data":${data}}`;
  });
}

/**
 * Unsigned and signed requests in alternating phases of PHASE on one platform (the order flipped
 * every phase), each kind's events and time summed: a slow spell of a shared machine falls on both.
 */
async function ingest(
  requests: number,
  concurrency: number,
  warmup: number,
): Promise<{ unsigned: number; signed: number; unsignedCpuUs: number; signedCpuUs: number }> {
  const dir = app();
  const plain = bodies(warmup + requests, false);
  const signed = bodies(warmup + requests, true);
  const platform = await startPlatform({
    appDir: dir,
    logger: createLogger({ level: "silent" }),
    port: 0,
    host: "127.0.0.1",
  });
  const total = { unsigned: { events: 0, ms: 0, cpuUs: 0 }, signed: { events: 0, ms: 0, cpuUs: 0 } };
  try {
    const options = { contentType: CE };
    await drive(platform.url, warmup, concurrency, (i) => plain[i] ?? "", options);
    await drive(platform.url, warmup, concurrency, (i) => signed[i] ?? "", options);
    for (let at = 0, phase = 0; at < requests; at += PHASE, phase++) {
      const n = Math.min(PHASE, requests - at);
      const kinds = phase % 2 === 0 ? (["unsigned", "signed"] as const) : (["signed", "unsigned"] as const);
      for (const kind of kinds) {
        const from = kind === "signed" ? signed : plain;
        const cpu = process.cpuUsage();
        const load = await drive(platform.url, n, concurrency, (i) => from[warmup + at + i] ?? "", options);
        const used = process.cpuUsage(cpu);
        if (load.errors > 0)
          throw new Error(`${kind}: ${load.errors} requests failed: ${load.firstError ?? ""}`);
        total[kind].events += load.accepted;
        total[kind].ms += load.ms;
        total[kind].cpuUs += used.user + used.system;
      }
    }
    return {
      unsigned: (total.unsigned.events / total.unsigned.ms) * 1000,
      signed: (total.signed.events / total.signed.ms) * 1000,
      unsignedCpuUs: total.unsigned.cpuUs / total.unsigned.events,
      signedCpuUs: total.signed.cpuUs / total.signed.events,
    };
  } finally {
    await platform.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Per-call time of verifying one signed event (digests, envelope, Ed25519), in µs. */
function verifyCost(calls: number): { p50: number; p99: number } {
  const attributes = {
    specversion: "1.0",
    id: "bench-1",
    source: "https://bench.example/producer",
    type: "bench.ingest",
    datacontenttype: "application/json",
    time: "2026-12-04T12:00:00Z",
    tenant: "acme",
  };
  const data = Buffer.from('{"orderId":"o-1","amount":42,"currency":"EUR"}');
  const material = signEvent({ attributes, data }, { keyid: "producer", privateKey: KEYS.privateKey }, [
    "tenant",
  ]);
  const keys = new Map([["producer", KEYS.publicKey]]);
  const samples: number[] = [];
  for (let i = 0; i < calls + 1000; i++) {
    const t0 = process.hrtime.bigint();
    const result = verifyEvent({ attributes, data }, material, keys);
    const ns = Number(process.hrtime.bigint() - t0);
    if (!result.ok) throw new Error(`bench event does not verify: ${result.message}`);
    if (i >= 1000) samples.push(ns / 1000);
  }
  samples.sort((a, b) => a - b);
  return { p50: quantile(samples, 0.5), p99: quantile(samples, 0.99) };
}

export async function runSignedIngest(
  requests: number,
  concurrency: number,
  warmup: number,
): Promise<SignedIngest> {
  const verify = verifyCost(20_000);
  const run = await ingest(requests, concurrency, warmup);
  return {
    requests,
    concurrency,
    unsignedRps: run.unsigned,
    signedRps: run.signed,
    unsignedCpuUs: run.unsignedCpuUs,
    signedCpuUs: run.signedCpuUs,
    verifyP50Us: verify.p50,
    verifyP99Us: verify.p99,
  };
}

export function reportSignedIngest(r: SignedIngest): Record<string, unknown> {
  const share = ratio(r.signedRps, r.unsignedRps);
  printTable(
    `Producer-signed ingest (${r.requests} single structured CloudEvents of each kind, ${r.concurrency} in flight, in alternating phases of ${PHASE}; baseline = the same events unsigned, same principal)`,
    ["measure", "events/s", "vs baseline", "CPU µs/event (all threads)"],
    [
      [
        "baseline: unsigned CloudEvents",
        Math.round(r.unsignedRps).toLocaleString("en-US"),
        x(1),
        r.unsignedCpuUs.toFixed(0),
      ],
      [
        "signed (Ed25519 dssematerial, verified)",
        Math.round(r.signedRps).toLocaleString("en-US"),
        x(share),
        r.signedCpuUs.toFixed(0),
      ],
    ],
  );
  console.log(
    `signed ingest = ${x(share)} unsigned (aim ≥ ${SIGNED_AIMS.ratio}×${share >= SIGNED_AIMS.ratio ? "" : " — missed"})` +
      ` | Ed25519 verification per event: p50 ${r.verifyP50Us.toFixed(1)} µs, p99 ${r.verifyP99Us.toFixed(1)} µs` +
      ` (aim p50 ≤ ${SIGNED_AIMS.verifyP50Us} µs${r.verifyP50Us <= SIGNED_AIMS.verifyP50Us ? "" : " — missed"})`,
  );
  return { signedIngest: { ...r, ratio: share } };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const requests = Number(process.env.BENCH_INGEST ?? 5000);
  reportSignedIngest(await runSignedIngest(requests, 32, 500));
}
