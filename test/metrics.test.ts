/**
 * `GET /metrics` parses as Prometheus text, and its counters match what the test did: events
 * accepted, requests refused by reason, deliveries by outcome, invocation durations, dead letters.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { startPlatform } from "../src/main.ts";
import { scrape } from "./kit/admin.ts";
import { post, TEST_KEY } from "./kit/http.ts";
import { captureLogs } from "./kit/log-capture.ts";
import { NUMBER_SCHEMA, setSecret, tempApp, testPrincipal } from "./kit/temp-app.ts";

/** Samples of Prometheus text format: `name{labels} value` → value, keyed by name + sorted labels. */
function parse(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})? (\S+)$/.exec(line);
    assert.ok(m, `not Prometheus text: ${line}`);
    const labels = (m[3] ?? "")
      .split(",")
      .filter((l) => l !== "")
      .sort()
      .join(",");
    samples.set(`${m[1]}{${labels}}`, Number(m[4]));
  }
  return samples;
}

test("/metrics parses and its counters match what happened", async (t) => {
  const dir = tempApp(t, {
    "palisade.yaml": `name: counted
events:
  job.queued: { schema: schemas/n.json }
${testPrincipal(["job.queued"])}functions:
  ok:
    handler: functions/ok.ts
    on: [job.queued]
  bad:
    handler: functions/bad.ts
    on: [job.queued]
    retry: { attempts: 1 }
`,
    "schemas/n.json": NUMBER_SCHEMA,
    "functions/ok.ts": "export default () => {};",
    "functions/bad.ts": "export default () => { throw new Error('no'); };",
  });
  setSecret(dir, "TEST_KEY", TEST_KEY);
  const logs = captureLogs();
  const platform = await startPlatform({ appDir: dir, logger: logs.logger, port: 0 });
  t.after(() => platform.close());

  const N = 5;
  for (let n = 0; n < N; n++)
    assert.equal((await post(`${platform.url}/events`, { type: "job.queued", data: { n } })).status, 202);
  assert.equal(
    (
      await post(
        `${platform.url}/events`,
        { type: "job.queued", data: { n: 1 } },
        "application/json",
        "wrong-key",
      )
    ).status,
    401,
  );
  assert.equal((await post(`${platform.url}/events`, { type: "job.queued", data: { n: -1 } })).status, 400);
  await logs.waitFor(() => logs.lines.filter((l) => l.msg === "delivered").length === N);
  await logs.waitFor(() => logs.lines.filter((l) => l.msg === "delivery failed").length === N);

  let m = parse(await scrape(platform));
  assert.equal(m.get('palisade_ingress_accepted_total{source="/events"}'), N);
  assert.equal(
    m.get(
      'palisade_ingress_rejected_total{code="PAL_GATEWAY_UNAUTHENTICATED",reason="unauthenticated",status="401"}',
    ),
    1,
  );
  assert.equal(
    m.get('palisade_ingress_rejected_total{code="PAL_SCHEMA_INVALID_DATA",reason="invalid",status="400"}'),
    1,
  );
  assert.equal(m.get('palisade_deliveries_total{fn="ok",outcome="delivered"}'), N);
  assert.equal(m.get('palisade_deliveries_total{fn="bad",outcome="failed"}'), N);
  assert.equal(m.get('palisade_invocation_duration_seconds_count{fn="ok"}'), N);
  assert.equal(m.get('palisade_invocation_duration_seconds_count{fn="bad"}'), N);
  // Gauges are refreshed every 2 s: wait for the dead letters to show.
  while (m.get("palisade_dlq_depth{}") !== N) {
    await new Promise((r) => setTimeout(r, 200));
    m = parse(await scrape(platform));
  }
  assert.equal(m.get("palisade_pending_deliveries{}"), 0);
  assert.ok((m.get('palisade_pool_size{fn="ok"}') ?? 0) >= 1);
});
