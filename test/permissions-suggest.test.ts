/**
 * `palisade permissions suggest` end to end: a real app directory, a real `.palisade/usage.db`
 * written through the usage store (old uses recorded under a faked clock), and the real CLI as a
 * child process, from the suggested diff to `--write` keeping the manifest's comments, refusing to
 * remove access used before the window or never observed without `--force`, and doing it with it.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { ensureAuditKey } from "../src/audit/index.ts";
import { loadApp } from "../src/manifest/index.ts";
import { openUsageStore } from "../src/security/index.ts";
import { BIN } from "./kit/cli-process.ts";
import { NUMBER_SCHEMA, tempApp } from "./kit/temp-app.ts";

const DAY = 86_400_000;

const MANIFEST = `# Suggest test app: every comment here must survive --write
name: suggest
events:
  order.created: { schema: schemas/n.json }
  payment.charged: { schema: schemas/n.json }   # emitted by charge
  payment.audit: { schema: schemas/n.json }
functions:
  charge:
    handler: functions/charge.ts
    on: [order.created]
    emit: [payment.charged, payment.audit]   # audit is legacy
    secrets:
      # the live key
      - STRIPE_KEY   # rotated monthly
      - OLD_KEY
    egress: ["api.stripe.com:443", "http://127.0.0.1:9"]
    kv: { orders: readwrite, prices: read }
    limits: { timeoutMs: 3000 }   # tuned by hand
  notify:
    handler: functions/notify.ts
    on: [payment.charged]
`;

function suggestApp(t: TestContext, manifest: string): string {
  return tempApp(t, {
    "palisade.yaml": manifest,
    "schemas/n.json": NUMBER_SCHEMA,
    "functions/charge.ts": "export default () => {};",
    "functions/notify.ts": "export default () => {};",
  });
}

/** Records capability use as the platform does; `daysAgo` fakes the clock for old uses. */
async function recordUse(
  t: TestContext,
  dir: string,
  uses: {
    fn: string;
    kind: "emit" | "secret" | "egress" | "kv-read" | "kv-write";
    target: string;
    daysAgo?: number;
    denied?: string;
  }[],
): Promise<void> {
  const usage = openUsageStore(join(loadApp(dir).dataDir, "usage.db"));
  for (const u of uses) {
    t.mock.timers.enable({ apis: ["Date"], now: Date.now() - (u.daysAgo ?? 0) * DAY });
    usage.record(u.fn, u.kind, u.target, u.denied === undefined ? "used" : "denied", u.denied);
    await usage.flush();
    t.mock.timers.reset();
  }
  await usage.close();
}

function suggest(dir: string, ...flags: string[]) {
  const env = { ...process.env };
  delete env.PALISADE_NATS_URL;
  return spawnSync(process.execPath, [BIN, "permissions", "suggest", "--app", dir, ...flags], {
    encoding: "utf8",
    env,
  });
}

interface SuggestJson {
  days: number;
  functions: {
    fn: string;
    observed: boolean;
    drop: { kind: string; grant: string; lastUsedAt: string | null; uses: number; reason: string }[];
    narrow: { kind: string; grant: string; from: string; to: string }[];
    refused: { kind: string; target: string; count: number }[];
  }[];
  guarded: string[];
  notSuggested: string;
  diff: string;
  manifest: string;
  written: boolean;
}

