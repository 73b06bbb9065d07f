import assert from "node:assert/strict";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { bundleFunction } from "../../test/kit/bundle-function.ts";
import { tempApp } from "../../test/kit/temp-app.ts";
import { type CloudEvent, createEvent } from "../events/index.ts";
import { DEFAULT_LIMITS, DEFAULT_RETRY, type FunctionSpec, NO_GRANTS } from "../manifest/index.ts";
import {
  createCapabilityHost,
  createSandboxPool,
  egressFetch,
  type KvBackend,
  type SandboxPool,
} from "./index.ts";

// Each probe is a real handler bundled and run in a real sandbox process. It must be denied, and the
// pool must still serve the next invocation (the platform keeps working).
const PROBES: Record<string, string> = {
  readPasswd: `import { readFileSync } from "node:fs"; export default () => { readFileSync("/etc/passwd", "utf8"); };`,
  readOwnDir: `import { readdirSync } from "node:fs"; export default () => { readdirSync(import.meta.dirname); };`,
  writeFile: `import { writeFileSync } from "node:fs"; export default () => { writeFileSync("/tmp/palisade-escape", "x"); };`,
  socket: `import net from "node:net"; export default () => new Promise((res, rej) => { const s = net.connect(4222, "127.0.0.1"); s.on("connect", res); s.on("error", rej); });`,
  fetch: `export default async () => { try { await fetch("http://127.0.0.1:4222/"); } catch (e) { throw e.cause ?? e; } };`,
  spawn: `import { execSync } from "node:child_process"; export default () => { execSync("id"); };`,
  worker: `import { Worker } from "node:worker_threads"; export default () => { new Worker("setInterval(()=>{}, 1000)", { eval: true }); };`,
  evalCode: `export default () => { (0, eval)("1 + 1"); };`,
  addon: `export default () => { process.dlopen({ exports: {} }, "/nonexistent.node"); };`,
  inspector: `import inspector from "node:inspector"; export default () => { inspector.open(0); };`,
};

const OK = `export default (event, ctx) => { ctx.log.info("ok", { env: Object.keys(process.env).length }); };`;

interface Harness {
  pool: SandboxPool;
  logs: { level: string; message: string; fields: Record<string, unknown> }[];
  denied: string[];
}

async function sandbox(
  t: TestContext,
  source: string,
  spec: Partial<FunctionSpec> = {},
  idleStopMs?: number,
): Promise<Harness> {
  const dir = tempApp(t, { "fn.ts": source });
  const fn: FunctionSpec = {
    name: "probe",
    handlerPath: join(dir, "fn.ts"),
    on: ["t.x"],
    ...NO_GRANTS,
    limits: { ...DEFAULT_LIMITS, concurrency: 1, timeoutMs: 2000 },
    retry: DEFAULT_RETRY,
    ...spec,
  };
  const bundlePath = await bundleFunction(fn.name, fn.handlerPath, join(dir, ".palisade"));
  const h: Harness = { logs: [], denied: [] } as unknown as Harness;
  const capabilities = createCapabilityHost(
    {
      emit: async (_inv, type) => `emitted-${type}`,
      secret: (name) => (name === "API_TOKEN" ? "s3cr3t-token-value" : undefined),
      kv: memoryKv(),
      fetch: (f, url, init) => egressFetch(url, init, { fn: f.name, rules: f.egress }),
    },
    { used: () => undefined, denied: (_inv, cap) => h.denied.push(cap), limited: () => undefined },
  );
  h.pool = createSandboxPool({
    fn,
    bundlePath,
    capabilities,
    log: (_fn, _id, level, message, fields) => h.logs.push({ level, message, fields }),
    ...(idleStopMs === undefined ? {} : { idleStopMs }),
  });
  t.after(() => h.pool.close());
  await h.pool.start();
  return h;
}

function memoryKv(): KvBackend {
  const data = new Map<string, unknown>();
  return {
    get: async (ns, key) => data.get(`${ns}/${key}`),
    set: async (ns, key, value) => void data.set(`${ns}/${key}`, value),
    delete: async (ns, key) => data.delete(`${ns}/${key}`),
    list: async (ns) => ({
      keys: [...data.keys()].filter((k) => k.startsWith(`${ns}/`)).map((k) => k.slice(ns.length + 1)),
    }),
  };
}

const event = (): CloudEvent =>
  createEvent({ type: "t.x", data: { n: 1 } }, { principal: "test", source: "test", hop: 0 });

