/**
 * OpenTelemetry as the standards say, checked at a real OTLP/HTTP receiver on loopback: the
 * resource from OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES, both OTLP/HTTP encodings chosen by
 * OTEL_EXPORTER_OTLP_PROTOCOL (protobuf by default, JSON on request; gRPC refused at start), span
 * attributes after the messaging, FaaS and CloudEvents semantic conventions, and the sender's W3C
 * tracestate kept from the first request to the last function of a chain.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { type TestContext, test } from "node:test";
import { startPlatform } from "../src/main.ts";
import { BIN } from "./kit/cli-process.ts";
import { TEST_KEY } from "./kit/http.ts";
import { captureLogs } from "./kit/log-capture.ts";
import { NUMBER_SCHEMA, setSecret, tempApp, testPrincipal } from "./kit/temp-app.ts";

const SENDER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const SENDER_SPAN = "00f067aa0ba902b7";
const TRACESTATE = "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE";
const OTEL_VARS = [
  "OTEL_EXPORTER_OTLP_ENDPOINT",
  "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
  "OTEL_EXPORTER_OTLP_PROTOCOL",
  "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
  "OTEL_SERVICE_NAME",
  "OTEL_RESOURCE_ATTRIBUTES",
];

interface Received {
  path: string;
  contentType: string;
  body: Buffer;
}

/** A real OTLP/HTTP receiver on loopback: keeps every request, answers an empty success. */
async function startReceiver(t: TestContext): Promise<{ url: string; received: Received[] }> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const contentType = req.headers["content-type"] ?? "";
      received.push({ path: req.url ?? "", contentType, body: Buffer.concat(chunks) });
      // An empty ExportTraceServiceResponse in the request's own encoding (OTLP/HTTP, "Response").
      res.writeHead(200, { "content-type": contentType }).end(contentType === "application/json" ? "{}" : "");
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  t.after(() => server.close());
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, received };
}

/** Sets the OTEL_* variables for this test only (the others unset), restoring them after. */
function otelEnv(t: TestContext, vars: Record<string, string>): void {
  const before = OTEL_VARS.map((name) => [name, process.env[name]] as const);
  for (const name of OTEL_VARS) delete process.env[name];
  Object.assign(process.env, vars);
  t.after(() => {
    for (const [name, value] of before)
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
  });
}

/** a (on step.one) emits step.two for b, which logs the trace context its event carries. */
function chainApp(t: TestContext): string {
  const dir = tempApp(t, {
    "palisade.yaml": `name: otelshop
events:
  step.one: { schema: schemas/n.json }
  step.two: { schema: schemas/n.json }
${testPrincipal(["step.one"])}functions:
  a:
    handler: functions/a.ts
    on: [step.one]
    emit: [step.two]
  b:
    handler: functions/b.ts
    on: [step.two]
`,
    "schemas/n.json": NUMBER_SCHEMA,
    "functions/a.ts": "export default (e, ctx) => ctx.emit('step.two', { n: e.data.n + 1 });",
    "functions/b.ts":
      "export default (e, ctx) => ctx.log.info('seen', { n: e.data.n, traceparent: e.traceparent, tracestate: e.extensions?.tracestate });",
  });
  setSecret(dir, "TEST_KEY", TEST_KEY);
  return dir;
}

interface ExportedSpan {
  name: string;
  traceId: string;
  traceState: string;
  attributes: Record<string, unknown>;
}

interface Export {
  resource: Record<string, unknown>;
  spans: ExportedSpan[];
}

