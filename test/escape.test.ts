/**
 * The escape suite: each probe is a small function that tries one thing its manifest does not allow,
 * run in a real sandbox (permission model, plus the bubblewrap OS layer when it works here) with the
 * real capability host, kv store and egress policy. Each must be refused, and a well-behaved function
 * must keep working afterwards. CI runs this file twice: with the OS layer and with
 * PALISADE_SANDBOX_OS=off, so each layer is shown to hold on its own where it applies.
 */
import assert from "node:assert/strict";
import { symlinkSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { dirname, join } from "node:path";
import { after, before, type TestContext, test } from "node:test";
import { type CloudEvent, createEvent } from "../src/events/index.ts";
import { openSqliteKvStore } from "../src/kv/index.ts";
import {
  DEFAULT_LIMITS,
  DEFAULT_RETRY,
  type FunctionSpec,
  NO_GRANTS,
  parseEgressGrant,
} from "../src/manifest/index.ts";
import {
  createCapabilityHost,
  createSandboxPool,
  detectOsLayer,
  egressFetch,
  type SandboxPool,
} from "../src/runtime/index.ts";
import { bundleFunction } from "./kit/bundle-function.ts";
import { tempApp } from "./kit/temp-app.ts";

const SECRET = "sk_live_escape-suite-secret";
const os = detectOsLayer();

interface Probe {
  /** Handler source; it should throw (or be stopped) when the attempt is refused. */
  source: string;
  grants?: Partial<FunctionSpec>;
  /** What the refusal must look like: an error code and/or a message pattern. */
  refused: { code?: string | RegExp; message?: RegExp; deadLetter?: string };
}

// A server on loopback that redirects elsewhere: reachable only through an exact-address grant.
let redirector: Server;
let port = 0;
before(async () => {
  redirector = createServer((req, res) => {
    if (req.url === "/redirect") res.writeHead(302, { location: `http://localhost:${port}/landed` }).end();
    else res.end("ok");
  });
  await new Promise<void>((r) => redirector.listen(0, "127.0.0.1", r));
  port = (redirector.address() as AddressInfo).port;
});
after(() => redirector.close());

const egress = (...entries: string[]) =>
  entries.map((e) => {
    const rule = parseEgressGrant(e);
    if (typeof rule === "string") throw new Error(rule);
    return rule;
  });

const DENIED = "ERR_ACCESS_DENIED";
const GRANT_DENIED = "PAL_RUNTIME_DENIED";

// Writes a frame of the sandbox channel (fd 3) the way the runner does, from the function's own code.
const FORGE = `import { writeSync } from "node:fs"; import { serialize } from "node:v8";
const frame = (b) => { const h = Buffer.alloc(4); h.writeUInt32BE(b.length); writeSync(3, Buffer.concat([h, b])); };
const forge = (m) => frame(serialize(m));`;

const PROBES: Record<string, Probe> = {
  "read a file by absolute path": {
    source: `import { readFileSync } from "node:fs"; export default () => readFileSync("/etc/passwd", "utf8");`,
    refused: { code: DENIED },
  },
  "read a file by a relative path out of its directory": {
    source: `import { readFileSync } from "node:fs"; export default () => readFileSync(import.meta.dirname + "/../../../../../../etc/hostname", "utf8");`,
    refused: { code: DENIED },
  },
  "read /proc/self/environ": {
    source: `import { readFileSync } from "node:fs"; export default () => readFileSync("/proc/self/environ", "utf8");`,
    refused: { code: DENIED },
  },
  "list its own directory": {
    source: `import { readdirSync } from "node:fs"; export default () => readdirSync(import.meta.dirname);`,
    refused: { code: DENIED },
  },
  "write a file": {
    source: `import { writeFileSync } from "node:fs"; export default () => writeFileSync("/tmp/palisade-escape", "x");`,
    refused: { code: DENIED },
  },
  "write next to its own code": {
    source: `import { writeFileSync } from "node:fs"; export default () => writeFileSync(import.meta.dirname + "/evil.mjs", "x");`,
    refused: { code: DENIED },
  },
  "find anything in process.env": {
    source: `export default () => { const keys = Object.keys(process.env); if (keys.length > 0) throw new Error("env leaked: " + keys.join(",")); throw Object.assign(new Error("empty"), { code: "EMPTY_ENV" }); };`,
    refused: { code: "EMPTY_ENV" },
  },
  "child_process.spawn": {
    source: `import { spawn } from "node:child_process"; export default () => { spawn("id"); };`,
    refused: { code: DENIED },
  },
  "child_process.exec": {
    source: `import { exec } from "node:child_process"; export default () => { exec("id"); };`,
    refused: { code: DENIED },
  },
  "child_process.execFile": {
    source: `import { execFile } from "node:child_process"; export default () => { execFile("/bin/sh", ["-c", "id"]); };`,
    refused: { code: DENIED },
  },
  "child_process.fork": {
    source: `import { fork } from "node:child_process"; export default () => { fork(import.meta.filename); };`,
    refused: { code: DENIED },
  },
  "child_process.execSync": {
    source: `import { execSync } from "node:child_process"; export default () => { execSync("id"); };`,
    refused: { code: DENIED },
  },
  "child_process.spawnSync": {
    source: `import { spawnSync } from "node:child_process"; export default () => { const r = spawnSync("id"); if (r.error) throw r.error; };`,
    refused: { code: DENIED },
  },
  "worker_threads.Worker": {
    source: `import { Worker } from "node:worker_threads"; export default () => { new Worker("1", { eval: true }); };`,
    refused: { code: DENIED },
  },
  "load a native addon (process.dlopen)": {
    source: `export default () => { process.dlopen({ exports: {} }, "/usr/lib/x86_64-linux-gnu/libc.so.6"); };`,
    refused: { code: /^(ERR_ACCESS_DENIED|ERR_DLOPEN_DISABLED)$/ },
  },
  "open the inspector": {
    source: `import inspector from "node:inspector"; export default () => { inspector.open(0); };`,
    refused: { code: DENIED },
  },
  "process.binding('fs')": {
    source: `export default () => { const fs = process.binding("fs"); fs.open("/etc/passwd", 0, 0o666, undefined, { path: "/etc/passwd" }); };`,
    refused: { code: /ERR_ACCESS_DENIED|ERR_INVALID_ARG_TYPE|ERR_UNKNOWN_BUILTIN_MODULE/ },
  },
  eval: {
    source: `export default () => (0, eval)("1 + 1");`,
    refused: { message: /Code generation from strings disallowed/ },
  },
  "new Function": {
    source: `export default () => new Function("return 1")();`,
    refused: { message: /Code generation from strings disallowed/ },
  },
  "a raw TCP socket (net)": {
    source: `import net from "node:net"; export default () => new Promise((ok, no) => { const s = net.connect(4222, "127.0.0.1"); s.on("connect", ok); s.on("error", no); });`,
    refused: { code: DENIED },
  },
  "a UDP socket (dgram)": {
    source: `import dgram from "node:dgram"; export default () => new Promise((ok, no) => { const s = dgram.createSocket("udp4"); s.on("error", no); s.send("x", 53, "127.0.0.1", (e) => (e ? no(e) : ok())); });`,
    refused: { code: DENIED },
  },
  "a TLS socket": {
    source: `import tls from "node:tls"; export default () => new Promise((ok, no) => { const s = tls.connect(443, "127.0.0.1"); s.on("secureConnect", ok); s.on("error", no); });`,
    refused: { code: DENIED },
  },
  "http.request": {
    source: `import http from "node:http"; export default () => new Promise((ok, no) => { const r = http.request("http://127.0.0.1:4222/", ok); r.on("error", no); r.end(); });`,
    refused: { code: DENIED },
  },
  "the global fetch": {
    source: `export default async () => { try { await fetch("http://127.0.0.1:4222/"); } catch (e) { throw e.cause ?? e; } };`,
    refused: { code: DENIED },
  },
  "ctx.fetch to a host that is not granted": {
    source: `export default (e, ctx) => ctx.fetch("https://example.com/")`,
    grants: { egress: egress("api.stripe.com:443") },
    refused: { code: GRANT_DENIED, message: /may not fetch/ },
  },
  "ctx.fetch to 127.0.0.1": {
    source: `export default (e, ctx) => ctx.fetch("https://127.0.0.1:4222/")`,
    grants: { egress: egress("api.stripe.com:443") },
    refused: { code: GRANT_DENIED },
  },
  "ctx.fetch to the cloud metadata address": {
    source: `export default (e, ctx) => ctx.fetch("http://169.254.169.254/latest/meta-data/")`,
    grants: { egress: egress("api.stripe.com:443") },
    refused: { code: GRANT_DENIED },
  },
  "ctx.fetch to a granted name that resolves to loopback": {
    source: `export default (e, ctx) => ctx.fetch("https://localhost:4222/")`,
    grants: { egress: egress("localhost:4222") },
    refused: { code: GRANT_DENIED, message: /loopback/ },
  },
  "ctx.fetch following a redirect from a granted host to one that is not": {
    source: `export default (e, ctx) => ctx.fetch("http://127.0.0.1:" + e.data.port + "/redirect")`,
    grants: {}, // set per run: the server's port is known only at run time
    refused: { code: GRANT_DENIED },
  },
  "read a secret that is not granted": {
    source: `export default (e, ctx) => ctx.secrets.get("OTHER_SECRET")`,
    grants: { secrets: ["API_TOKEN"] },
    refused: { code: GRANT_DENIED, message: /may not read secret "OTHER_SECRET"/ },
  },
  "use a kv namespace that is not granted": {
    source: `export default (e, ctx) => ctx.kv.get("payments", "k")`,
    grants: { kv: { orders: "readwrite" } },
    refused: { code: GRANT_DENIED, message: /kv namespace "payments"/ },
  },
  "write to a read-only kv namespace": {
    source: `export default (e, ctx) => ctx.kv.set("prices", "k", 1)`,
    grants: { kv: { prices: "read" } },
    refused: { code: GRANT_DENIED, message: /may only read kv namespace "prices"/ },
  },
  "emit a type that is not granted": {
    source: `export default (e, ctx) => ctx.emit("payment.refunded", {})`,
    grants: { emit: ["payment.charged"] },
    refused: { code: GRANT_DENIED, message: /may not emit "payment.refunded"/ },
  },
  "an infinite loop": {
    source: `export default () => { for (;;) {} };`,
    grants: { limits: { ...DEFAULT_LIMITS, timeoutMs: 500 } },
    refused: { code: "PAL_RUNTIME_TIMEOUT" },
  },
  "a memory bomb": {
    source: `export default () => { const hog = []; for (;;) hog.push(new Array(1e6).fill(hog.length)); };`,
    grants: { limits: { ...DEFAULT_LIMITS, memoryMb: 64, timeoutMs: 20000 } },
    refused: { code: "PAL_RUNTIME_CRASHED", message: /heap limit of 64 MB/ },
  },
  "a fork bomb of promises": {
    source: `export default () => { const bomb = () => Promise.resolve().then(() => { bomb(); bomb(); }); bomb(); return new Promise(() => {}); };`,
    grants: { limits: { ...DEFAULT_LIMITS, memoryMb: 64, timeoutMs: 1000 } },
    refused: { code: /PAL_RUNTIME_TIMEOUT|PAL_RUNTIME_CRASHED/ },
  },
  "forge an IPC message the protocol does not have (null)": {
    source: `${FORGE} export default () => { forge(null); return new Promise(() => {}); };`,
    refused: { code: "PAL_RUNTIME_CRASHED" },
  },
  "forge a log line at a level that is a logger method (setBindings)": {
    source: `${FORGE} export default () => { forge({ t: "log", id: 1, level: "setBindings", message: "x", fields: {} }); return new Promise(() => {}); };`,
    refused: { code: "PAL_RUNTIME_CRASHED" },
  },
  "forge a failed done without an error": {
    source: `${FORGE} export default () => { forge({ t: "done", id: 1, ok: false }); forge("x"); return new Promise(() => {}); };`,
    refused: { code: /^PAL_RUNTIME_(CRASHED|HANDLER_ERROR)$/ },
  },
  "forge a frame whose body is not a serialized message": {
    source: `${FORGE} export default () => { frame(Buffer.from("not v8")); return new Promise(() => {}); };`,
    refused: { code: "PAL_RUNTIME_CRASHED" },
  },
  "close the channel to the host and hold the process": {
    source: `import { closeSync } from "node:fs"; export default () => { closeSync(3); return new Promise(() => setInterval(() => {}, 1000)); };`,
    refused: { code: "PAL_RUNTIME_CRASHED" },
  },
  "a 96 MB message to the host (stopped before the host buffers it)": {
    source: `export default (e, ctx) => ctx.emit("payment.charged", new Uint8Array(96 * 1024 * 1024));`,
    grants: { emit: ["payment.charged"] },
    refused: {
      code: "PAL_RUNTIME_OUTPUT_TOO_LARGE",
      message: /sent a message of \d+ bytes, over the limit of 8388608/,
    },
  },
  "a huge return value": {
    source: `export default () => "x".repeat(4 * 1024 * 1024);`,
    // As large on every attempt: dead-lettered at once, not retried.
    refused: { code: "PAL_RUNTIME_OUTPUT_TOO_LARGE", deadLetter: "limit-exceeded" },
  },
  "a huge emit": {
    source: `export default (e, ctx) => ctx.emit("payment.charged", { blob: "x".repeat(1024 * 1024) });`,
    grants: { emit: ["payment.charged"] },
    refused: { code: "PAL_RUNTIME_OUTPUT_TOO_LARGE" },
  },
};

interface Harness {
  pool(name: string, source: string, grants?: Partial<FunctionSpec>): Promise<SandboxPool>;
  denied: string[];
}

async function harness(t: TestContext): Promise<Harness> {
  const dir = tempApp(t, {});
  const kv = openSqliteKvStore(join(dir, "kv.db"));
  t.after(() => kv.close());
  const h: Harness = { denied: [] } as unknown as Harness;
  const host = createCapabilityHost(
    {
      emit: async () => "emitted",
      secret: (name) => (name === "API_TOKEN" ? SECRET : name === "OTHER_SECRET" ? "other" : undefined),
      kv,
      fetch: (fn, url, init) => egressFetch(url, init, { fn: fn.name, rules: fn.egress }),
    },
    {
      used: () => undefined,
      denied: (_inv, kind, target) => h.denied.push(`${kind}:${target}`),
      limited: (_inv, kind, limit) => h.denied.push(`${kind}:limits.${limit}`),
    },
  );
  h.pool = async (name, source, grants = {}) => {
    const handlerPath = join(dir, `${name}.ts`);
    const { writeFileSync } = await import("node:fs");
    writeFileSync(handlerPath, source);
    const fn: FunctionSpec = {
      name,
      handlerPath,
      on: ["t.x"],
      ...NO_GRANTS,
      limits: { ...DEFAULT_LIMITS, concurrency: 1, timeoutMs: 3000 },
      retry: DEFAULT_RETRY,
      ...grants,
    };
    const bundlePath = await bundleFunction(name, handlerPath, join(dir, "bundles", name));
    const pool = createSandboxPool({ fn, bundlePath, capabilities: host, log: () => {}, osLayer: os.active });
    t.after(() => pool.close());
    await pool.start();
    return pool;
  };
  return h;
}

const event = (data: object = {}): CloudEvent =>
  createEvent({ type: "t.x", data }, { principal: "test", source: "escape-suite", hop: 0 });

test("the OS layer is active where CI expects it", { skip: !process.env.CI }, () => {
  if (process.env.PALISADE_SANDBOX_OS === "off") assert.equal(os.active, false);
  else assert.equal(os.active, true, os.description);
});

for (const [name, probe] of Object.entries(PROBES)) {
  test(`escape attempt refused: ${name}`, async (t) => {
    const h = await harness(t);
    // A well-behaved neighbour that uses its grants, before and after the attempt.
    const canary = await h.pool(
      "canary",
      `export default async (e, ctx) => { await ctx.kv.set("orders", "k", e.data.n); return { n: await ctx.kv.get("orders", "k"), secret: (await ctx.secrets.get("API_TOKEN")).length }; };`,
      { kv: { orders: "readwrite" }, secrets: ["API_TOKEN"] },
    );
    assert.deepEqual(await canary.invoke(event({ n: 1 }), 1), { n: 1, secret: SECRET.length });

    const grants =
      probe.grants?.egress === undefined && name.includes("redirect")
        ? { egress: egress(`http://127.0.0.1:${port}`) }
        : probe.grants;
    const attacker = await h.pool("probe", probe.source, grants);
    await assert.rejects(
      attacker.invoke(event({ port }), 1),
      (err: { code?: string; message?: string; deadLetter?: string }) => {
        const { code, message, deadLetter } = probe.refused;
        if (deadLetter !== undefined) assert.equal(err.deadLetter, deadLetter, "the failure is final");
        if (code !== undefined)
          assert.match(
            String(err.code),
            typeof code === "string" ? new RegExp(`^${code}$`) : code,
            String(err.message),
          );
        if (message !== undefined) assert.match(String(err.message), message);
        return true;
      },
    );
    if (probe.refused.code === GRANT_DENIED) assert.ok(h.denied.length > 0, "the denial was recorded");

    assert.deepEqual(await canary.invoke(event({ n: 2 }), 1), { n: 2, secret: SECRET.length });
  });
}

test("escape attempt refused: a symlink inside the function's bundle directory pointing out", async (t) => {
  const h = await harness(t);
  const canary = await h.pool("canary", "export default () => 'ok';");
  const dir = tempApp(t, {
    "fn.ts": `import { readFileSync } from "node:fs"; export default () => readFileSync(import.meta.dirname + "/passwd", "utf8");`,
  });
  const bundlePath = await bundleFunction("linker", join(dir, "fn.ts"), join(dir, "bundle"));
  symlinkSync("/etc/passwd", join(dirname(bundlePath), "passwd"));
  const fn: FunctionSpec = {
    name: "linker",
    handlerPath: join(dir, "fn.ts"),
    on: ["t.x"],
    ...NO_GRANTS,
    limits: DEFAULT_LIMITS,
    retry: DEFAULT_RETRY,
  };
  const pool = createSandboxPool({
    fn,
    bundlePath,
    capabilities: async () => undefined,
    log: () => {},
    osLayer: os.active,
  });
  t.after(() => pool.close());
  await assert.rejects(pool.start(), { code: "PAL_RUNTIME_LOAD_FAILED", message: /symbolic link/ });
  await assert.rejects(pool.invoke(event(), 1), { code: "PAL_RUNTIME_LOAD_FAILED" });
  assert.equal(await canary.invoke(event(), 1), "ok");
});

test("the suite covers at least 25 attempts", () => {
  assert.ok(Object.keys(PROBES).length >= 25, `only ${Object.keys(PROBES).length} probes`);
});
