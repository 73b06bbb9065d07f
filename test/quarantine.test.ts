/**
 * Detector 3 (denied-capability burst) against a running platform: real sandboxes, real HTTP, the
 * real CLI in a child process on the same files. A function that keeps asking for what it was not
 * granted is quarantined; its deliveries are held (pending, never attempted, never dropped) until an
 * operator releases them (each then runs once, in order) or discards them (dead-lettered with
 * reason `quarantined`, replayable). Traffic a sender controls cannot quarantine a function.
 */
import assert from "node:assert/strict";
import { type TestContext, test } from "node:test";
import { startPlatform } from "../src/main.ts";
import { scrape } from "./kit/admin.ts";
import { palisadeJson as json, palisade, sleep, waitUntil } from "./kit/cli-run.ts";
import { post, TEST_KEY } from "./kit/http.ts";
import { captureLogs, type LogLine } from "./kit/log-capture.ts";
import { setSecret, tempApp, testPrincipal } from "./kit/temp-app.ts";

const worked = (lines: readonly LogLine[], fn: string) =>
  lines.filter((l) => l.fn === fn && l.msg === "worked").map((l) => l.n as number);

const APP = `name: probing
events:
  job.queued: { schema: schemas/n.json }
${testPrincipal(["job.queued"])}functions:
  prober:
    handler: functions/prober.ts
    on: [job.queued]
    limits: { concurrency: 1 }
  bystander:
    handler: functions/bystander.ts
    on: [job.queued]
  watcher:
    handler: functions/watcher.ts
    on: [palisade.security.anomaly]
`;

const FILES = {
  "palisade.yaml": APP,
  "schemas/n.json": {
    type: "object",
    required: ["n"],
    additionalProperties: false,
    properties: { n: { type: "integer" } },
  },
  // A negative n makes the prober ask for a secret it was not granted, a different one per event
  // (probing), and swallow the refusal.
  "functions/prober.ts": `export default async (e, ctx) => {
  if (e.data.n < 0) { try { await ctx.secrets.get("PAYMENTS_KEY_" + -e.data.n); } catch {} return; }
  ctx.log.info("worked", { n: e.data.n });
};`,
  "functions/bystander.ts": 'export default (e, ctx) => ctx.log.info("worked", { n: e.data.n });',
  "functions/watcher.ts":
    'export default (e, ctx) => ctx.log.info("anomaly seen", { detector: e.data.detector, scope: e.data.scope.name, response: e.data.response, by: e.principal });',
};

/** The probing app on a running platform, closed when the test ends; `send` posts one event. */
async function startProbingApp(t: TestContext) {
  const dir = tempApp(t, FILES);
  setSecret(dir, "TEST_KEY", TEST_KEY);
  const logs = captureLogs();
  const platform = await startPlatform({ appDir: dir, logger: logs.logger, port: 0 });
  t.after(() => platform.close());
  const send = async (n: number): Promise<string> =>
    (await post(`${platform.url}/events`, { type: "job.queued", data: { n } })).body.ids[0] as string;
  return { dir, logs, platform, send };
}

interface Entry {
  scope: { kind: string; name: string };
  reason: string;
  finding: { detector: string; response: string; severity: string; evidence: { denials: number } } | null;
  held: { count: number; eventIds: string[] };
}

