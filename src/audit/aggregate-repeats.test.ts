import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { aggregateRepeats, openAuditLog, readAudit, verifyAuditLog } from "./index.ts";

function openLog(t: TestContext, windowMs = 10_000, maxOpen = 10_000) {
  const dir = mkdtempSync(join(tmpdir(), "palisade-aggregate-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const file = join(dir, ".palisade", "audit.db");
  const inner = openAuditLog(file, {
    signingKeyPem: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
  });
  const log = aggregateRepeats(inner, { windowMs, maxOpen });
  const trusted = [publicKey.export({ type: "spki", format: "pem" }).toString()];
  return { log, file, trusted };
}

const rejected = (ip: string) => ({
  kind: "ingress.rejected",
  actor: "shop",
  outcome: "denied" as const,
  details: {
    reason: "unauthenticated",
    code: "PAL_GATEWAY_UNAUTHENTICATED",
    status: 401,
    ip,
    route: "/events",
  },
});

const counts = (file: string, kind: string) =>
  readAudit(file)
    .filter((r) => r.kind === kind)
    .map((r) => (r.details as { count: number }).count);

test("repeats within a window become one record with the exact count, written when the window ends", (t) => {
  t.mock.timers.enable({ apis: ["Date", "setTimeout"], now: 1_000_000 });
  const { log, file } = openLog(t);
  for (let i = 0; i < 250; i++) log.record(rejected("10.0.0.1"));
  log.record(rejected("10.0.0.2")); // another client: its own record
  log.flush();
  assert.deepEqual(counts(file, "ingress.rejected"), [1, 1], "first occurrences are written at once");

  t.mock.timers.tick(9_999);
  log.record(rejected("10.0.0.1"));
  log.flush();
  assert.equal(counts(file, "ingress.rejected").length, 2, "nothing more until the window ends");
  t.mock.timers.tick(1);
  log.flush();
  const records = readAudit(file).filter((r) => r.kind === "ingress.rejected");
  assert.deepEqual(
    records.map((r) => r.details),
    [
      { ...rejected("10.0.0.1").details, count: 1 },
      { ...rejected("10.0.0.2").details, count: 1 },
      {
        ...rejected("10.0.0.1").details,
        count: 250,
        firstAt: new Date(1_000_000).toISOString(),
        lastAt: new Date(1_009_999).toISOString(),
      },
    ],
  );
  // A later repeat opens a new window: recorded at once again.
  log.record(rejected("10.0.0.1"));
  log.close();
  assert.deepEqual(counts(file, "ingress.rejected"), [1, 1, 250, 1]);
});

test("close writes every open window, so no count is lost on shutdown, and the chain verifies", (t) => {
  t.mock.timers.enable({ apis: ["Date", "setTimeout"], now: 5_000_000 });
  const { log, file, trusted } = openLog(t);
  const denied = (eventId: string) => ({
    kind: "capability.denied",
    actor: "function:nosy",
    subject: "ADMIN_TOKEN",
    outcome: "denied" as const,
    details: { capability: "secrets.get", eventId, reason: "not granted" },
  });
  for (let i = 0; i < 777; i++) log.record(denied(`e${i}`));
  log.record({ kind: "app.started", outcome: "info" }); // other kinds pass straight through
  log.close();
  const records = readAudit(file);
  assert.deepEqual(
    records.map((r) => [r.kind, (r.details as { count?: number } | undefined)?.count]),
    [
      ["capability.denied", 1],
      ["app.started", undefined],
      ["capability.denied", 776],
    ],
  );
  assert.equal((records[0]?.details as { eventId?: string } | undefined)?.eventId, "e0");
  assert.equal(
    (records[2]?.details as { eventId?: string } | undefined)?.eventId,
    undefined,
    "the varying member is left out",
  );
  assert.equal(verifyAuditLog(file, trusted).ok, true);
  assert.throws(() => log.record(denied("late")), { code: "PAL_AUDIT_BAD_ENTRY" });
});

test("past maxOpen different decisions the oldest window is written early, with its count intact", (t) => {
  t.mock.timers.enable({ apis: ["Date", "setTimeout"], now: 1_000 });
  const { log, file } = openLog(t, 10_000, 2);
  for (const ip of ["a", "a", "a", "b", "b", "c", "c", "c", "c"]) log.record(rejected(ip));
  log.flush();
  const early = readAudit(file).map((r) => [
    (r.details as { ip: string }).ip,
    (r.details as { count: number }).count,
  ]);
  assert.deepEqual(early, [
    ["a", 1],
    ["b", 1],
    ["a", 2],
    ["c", 1],
  ]);
  log.close();
  const total = counts(file, "ingress.rejected").reduce((a, b) => a + b, 0);
  assert.equal(total, 9);
});

test("an entry the log refuses throws every time and leaves no window behind to break later writes", (t) => {
  t.mock.timers.enable({ apis: ["Date", "setTimeout"], now: 1_000 });
  const { log, file } = openLog(t, 10_000, 2);
  const bad = { ...rejected("x"), outcome: "maybe" as "info" };
  // Its repeats are not counted as repeats of a window that was never written: each one throws.
  for (let i = 0; i < 3; i++) assert.throws(() => log.record(bad), /outcome "maybe"/);
  // Three valid decisions past maxOpen (2), then the windows end on the timer, then close.
  for (const ip of ["p", "p", "q", "r", "r"]) log.record(rejected(ip));
  t.mock.timers.tick(10_000);
  log.record(rejected("p"));
  log.close();
  const written = readAudit(file).map((r) => [
    (r.details as { ip: string }).ip,
    (r.details as { count: number }).count,
  ]);
  assert.deepEqual(written, [
    ["p", 1],
    ["q", 1],
    ["p", 1],
    ["r", 1],
    ["r", 1],
    ["p", 1],
  ]);
});
