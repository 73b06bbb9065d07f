/**
 * Detector 4 (credential stuffing) against a running platform over real HTTP: a client address
 * whose requests keep failing authentication is blocked (429 with Retry-After, whatever it sends
 * next), and only that address. The principal it tried keeps working from its own address, and an
 * address that mostly succeeds is not blocked for a few failures. The clients connect from
 * different loopback addresses (127.0.0.x), which the gateway sees as different clients.
 */
import assert from "node:assert/strict";
import { request } from "node:http";
import { test } from "node:test";
import { startPlatform } from "../src/main.ts";
import { scrape } from "./kit/admin.ts";
import { TEST_KEY } from "./kit/http.ts";
import { captureLogs } from "./kit/log-capture.ts";
import { type RawReply, readReply } from "./kit/read-reply.ts";
import { NUMBER_SCHEMA, setSecret, tempApp, testPrincipal } from "./kit/temp-app.ts";

/** POSTs one event from `from` (a loopback address) with `key`. */
function postFrom(url: string, from: string, key: string): Promise<RawReply> {
  const headers = { "content-type": "application/json", authorization: `Bearer ${key}` };
  return new Promise((resolve, reject) => {
    const req = request(
      `${url}/events`,
      { method: "POST", localAddress: from, agent: false, headers },
      (res) => resolve(readReply(res)),
    );
    req.on("error", reject);
    req.end(JSON.stringify({ type: "job.queued", data: { n: 1 } }));
  });
}

test("an address stuffing credentials is blocked, and only it: the principal it tried works from elsewhere, a mostly good address is not blocked", async (t) => {
  const dir = tempApp(t, {
    "palisade.yaml": `name: stuffed
events:
  job.queued: { schema: schemas/n.json }
${testPrincipal(["job.queued"])}functions:
  watcher:
    handler: functions/watcher.ts
    on: [palisade.security.anomaly]
`,
    "schemas/n.json": NUMBER_SCHEMA,
    "functions/watcher.ts":
      'export default (e, ctx) => ctx.log.info("anomaly seen", { detector: e.data.detector, kind: e.data.scope.kind, scope: e.data.scope.name, response: e.data.response, failures: e.data.evidence.failures });',
  });
  setSecret(dir, "TEST_KEY", TEST_KEY);
  const logs = captureLogs();
  const platform = await startPlatform({ appDir: dir, logger: logs.logger, port: 0 });
  t.after(() => platform.close());
  const attacker = "127.0.0.2";
  const busy = "127.0.0.3";

  // A busy, mostly good client: 50 accepted, then 20 failures (a key rotated badly) stay under the ratio.
  for (let i = 0; i < 50; i++) assert.equal((await postFrom(platform.url, busy, TEST_KEY)).status, 202);
  for (let i = 0; i < 20; i++)
    assert.equal((await postFrom(platform.url, busy, `wrong-${i}-0123456789abcdef`)).status, 401);
  assert.equal((await postFrom(platform.url, busy, TEST_KEY)).status, 202, "not blocked");

  // The attacker: 10 guesses (the default policy), each refused; then even a right key from there
  // is refused.
  for (let i = 0; i < 10; i++) {
    assert.equal((await postFrom(platform.url, attacker, `guess-${i}-0123456789abcdef`)).status, 401);
    // The principal it is after keeps working from its own address throughout.
    assert.equal((await postFrom(platform.url, "127.0.0.1", TEST_KEY)).status, 202);
  }
  const blocked = await postFrom(platform.url, attacker, TEST_KEY);
  assert.equal(blocked.status, 429);
  assert.equal(blocked.body.error.code, "PAL_GATEWAY_CLIENT_BLOCKED");
  assert.ok(
    Number(blocked.headers["retry-after"]) > 800 && Number(blocked.headers["retry-after"]) <= 900,
    `Retry-After ${blocked.headers["retry-after"]}`,
  );
  assert.equal((await postFrom(platform.url, "127.0.0.1", TEST_KEY)).status, 202);
  assert.equal((await postFrom(platform.url, busy, TEST_KEY)).status, 202);

  const seen = await logs.waitFor((l) => l.msg === "anomaly seen");
  assert.deepEqual(
    [seen.detector, seen.kind, seen.scope, seen.response, seen.failures],
    ["credential-stuffing", "address", attacker, "block", 10],
  );
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(logs.lines.filter((l) => l.msg === "anomaly seen").length, 1, "one finding, one address");
  const metrics = await scrape(platform);
  assert.match(
    metrics,
    /palisade_anomaly_findings_total\{detector="credential-stuffing",severity="high",response="block"\} 1/,
  );
});