for (const [name, source] of Object.entries(PROBES)) {
  test(`a handler that tries ${name} is denied and the sandbox keeps serving`, async (t) => {
    const probe = `${source.replace("export default", "const attempt =")}
      export default async (e, ctx) => { if (e.data.n === 1) await attempt(); ctx.log.info("served"); };`;
    const h = await sandbox(t, probe);
    await assert.rejects(h.pool.invoke(event(), 1), (err: { message: string; code: string }) => {
      assert.match(
        `${err.code} ${err.message}`,
        /ERR_ACCESS_DENIED|ERR_DLOPEN_DISABLED|Code generation from strings disallowed/,
      );
      return true;
    });
    await h.pool.invoke(
      createEvent({ type: "t.x", data: { n: 2 } }, { principal: "t", source: "t", hop: 0 }),
      1,
    );
    assert.deepEqual(
      h.logs.map((l) => l.message),
      ["served"],
    );
  });
}

test("the sandbox sees an empty environment: host secrets never reach it", async (t) => {
  process.env.PALISADE_TEST_SECRET = "hunter2";
  t.after(() => delete process.env.PALISADE_TEST_SECRET);
  const h = await sandbox(
    t,
    `export default (e, ctx) => { ctx.log.info("env", { env: process.env, n: Object.keys(process.env).length }); };`,
  );
  await h.pool.invoke(event(), 1);
  assert.deepEqual(h.logs[0]?.fields, { env: {}, n: 0 });
});

test("the process runs under the permission model with read access to its bundle only", async (t) => {
  const h = await sandbox(
    t,
    `export default (e, ctx) => ctx.log.info("perm", {
      bundle: process.permission.has("fs.read", new URL(import.meta.url).pathname),
      etc: process.permission.has("fs.read", "/etc/hosts"),
      write: process.permission.has("fs.write"),
      child: process.permission.has("child"),
      worker: process.permission.has("worker"),
      net: process.permission.has("net"),
      argv: process.execArgv,
    });`,
  );
  await h.pool.invoke(event(), 1);
  const f = h.logs[0]?.fields as Record<string, unknown>;
  assert.deepEqual(
    { ...f, argv: undefined },
    { bundle: true, etc: false, write: false, child: false, worker: false, net: false, argv: undefined },
  );
  assert.ok((f.argv as string[]).includes("--permission"));
  assert.ok((f.argv as string[]).includes(`--max-old-space-size=${DEFAULT_LIMITS.memoryMb}`));
});

test("a handler that outlives its timeout is killed, the attempt fails, and a fresh process serves the next call", async (t) => {
  const h = await sandbox(
    t,
    `let calls = 0; export default async (e, ctx) => { calls++; ctx.log.info("pid", { pid: process.pid, calls }); if (e.data.n === 1) await new Promise(() => setInterval(() => {}, 1000)); };`,
    { limits: { ...DEFAULT_LIMITS, concurrency: 1, timeoutMs: 300 } },
  );
  await assert.rejects(h.pool.invoke(event(), 1), {
    code: "PAL_RUNTIME_TIMEOUT",
    message: /timed out after 300 ms/,
  });
  const next = createEvent({ type: "t.x", data: { n: 2 } }, { principal: "test", source: "test", hop: 0 });
  await h.pool.invoke(next, 1);
  assert.notEqual(h.logs[0]?.fields.pid, h.logs[1]?.fields.pid);
  assert.equal(h.logs[1]?.fields.calls, 1);
});

test("a handler that exhausts its heap limit crashes only its own sandbox", async (t) => {
  const h = await sandbox(
    t,
    `export default (e) => { if (e.data.n === 1) { const a = []; for (;;) a.push(new Array(1e5).fill({ x: 1 })); } };`,
    { limits: { ...DEFAULT_LIMITS, concurrency: 1, memoryMb: 32, timeoutMs: 20000 } },
  );
  await assert.rejects(h.pool.invoke(event(), 1), { code: "PAL_RUNTIME_CRASHED" });
  await h.pool.invoke(
    createEvent({ type: "t.x", data: { n: 2 } }, { principal: "t", source: "t", hop: 0 }),
    1,
  );
});

test("a thrown error fails the attempt with its message; process.exit is a crash that gets replaced", async (t) => {
  const h = await sandbox(
    t,
    `export default (e) => { if (e.data.n === 1) throw new Error("card declined"); if (e.data.n === 2) process.exit(3); };`,
  );
  // The message, then the stack: mapped to the source, relative to the app (failure-stack.ts).
  await assert.rejects(h.pool.invoke(event(), 1), {
    message: /^card declined\n {4}at \S+ \(fn\.ts:1:\d+\)$/,
  });
  await assert.rejects(
    h.pool.invoke(createEvent({ type: "t.x", data: { n: 2 } }, { principal: "t", source: "t", hop: 0 }), 1),
    {
      code: "PAL_RUNTIME_CRASHED",
      message: /exited with code 3/,
    },
  );
  await h.pool.invoke(
    createEvent({ type: "t.x", data: { n: 3 } }, { principal: "t", source: "t", hop: 0 }),
    1,
  );
});

