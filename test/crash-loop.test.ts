import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { openAppStore } from "../src/main.ts";
import { loadApp } from "../src/manifest/index.ts";
import { startDev, stop } from "./kit/cli-process.ts";
import { post, TEST_KEY } from "./kit/http.ts";
import { NUMBER_SCHEMA, setSecret, tempApp, testPrincipal } from "./kit/temp-app.ts";

const ROUNDS = 20;
const PER_ROUND = 12;

test(`nothing accepted is lost and every effect happens once across ${ROUNDS} SIGKILLs at random moments`, {
  timeout: 600_000,
}, async (t) => {
  const dir = tempApp(t, {
    "palisade.yaml": `name: crashloop
events:
  job.queued: { schema: schemas/n.json }
  job.done: { schema: schemas/n.json }
${testPrincipal(["job.queued"])}functions:
  work:
    handler: functions/work.ts
    on: [job.queued]
    emit: [job.done]
    retry: { attempts: 100, initialDelayMs: 50, maxDelayMs: 200 }
`,
    "schemas/n.json": NUMBER_SCHEMA,
    // The effect is an emitted event; its id is stable per delivery, so a retry cannot repeat it.
    "functions/work.ts": `export default async (e, ctx) => {
      await new Promise((r) => setTimeout(r, e.data.n % 7));
      await ctx.emit("job.done", { n: e.data.n });
    };`,
  });
  setSecret(dir, "TEST_KEY", TEST_KEY);
  const sent = new Set<string>();
  const accepted = new Set<string>();

  for (let round = 0; round < ROUNDS; round++) {
    const dev = await startDev(dir);
    t.after(() => stop(dev.child, "SIGKILL"));
    const sends = Array.from({ length: PER_ROUND }, async (_, i) => {
      const id = `r${round}-${i}`;
      sent.add(id);
      await new Promise((r) => setTimeout(r, Math.random() * 60));
      const event = {
        specversion: "1.0",
        id,
        source: "/crash",
        type: "job.queued",
        data: { n: round * PER_ROUND + i },
      };
      const res = await post(`${dev.url}/events`, event, "application/cloudevents+json").catch(
        () => undefined,
      );
      if (res?.status === 202) accepted.add(id);
    });
    // Kill during ingest, invocation or acknowledgement: a random moment in the first 150 ms.
    await new Promise((r) => setTimeout(r, Math.random() * 150));
    await stop(dev.child, "SIGKILL");
    await Promise.all(sends);
  }
  assert.ok(accepted.size > 0, "some events were accepted before the kills");

  // One last run, left to finish the work.
  const last = await startDev(dir);
  t.after(() => stop(last.child));
  const _file = join(dir, ".palisade", "events.db");
  let queued: string[] = [];
  for (let i = 0; i < 300; i++) {
    const log = await openAppStore(loadApp(dir));
    const events = (await log.events.read(0, 100_000)).map((s) => s.event);
    queued = events.filter((e) => e.type === "job.queued").map((e) => e.id);
    const states = await Promise.all(queued.map((id) => log.queue.deliveries(id)));
    await log.close();
    if (states.every((s) => s[0]?.state === "delivered")) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  await stop(last.child);

  const log = await openAppStore(loadApp(dir));
  t.after(() => log.close());
  const events = (await log.events.read(0, 100_000)).map((s) => s.event);
  const stored = new Set(events.filter((e) => e.type === "job.queued").map((e) => e.id));
  for (const id of accepted) assert.ok(stored.has(id), `accepted ${id} is stored`);
  for (const id of stored) assert.ok(sent.has(id), `stored ${id} was sent (nothing unaccepted appears)`);
  for (const id of stored)
    assert.equal((await log.queue.deliveries(id))[0]?.state, "delivered", `${id} delivered`);
  const effects = events.filter((e) => e.type === "job.done");
  for (const id of stored) {
    assert.equal(effects.filter((e) => e.causationid === id).length, 1, `exactly one effect of ${id}`);
  }
  t.diagnostic(
    `${sent.size} sent, ${accepted.size} acknowledged, ${stored.size} stored, ${effects.length} effects`,
  );
});
