/**
 * Bounds on what one invocation can make the host do, attacked by real sandboxed functions delivered
 * through the platform: capability calls in flight, ctx.fetch response bytes buffered at once, emits,
 * kv value size and namespace quota, kv write floods. Each refusal reaches the function as
 * PAL_RUNTIME_LIMIT_EXCEEDED (or PAL_RUNTIME_OUTPUT_TOO_LARGE), is counted in
 * palisade_capability_limited_total, and the platform keeps answering.
 */
import assert from "node:assert/strict";
import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { readAudit } from "../src/audit/index.ts";
import { startPlatform } from "../src/main.ts";
import { scrape } from "./kit/admin.ts";
import { post, TEST_KEY } from "./kit/http.ts";
import { captureLogs } from "./kit/log-capture.ts";
import { NUMBER_SCHEMA, setSecret, tempApp, testPrincipal } from "./kit/temp-app.ts";

/** Starts an app with one function `fn` on `t.x` (plus `extra` manifest lines); sends it one event. */
async function runOnce(t: TestContext, fnLines: string, source: string, extra: Record<string, string> = {}) {
  const dir = tempApp(t, {
    "palisade.yaml": `name: limits
events:
  t.x: { schema: schemas/n.json }
  t.out: { schema: schemas/n.json }
${testPrincipal(["t.x"])}functions:
  fn:
    handler: functions/fn.ts
    on: [t.x]
    retry: { attempts: 1 }
${fnLines}${extra.functions ?? ""}`,
    "schemas/n.json": NUMBER_SCHEMA,
    "functions/fn.ts": source,
    ...Object.fromEntries(Object.entries(extra).filter(([k]) => k !== "functions")),
  });
  setSecret(dir, "TEST_KEY", TEST_KEY);
  const logs = captureLogs();
  const platform = await startPlatform({ appDir: dir, logger: logs.logger, port: 0 });
  t.after(() => platform.close());
  const sent = await post(`${platform.url}/events`, { type: "t.x", data: { n: 1 } });
  assert.equal(sent.status, 202);
  const result = async () => (await logs.waitFor((l) => l.msg === "result", 60_000)).r as Record<string, any>;
  const metric = async (pattern: RegExp) => {
    const text = await scrape(platform);
    return Number(pattern.exec(text)?.[1] ?? 0);
  };
  return { dir, platform, logs, result, metric };
}

/** Runs `calls` at once and logs how many were fulfilled and the codes of the rest. */
const SETTLE = `
async function settle(calls) {
  const out = await Promise.allSettled(calls);
  const codes = {};
  for (const r of out) if (r.status === "rejected") codes[r.reason.code] = (codes[r.reason.code] ?? 0) + 1;
  return { ok: out.filter((r) => r.status === "fulfilled").length, codes, values: out.filter((r) => r.status === "fulfilled").map((r) => r.value) };
}`;

async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`gave up waiting for ${what}`);
}

