import assert from "node:assert/strict";
import { test } from "node:test";
import type { IngressFloodPolicy } from "../manifest/index.ts";
import type { Finding } from "../signals/index.ts";
import { createIngressFlood } from "./ingress-flood.ts";

const POLICY: IngressFloodPolicy = {
  windowSec: 60,
  baselineWindows: 60,
  warmupWindows: 10,
  factor: 10,
  minEvents: 600,
  throttleSec: 300,
  response: "throttle",
};

function setup(policy: IngressFloodPolicy = POLICY) {
  const findings: Finding[] = [];
  const flood = createIngressFlood(policy, (f) => findings.push(f));
  const send = (principal: string, events: number, at: number) =>
    flood.accepted({ kind: "ingress.accepted", principal, ip: "127.0.0.1", route: "/events", events }, at);
  return { flood, findings, send };
}

const MIN = 60_000;

/** `perMinute` events a minute for `minutes` minutes from `start`, one request a second. */
function steady(
  send: (p: string, n: number, at: number) => void,
  p: string,
  perMinute: number,
  minutes: number,
  start = 0,
) {
  for (let m = 0; m < minutes; m++)
    for (let s = 0; s < 60; s++)
      send(p, Math.floor(perMinute / 60) + (s < perMinute % 60 ? 1 : 0), start + m * MIN + s * 1000);
}

test("a principal past factor × its median per window (and minEvents) is throttled to its baseline rate", () => {
  const { flood, findings, send } = setup();
  steady(send, "shop", 120, 20); // 2/s for 20 minutes
  assert.equal(findings.length, 0);
  const at = 20 * MIN;
  send("shop", 1300, at + 1000); // one minute's 1,300 > max(600, 10 × 120)
  assert.equal(findings.length, 1);
  const [f] = findings;
  assert.deepEqual(f?.scope, { kind: "principal", name: "shop" });
  assert.equal(f?.response, "throttle");
  assert.equal(f?.evidence.baselineMedian, 120);
  assert.equal(flood.throttled("shop", at + 2000), 2, "held to its baseline: 120 per 60 s");
  assert.equal(flood.throttled("shop", at + 1000 + 300_000), undefined, "until throttleSec passes");
  assert.equal(flood.throttled("other", at + 2000), undefined, "only that principal");
  send("shop", 5000, at + 3000);
  assert.equal(findings.length, 1, "one finding per throttle");
});

test("a flash crowd under the threshold, a few earlier bursts, and warm-up raise nothing", () => {
  const { findings, send } = setup();
  send("new", 5000, 0); // no baseline yet: warm-up
  steady(send, "shop", 600, 20, 0);
  send("shop", 5000, 20 * MIN + 1000); // 5,600 < 10 × 600
  assert.equal(findings.length, 0);
  // Bursts in 3 of 20 windows (during warm-up) do not move the median.
  const { findings: f2, send: s2 } = setup();
  for (let m = 0; m < 20; m++) s2("shop", m < 3 ? 5000 : 100, m * MIN);
  s2("shop", 1001, 20 * MIN + 10);
  assert.equal(f2.length, 1, `baseline 100, 1,001 > 1,000: ${JSON.stringify(f2[0]?.evidence)}`);
});

test("alert reports without throttling; off does nothing", () => {
  const alert = setup({ ...POLICY, response: "alert" });
  steady(alert.send, "shop", 60, 12);
  alert.send("shop", 2000, 12 * MIN + 1);
  assert.equal(alert.findings[0]?.response, "alert");
  assert.equal(alert.flood.throttled("shop", 12 * MIN + 2), undefined);
  const off = setup({ ...POLICY, response: "off" });
  steady(off.send, "shop", 60, 12);
  off.send("shop", 20000, 12 * MIN + 1);
  assert.equal(off.findings.length, 0);
});
