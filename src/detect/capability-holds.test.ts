import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { openSqliteStore } from "../bus/index.ts";
import {
  capabilityScope,
  createCapabilityGate,
  DISCARD_WAIT,
  openCapabilityHoldStore,
  parseCapabilityScope,
} from "./capability-holds.ts";

/** Two nodes' views of one deployment's shared state (one SQLite file, two connections). */
function twoNodes(t: TestContext) {
  const dir = mkdtempSync(join(tmpdir(), "palisade-capability-holds-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, "events.db");
  const a = openSqliteStore(file, { subscriptions: [] });
  const b = openSqliteStore(file, { subscriptions: [] });
  t.after(async () => {
    await a.close();
    await b.close();
  });
  return { a: openCapabilityHoldStore(a.state), b: openCapabilityHoldStore(b.state) };
}

const EXFIL = capabilityScope("export", "egress", "https://drop.example:443");
const event = (id: string, principal = "shop") => ({ id, principal, type: "job.queued", hop: 0 });
/** Writes what `gate` has not written yet (its refresh writes first). */
const flush = async (gate: { refresh(all: boolean): Promise<unknown> }) => {
  await gate.refresh(false);
};

test("a scope names one function's capability target; anything else is not one", () => {
  assert.deepEqual(parseCapabilityScope(EXFIL), {
    fn: "export",
    capability: "egress",
    target: "https://drop.example:443",
  });
  assert.deepEqual(parseCapabilityScope("billing/secret:STRIPE_KEY"), {
    fn: "billing",
    capability: "secret",
    target: "STRIPE_KEY",
  });
  for (const bad of ["export", "export/egress", "export/fly:x", "Export/emit:a.b", "export/emit:", "/emit:a"])
    assert.equal(parseCapabilityScope(bad), undefined, bad);
});

test("a held target makes the call's delivery wait until release, on every node; other targets and functions run", async (t) => {
  const { a, b } = twoNodes(t);
  const here = createCapabilityGate(a);
  const there = createCapabilityGate(b);
  here.impose(EXFIL, 1_000);
  assert.equal(here.check("export", "egress", "https://api.example:443", event("e0")), undefined);
  assert.equal(here.check("report", "egress", "https://drop.example:443", event("e0")), undefined);
  assert.equal(here.check("export", "egress", "https://drop.example:443", event("e1")), EXFIL);
  assert.equal(here.verdict("export", event("e1")), "wait");
  assert.equal(here.verdict("export", event("e1", "other")), "run", "another principal's event of that id");
  assert.equal(here.verdict("report", event("e1")), "run", "another function's delivery of it");
  await flush(here);

  // The other node sees the hold and the waiting delivery once it lists them.
  assert.equal(there.verdict("export", event("e1")), "run", "not seen before a refresh");
  assert.deepEqual(await there.refresh(true), { changed: false, imposed: [EXFIL] });
  assert.equal(there.verdict("export", event("e1")), "wait");
  assert.deepEqual(
    (await b.waits(EXFIL)).map((w) => [w.fn, w.principal, w.id, w.since]),
    [["export", "shop", "e1", 1_000]],
  );

  // Released by an operator: both nodes let it run, and it waits no more.
  assert.equal(await b.release(EXFIL), true);
  assert.equal((await here.refresh(false)).changed, true);
  assert.equal(here.verdict("export", event("e1")), "run");
  assert.equal(here.check("export", "egress", "https://drop.example:443", event("e2")), undefined);
  await flush(here);
  assert.deepEqual(await a.waits(), [], "the delivery's wait was cleared when it ran");
  assert.equal(await b.release(EXFIL), false, "releasing what is not held says so");
});

test("an operator's discard dead-letters the waiting deliveries; the target stays held", async (t) => {
  const { a, b } = twoNodes(t);
  const gate = createCapabilityGate(a);
  gate.impose(EXFIL, 2_000);
  gate.check("export", "egress", "https://drop.example:443", event("e1"));
  gate.check("export", "egress", "https://drop.example:443", event("e2"));
  await flush(gate);
  for (const wait of await b.waits(EXFIL)) await b.setWait(wait, DISCARD_WAIT);
  assert.equal((await gate.refresh(true)).changed, true);
  assert.equal(gate.verdict("export", event("e1")), "discard");
  assert.equal(gate.verdict("export", event("e2")), "discard");
  assert.equal(gate.verdict("export", event("e1")), "run", "dead-lettered once; it waits no more");
  assert.deepEqual(gate.held(), [EXFIL]);
  assert.equal(gate.check("export", "egress", "https://drop.example:443", event("e3")), EXFIL);
  assert.equal(gate.verdict("export", event("e3")), "wait", "new calls still wait");
});

test("a hold whose write failed holds here and is written again on the next refresh", async (t) => {
  const { a } = twoNodes(t);
  let fail = true;
  const flaky = {
    ...a,
    impose: (scope: string, at: number) =>
      fail ? Promise.reject(new Error("disk full")) : a.impose(scope, at),
  };
  const gate = createCapabilityGate(flaky);
  gate.impose(EXFIL, 3_000);
  await gate.refresh(false).catch(() => undefined); // its write fails again
  assert.deepEqual(await a.list(), []);
  assert.equal(gate.check("export", "egress", "https://drop.example:443", event("e1")), EXFIL, "held here");
  fail = false;
  await gate.refresh(true);
  assert.deepEqual(await a.list(), [{ root: EXFIL, since: 3_000 }]);
  assert.equal(gate.verdict("export", event("e1")), "wait");
});