test("a function probing for grants it lacks is quarantined: held work waits, pending, until released (each once, in order) or discarded", async (t) => {
  const { dir, logs, platform, send } = await startProbingApp(t);

  // Ten probing events at once: they queue for the prober's one process, in batches. The third
  // refused call is the default policy's burst; what was queued or sent behind it never runs.
  const probes = await Promise.all(Array.from({ length: 10 }, (_, i) => send(-1 - i)));
  const seen = await logs.waitFor((l) => l.msg === "anomaly seen");
  assert.deepEqual(
    [seen.detector, seen.scope, seen.response, seen.by],
    ["denied-burst", "prober", "quarantine", "palisade"],
    "the finding is a palisade.security.anomaly event a function can subscribe to",
  );

  const held = [await send(1), await send(2)];
  await waitUntil("the bystander to get all twelve", () => worked(logs.lines, "bystander").length === 12);
  await sleep(300); // let any (wrong) attempt of the prober show up
  assert.deepEqual(worked(logs.lines, "prober"), [], "nothing runs while quarantined");
  for (const id of held)
    assert.deepEqual(
      (await platform.store.queue.deliveries(id)).map((d) => `${d.target}:${d.state}:${d.attempts}`).sort(),
      ["bystander:delivered:1", "prober:pending:0"],
      "held: pending, never attempted; the other subscriber is not held",
    );

  const [entry, ...others] = (await json(["quarantine", "list", "--app", dir])) as Entry[];
  assert.equal(others.length, 0);
  assert.deepEqual(entry?.scope, { kind: "function", name: "prober" });
  assert.equal(entry?.finding?.detector, "denied-burst");
  assert.equal(entry?.finding?.response, "quarantine");
  assert.equal(entry?.finding?.evidence.denials, 3);
  assert.match(entry?.reason ?? "", /refused 3 different capability calls/);
  // Held: the two sent after the finding, and every probe that had not finished (given back
  // unattempted, the one that was running included), oldest first.
  const heldProbes = entry?.held.eventIds.slice(0, -2) ?? [];
  assert.deepEqual(entry?.held.eventIds.slice(-2), held);
  assert.equal(entry?.held.count, heldProbes.length + 2);
  assert.ok(heldProbes.length >= 7, `${heldProbes.length} probes held`);
  for (const id of heldProbes) {
    assert.ok(probes.includes(id));
    const states = (await platform.store.queue.deliveries(id)).filter((d) => d.target === "prober");
    assert.deepEqual(
      states.map((d) => `${d.state}:${d.attempts}`),
      ["pending:0"],
      "given back unattempted",
    );
  }

  const metrics = await scrape(platform);
  assert.match(metrics, /palisade_function_quarantined\{fn="prober"\} 1/);
  assert.match(
    metrics,
    /palisade_capability_denied_total\{fn="prober",kind="secret"\} 3\n/,
    "nothing ran past the third refusal",
  );
  assert.match(
    metrics,
    /palisade_anomaly_findings_total\{detector="denied-burst",severity="high",response="quarantine"\} 1/,
  );
  await waitUntil("the quarantine's audit record", async () => {
    const tail = await palisade(["audit", "tail", "-n", "200", "--app", dir, "--json"]);
    const records = tail.stdout
      .split("\n")
      .filter((l) => l !== "")
      .map((l) => JSON.parse(l) as { kind: string; subject?: string; details?: { detector?: string } });
    return records.some(
      (r) =>
        r.kind === "function.quarantined" && r.subject === "prober" && r.details?.detector === "denied-burst",
    );
  });

  // Discard: the held work is dead-lettered (reason quarantined); the function stays quarantined.
  assert.deepEqual(await json(["quarantine", "discard", "prober", "--app", dir]), {
    function: "prober",
    discarded: heldProbes.length + 2,
    quarantined: true,
  });
  const dead = (await json(["dlq", "list", "--app", dir])) as {
    eventId: string;
    target: string;
    reason: string;
  }[];
  assert.deepEqual(
    dead.map((d) => `${d.target}:${d.reason}`),
    Array(heldProbes.length + 2).fill("prober:quarantined"),
  );
  const later = [await send(3), await send(4), await send(5)];
  await waitUntil("the bystander to get fifteen", () => worked(logs.lines, "bystander").length === 15);
  assert.deepEqual(
    ((await json(["quarantine", "list", "--app", dir])) as Entry[])[0]?.held.eventIds,
    later,
    "still quarantined: new work is held, in order",
  );

  // Release: the held work runs, oldest first, each once; a dead letter replays like any other.
  assert.equal((await palisade(["quarantine", "release", "prober", "--app", dir])).status, 0);
  await waitUntil("the three held to run", () => worked(logs.lines, "prober").length === 3);
  assert.equal((await palisade(["dlq", "replay", held[0] ?? "", "--app", dir])).status, 0);
  await waitUntil("the replayed one to run", () => worked(logs.lines, "prober").length === 4);
  await sleep(300);
  assert.deepEqual(worked(logs.lines, "prober"), [3, 4, 5, 1], "each exactly once, held ones in order");
  assert.deepEqual(await json(["quarantine", "list", "--app", dir]), []);
  assert.match(await scrape(platform), /palisade_function_quarantined\{fn="prober"\} 0/);
  const release = await palisade(["quarantine", "release", "prober", "--app", dir]);
  assert.equal(release.status, 1);
  assert.match(release.stderr, /"prober" is not quarantined/);
});

test("a quarantine outlives a restart: the next platform on the same files holds the function from its first round", async (t) => {
  const dir = tempApp(t, FILES);
  setSecret(dir, "TEST_KEY", TEST_KEY);
  const first = captureLogs();
  let platform = await startPlatform({ appDir: dir, logger: first.logger, port: 0 });
  for (let n = -1; n >= -5; n--) await post(`${platform.url}/events`, { type: "job.queued", data: { n } });
  await first.waitFor((l) => l.msg === "anomaly seen");
  await platform.close();

  const logs = captureLogs();
  platform = await startPlatform({ appDir: dir, logger: logs.logger, port: 0 });
  t.after(() => platform.close());
  const id = (await post(`${platform.url}/events`, { type: "job.queued", data: { n: 7 } })).body.ids[0];
  await waitUntil("the bystander", () => worked(logs.lines, "bystander").length === 1);
  await sleep(300);
  assert.deepEqual(worked(logs.lines, "prober"), []);
  // Held: the new event, after the probe whose run the quarantine stopped (given back).
  const listed = (await json(["quarantine", "list", "--app", dir])) as Entry[];
  assert.deepEqual(
    listed.map((e) => [e.scope.name, e.held.eventIds.at(-1)]),
    [["prober", id]],
  );
});