test("emit is refused for a type the manifest does not grant, and allowed for one it does", async (t) => {
  const h = await sandbox(
    t,
    `export default async (e, ctx) => { ctx.log.info("id", { id: await ctx.emit("t.granted", {}) }); await ctx.emit("t.other", {}); };`,
    { emit: ["t.granted"] },
  );
  await assert.rejects(h.pool.invoke(event(), 1), {
    code: "PAL_RUNTIME_DENIED",
    message: 'Function "probe" may not emit "t.other"; add it to functions.probe.emit in palisade.yaml',
  });
  assert.equal(h.logs[0]?.fields.id, "emitted-t.granted");
  assert.deepEqual(h.denied, ["emit"]);
});

test("messages forged for another invocation id are ignored", async (t) => {
  const h = await sandbox(
    t,
    `import { writeSync } from "node:fs"; import { serialize } from "node:v8";
    const forge = (m) => { const b = serialize(m); const h = Buffer.alloc(4); h.writeUInt32BE(b.length); writeSync(3, Buffer.concat([h, b])); };
    export default async (e, ctx) => { forge({ t: "done", id: 999, ok: true }); forge({ t: "call", id: 999, call: 1, cap: "emit", args: ["t.x", {}] }); ctx.log.info("real"); };`,
    { emit: ["t.x"] },
  );
  await h.pool.invoke(event(), 1);
  assert.deepEqual(
    h.logs.map((l) => l.message),
    ["real"],
  );
  assert.deepEqual(h.denied, []);
});

test("a bundle without a default export fails to load with a clear message", async (t) => {
  await assert.rejects(sandbox(t, `export const handler = () => {};`), {
    code: "PAL_RUNTIME_LOAD_FAILED",
    message: 'Cannot load function "probe": the handler module must export a function as its default export',
  });
});

test("OK handler sanity: a clean handler succeeds and logs", async (t) => {
  const h = await sandbox(t, OK);
  await h.pool.invoke(event(), 1);
  assert.equal(h.logs[0]?.message, "ok");
});

test("invocations beyond the pool size wait for a free process, and all complete", async (t) => {
  const h = await sandbox(
    t,
    `export default async (e, ctx) => { await new Promise((r) => setTimeout(r, 20)); ctx.log.info("done", { n: e.data.n }); };`,
    { limits: { ...DEFAULT_LIMITS, concurrency: 2, timeoutMs: 5000 } },
  );
  const runs = Array.from({ length: 7 }, (_, n) =>
    h.pool.invoke(createEvent({ type: "t.x", data: { n } }, { principal: "t", source: "t", hop: 0 }), 1),
  );
  await Promise.all(runs);
  assert.deepEqual(h.logs.map((l) => l.fields.n).sort(), [0, 1, 2, 3, 4, 5, 6]);
});

test("waiting invocations are not stranded when a busy process crashes", async (t) => {
  const h = await sandbox(t, `export default (e) => { if (e.data.n === 0) process.exit(1); };`, {
    limits: { ...DEFAULT_LIMITS, concurrency: 1, timeoutMs: 5000 },
  });
  const ev = (n: number) =>
    createEvent({ type: "t.x", data: { n } }, { principal: "t", source: "t", hop: 0 });
  const results = await Promise.allSettled([
    h.pool.invoke(ev(0), 1),
    h.pool.invoke(ev(1), 1),
    h.pool.invoke(ev(2), 1),
  ]);
  assert.deepEqual(
    results.map((r) => r.status),
    ["rejected", "fulfilled", "fulfilled"],
  );
});

test("ctx carries the attempt and an idempotency key that is stable across attempts", async (t) => {
  const h = await sandbox(
    t,
    `export default (e, ctx) => ctx.log.info("ctx", { key: ctx.idempotencyKey, attempt: ctx.attempt });`,
  );
  const ev = event();
  await h.pool.invoke(ev, 1);
  await h.pool.invoke(ev, 2);
  assert.deepEqual(
    h.logs.map((l) => l.fields),
    [
      { key: `${ev.id}:probe`, attempt: 1 },
      { key: `${ev.id}:probe`, attempt: 2 },
    ],
  );
});

