/**
 * What producer signatures cost (issue 18): single-event ingest of signed CloudEvents (Ed25519,
 * verified by the gateway over the bytes sent) against the same unsigned CloudEvents, each on a fresh
 * app whose principal differs only in `signing:`, driven by the same client; run unsigned, signed,
 * unsigned, signed and the better run of each kept (the machine's noise falls on both). And the
 * verification alone: `verifyEvent` on one event, per call, in this process.
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
  verifyP50Us: number;
  verifyP99Us: number;
}

const KEYS = generateKeyPairSync("ed25519");
const CE = "application/cloudevents+json";

function app(signed: boolean): string {
  const dir = mkdtempSync(join(tmpdir(), "palisade-bench-signed-"));
  mkdirSync(join(dir, "schemas"));
  mkdirSync(join(dir, "keys"));
  writeFileSync(join(dir, "schemas", "bench.ping.json"), JSON.stringify(SCHEMA));
  writeFileSync(join(dir, "keys", "producer.pem"), KEYS.publicKey.export({ type: "spki", format: "pem" }));
  const signing = signed
    ? "\n    signing: { keys: [{ keyid: producer, publicKey: keys/producer.pem }] }"
    : "";
  writeFileSync(
    join(dir, "palisade.yaml"),
    `name: bench-signed
events:
  bench.ingest: { schema: schemas/bench.ping.json }
principals:
  bench:
    apiKey: { secret: BENCH_KEY }
    publish: [bench.ingest]
    rateLimit: { perSecond: 1000000, burst: 10000000 }${signing}
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

async function ingest(
  signed: boolean,
  requests: number,
  concurrency: number,
  warmup: number,
): Promise<number> {
  const dir = app(signed);
  const all = bodies(warmup + requests, signed);
  const platform = await startPlatform({
    appDir: dir,
    logger: createLogger({ level: "silent" }),
    port: 0,
    host: "127.0.0.1",
  });
  try {
    await drive(platform.url, warmup, concurrency, (i) => all[i] ?? "", { contentType: CE });
    const load = await drive(platform.url, requests, concurrency, (i) => all[warmup + i] ?? "", {
      contentType: CE,
    });
    if (load.errors > 0) throw new Error(`signed=${signed}: ${load.errors} requests failed`);
    return (load.accepted / load.ms) * 1000;
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
  const unsigned: number[] = [];
  const signed: number[] = [];
  for (let round = 0; round < 2; round++) {
    unsigned.push(await ingest(false, requests, concurrency, warmup));
    signed.push(await ingest(true, requests, concurrency, warmup));
  }
  return {
    requests,
    concurrency,
    unsignedRps: Math.max(...unsigned),
    signedRps: Math.max(...signed),
    verifyP50Us: verify.p50,
    verifyP99Us: verify.p99,
  };
}

export function reportSignedIngest(r: SignedIngest): Record<string, unknown> {
  const share = ratio(r.signedRps, r.unsignedRps);
  printTable(
    `Producer-signed ingest (${r.requests} single structured CloudEvents, ${r.concurrency} in flight; baseline = the same events unsigned, principal without signing:)`,
    ["measure", "events/s", "vs baseline"],
    [
      ["baseline: unsigned CloudEvents", Math.round(r.unsignedRps).toLocaleString("en-US"), x(1)],
      ["signed (Ed25519 dssematerial, verified)", Math.round(r.signedRps).toLocaleString("en-US"), x(share)],
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
