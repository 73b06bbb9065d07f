/**
 * What a function hands back is input: emitted data and kv values pass the ingress guards (prototype
 * keys, depth), and its log lines cannot forge host fields, grow without bound or flood the log.
 * Real sandboxed functions delivered through the platform, with the raw JSON lines the logger writes.
 */
import assert from "node:assert/strict";
import { type TestContext, test } from "node:test";
import { startPlatform } from "../src/main.ts";
import { createLogger } from "../src/observe/index.ts";
import { scrape } from "./kit/admin.ts";
import { post, TEST_KEY } from "./kit/http.ts";
import { NUMBER_SCHEMA, setSecret, tempApp, testPrincipal } from "./kit/temp-app.ts";

/** Starts an app whose function `fn` (on t.x, may emit t.out, kv `store`) runs `source` for one event. */
async function runOnce(t: TestContext, limits: string, source: string) {
  const dir = tempApp(t, {
    "palisade.yaml": `name: output
events:
  t.x: { schema: schemas/n.json }
  t.out: { schema: schemas/any.json }
${testPrincipal(["t.x"])}functions:
  fn:
    handler: functions/fn.ts
    on: [t.x]
    emit: [t.out]
    kv: { store: readwrite }
    retry: { attempts: 1 }
    limits: { timeoutMs: 20000${limits} }
  sink:
    handler: functions/sink.ts
    on: [t.out]
`,
    "schemas/n.json": NUMBER_SCHEMA,
    "schemas/any.json": { type: "object" },
    "functions/fn.ts": source,
    "functions/sink.ts": 'export default (e, ctx) => ctx.log.info("got", { keys: Object.keys(e.data) });',
  });
  setSecret(dir, "TEST_KEY", TEST_KEY);
  const raw: string[] = [];
  const waiters: (() => void)[] = [];
  const logger = createLogger({
    level: "debug",
    destination: {
      write(line: string) {
        raw.push(line);
        for (const w of waiters.splice(0)) w();
      },
    },
  });
  const platform = await startPlatform({ appDir: dir, logger, port: 0 });
  t.after(() => platform.close());
  const sent = await post(`${platform.url}/events`, { type: "t.x", data: { n: 1 } });
  assert.equal(sent.status, 202);
  const lines = () => raw.map((l) => JSON.parse(l) as Record<string, any>);
  /** The first line matching, waiting for more lines as they are written. */
  async function waitFor(match: (l: Record<string, any>) => boolean): Promise<Record<string, any>> {
    for (let i = 0; i < 2000; i++) {
      const found = lines().find(match);
      if (found) return found;
      await new Promise<void>((resolve) => {
        waiters.push(resolve);
        setTimeout(resolve, 100);
      });
    }
    throw new Error("no matching log line");
  }
  const metrics = async () => scrape(platform);
  return { platform, raw, lines, waitFor, metrics };
}

test("emitted data and kv values with __proto__, constructor.prototype or deep nesting are refused, and clean ones still go through", async (t) => {
  const { waitFor, metrics } = await runOnce(
    t,
    "",
    `export default async (e, ctx) => {
  let deep = {};
  for (let i = 0; i < 100; i++) deep = { deep };
  const code = (p) => p.then(() => "accepted", (err) => err.code + ": " + err.message);
  const r = {
    emitProto: await code(ctx.emit("t.out", JSON.parse('{"a": 1, "__proto__": {"polluted": true}}'))),
    emitNestedProto: await code(ctx.emit("t.out", { list: [JSON.parse('{"__proto__": {"polluted": true}}')] })),
    emitCtor: await code(ctx.emit("t.out", { constructor: { prototype: { polluted: true } } })),
    emitDeep: await code(ctx.emit("t.out", deep)),
    kvProto: await code(ctx.kv.set("store", "k", JSON.parse('{"__proto__": {"polluted": true}}'))),
    kvDeep: await code(ctx.kv.set("store", "k", deep)),
    emitClean: await code(ctx.emit("t.out", { clean: true, constructor: "a plain string is fine" })),
    kvClean: await code(ctx.kv.set("store", "k", { clean: true })),
  };
  ctx.log.info("result", { r });
};`,
  );
  const r = (await waitFor((l) => l.msg === "result")).r;
  for (const name of ["emitProto", "emitNestedProto", "kvProto"])
    assert.match(r[name], /^PAL_RUNTIME_BAD_CALL: .*forbidden "__proto__" key/, name);
  assert.match(r.emitCtor, /^PAL_RUNTIME_BAD_CALL: .*forbidden "constructor.prototype" key/);
  assert.match(r.emitDeep, /^PAL_RUNTIME_BAD_CALL: ctx.emit\("t.out"\) data nests deeper than 32 levels/);
  assert.match(r.kvDeep, /^PAL_RUNTIME_BAD_CALL: ctx.kv.set value nests deeper than 32 levels/);
  assert.deepEqual(
    { emitClean: r.emitClean, kvClean: r.kvClean },
    { emitClean: "accepted", kvClean: "accepted" },
  );
  // Only the clean event was stored and delivered; the host's prototypes are untouched.
  assert.deepEqual((await waitFor((l) => l.msg === "got")).keys, ["clean", "constructor"]);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  assert.match(await metrics(), /palisade_capability_denied_total\{fn="fn",kind="emit"\} 4/);
});

