/**
 * Detector 1 (lineage and amplification) against a running platform: real sandboxes, real HTTP, the
 * real CLI in a child process on the same files. A chain that goes deeper than a function's
 * recursion.maxDepth, or causes more work than its root's budget, is held: its further deliveries
 * stay pending (never attempted, never dropped) until an operator releases the chain (each then
 * runs once) or discards it (dead-lettered with reason `quarantined`). Other chains, including
 * another sender's, keep running.
 */
import assert from "node:assert/strict";
import { type TestContext, test } from "node:test";
import { palisadeJson as json, palisade, sleep, waitUntil } from "./kit/cli-run.ts";
import { post, TEST_KEY } from "./kit/http.ts";
import type { LogLine } from "./kit/log-capture.ts";
import { OTHER_KEY, startTwoSenderApp, twoSenders } from "./kit/two-senders.ts";

interface Entry {
  scope: { kind: string; name: string };
  reason: string;
  finding: {
    detector: string;
    response: string;
    scope: { kind: string };
    evidence: Record<string, unknown>;
  } | null;
  held: { count: number; eventIds: string[] };
}

/**
 * `step` runs on job.step and emits the next step (a loop it declares: recursion.maxDepth 2);
 * `fan` splits a batch into n items; `item` handles each; `watcher` logs every finding.
 */
const APP = `name: chains
hopLimit: 6
events:
  job.step: { schema: schemas/n.json }
  batch.created: { schema: schemas/n.json }
  batch.item: { schema: schemas/n.json }
${twoSenders(["job.step", "batch.created"], ["job.step"])}functions:
  step:
    handler: functions/step.ts
    on: [job.step]
    emit: [job.step]
    recursion: { maxDepth: 2 }
    limits: { emitsPerInvocation: 1 }
  fan:
    handler: functions/fan.ts
    on: [batch.created]
    emit: [batch.item]
    limits: { emitsPerInvocation: 50 }
  item:
    handler: functions/item.ts
    on: [batch.item]
    limits: { concurrency: 1 }
  watcher:
    handler: functions/watcher.ts
    on: [palisade.security.anomaly]
detect:
  amplification: { maxPerRoot: 12 }
`;

async function startChainApp(t: TestContext, files: Record<string, string> = {}) {
  const app = await startTwoSenderApp(t, {
    "palisade.yaml": APP,
    "functions/step.ts": `export default async (e, ctx) => {
  ctx.log.info("stepped", { n: e.data.n, hop: e.hop, root: e.rootid });
  await ctx.emit("job.step", { n: e.data.n + 1 });
};`,
    "functions/fan.ts": `export default async (e, ctx) => {
  for (let i = 0; i < e.data.n; i++) await ctx.emit("batch.item", { n: i });
};`,
    "functions/item.ts": 'export default (e, ctx) => ctx.log.info("item", { n: e.data.n });',
    "functions/watcher.ts":
      'export default (e, ctx) => ctx.log.info("anomaly seen", { detector: e.data.detector, kind: e.data.scope.kind, scope: e.data.scope.name, response: e.data.response });',
    ...files,
  });
  /** Posts one `{ n }` event as a sender; it must be accepted. Resolves to its id. */
  const send = async (type: string, n: number, key = TEST_KEY): Promise<string> => {
    const res = await app.send(type, n, key);
    assert.equal(res.status, 202, JSON.stringify(res.body));
    return res.body.ids[0] as string;
  };
  return { ...app, send };
}

const stepped = (lines: readonly LogLine[], root: string) =>
  lines.filter((l) => l.msg === "stepped" && l.root === root).map((l) => l.hop as number);