for (const [protocol, contentType, env] of [
  // No protocol set: the OTLP exporter spec's default. service.name from OTEL_RESOURCE_ATTRIBUTES.
  [
    "http/protobuf",
    "application/x-protobuf",
    { OTEL_RESOURCE_ATTRIBUTES: "service.name=from-attributes,deployment.environment.name=ci" },
  ],
  // OTEL_SERVICE_NAME wins over a service.name in OTEL_RESOURCE_ATTRIBUTES.
  [
    "http/json",
    "application/json",
    {
      OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
      OTEL_SERVICE_NAME: "orders",
      OTEL_RESOURCE_ATTRIBUTES: "service.name=overridden,deployment.environment.name=ci",
    },
  ],
] as const) {
  test(`${protocol}: spans reach an OTLP receiver with the resource, semantic conventions and tracestate`, async (t) => {
    const receiver = await startReceiver(t);
    otelEnv(t, { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, ...env });
    const logs = captureLogs();
    const platform = await startPlatform({ appDir: chainApp(t), logger: logs.logger, port: 0 });
    t.after(() => platform.close());

    const res = await fetch(`${platform.url}/events`, {
      method: "POST",
      headers: {
        "content-type": "application/cloudevents+json",
        authorization: `Bearer ${TEST_KEY}`,
        traceparent: `00-${SENDER_TRACE}-${SENDER_SPAN}-01`,
        tracestate: TRACESTATE,
      },
      body: JSON.stringify({
        specversion: "1.0",
        id: "order-7-created",
        source: "https://example.com/shop",
        type: "step.one",
        subject: "order-7",
        data: { n: 1 },
      }),
    });
    assert.equal(res.status, 202);
    const seen = await logs.waitFor((l) => l.msg === "seen");
    // The function at the end of the chain got the sender's tracestate, in the sender's trace.
    assert.equal(seen.tracestate, TRACESTATE);
    assert.equal(String(seen.traceparent).split("-")[1], SENDER_TRACE);
    await logs.waitFor((l) => l.fn === "b" && l.msg === "delivered");
    await platform.close(); // flushes the batch span processors to the receiver

    const exports = receiver.received.filter((r) => r.path === "/v1/traces");
    assert.ok(
      exports.length > 0,
      `no export at /v1/traces: ${JSON.stringify(receiver.received.map((r) => r.path))}`,
    );
    for (const r of exports) assert.equal(r.contentType, contentType);
    const decoded = exports.flatMap((r) =>
      protocol === "http/json" ? fromJson(r.body) : fromProtobuf(r.body),
    );
    const resource = decoded[0]?.resource ?? {};
    assert.equal(resource["service.name"], protocol === "http/json" ? "orders" : "from-attributes");
    assert.equal(resource["deployment.environment.name"], "ci");
    assert.equal(resource["service.namespace"], "otelshop");
    assert.equal(typeof resource["service.version"], "string");
    checkSpans(decoded.flatMap((d) => d.spans));
  });
}

function checkSpans(spans: ExportedSpan[]): void {
  const byName = (name: string): ExportedSpan => {
    const found = spans.find((s) => s.name === name);
    assert.ok(found, `no span "${name}" among ${spans.map((s) => s.name).join(", ")}`);
    return found;
  };
  assert.ok(
    spans.every((s) => s.traceId === SENDER_TRACE && s.traceState === TRACESTATE),
    `every span is in the sender's trace and keeps its tracestate: ${JSON.stringify(spans.map((s) => [s.name, s.traceState]))}`,
  );
  const ingress = byName("ingress step.one").attributes;
  assert.deepEqual(pick(ingress, "messaging."), {
    "messaging.system": "palisade",
    "messaging.operation.type": "send",
    "messaging.operation.name": "publish",
    "messaging.destination.name": "step.one",
    "messaging.message.id": "order-7-created",
  });
  assert.deepEqual(pick(ingress, "cloudevents."), {
    "cloudevents.event_id": "order-7-created",
    "cloudevents.event_source": "https://example.com/shop",
    "cloudevents.event_type": "step.one",
    "cloudevents.event_spec_version": "1.0",
    "cloudevents.event_subject": "order-7",
  });
  assert.equal(ingress["palisade.principal"], "tester", "palisade.* attributes stay");
  const dispatch = byName("dispatch a").attributes;
  assert.equal(dispatch["messaging.operation.type"], "process");
  assert.equal(dispatch["messaging.operation.name"], "deliver");
  assert.equal(dispatch["cloudevents.event_id"], "order-7-created");
  assert.deepEqual(pick(byName("invoke a").attributes, "faas."), {
    "faas.trigger": "pubsub",
    "faas.invoked_name": "a",
    "faas.invocation.id": "order-7-created:a:1",
    "faas.coldstart": false, // the pool had its process started ahead of time
  });
  const emit = byName("emit step.two").attributes;
  assert.equal(emit["messaging.operation.name"], "emit");
  assert.equal(emit["messaging.destination.name"], "step.two");
  assert.equal(emit["cloudevents.event_source"], "palisade://functions/a");
  assert.equal(byName("invoke b").attributes["faas.invoked_name"], "b");
}

