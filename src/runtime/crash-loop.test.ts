import assert from "node:assert/strict";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { bundleFunction } from "../../test/kit/bundle-function.ts";
import { tempApp } from "../../test/kit/temp-app.ts";
import { createEvent } from "../events/index.ts";
import { DEFAULT_LIMITS, DEFAULT_RETRY, type FunctionSpec, NO_GRANTS } from "../manifest/index.ts";
import {
  type CrashPolicy,
  createCapabilityHost,
  createSandboxPool,
  detectOsLayer,
  egressFetch,
  type KvBackend,
  RUNTIME_CRASHED,
  type SandboxPool,
} from "./index.ts";

const POLICY: CrashPolicy = {
  initialDelayMs: 20,
  maxDelayMs: 200,
  crashes: 3,
  windowMs: 60_000,
  coolDownMs: 1500,
};

// Crashes its process while the host's "ctl/crash" key is set: the test decides when it is fixed.
const CRASHER = `export default async (e, ctx) => { if (await ctx.kv.get("ctl", "crash")) process.exit(1); return "ok"; };`;

interface Watched {
  pool: SandboxPool;
  /** Process starts (the beforeSpawn check runs before each). */
  starts: number;
  crashes: number;
  unavailable: { crashes: number; windowMs: number; until: number }[];
  available: number;
  /** Resolves when the pool reports the function unavailable. */
  tripped: Promise<void>;
  /** Resolves at the next crash. */
  nextCrash(): Promise<void>;
}

async function watchedPool(t: TestContext, name: string, source: string, data: Map<string, unknown>) {
  const dir = tempApp(t, { "fn.ts": source });
  const fn: FunctionSpec = {
    name,
    handlerPath: join(dir, "fn.ts"),
    on: ["t.x"],
    ...NO_GRANTS,
    kv: { ctl: "read" },
    limits: { ...DEFAULT_LIMITS, concurrency: 1, minInstances: 1, timeoutMs: 5000 },
    retry: DEFAULT_RETRY,
  };
  const bundlePath = await bundleFunction(name, fn.handlerPath, join(dir, ".palisade"));
  const capabilities = createCapabilityHost(
    {
      emit: async () => "x",
      secret: () => undefined,
      kv: memoryKv(data),
      fetch: (f, u, i) => egressFetch(u, i, { fn: f.name, rules: f.egress }),
    },
    { used: () => undefined, denied: () => undefined, limited: () => undefined },
  );
  let trip: () => void = () => undefined;
  const crashWaiters: (() => void)[] = [];
  const w: Watched = {
    starts: 0,
    crashes: 0,
    unavailable: [],
    available: 0,
    tripped: new Promise<void>((resolve) => {
      trip = resolve;
    }),
    nextCrash: () => new Promise<void>((resolve) => crashWaiters.push(resolve)),
  } as unknown as Watched;
  w.pool = createSandboxPool({
    fn,
    bundlePath,
    capabilities,
    log: () => undefined,
    osLayer: detectOsLayer().active,
    beforeSpawn: () => void w.starts++,
    crashPolicy: POLICY,
    events: {
      crashed: () => {
        w.crashes++;
        for (const resolve of crashWaiters.splice(0)) resolve();
      },
      unavailable: (info) => {
        w.unavailable.push(info);
        trip();
      },
      available: () => void w.available++,
    },
  });
  t.after(() => w.pool.close());
  await w.pool.start();
  return w;
}

function memoryKv(data: Map<string, unknown>): KvBackend {
  return {
    get: async (ns, key) => data.get(`${ns}/${key}`),
    set: async (ns, key, value) => void data.set(`${ns}/${key}`, value),
    delete: async (ns, key) => data.delete(`${ns}/${key}`),
    list: async () => ({ keys: [] }),
  };
}

const event = (n: number) =>
  createEvent({ type: "t.x", data: { n } }, { principal: "test", source: "test", hop: 0 });

test("a crash-looping function backs off, goes unavailable holding its invocations, and comes back after its cool-down while a neighbour keeps working", async (t) => {
  const control = new Map<string, unknown>([["ctl/crash", true]]);
  const crasher = await watchedPool(t, "crasher", CRASHER, control);
  const neighbour = await watchedPool(t, "neighbour", CRASHER, new Map());

  const settled: string[] = [];
  const runs = [1, 2, 3, 4, 5, 6].map((n) =>
    crasher.pool.invoke(event(n), 1).then(
      (v) => void settled.push(`ok:${v}`),
      (e: { code: string }) => void settled.push(e.code),
    ),
  );
  await crasher.tripped;
  assert.deepEqual(
    settled,
    [RUNTIME_CRASHED, RUNTIME_CRASHED, RUNTIME_CRASHED],
    "each crash failed only the invocation it ran",
  );
  assert.equal(crasher.crashes, POLICY.crashes);
  assert.deepEqual(
    crasher.unavailable.map((u) => [u.crashes, u.windowMs]),
    [[POLICY.crashes, POLICY.windowMs]],
  );
  const startsWhenTripped = crasher.starts;

  // While it is unavailable the neighbour runs, the crasher starts nothing and fails nothing more.
  assert.equal(await neighbour.pool.invoke(event(7), 1), "ok");
  await new Promise((r) => setTimeout(r, POLICY.coolDownMs / 2));
  assert.equal(crasher.starts, startsWhenTripped, "no process started during the cool-down");
  assert.equal(settled.length, 3, "the rest are held, not failed");

  // Fixed: after the cool-down one trial start serves the held invocations and closes the circuit.
  control.delete("ctl/crash");
  await Promise.all(runs);
  assert.deepEqual(settled.slice(3), ["ok:ok", "ok:ok", "ok:ok"]);
  assert.equal(crasher.available, 1);
  // The warm start, one start after each crash but the one that opened the circuit, one trial (and
  // the check at start): bounded by the policy, not by how long it crashed.
  assert.ok(crasher.starts <= POLICY.crashes + 3, `${crasher.starts} starts`);
  assert.equal(neighbour.crashes, 0);
});

test("a trial start that crashes again keeps the function unavailable for another cool-down", async (t) => {
  const control = new Map<string, unknown>([["ctl/crash", true]]);
  const crasher = await watchedPool(t, "crasher", CRASHER, control);
  const settled: string[] = [];
  const runs = [1, 2, 3, 4, 5].map((n) =>
    crasher.pool.invoke(event(n), 1).then(
      () => void settled.push("ok"),
      (e: { code: string }) => void settled.push(e.code),
    ),
  );
  await crasher.tripped;
  // The trial after the first cool-down crashes too (one more failed invocation), and the circuit
  // stays open: the last one is still held. Then it is fixed and served after the second cool-down.
  await crasher.nextCrash();
  assert.equal(crasher.crashes, POLICY.crashes + 1);
  assert.equal(crasher.available, 0);
  assert.equal(settled.length, POLICY.crashes + 1);
  control.delete("ctl/crash");
  await Promise.all(runs);
  assert.deepEqual(settled.slice(POLICY.crashes + 1), ["ok"]);
  assert.equal(crasher.available, 1);
  assert.equal(crasher.unavailable.length, 1, "reported once, not per crash while open");
});