test("800 concurrent ctx.fetch calls: at most limits.capabilityCalls reach the network, the rest wait or are refused", async (t) => {
  let active = 0;
  let peak = 0;
  let seen = 0;
  const held: ServerResponse[] = [];
  let released = false;
  const server = createServer((req, res) => {
    seen++;
    active++;
    peak = Math.max(peak, active);
    res.on("close", () => active--);
    req.resume();
    if (released) res.end("ok");
    else held.push(res);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  t.after(() => server.close());
  const port = (server.address() as AddressInfo).port;
  const { platform, result, metric } = await runOnce(
    t,
    `    egress: ["http://127.0.0.1:${port}"]\n    limits: { timeoutMs: 60000 }\n`,
    `${SETTLE}
export default async (e, ctx) => {
  const r = await settle(Array.from({ length: 800 }, () => ctx.fetch("http://127.0.0.1:${port}/slow")));
  ctx.log.info("result", { r: { ok: r.ok, codes: r.codes } });
};`,
  );
  const limited = /palisade_capability_limited_total\{fn="fn",limit="capabilityCalls"\} (\d+)/;
  // Nothing answers until every call reached the host: 16 in flight, 256 waiting, 528 refused.
  await until(async () => (await metric(limited)) === 528 && held.length === 16, "the flood to be sorted");
  assert.equal((await fetch(`${platform.url}/healthz`)).status, 200, "the gateway answers meanwhile");
  assert.equal(peak, 16);
  released = true;
  for (const res of held) res.end("ok");
  const r = await result();
  assert.deepEqual(r, { ok: 272, codes: { PAL_RUNTIME_LIMIT_EXCEEDED: 528 } });
  assert.equal(seen, 272);
  assert.ok(peak <= 16, `${peak} requests were open at once`);
});

test("concurrent ctx.fetch responses share limits.fetchBytes: the one that would overfill it fails, the other completes", async (t) => {
  const held: ServerResponse[] = [];
  const server = createServer((req, res) => {
    req.resume();
    res.writeHead(200, { "content-length": String(1_700_000) });
    res.write(Buffer.alloc(1_500_000, 97));
    held.push(res);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  t.after(() => server.close());
  const port = (server.address() as AddressInfo).port;
  const { result, metric, logs } = await runOnce(
    t,
    `    egress: ["http://127.0.0.1:${port}"]\n    limits: { timeoutMs: 30000, fetchBytes: 2097152 }\n`,
    `${SETTLE}
export default async (e, ctx) => {
  const r = await settle([1, 2].map((n) => ctx.fetch("http://127.0.0.1:${port}/big/" + n)));
  ctx.log.info("result", { r: { ok: r.ok, codes: r.codes, sizes: await Promise.all(r.values.map(async (v) => (await v.arrayBuffer()).byteLength)) } });
  const again = await ctx.fetch("http://127.0.0.1:${port}/again").then((v) => v.status, (err) => err.code);
  ctx.log.info("again", { again });
};`,
  );
  const limited = /palisade_capability_limited_total\{fn="fn",limit="fetchBytes"\} (\d+)/;
  await until(async () => (await metric(limited)) === 1, "the fetch buffer to overflow");
  for (const res of held) if (!res.destroyed) res.end(Buffer.alloc(200_000, 98));
  await until(async () => held.length === 3, "the next fetch").then(() =>
    held[2]?.end(Buffer.alloc(200_000)),
  );
  assert.deepEqual(await result(), { ok: 1, codes: { PAL_RUNTIME_LIMIT_EXCEEDED: 1 }, sizes: [1_700_000] });
  // The buffer was given back: a later fetch of the same size completes.
  assert.equal((await logs.waitFor((l) => l.msg === "again")).again, 200);
});

test("2000 emits from one invocation: refused past limits.emitsPerInvocation, and every acknowledged emit is delivered", async (t) => {
  const { dir, platform, result, logs, metric } = await runOnce(
    t,
    "    emit: [t.out]\n    limits: { timeoutMs: 30000, emitsPerInvocation: 50 }\n",
    `${SETTLE}
export default async (e, ctx) => {
  const r = await settle(Array.from({ length: 2000 }, (_, i) => ctx.emit("t.out", { n: i })));
  ctx.log.info("result", { r: { ok: r.ok, codes: r.codes, ids: r.values } });
};`,
    {
      functions: "  sink:\n    handler: functions/sink.ts\n    on: [t.out]\n",
      "functions/sink.ts": 'export default (e, ctx) => ctx.log.info("got", { id: e.id });',
    },
  );
  const r = await result();
  assert.equal(r.ok, 50);
  assert.deepEqual(r.codes, { PAL_RUNTIME_LIMIT_EXCEEDED: 1950 });
  const ids = new Set<string>(r.ids);
  assert.equal(ids.size, 50);
  for (const id of ids) await logs.waitFor((l) => l.msg === "got" && l.id === id);
  assert.equal(
    await metric(/palisade_capability_limited_total\{fn="fn",limit="emitsPerInvocation"\} (\d+)/),
    1950,
  );
  // One warning and one audit record for the invocation, not 1950.
  assert.equal(logs.lines.filter((l) => String(l.msg).startsWith("capability limited")).length, 1);
  await platform.close();
  const audited = readAudit(join(dir, ".palisade", "audit.db")).filter((r) => r.kind === "capability.denied");
  assert.deepEqual(
    audited.map((r) => [r.actor, r.subject, r.outcome, r.details?.limit]),
    [["function:fn", "limits.emitsPerInvocation", "denied", "emitsPerInvocation"]],
  );
});

test("kv values over limits.kvValueBytes and writes over limits.kvNamespaceBytes are refused; earlier values stay readable", async (t) => {
  const { result } = await runOnce(
    t,
    "    kv: { small: readwrite, other: readwrite }\n    limits: { kvValueBytes: 2048, kvNamespaceBytes: 8192 }\n",
    `export default async (e, ctx) => {
  const big = await ctx.kv.set("small", "big", "x".repeat(4000)).then(() => "stored", (err) => err.code);
  let stored = 0;
  let refusal = "";
  for (let i = 0; i < 20 && !refusal; i++)
    await ctx.kv.set("small", "k" + i, "v".repeat(1000)).then(() => stored++, (err) => { refusal = err.code + ": " + err.message; });
  const first = (await ctx.kv.get("small", "k0")).length;
  const other = await ctx.kv.set("other", "k", "v".repeat(1000)).then(() => "stored", (err) => err.code);
  await ctx.kv.delete("small", "k0");
  const afterDelete = await ctx.kv.set("small", "again", "v".repeat(1000)).then(() => "stored", (err) => err.code);
  ctx.log.info("result", { r: { big, stored, refusal, first, other, afterDelete } });
};`,
  );
  const r = await result();
  assert.equal(r.big, "PAL_RUNTIME_OUTPUT_TOO_LARGE");
  // Values are sealed at rest, so each ~1 KB value takes ~1.4 KB of the namespace's 8192 bytes.
  assert.ok(r.stored >= 4 && r.stored < 8, `${r.stored} values of ~1 KB fit in 8192 bytes`);
  assert.match(r.refusal, /^PAL_RUNTIME_LIMIT_EXCEEDED: .*namespace "small".*limits\.kvNamespaceBytes/);
  assert.deepEqual(
    { first: r.first, other: r.other, afterDelete: r.afterDelete },
    { first: 1000, other: "stored", afterDelete: "stored" },
  );
});

test("a flood of kv writes shares commits and the gateway still answers", async (t) => {
  const { platform, result, metric, logs } = await runOnce(
    t,
    "    kv: { flood: readwrite }\n    limits: { timeoutMs: 60000, capabilityCalls: 200 }\n",
    `export default async (e, ctx) => {
  ctx.log.info("flooding");
  for (let round = 0; round < 10; round++)
    await Promise.all(Array.from({ length: 200 }, (_, i) => ctx.kv.set("flood", round + ":" + i, { round, i })));
  ctx.log.info("result", { r: { last: await ctx.kv.get("flood", "9:199") } });
};`,
  );
  await logs.waitFor((l) => l.msg === "flooding");
  const health = await fetch(`${platform.url}/healthz`);
  assert.equal(health.status, 200);
  assert.deepEqual(await result(), { last: { round: 9, i: 199 } });
  const writes = await metric(/palisade_kv_writes_total (\d+)/);
  const commits = await metric(/palisade_kv_commits_total (\d+)/);
  assert.equal(writes, 2000);
  assert.ok(commits < writes / 2, `${writes} writes took ${commits} commits`);
  t.diagnostic(`${writes} kv writes in ${commits} commits`);
});