/** The attributes whose names start with `prefix`. */
function pick(attributes: Record<string, unknown>, prefix: string): Record<string, unknown> {
  return Object.fromEntries(Object.entries(attributes).filter(([k]) => k.startsWith(prefix)));
}

// OTLP/JSON (OTLP spec, "JSON Protobuf Encoding"): lowerCamelCase fields, hex ids, AnyValue objects.
function fromJson(body: Buffer): Export[] {
  type KeyValue = { key: string; value: Record<string, unknown> };
  const values = (list: KeyValue[] = []) =>
    Object.fromEntries(list.map((kv) => [kv.key, Object.values(kv.value)[0]]));
  const request = JSON.parse(body.toString("utf8")) as {
    resourceSpans: {
      resource: { attributes: KeyValue[] };
      scopeSpans: {
        spans: { name: string; traceId: string; traceState?: string; attributes: KeyValue[] }[];
      }[];
    }[];
  };
  return request.resourceSpans.map((rs) => ({
    resource: values(rs.resource.attributes),
    spans: rs.scopeSpans.flatMap((ss) =>
      ss.spans.map((s) => ({
        name: s.name,
        traceId: s.traceId,
        traceState: s.traceState ?? "",
        attributes: values(s.attributes),
      })),
    ),
  }));
}

// OTLP/protobuf, decoded by hand from the wire format (opentelemetry-proto trace.proto field numbers):
// ExportTraceServiceRequest.resource_spans = 1; ResourceSpans.resource = 1, .scope_spans = 2;
// Resource.attributes = 1; ScopeSpans.spans = 2; Span.trace_id = 1, .trace_state = 3, .name = 5,
// .attributes = 9; KeyValue.key = 1, .value = 2; AnyValue.string_value = 1, .bool_value = 2, .int_value = 3.
function fromProtobuf(body: Buffer): Export[] {
  const keyValues = (list: Buffer[]) =>
    Object.fromEntries(
      list.map((kv) => {
        const value = bytes(kv, 2)[0] ?? Buffer.alloc(0);
        const scalar = fields(value)[0];
        const decoded =
          scalar === undefined
            ? undefined
            : scalar.no === 1
              ? (scalar.value as Buffer).toString("utf8")
              : scalar.no === 2
                ? scalar.value === 1n
                : Number(scalar.value);
        return [text(kv, 1), decoded];
      }),
    );
  return bytes(body, 1).map((rs) => ({
    resource: keyValues(bytes(bytes(rs, 1)[0] ?? Buffer.alloc(0), 1)),
    spans: bytes(rs, 2).flatMap((ss) =>
      bytes(ss, 2).map((s) => ({
        name: text(s, 5),
        traceId: (bytes(s, 1)[0] ?? Buffer.alloc(0)).toString("hex"),
        traceState: text(s, 3),
        attributes: keyValues(bytes(s, 9)),
      })),
    ),
  }));
}