test("a loop deeper than recursion.maxDepth is held, losslessly; another sender's chain keeps running; release runs the held work once", async (t) => {
  const { dir, logs, platform, send } = await startChainApp(t);
  const root = await send("job.step", 0);
  const seen = await logs.waitFor((l) => l.msg === "anomaly seen");
  assert.deepEqual(
    [seen.detector, seen.kind, seen.scope, seen.response],
    ["lineage", "root", `tester/${root}`, "hold"],
  );
  await waitUntil("hops 0..2 to run", () => stepped(logs.lines, root).length === 3);
  await sleep(300); // let any (wrong) run of hop 3 show up
  assert.deepEqual(stepped(logs.lines, root), [0, 1, 2], "hop 3 is past maxDepth 2: not run");

  // The hop-3 event is stored, and its delivery waits: pending, never attempted.
  const chain = await platform.store.events.read(0, 100);
  const deep = chain.find((s) => s.event.type === "job.step" && s.event.hop === 3)?.event;
  assert.ok(deep, "the hop-3 event was stored (an emit is never dropped)");
  assert.equal(deep.rootid, root);
  assert.deepEqual(
    (await platform.store.queue.deliveries(deep.id)).map((d) => `${d.target}:${d.state}:${d.attempts}`),
    ["step:pending:0"],
  );

  // Another principal's chain is its own root: the held chain does not hold it (it is held at its
  // own depth, with its own finding).
  const theirs = await send("job.step", 100, OTHER_KEY);
  // Its three hops run one after another; under a loaded CI machine this once took over 15 s.
  await waitUntil("the other chain's hops 0..2", () => stepped(logs.lines, theirs).length === 3, 45_000);

  const listed = (await json(["quarantine", "list", "--app", dir])) as Entry[];
  const mine = listed.find((e) => e.scope.name === `tester/${root}`);
  assert.deepEqual(mine?.scope, { kind: "root", name: `tester/${root}` });
  assert.equal(mine?.finding?.detector, "lineage");
  assert.equal(mine?.finding?.evidence.maxDepth, 2);
  assert.match(mine?.reason ?? "", /deeper than its recursion\.maxDepth \(2\)/);
  assert.deepEqual(mine?.held, { count: 1, more: false, eventIds: [deep.id] });
  assert.ok(listed.some((e) => e.scope.name === `other/${theirs}`));

  const release = await palisade(["quarantine", "release", `root:tester/${root}`, "--app", dir]);
  assert.equal(release.status, 0, release.stderr);
  // Released: the chain runs on (not held again) until the hop limit (6) refuses the emit at hop 7.
  await waitUntil("the released chain to reach the hop limit", () => stepped(logs.lines, root).length === 7);
  await sleep(300);
  assert.deepEqual(stepped(logs.lines, root), [0, 1, 2, 3, 4, 5, 6], "each hop once");
  const again = await palisade(["quarantine", "release", `root:tester/${root}`, "--app", dir]);
  assert.equal(again.status, 1);
  assert.match(again.stderr, /is not held/);
  const bad = await palisade(["quarantine", "release", "root:nothing", "--app", dir]);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /root:<principal>\/<event id>/);
});

test("a fan-out past its root's budget holds the rest of the chain; discard dead-letters it; nothing is lost", async (t) => {
  const { dir, logs, platform, send } = await startChainApp(t);
  // Budget: maxPerRoot 12. One fan invocation and 30 emits are 31: the items after the budget wait.
  const root = await send("batch.created", 30);
  const seen = await logs.waitFor((l) => l.msg === "anomaly seen");
  assert.deepEqual([seen.detector, seen.scope, seen.response], ["lineage", `tester/${root}`, "hold"]);
  const items = async () =>
    (await platform.store.events.read(0, 200)).filter((s) => s.event.type === "batch.item");
  await waitUntil("all 30 items stored", async () => (await items()).length === 30);
  await sleep(500);
  const states = async () =>
    (
      await Promise.all(
        (await items()).map(async (s) => (await platform.store.queue.deliveries(s.event.id))[0]),
      )
    ).map((d) => `${d?.state}:${d?.attempts}`);
  const before = await states();
  const ran = before.filter((s) => s === "delivered:1").length;
  const waiting = before.filter((s) => s === "pending:0").length;
  assert.equal(ran + waiting, 30, `every item either ran once or waits: ${before.join(" ")}`);
  assert.ok(ran < 12, `at most the budget ran (${ran})`);
  assert.ok(waiting > 18, `the rest waits (${waiting})`);
  assert.equal(logs.lines.filter((l) => l.msg === "item").length, ran);

  // A second batch from the same sender is another root, with its own budget: its items run.
  const small = await send("batch.created", 3);
  await waitUntil(
    "the small batch's items",
    () => logs.lines.filter((l) => l.msg === "item").length === ran + 3,
  );
  assert.ok(small);

  const [entry] = ((await json(["quarantine", "list", "--app", dir])) as Entry[]).filter(
    (e) => e.scope.name === `tester/${root}`,
  );
  assert.equal(entry?.held.count, waiting);
  assert.equal(entry?.finding?.evidence.budget, 12);

  const discard = await palisade(["quarantine", "discard", `root:tester/${root}`, "--app", dir]);
  assert.equal(discard.status, 0, discard.stderr);
  await waitUntil("the held items to be dead-lettered", async () =>
    (await states()).every((s) => s === "delivered:1" || s.startsWith("failed:")),
  );
  const dead = (await platform.store.queue.deadLetters(100)).filter((d) => d.target === "item");
  assert.equal(dead.length, waiting, "each held item dead-lettered once");
  assert.ok(dead.every((d) => d.reason === "quarantined"));
  assert.equal(logs.lines.filter((l) => l.msg === "item").length, ran + 3, "no held item ran");
  assert.deepEqual(
    ((await json(["quarantine", "list", "--app", dir])) as Entry[]).filter(
      (e) => e.scope.name === `tester/${root}`,
    ),
    [],
  );
});