test("traffic cannot quarantine a function: limit refusals a sender causes, rejected requests and another function's probing do not", async (t) => {
  const dir = tempApp(t, {
    ...FILES,
    "palisade.yaml": `${APP}  fanout:
    handler: functions/fanout.ts
    on: [job.queued]
    emit: [job.fanned]
    limits: { emitsPerInvocation: 1 }
detect:
  credentialStuffing: { response: alert }   # the 20 rejected requests below come from this test's own address
`.replace(
      "  job.queued: { schema: schemas/n.json }\n",
      "  job.queued: { schema: schemas/n.json }\n  job.fanned: { schema: schemas/n.json }\n",
    ),
    // A sender chooses n; n > 1 makes the function go over its emit limit (refused, caught).
    "functions/fanout.ts": `export default async (e, ctx) => {
  if (e.data.n > 100) for (let i = 0; i < 3; i++) { try { await ctx.emit("job.fanned", { n: i }); } catch {} }
  ctx.log.info("worked", { n: e.data.n });
};`,
  });
  setSecret(dir, "TEST_KEY", TEST_KEY);
  const logs = captureLogs();
  const platform = await startPlatform({ appDir: dir, logger: logs.logger, port: 0 });
  t.after(() => platform.close());
  for (let i = 0; i < 20; i++) {
    const bad = await fetch(`${platform.url}/events`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: "Bearer wrong-key-0123456789" },
      body: JSON.stringify({ type: "job.queued", data: { n: 1 } }),
    });
    assert.equal(bad.status, 401);
  }
  for (let n = 101; n <= 110; n++) await post(`${platform.url}/events`, { type: "job.queued", data: { n } });
  await waitUntil("fanout's ten", () => worked(logs.lines, "fanout").filter((n) => n > 100).length === 10);
  assert.ok(
    logs.lines.filter((l) => l.fn === "fanout" && /capability limited/.test(l.msg)).length >= 10,
    "the sender drove fanout over its limit",
  );
  // The prober's own probing (n < 0) quarantines the prober, and only it.
  for (let n = -1; n >= -5; n--) await post(`${platform.url}/events`, { type: "job.queued", data: { n } });
  await logs.waitFor((l) => l.msg === "anomaly seen");
  await sleep(300);
  const quarantined = ((await json(["quarantine", "list", "--app", dir])) as Entry[]).map(
    (e) => e.scope.name,
  );
  assert.deepEqual(quarantined, ["prober"]);
  await post(`${platform.url}/events`, { type: "job.queued", data: { n: 200 } });
  await waitUntil("fanout still runs", () => worked(logs.lines, "fanout").includes(200));
});

test("the operator's kill switch: quarantine hold stops a function on the running platform until release", async (t) => {
  const { dir, logs, platform, send } = await startProbingApp(t);

  const held = await palisade(["quarantine", "hold", "bystander", "--reason", "incident 42", "--app", dir]);
  assert.equal(held.status, 0, held.stderr);
  const again = await palisade(["quarantine", "hold", "bystander", "--app", dir]);
  assert.equal(again.status, 1);
  assert.match(again.stderr, /already quarantined/);
  await waitUntil("the platform to see the hold", async () =>
    /palisade_function_quarantined\{fn="bystander"\} 1/.test(await scrape(platform)),
  );
  const seen = await logs.waitFor((l) => l.msg === "anomaly seen");
  assert.deepEqual([seen.detector, seen.scope, seen.response], ["operator", "bystander", "quarantine"]);

  const ids = [await send(1), await send(2)];
  await waitUntil("the prober to get both", () => worked(logs.lines, "prober").length === 2);
  await sleep(300);
  assert.deepEqual(worked(logs.lines, "bystander"), [], "held");
  const [entry] = (await json(["quarantine", "list", "--app", dir])) as Entry[];
  assert.match(entry?.reason ?? "", /^Held by cli:.*: incident 42$/);
  assert.deepEqual(entry?.held?.eventIds, ids);

  assert.equal((await palisade(["quarantine", "release", "bystander", "--app", dir])).status, 0);
  await waitUntil("the bystander to run the held two", () => worked(logs.lines, "bystander").length === 2);
  await sleep(300);
  assert.deepEqual(
    worked(logs.lines, "bystander").sort((a, b) => a - b),
    [1, 2],
    "each once (two processes: the log order may differ)",
  );
});