/** The fields of one protobuf message: varints as bigint, length-delimited as bytes. */
function fields(buf: Buffer): { no: number; value: bigint | Buffer }[] {
  const out: { no: number; value: bigint | Buffer }[] = [];
  let i = 0;
  const varint = (): bigint => {
    let result = 0n;
    for (let shift = 0n; ; shift += 7n) {
      const b = buf[i++] ?? 0;
      result |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) return result;
    }
  };
  while (i < buf.length) {
    const key = Number(varint());
    const [no, wire] = [key >>> 3, key & 7];
    if (wire === 0) out.push({ no, value: varint() });
    else if (wire === 2) {
      const length = Number(varint());
      const end = i + length;
      out.push({ no, value: buf.subarray(i, end) });
      i = end;
    } else if (wire === 1 || wire === 5)
      i += wire === 1 ? 8 : 4; // fixed64 / fixed32 (times): skipped
    else throw new Error(`unexpected protobuf wire type ${wire}`);
  }
  return out;
}

const bytes = (buf: Buffer, no: number): Buffer[] =>
  fields(buf).flatMap((f) => (f.no === no && Buffer.isBuffer(f.value) ? [f.value] : []));
const text = (buf: Buffer, no: number): string => (bytes(buf, no)[0] ?? Buffer.alloc(0)).toString("utf8");

test("an event that names its own trace context keeps its tracestate through the chain", async (t) => {
  otelEnv(t, {});
  const logs = captureLogs();
  const platform = await startPlatform({ appDir: chainApp(t), logger: logs.logger, port: 0 });
  t.after(() => platform.close());
  // Binary mode: ce-traceparent and ce-tracestate are the CloudEvents distributed-tracing extension.
  const res = await fetch(`${platform.url}/events`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      authorization: `Bearer ${TEST_KEY}`,
      "ce-specversion": "1.0",
      "ce-id": "e-1",
      "ce-source": "https://example.com/shop",
      "ce-type": "step.one",
      "ce-traceparent": `01-${SENDER_TRACE}-${SENDER_SPAN}-01`,
      "ce-tracestate": "vendor=abc",
    },
    body: JSON.stringify({ n: 1 }),
  });
  assert.equal(res.status, 202);
  const seen = await logs.waitFor((l) => l.msg === "seen");
  assert.equal(seen.tracestate, "vendor=abc");
  assert.equal(String(seen.traceparent).split("-")[1], SENDER_TRACE, "a version-01 traceparent is continued");
});

test("an OTLP protocol Palisade cannot speak refuses the start, naming the variable and the choices", async (t) => {
  otelEnv(t, { OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4317", OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" });
  const dir = chainApp(t);
  await assert.rejects(
    startPlatform({ appDir: dir, logger: captureLogs().logger, port: 0 }),
    (err: Error & { code?: string }) => {
      assert.equal(err.code, "PAL_OBSERVE_OTEL_ENV");
      assert.match(err.message, /OTEL_EXPORTER_OTLP_PROTOCOL is "grpc"/);
      assert.match(err.message, /"http\/protobuf" \(the default\) or "http\/json"/);
      return true;
    },
  );
  // The same through the CLI: `palisade dev` stops at once with the message, and does not serve.
  const run = spawnSync(process.execPath, [BIN, "dev", dir, "--port", "0"], {
    encoding: "utf8",
    env: { ...process.env, OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: "grpc", OTEL_EXPORTER_OTLP_PROTOCOL: "" },
    timeout: 60_000,
  });
  assert.equal(run.status, 2, "a setting to fix, like a usage error");
  assert.equal(run.signal, null, "dev exited by itself");
  assert.match(run.stderr, /OTEL_EXPORTER_OTLP_TRACES_PROTOCOL is "grpc"/);
});

test("a malformed OTEL_RESOURCE_ATTRIBUTES refuses the start instead of being dropped", async (t) => {
  otelEnv(t, { OTEL_RESOURCE_ATTRIBUTES: "service.name=a=b" });
  await assert.rejects(
    startPlatform({ appDir: chainApp(t), logger: captureLogs().logger, port: 0 }),
    /Cannot read OTEL_RESOURCE_ATTRIBUTES: "service.name=a=b" is not one key=value pair/,
  );
});