test("a batch runs one invocation at a time, in order, each with its own timeout", async (t) => {
  // Event 1 loops forever: it alone times out; 0 finished before it, 2 and 3 run on a fresh process.
  const h = await sandbox(
    t,
    `let active = 0;
     export default async (e, ctx) => {
       if (++active !== 1) throw new Error("ran alongside another invocation");
       await new Promise((r) => setTimeout(r, 5));
       if (e.data.n === 1) for (;;) {}
       ctx.log.info("ran", { n: e.data.n, pid: process.pid });
       active -= 1;
     };`,
    { limits: { ...DEFAULT_LIMITS, concurrency: 1, timeoutMs: 500 } },
  );
  const ev = (n: number) =>
    createEvent({ type: "t.x", data: { n } }, { principal: "t", source: "t", hop: 0 });
  const results = await Promise.allSettled([0, 1, 2, 3].map((n) => h.pool.invoke(ev(n), 1)));
  assert.deepEqual(
    results.map((r) => (r.status === "rejected" ? (r.reason as { code: string }).code : "ok")),
    ["ok", "PAL_RUNTIME_TIMEOUT", "ok", "ok"],
  );
  assert.deepEqual(
    h.logs.map((l) => l.fields.n),
    [0, 2, 3],
  );
  // Event 0 ran in the first process; 2 and 3 in its replacement.
  assert.notEqual(h.logs[0]?.fields.pid, h.logs[1]?.fields.pid);
});

test("a pool keeps minInstances warm, grows to concurrency under load, and shrinks back when idle", async (t) => {
  const h = await sandbox(
    t,
    `export default async () => { await new Promise((r) => setTimeout(r, 300)); return process.pid; };`,
    { limits: { ...DEFAULT_LIMITS, concurrency: 3, minInstances: 1, timeoutMs: 5000 } },
    200,
  );
  assert.equal(h.pool.size(), 1);
  const pids = await Promise.all([1, 2, 3].map(() => h.pool.invoke(event(), 1)));
  assert.equal(new Set(pids).size, 3, "three invocations ran in three processes at once");
  while (h.pool.size() > 1) await new Promise((r) => setTimeout(r, 50));
  assert.equal(h.pool.size(), 1);
  assert.equal(typeof (await h.pool.invoke(event(), 1)), "number", "the warm one still serves");
});

test("a function's scratch dir is its only writable place, private to the instance, and removed after", async (t) => {
  const h = await sandbox(
    t,
    `import { writeFileSync, readdirSync } from "node:fs";
     export default (e, ctx) => {
       writeFileSync(ctx.tmpdir + "/" + e.data.n, "x");
       let outside = "allowed";
       try { writeFileSync(ctx.tmpdir + "/../escape", "x"); } catch (err) { outside = err.code; }
       return { dir: ctx.tmpdir, files: readdirSync(ctx.tmpdir), outside };
     };`,
    { tmp: true, limits: { ...DEFAULT_LIMITS, concurrency: 1 } },
  );
  const first = (await h.pool.invoke(
    createEvent({ type: "t.x", data: { n: 1 } }, { principal: "t", source: "t", hop: 0 }),
    1,
  )) as {
    dir: string;
    files: string[];
    outside: string;
  };
  assert.deepEqual(first.files, ["1"]);
  assert.equal(first.outside, "ERR_ACCESS_DENIED");
  await h.pool.close();
  const { existsSync } = await import("node:fs");
  for (let i = 0; i < 100 && existsSync(first.dir); i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(existsSync(first.dir), false, "the scratch dir is removed when its process exits");
});

test("without tmp: true, ctx.tmpdir is undefined and nothing is writable", async (t) => {
  const h = await sandbox(t, `export default (e, ctx) => ctx.tmpdir ?? "none";`);
  assert.equal(await h.pool.invoke(event(), 1), "none");
});

test("an invocation that waits for its process to start is a cold start (faas.coldstart); one on a warm process is not", async (t) => {
  // One process is started ahead of time; a second invocation while it is busy starts another.
  const h = await sandbox(t, "export default () => new Promise((r) => setTimeout(r, 300));", {
    limits: { ...DEFAULT_LIMITS, concurrency: 2, timeoutMs: 5000 },
  });
  const starts: { n: number; cold: boolean }[] = [];
  const run = (n: number) =>
    h.pool.invoke(
      createEvent({ type: "t.x", data: { n } }, { principal: "test", source: "test", hop: 0 }),
      1,
      (cold) => starts.push({ n, cold }),
    );
  await Promise.all([run(1), run(2)]);
  assert.equal(h.pool.size(), 2);
  await Promise.all([run(3), run(4)]); // both processes are warm now
  assert.deepEqual(
    starts.sort((a, b) => a.n - b.n).map((s) => s.cold),
    [false, true, false, false],
  );
});
