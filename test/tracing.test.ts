/**
 * One trace from the first HTTP request to the last function: a chain of three functions (a emits
 * for b, b emits for c), checked with an in-memory exporter: every span in one trace, each with the
 * right parent (ingress → dispatch → invoke → capability / emit → dispatch → …), and the sender's
 * own traceparent as the root's parent. `palisade traces` shows the same tree from the store.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { test } from "node:test";
import { InMemorySpanExporter, type ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { startPlatform } from "../src/main.ts";
import { BIN } from "./kit/cli-process.ts";
import { TEST_KEY } from "./kit/http.ts";
import { captureLogs } from "./kit/log-capture.ts";
import { NUMBER_SCHEMA, setSecret, tempApp, testPrincipal } from "./kit/temp-app.ts";

const SENDER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const SENDER_SPAN = "00f067aa0ba902b7";

test("a chain of three functions is one trace with correct parent and child spans", async (t) => {
  const dir = tempApp(t, {
    "palisade.yaml": `name: chain
events:
  step.one: { schema: schemas/n.json }
  step.two: { schema: schemas/n.json }
  step.three: { schema: schemas/n.json }
${testPrincipal(["step.one"])}functions:
  a:
    handler: functions/a.ts
    on: [step.one]
    emit: [step.two]
  b:
    handler: functions/b.ts
    on: [step.two]
    emit: [step.three]
    kv: { seen: readwrite }
  c:
    handler: functions/c.ts
    on: [step.three]
`,
    "schemas/n.json": NUMBER_SCHEMA,
    "functions/a.ts": "export default (e, ctx) => ctx.emit('step.two', { n: e.data.n + 1 });",
    "functions/b.ts":
      "export default async (e, ctx) => { await ctx.kv.set('seen', 'b', e.data.n); await ctx.emit('step.three', { n: e.data.n + 1 }); };",
    "functions/c.ts":
      "export default (e, ctx) => ctx.log.info('end of the chain', { trace: e.traceparent });",
  });
  setSecret(dir, "TEST_KEY", TEST_KEY);
  const memory = new InMemorySpanExporter();
  const logs = captureLogs();
  const platform = await startPlatform({
    appDir: dir,
    logger: logs.logger,
    port: 0,
    spanExporters: [memory],
  });
  t.after(() => platform.close());

  const res = await fetch(`${platform.url}/events`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      authorization: `Bearer ${TEST_KEY}`,
      traceparent: `00-${SENDER_TRACE}-${SENDER_SPAN}-01`,
    },
    body: JSON.stringify({ type: "step.one", data: { n: 1 } }),
  });
  assert.equal(res.status, 202);
  // c can finish before b's own invocation has answered (b's emit is durable before b returns):
  // every function's spans have ended once all three are delivered.
  for (const fn of ["a", "b", "c"]) await logs.waitFor((l) => l.fn === fn && l.msg === "delivered");

  const spans = memory.getFinishedSpans();
  assert.ok(
    spans.every((s) => s.spanContext().traceId === SENDER_TRACE),
    "every span is in the sender's trace",
  );
  const byName = (name: string): ReadableSpan => {
    const found = spans.find((s) => s.name === name);
    assert.ok(found, `no span "${name}" among ${spans.map((s) => s.name).join(", ")}`);
    return found;
  };
  const parentOf = (name: string) => byName(name).parentSpanContext?.spanId;
  const idOf = (name: string) => byName(name).spanContext().spanId;

  assert.equal(parentOf("ingress step.one"), SENDER_SPAN);
  assert.equal(parentOf("dispatch a"), idOf("ingress step.one"));
  assert.equal(parentOf("invoke a"), idOf("dispatch a"));
  assert.equal(parentOf("emit step.two"), idOf("invoke a"));
  assert.equal(parentOf("dispatch b"), idOf("emit step.two"));
  assert.equal(parentOf("invoke b"), idOf("dispatch b"));
  const kvCall = spans.find((s) => s.name === "capability kv.set");
  assert.equal(kvCall?.parentSpanContext?.spanId, idOf("invoke b"));
  assert.equal(parentOf("emit step.three"), idOf("invoke b"));
  assert.equal(parentOf("dispatch c"), idOf("emit step.three"));
  assert.equal(parentOf("invoke c"), idOf("dispatch c"));
  // The function itself sees its invocation span as the event's traceparent.
  const end = logs.lines.find((l) => l.msg === "end of the chain");
  assert.equal(end?.trace, `00-${SENDER_TRACE}-${idOf("invoke c")}-01`);
  assert.equal(end?.traceId, SENDER_TRACE, "function log lines name their trace");
  // Each emit is under a capability call of the same invocation.
  const emitCalls = spans.filter((s) => s.name === "capability emit");
  assert.deepEqual(
    emitCalls.map((s) => s.parentSpanContext?.spanId).sort(),
    [idOf("invoke a"), idOf("invoke b")].sort(),
  );

  await platform.close(); // flushes the recent-traces store
  const tree = spawnSync(process.execPath, [BIN, "traces", "--id", SENDER_TRACE, "--app", dir], {
    encoding: "utf8",
  });
  assert.equal(tree.status, 0, tree.stderr);
  assert.match(tree.stdout, /^ingress step\.one/m);
  assert.match(tree.stdout, /^ {2}dispatch a \[a\]/m);
  assert.match(tree.stdout, /^ {8}dispatch b \[b\]/m);
  assert.match(tree.stdout, /^ {16}invoke c \[c\]/m);
  const list = spawnSync(process.execPath, [BIN, "traces", "--app", dir], { encoding: "utf8" });
  assert.match(list.stdout, new RegExp(`^${SENDER_TRACE} .* ingress step\\.one {2}\\d+ spans`, "m"));
});

test("with OTEL_EXPORTER_OTLP_ENDPOINT set, spans are exported over OTLP/HTTP", async (t) => {
  const received: { path: string; bytes: number }[] = [];
  const collector = createServer((req, res) => {
    let bytes = 0;
    req.on("data", (c: Buffer) => {
      bytes += c.length;
    });
    req.on("end", () => {
      received.push({ path: req.url ?? "", bytes });
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  await new Promise<void>((r) => collector.listen(0, "127.0.0.1", r));
  t.after(() => collector.close());
  const port = (collector.address() as AddressInfo).port;
  process.env.OTEL_EXPORTER_OTLP_ENDPOINT = `http://127.0.0.1:${port}`;
  t.after(() => delete process.env.OTEL_EXPORTER_OTLP_ENDPOINT);

  const dir = tempApp(t, {
    "palisade.yaml": `name: otlp\nevents:\n  step.one: { schema: schemas/n.json }\n${testPrincipal(["step.one"])}functions:\n  a:\n    handler: functions/a.ts\n    on: [step.one]\n`,
    "schemas/n.json": NUMBER_SCHEMA,
    "functions/a.ts": "export default () => {};",
  });
  setSecret(dir, "TEST_KEY", TEST_KEY);
  const logs = captureLogs();
  const platform = await startPlatform({ appDir: dir, logger: logs.logger, port: 0 });
  const res = await fetch(`${platform.url}/events`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${TEST_KEY}` },
    body: JSON.stringify({ type: "step.one", data: { n: 1 } }),
  });
  assert.equal(res.status, 202);
  await logs.waitFor((l) => l.msg === "delivered");
  await platform.close(); // flushes the batch processors
  assert.ok(
    received.some((r) => r.path === "/v1/traces" && r.bytes > 0),
    JSON.stringify(received),
  );
});
