import assert from "node:assert/strict";
import { describe, type TestContext, test } from "node:test";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { natsUnavailable, suiteNatsServer } from "../../test/kit/nats-server.ts";
import {
  createTracing,
  type NatsTraceStream,
  natsTraceExporter,
  openNatsTraceStream,
  readNatsTraces,
  TRACES_MAX_AGE_MS,
  TRACES_MAX_BYTES,
  type Tracing,
} from "./index.ts";

const skip = natsUnavailable();
let apps = 0;

/** A process (`role`) publishing its spans to app `app`'s traces stream over its own connection. */
async function node(t: TestContext, url: string, app: string, role: string) {
  const nc = await connect({ servers: url });
  t.after(() => nc.close());
  const stream = await openNatsTraceStream(nc, { stream: `TRACES_${app}`, subject: `tr.${app}` }, 1);
  const tracing: Tracing = createTracing({ batched: [natsTraceExporter(stream, role)], otlpFromEnv: false });
  return { stream, tracing };
}

const traceId = (traceparent: string) => traceparent.split("-")[1] ?? "";

/** One trace: ingress on the gateway, its delivery and a capability call on the worker. */
function crossTrace(gateway: Tracing, worker: Tracing, name: string): string {
  const ingress = gateway.start(`ingress ${name}`, undefined);
  const invoke = worker.start(`invoke ${name}`, ingress.traceparent, { "palisade.function": "work" });
  const cap = worker.start("capability emit", invoke.traceparent);
  cap.end();
  invoke.end();
  ingress.end();
  return traceId(ingress.traceparent);
}

describe("traces on NATS", { skip }, () => {
  const nats = suiteNatsServer();

  test("spans of one trace from two processes read back as one tree", async (t) => {
    const app = `a${++apps}`;
    const gw = await node(t, nats.url, app, "gateway");
    const wk = await node(t, nats.url, app, "worker");
    const first = crossTrace(gw.tracing, wk.tracing, "one");
    const second = crossTrace(gw.tracing, wk.tracing, "two");
    await gw.tracing.close();
    await wk.tracing.close();

    const spans = await readNatsTraces(gw.stream, { traceId: first });
    assert.deepEqual(spans.map((s) => s.name).sort(), ["capability emit", "ingress one", "invoke one"]);
    const byName = new Map(spans.map((s) => [s.name, s]));
    assert.equal(byName.get("invoke one")?.parentId, byName.get("ingress one")?.spanId);
    assert.equal(byName.get("capability emit")?.parentId, byName.get("invoke one")?.spanId);
    assert.match(String(byName.get("ingress one")?.node), /^gateway /);
    assert.match(String(byName.get("invoke one")?.node), /^worker /);

    // Recent traces: the newest first asked for, each whole.
    const recent = await readNatsTraces(wk.stream, { traces: 1 });
    assert.deepEqual([...new Set(recent.map((s) => s.traceId))], [second]);
    assert.equal(recent.length, 3);
    const both = await readNatsTraces(wk.stream, { traces: 5 });
    assert.deepEqual(new Set(both.map((s) => s.traceId)), new Set([first, second]));
  });

  test("an id that is a subject wildcard reads nothing rather than every trace", async (t) => {
    const app = `a${++apps}`;
    const gw = await node(t, nats.url, app, "gateway");
    gw.tracing.start("ingress x", undefined).end();
    await gw.tracing.close();
    assert.equal((await readNatsTraces(gw.stream, { traces: 5 })).length, 1);
    for (const id of [">", "*", `${"a".repeat(32)}.>`])
      assert.deepEqual(await readNatsTraces(gw.stream, { traceId: id }), []);
  });

  test("a planted span of the wrong shape is skipped, so the span tree cannot fail on it", async (t) => {
    const app = `a${++apps}`;
    const gw = await node(t, nats.url, app, "gateway");
    const root = gw.tracing.start("ingress x", undefined);
    root.end();
    await gw.tracing.close();
    const id = traceId(root.traceparent);
    const bad = [
      {
        traceId: id,
        spanId: "1",
        parentId: null,
        name: "no attributes",
        start: 1,
        durationMs: 1,
        error: null,
      },
      {
        traceId: id,
        spanId: "2",
        parentId: null,
        name: "x",
        start: "soon",
        durationMs: 1,
        error: null,
        attributes: {},
      },
      {
        traceId: id,
        spanId: 3,
        parentId: 7,
        name: null,
        start: 1,
        durationMs: "1",
        error: 5,
        attributes: [],
      },
    ];
    await jetstream(gw.stream.nc).publish(`tr.${app}.${id}`, JSON.stringify({ node: "planted", spans: bad }));
    await jetstream(gw.stream.nc).publish(
      `tr.${app}.${id}`,
      JSON.stringify({ node: "planted", spans: [null, 5] }),
    );
    const spans = await readNatsTraces(gw.stream, { traceId: id });
    assert.deepEqual(
      spans.map((s) => s.name),
      ["ingress x"],
    );
  });

  test("the stream's retention is bounded by age and bytes, oldest dropped, and restored on open", async (t) => {
    const app = `a${++apps}`;
    const { stream } = await node(t, nats.url, app, "gateway");
    const config = async (s: NatsTraceStream) => (await s.jsm.streams.info(s.stream)).config;
    const c = await config(stream);
    assert.equal(c.max_bytes, TRACES_MAX_BYTES);
    assert.equal(c.max_age, TRACES_MAX_AGE_MS * 1_000_000);
    assert.equal(c.discard, "old");
    // Someone lifts the bound; the next node to open the stream puts it back.
    const nc = await connect({ servers: nats.url });
    t.after(() => nc.close());
    const jsm = await jetstreamManager(nc);
    await jsm.streams.update(stream.stream, { ...c, max_bytes: -1 });
    const again = await node(t, nats.url, app, "worker");
    assert.equal((await config(again.stream)).max_bytes, TRACES_MAX_BYTES);
  });
});