/** Items of the batch in the kill-switch test: well past what one sandbox batch takes at once. */
const ITEMS = 50;

test("the kill switch on a principal: its requests get 429 and its chains' work waits until release; other senders run", async (t) => {
  const { dir, logs, platform, send } = await startChainApp(t, {
    // Many slow items (more than one sandbox batch): the hold lands while most still wait.
    "palisade.yaml": APP.replace("maxPerRoot: 12", "maxPerRoot: 1000"),
    "functions/item.ts":
      'export default async (e, ctx) => { await new Promise((r) => setTimeout(r, 300)); ctx.log.info("item", { n: e.data.n }); };',
  });
  const root = await send("batch.created", ITEMS);
  await logs.waitFor((l) => l.msg === "item");
  const hold = await palisade([
    "quarantine",
    "hold",
    "principal:tester",
    "--reason",
    "key leaked",
    "--app",
    dir,
  ]);
  assert.equal(hold.status, 0, hold.stderr);
  // Within a second the running platform refuses the principal's requests...
  let refused: Awaited<ReturnType<typeof post>> | undefined;
  await waitUntil("tester to be refused", async () => {
    const res = await post(
      `${platform.url}/events`,
      { type: "job.step", data: { n: 1 } },
      "application/json",
      TEST_KEY,
    );
    if (res.status === 429) refused = res;
    return refused !== undefined;
  });
  assert.equal(refused?.body.error.code, "PAL_GATEWAY_PRINCIPAL_HELD");
  assert.ok(Number(refused?.headers.get("retry-after")) > 0);
  // ...and its chain's further items wait, pending and never attempted (those already handed to
  // the sandbox finish): the count stops moving short of all of them.
  const count = () => logs.lines.filter((l) => l.msg === "item").length;
  let ran = count();
  for (let still = 0; still < 10; ) {
    await sleep(150);
    if (count() === ran) still += 1;
    else [ran, still] = [count(), 0];
  }
  assert.ok(ran < ITEMS, `${ran} of ${ITEMS} items ran before the hold`);
  const [entry] = ((await json(["quarantine", "list", "--app", dir])) as Entry[]).filter(
    (e) => e.scope.kind === "principal",
  );
  assert.deepEqual(entry?.scope, { kind: "principal", name: "tester" });
  assert.equal(entry?.finding?.detector, "operator");
  assert.match(entry?.reason ?? "", /key leaked/);
  // Held: the batch's remaining items (and the chains of the requests accepted before the hold).
  const items = (await platform.store.events.read(0, 500)).filter((x) => x.event.type === "batch.item");
  const waiting: string[] = [];
  for (const x of items) {
    const [d] = await platform.store.queue.deliveries(x.event.id);
    if (d?.state === "pending") {
      assert.equal(d.attempts, 0);
      waiting.push(x.event.id);
    }
  }
  assert.equal(waiting.length, ITEMS - ran);
  for (const id of waiting) assert.ok(entry?.held.eventIds.includes(id), `${id} listed as held`);
  // Another sender is not held.
  const theirs = await send("job.step", 500, OTHER_KEY);
  await waitUntil("the other sender's chain", () => stepped(logs.lines, theirs).length >= 1);

  const release = await palisade(["quarantine", "release", "principal:tester", "--app", dir]);
  assert.equal(release.status, 0, release.stderr);
  await waitUntil("the held items to run", () => logs.lines.filter((l) => l.msg === "item").length === ITEMS);
  assert.deepEqual(
    logs.lines
      .filter((l) => l.msg === "item")
      .map((l) => l.n as number)
      .sort((a, b) => a - b),
    Array.from({ length: ITEMS }, (_, i) => i),
    "each once",
  );
  assert.ok(root);
  await waitUntil("tester accepted again", async () => (await send("job.step", 900).catch(() => "")) !== "");
});
