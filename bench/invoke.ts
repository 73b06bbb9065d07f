/**
 * Warm invoke overhead: sequential `pool.invoke` calls of a noop handler in one sandbox process,
 * against awaiting the very same bundled handler in this process.
 */
import { randomUUID } from "node:crypto";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { CloudEvent } from "../src/events/index.ts";
import { DEFAULT_LIMITS, type FunctionSpec, NO_GRANTS } from "../src/manifest/index.ts";
import {
  type CapabilityHost,
  createCapabilityHost,
  createSandboxPool,
  detectOsLayer,
} from "../src/runtime/index.ts";
import { buildFunction } from "../src/supply/index.ts";
import { type Summary, summarize } from "./stats.ts";

export interface InvokeRun {
  sandbox: Summary;
  direct: Summary;
}

/** The no-op bench event the sandbox measures carry. */
export function benchEvent(n: number): CloudEvent {
  return {
    specversion: "1.0",
    id: randomUUID(),
    source: "palisade://bench",
    type: "bench.ping",
    time: new Date().toISOString(),
    datacontenttype: "application/json",
    data: { n },
    traceparent: "00-0123456789abcdef0123456789abcdef-0123456789abcdef-01",
    principal: "bench",
    hop: 0,
  };
}

/** Times `count` awaited calls of `call`, after `warmup` untimed ones; returns nanoseconds per call. */
async function timeCalls(
  count: number,
  warmup: number,
  call: (i: number) => Promise<unknown>,
): Promise<number[]> {
  for (let i = 0; i < warmup; i++) await call(i);
  const samples = new Array<number>(count);
  for (let i = 0; i < count; i++) {
    const t0 = process.hrtime.bigint();
    await call(i);
    samples[i] = Number(process.hrtime.bigint() - t0);
  }
  return samples;
}

/** A capability host whose backends do nothing: what is timed is the check and the IPC round trip. */
export function benchCapabilities(): CapabilityHost {
  return createCapabilityHost(
    {
      emit: async () => "id",
      secret: () => "value",
      kv: {
        get: async () => 1,
        set: async () => undefined,
        delete: async () => true,
        list: async () => ({ keys: [] }),
      },
      fetch: async () => {
        throw new Error("no egress in the bench");
      },
    },
    { used: () => undefined, denied: () => undefined, limited: () => undefined },
  );
}

/** One bench function (one instance, no retries) bundled from `functions/<name>.ts` of the bench app. */
async function benchFunction(
  appDir: string,
  name: string,
  extra: Partial<FunctionSpec> = {},
): Promise<{ fn: FunctionSpec; bundlePath: string }> {
  const handlerPath = join(appDir, "functions", `${name}.ts`);
  const { bundlePath } = await buildFunction({
    name,
    handlerPath,
    appDir,
    outDir: join(appDir, ".bench-bundles"),
  });
  const fn: FunctionSpec = {
    name,
    handlerPath,
    on: ["bench.ping"],
    ...NO_GRANTS,
    limits: { ...DEFAULT_LIMITS, concurrency: 1 },
    retry: { attempts: 1, backoff: "fixed", initialDelayMs: 100, maxDelayMs: 100 },
    ...extra,
  };
  return { fn, bundlePath };
}

export async function runInvoke(appDir: string, count: number, warmup: number): Promise<InvokeRun> {
  const { fn, bundlePath } = await benchFunction(appDir, "noop", {
    limits: { ...DEFAULT_LIMITS, timeoutMs: 5000, concurrency: 1 },
  });
  // Distinct events built up front, so neither side pays for building them inside the timed loop.
  const events = Array.from({ length: count + warmup }, (_, i) => benchEvent(i));
  const at = (i: number): CloudEvent => events[i % events.length] as CloudEvent;

  const pool = createSandboxPool({
    fn,
    bundlePath,
    capabilities: benchCapabilities(),
    log: () => {},
    osLayer: detectOsLayer().active,
  });
  let sandboxNs: number[];
  try {
    await pool.start();
    sandboxNs = await timeCalls(count, warmup, (i) => pool.invoke(at(i), 1));
  } finally {
    await pool.close();
  }

  const mod = (await import(pathToFileURL(bundlePath).href)) as {
    default: (event: unknown, ctx: unknown) => unknown;
  };
  const handler = mod.default;
  const ctx = Object.freeze({ functionName: "noop", attempt: 1 });
  const directNs = await timeCalls(count, warmup, async (i) => await handler(at(i), ctx));

  return { sandbox: summarize(sandboxNs), direct: summarize(directNs) };
}

export interface CapabilityRun {
  /** One ctx.secrets.get from inside the sandbox (checked by the host, answered over IPC). */
  sandbox: Summary;
  /** An awaited call of an in-process async function that returns the same value. */
  direct: Summary;
}

/** Cost of one capability call: a handler awaits `calls` ctx.secrets.get in a row, `rounds` times. */
export async function runCapability(appDir: string, rounds: number, calls: number): Promise<CapabilityRun> {
  const handlerPath = join(appDir, "functions", "secrets-loop.ts");
  const { writeFileSync } = await import("node:fs");
  writeFileSync(
    handlerPath,
    `export default async (e, ctx) => { const t0 = process.hrtime.bigint(); for (let i = 0; i < ${calls}; i++) await ctx.secrets.get("BENCH_SECRET"); return Number(process.hrtime.bigint() - t0); };`,
  );
  const { fn, bundlePath } = await benchFunction(appDir, "secrets-loop", {
    secrets: ["BENCH_SECRET"],
    limits: { ...DEFAULT_LIMITS, timeoutMs: 60_000, concurrency: 1 },
  });
  const pool = createSandboxPool({
    fn,
    bundlePath,
    capabilities: benchCapabilities(),
    log: () => {},
    osLayer: detectOsLayer().active,
  });
  const perCall: number[] = [];
  try {
    await pool.start();
    await pool.invoke(benchEvent(0), 1); // warm-up
    for (let r = 0; r < rounds; r++) perCall.push(Number(await pool.invoke(benchEvent(r), 1)) / calls);
  } finally {
    await pool.close();
  }
  const get = async (_name: string) => "value";
  const direct = await timeCalls(rounds * calls, calls, () => get("BENCH_SECRET"));
  return { sandbox: summarize(perCall), direct: summarize(direct) };
}

/** Cold start: from asking for a pool of one instance to that instance having loaded its bundle. */
export async function runColdStart(appDir: string, times: number): Promise<Summary> {
  const { fn, bundlePath } = await benchFunction(appDir, "noop");
  const samples: number[] = [];
  for (let i = 0; i < times; i++) {
    const t0 = process.hrtime.bigint();
    const pool = createSandboxPool({
      fn,
      bundlePath,
      capabilities: benchCapabilities(),
      log: () => {},
      osLayer: detectOsLayer().active,
    });
    await pool.start();
    samples.push(Number(process.hrtime.bigint() - t0));
    await pool.close();
  }
  return summarize(samples);
}