test("permissions suggest shows the smallest manifest; --write keeps comments and needs --force for once-used grants", async (t) => {
  const dir = suggestApp(t, MANIFEST);
  ensureAuditKey(dir);
  const manifestFile = join(dir, "palisade.yaml");
  await recordUse(t, dir, [
    { fn: "charge", kind: "secret", target: "OLD_KEY", daysAgo: 90 },
    { fn: "charge", kind: "secret", target: "STRIPE_KEY", daysAgo: 1 },
    { fn: "charge", kind: "emit", target: "payment.charged" },
    { fn: "charge", kind: "egress", target: "https://api.stripe.com:443" },
    { fn: "charge", kind: "kv-read", target: "orders" },
    { fn: "charge", kind: "secret", target: "ADMIN_TOKEN", denied: 'may not read secret "ADMIN_TOKEN"' },
  ]);

  // The suggestion, as a diff; nothing is written.
  const shown = suggest(dir);
  assert.equal(shown.status, 0, shown.stderr);
  for (const line of [
    "-    emit: [payment.charged, payment.audit]   # audit is legacy",
    "+    emit: [payment.charged]   # audit is legacy",
    "-      - OLD_KEY",
    '+    egress: ["api.stripe.com:443"]',
    "+    kv: { orders: read }",
  ])
    assert.ok(shown.stdout.includes(`${line}\n`), `missing ${line} in:\n${shown.stdout}`);
  assert.match(shown.stdout, /drop {3}secret OLD_KEY +used 1×, last .*\(needs --force\)/);
  assert.match(shown.stdout, /refused, not granted: secret ADMIN_TOKEN 1×/);
  assert.match(shown.stdout, /Not suggested: limits/);
  assert.equal(readFileSync(manifestFile, "utf8"), MANIFEST);

  const json = JSON.parse(suggest(dir, "--json").stdout) as SuggestJson;
  const charge = json.functions.find((f) => f.fn === "charge");
  assert.deepEqual(
    charge?.drop.map((d) => [d.kind, d.grant, d.reason, d.uses]),
    [
      ["emit", "payment.audit", "never-used", 0],
      ["secret", "OLD_KEY", "stale", 1],
      ["egress", "http://127.0.0.1:9", "never-used", 0],
      ["kv", "prices", "never-used", 0],
    ],
  );
  assert.deepEqual(
    charge?.narrow.map((n) => [n.grant, n.from, n.to]),
    [["orders", "readwrite", "read"]],
  );
  assert.deepEqual(
    charge?.refused.map((r) => r.target),
    ["ADMIN_TOKEN"],
  );
  assert.equal(json.written, false);
  assert.doesNotMatch(json.manifest, /ADMIN_TOKEN/);

  // OLD_KEY was used 90 days ago: --write refuses, names it and --force, and writes nothing.
  const refused = suggest(dir, "--write");
  assert.equal(refused.status, 1);
  assert.match(refused.stderr, /Refusing to write palisade\.yaml/);
  assert.match(refused.stderr, /charge: secret OLD_KEY \(last used .*before the 30-day window\)/);
  assert.match(refused.stderr, /--force/);
  assert.doesNotMatch(refused.stderr, /\n\s+at /);
  assert.equal(readFileSync(manifestFile, "utf8"), MANIFEST);

  // With a window that covers OLD_KEY's use, only never-used grants go (and orders becomes read).
  const written = suggest(dir, "--write", "--days", "365");
  assert.equal(written.status, 0, written.stderr);
  const afterFirst = readFileSync(manifestFile, "utf8");
  assert.equal(
    afterFirst,
    MANIFEST.replace("[payment.charged, payment.audit]", "[payment.charged]")
      .replace('["api.stripe.com:443", "http://127.0.0.1:9"]', '["api.stripe.com:443"]')
      .replace("{ orders: readwrite, prices: read }", "{ orders: read }"),
  );
  const fn = loadApp(dir).functions.get("charge");
  assert.deepEqual(fn?.secrets, ["STRIPE_KEY", "OLD_KEY"]);
  assert.deepEqual(fn?.kv, { orders: "read" });

  // Still refused in the default window; --force removes OLD_KEY and keeps every comment.
  assert.equal(suggest(dir, "--write").status, 1);
  assert.equal(readFileSync(manifestFile, "utf8"), afterFirst);
  const forced = suggest(dir, "--write", "--force");
  assert.equal(forced.status, 0, forced.stderr);
  const final = readFileSync(manifestFile, "utf8");
  assert.equal(final, afterFirst.replace("      - OLD_KEY\n", ""));
  for (const comment of [
    "# Suggest test app",
    "# emitted by charge",
    "# the live key",
    "# rotated monthly",
    "# tuned by hand",
  ])
    assert.ok(final.includes(comment), comment);
  assert.deepEqual(loadApp(dir).functions.get("charge")?.secrets, ["STRIPE_KEY"]);

  // Nothing left to remove, and both writes are in the audit log.
  const again = suggest(dir);
  assert.equal(again.status, 0);
  assert.match(again.stdout, /nothing to change/);
  const audit = spawnSync(process.execPath, [BIN, "audit", "export", "--since", "1h", "--app", dir], {
    encoding: "utf8",
  });
  const narrowed = audit.stdout.split("\n").filter((l) => l.includes("permissions.narrowed"));
  assert.equal(narrowed.length, 2, audit.stdout + audit.stderr);
  assert.match(narrowed[1] ?? "", /charge: secret OLD_KEY/);
});

test("permissions suggest --write refuses to strip a function with no recorded use unless --force", async (t) => {
  const dir = suggestApp(
    t,
    `name: idle
events:
  order.created: { schema: schemas/n.json }
functions:
  charge:
    handler: functions/charge.ts
    on: [order.created]
    secrets: [STRIPE_KEY]
    kv: { orders: readwrite }
  notify:
    handler: functions/notify.ts
    on: [order.created]
    secrets: [MAIL_KEY]
`,
  );
  await recordUse(t, dir, [{ fn: "notify", kind: "secret", target: "MAIL_KEY" }]);
  const before = readFileSync(join(dir, "palisade.yaml"), "utf8");

  const refused = suggest(dir, "--write");
  assert.equal(refused.status, 1);
  assert.match(
    refused.stderr,
    /charge: secret STRIPE_KEY, kv orders \(no capability use recorded for "charge"/,
  );
  assert.equal(readFileSync(join(dir, "palisade.yaml"), "utf8"), before);

  // Only notify is selected: it used its one grant, so there is nothing to write or refuse.
  const notify = suggest(dir, "--write", "--function", "notify");
  assert.equal(notify.status, 0, notify.stderr);
  assert.equal(readFileSync(join(dir, "palisade.yaml"), "utf8"), before);

  const forced = suggest(dir, "--write", "--force");
  assert.equal(forced.status, 0, forced.stderr);
  const charge = loadApp(dir).functions.get("charge");
  assert.deepEqual([charge?.secrets, charge?.kv], [[], {}]);
  assert.doesNotMatch(readFileSync(join(dir, "palisade.yaml"), "utf8"), /STRIPE_KEY|orders/);
  assert.deepEqual(loadApp(dir).functions.get("notify")?.secrets, ["MAIL_KEY"]);
});

test("permissions suggest names what is wrong with bad input (exit 2), without a stack trace", (t) => {
  const dir = suggestApp(t, MANIFEST);
  const cases: [string[], RegExp][] = [
    [
      ["--function", "refund"],
      /function "refund": palisade\.yaml has no such function \(it has "charge", "notify"\)/,
    ],
    [["--days", "soon"], /--days takes a positive whole number, not "soon"/],
    [["--days", "0"], /--days takes a positive whole number, not "0"/],
  ];
  for (const [flags, message] of cases) {
    const r = suggest(dir, ...flags);
    assert.equal(r.status, 2, flags.join(" "));
    assert.match(r.stderr, message);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  }
  const missing = suggest(join(dir, "nope"));
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /no palisade\.yaml in ".*nope"; run "palisade init/);
  assert.equal(readFileSync(join(dir, "palisade.yaml"), "utf8"), MANIFEST);
});