test("a function cannot set level, time, msg, fn, eventId or host on its log lines, not even as duplicate JSON keys", async (t) => {
  const { raw, waitFor } = await runOnce(
    t,
    "",
    `export default async (e, ctx) => {
  ctx.log.info("forged", { level: 60, time: 0, msg: "forged message", fn: "admin", eventId: "forged-id", traceId: "0", host: "evil", hostname: "evil", pid: 1, own: "kept" });
};`,
  );
  const line = await waitFor((l) => l.msg === "forged");
  const text = raw.find((l) => l.includes('"msg":"forged"')) ?? "";
  for (const key of ["level", "time", "msg", "fn", "eventId", "traceId", "host", "hostname", "pid"])
    assert.ok(text.split(`"${key}":`).length <= 2, `"${key}" appears twice in ${text}`);
  assert.equal(line.level, 30);
  assert.notEqual(line.time, 0);
  assert.equal(line.fn, "fn");
  assert.notEqual(line.eventId, "forged-id");
  assert.equal(line.host, undefined);
  assert.equal(line.own, "kept");
  assert.deepEqual(
    [line["fn.level"], line["fn.time"], line["fn.msg"], line["fn.fn"], line["fn.eventId"], line["fn.host"]],
    [60, 0, "forged message", "admin", "forged-id", "evil"],
  );
});

test("a 2 MB log line is cut to limits.logLineBytes, and the function keeps running", async (t) => {
  const { raw, waitFor, metrics } = await runOnce(
    t,
    ", logLineBytes: 4096",
    `export default async (e, ctx) => {
  ctx.log.info("big fields", { blob: "y".repeat(2 * 1024 * 1024) });
  ctx.log.info("x".repeat(2 * 1024 * 1024));
  ctx.log.info("after", { small: 1 });
};`,
  );
  const fields = await waitFor((l) => l.msg === "big fields");
  assert.deepEqual(
    [fields.blob, fields.fieldsCut > 2 * 1024 * 1024, fields.logLineBytes],
    [undefined, true, 4096],
  );
  const cut = await waitFor((l) => String(l.msg).startsWith("xxx"));
  assert.match(cut.msg, /… \[cut from \d+ bytes\]$/);
  assert.equal((await waitFor((l) => l.msg === "after")).small, 1);
  for (const l of raw.filter((x) => x.includes('"fn":"fn"')))
    assert.ok(Buffer.byteLength(l) < 4096 + 512, `a line of ${Buffer.byteLength(l)} bytes`);
  assert.match(await metrics(), /palisade_function_log_limited_total\{fn="fn",reason="size"\} 2/);
});

test("log lines past limits.logsPerSecond are dropped and counted, and the count is logged", async (t) => {
  const { lines, waitFor, metrics } = await runOnce(
    t,
    ", logsPerSecond: 5",
    `export default async (e, ctx) => {
  for (let i = 0; i < 200; i++) ctx.log.info("line", { i });
};`,
  );
  await waitFor((l) => l.msg === "delivered");
  let kept = 0;
  let dropped = 0;
  // Every line is either written or counted in a "dropped" report (one a second at most).
  for (let i = 0; i < 100 && kept + dropped < 200; i++) {
    await waitFor((l) => String(l.msg).startsWith("dropped "));
    const all = lines().filter((l) => l.fn === "fn");
    kept = all.filter((l) => l.msg === "line").length;
    dropped = all.filter((l) => String(l.msg).startsWith("dropped ")).reduce((n, l) => n + l.dropped, 0);
    if (kept + dropped < 200) await new Promise((r) => setTimeout(r, 200));
  }
  assert.equal(kept + dropped, 200);
  assert.ok(kept < 200 && dropped > 0, `${kept} kept, ${dropped} dropped`);
  assert.match(
    await metrics(),
    new RegExp(`palisade_function_log_limited_total\\{fn="fn",reason="rate"\\} ${dropped}`),
  );
});
