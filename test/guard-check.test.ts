import assert from "node:assert/strict";
import { createPublicKey, generateKeyPairSync } from "node:crypto";
import { chmodSync } from "node:fs";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import {
  type AuditRunner,
  type CheckContext,
  type CheckOptions,
  type CheckReport,
  createCheckContext,
  evaluateChecks,
  formatSarif,
  RULES,
} from "../src/guard/index.ts";
import { type AppModel, loadApp } from "../src/manifest/index.ts";
import { tempApp } from "./kit/temp-app.ts";

/** An app with a filtered, budgeted, least-privilege function on every path: no rule finds anything. */
const MANIFEST = `name: guarded
events:
  order.created: { schema: schemas/order.json }
  order.paid: { schema: schemas/order.json }
principals:
  shop:
    apiKey: { secret: SHOP_KEY }
    publish: [order.created]
functions:
  pay:
    handler: functions/pay.ts
    on: [order.created]
    filter: { data: { n: [{ numeric: [">", 0] }] } }
    emit: [order.paid]
    secrets: [PAY_KEY]
    egress: ["api.pay.example:443"]
    limits: { timeoutMs: 3000, concurrency: 2, dailyInvocations: 1000 }
  record:
    handler: functions/record.ts
    on: [order.paid]
    kv: { orders: readwrite }
    limits: { concurrency: 1, dailyInvocations: 1000 }
`;

const ORDER_SCHEMA = {
  type: "object",
  required: ["n"],
  additionalProperties: false,
  properties: { n: { type: "number" } },
};

const FILES: Record<string, string | object> = {
  "schemas/order.json": ORDER_SCHEMA,
  "functions/pay.ts":
    'export default async (e, ctx) => {\n  const key = await ctx.secrets.get("PAY_KEY");\n};\n',
  "functions/record.ts": "export default () => {};\n",
};

const LOCK = {
  name: "guarded",
  lockfileVersion: 3,
  packages: { "": { name: "guarded" }, "node_modules/left-pad": { version: "1.0.0" } },
};
const auditSays =
  (severity: string): AuditRunner =>
  async () => ({
    stdout: JSON.stringify({
      auditReportVersion: 2,
      vulnerabilities: {
        "left-pad": {
          name: "left-pad",
          severity,
          via: [{ title: "Pads wrongly", url: "https://github.com/advisories/GHSA-test", severity }],
          fixAvailable: true,
        },
      },
    }),
  });
const noVulnerabilities: AuditRunner = async () => ({
  stdout: JSON.stringify({ auditReportVersion: 2, vulnerabilities: {} }),
});

/** A variation of the base app: text replaced in the manifest, files added or replaced, the model or context changed. */
interface Fixture {
  replace?: [string, string][];
  files?: Record<string, string | object>;
  model?: (app: AppModel) => AppModel;
  context?: (ctx: CheckContext) => CheckContext;
  options?: CheckOptions;
  /** Runs on the app directory before the check (keys, file modes). */
  setup?: (dir: string) => void;
}

async function check(t: TestContext, fixture: Fixture = {}): Promise<CheckReport> {
  let manifest = MANIFEST;
  for (const [from, to] of fixture.replace ?? []) {
    assert.ok(manifest.includes(from), `the base manifest has "${from}"`);
    manifest = manifest.replace(from, to);
  }
  const dir = tempApp(t, { ...FILES, ...fixture.files, "palisade.yaml": manifest });
  fixture.setup?.(dir);
  const loaded = loadApp(dir);
  const app = fixture.model ? fixture.model(loaded) : loaded;
  const offline: AuditRunner = async () => assert.fail("this fixture has no lockfile");
  const ctx = await createCheckContext(app, {
    audit: offline,
    now: new Date("2026-06-01T12:00:00Z"),
    ...fixture.options,
  });
  return evaluateChecks(fixture.context ? fixture.context(ctx) : ctx);
}

const fn = (app: AppModel, name: string, change: object): AppModel => {
  const functions = new Map(app.functions);
  functions.set(name, { ...(app.functions.get(name) as object), ...change } as never);
  return { ...app, functions };
};
const principal = (app: AppModel, change: object): AppModel => ({
  ...app,
  principals: new Map([["shop", { ...(app.principals.get("shop") as object), ...change } as never]]),
});
const publicKey = () =>
  generateKeyPairSync("ed25519").publicKey.export({ type: "spki", format: "pem" }).toString();
const privateKey = () =>
  generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }).toString();

/**
 * The manifest lines and model of `shop` signing its events with key "shop-1". The model is set in
 * code as well: until the manifest resolver reads `signing:`, loadApp accepts it without a model.
 */
function signing(requireSigned: boolean): Fixture {
  const pem = publicKey();
  return {
    replace: [
      [
        "    publish: [order.created]\n",
        `    publish: [order.created]\n    signing: { keys: [{ keyid: shop-1, publicKey: keys/shop.pub }], requireSigned: ${requireSigned} }\n`,
      ],
    ],
    files: { "keys/shop.pub": pem },
    model: (app) =>
      principal(app, { signing: { keys: new Map([["shop-1", createPublicKey(pem)]]), requireSigned } }),
  };
}

/** Manifest lines declaring sink "ledger" on order.paid (before functions:), with `extra` lines. */
const sink = (url: string, ...extra: string[]): [string, string] => [
  "functions:\n",
  `sinks:\n  ledger:\n    url: "${url}"\n    on: [order.paid]\n${extra.map((line) => `    ${line}\n`).join("")}functions:\n`,
];
const WEBHOOK_AUTH = "auth: { webhook: { secret: LEDGER_SECRET } }";

interface Case {
  rule: string;
  fail: Fixture;
  pass?: Fixture;
  /** The path the failing finding must name, and its line when in a file with lines. */
  at?: string;
  line?: number;
}

const CASES: Case[] = [
  {
    rule: "PAL001",
    // The manifest refuses a principal without credentials; the rule guards models built elsewhere.
    fail: { model: (app) => principal(app, { auth: { kind: "apiKey", secret: "" } }) },
    at: "principals.shop",
    line: 6,
  },
  {
    rule: "PAL002",
    fail: { model: (app) => principal(app, { publish: ["*"] }) },
    at: "principals.shop.publish[0]",
  },
  {
    rule: "PAL003",
    fail: { replace: [["publish: [order.created]", "publish: [order.*]"]] },
    at: "principals.shop.publish[0]",
    line: 8,
  },
  {
    rule: "PAL004",
    fail: {
      replace: [
        [
          "principals:\n  shop:\n    apiKey: { secret: SHOP_KEY }\n    publish: [order.created]\n",
          "sources:\n  - http: { path: /events }\n",
        ],
      ],
    },
    at: "sources[0].http",
    line: 6,
  },
  {
    rule: "PAL005",
    fail: signing(false),
    pass: signing(true),
    at: "principals.shop.signing.requireSigned",
    line: 9,
  },
  { rule: "PAL010", fail: { model: (app) => fn(app, "pay", { emit: ["*"] }) }, at: "functions.pay.emit[0]" },
  {
    rule: "PAL011",
    fail: { replace: [['"api.pay.example:443"', '"http://api.pay.example:80"']] },
    at: "functions.pay.egress[0]",
    line: 16,
  },
  {
    rule: "PAL012",
    fail: { replace: [['"api.pay.example:443"', '"93.184.216.34:443"']] },
    at: "functions.pay.egress[0]",
  },
  {
    rule: "PAL013",
    fail: { replace: [['"api.pay.example:443"', '"169.254.169.254:80"']] },
    at: "functions.pay.egress[0]",
  },
  {
    rule: "PAL014",
    fail: {
      replace: [["    emit: [order.paid]\n", "    emit: [order.paid]\n    allowCodeGeneration: true\n"]],
    },
    at: "functions.pay.allowCodeGeneration",
  },
  {
    rule: "PAL015",
    fail: { replace: [sink("http://10.0.0.5:8080/in", 'allowAddresses: ["10.0.0.5"]', WEBHOOK_AUTH)] },
    pass: { replace: [sink("https://10.0.0.5:8443/in", 'allowAddresses: ["10.0.0.5"]', WEBHOOK_AUTH)] },
    at: "sinks.ledger.url",
    line: 11,
  },
  {
    rule: "PAL016",
    fail: { replace: [sink("https://ledger.example/in", 'allowAddresses: ["10.0.0.5"]', WEBHOOK_AUTH)] },
    // A public address in the list opens nothing the egress policy would refuse.
    pass: { replace: [sink("https://ledger.example/in", 'allowAddresses: ["93.184.216.34"]', WEBHOOK_AUTH)] },
    at: "sinks.ledger.allowAddresses[0]",
    line: 13,
  },
  {
    rule: "PAL017",
    fail: { replace: [sink("https://ledger.example/in")] },
    pass: { replace: [sink("https://ledger.example/in", "auth: { bearer: { secret: LEDGER_TOKEN } }")] },
    at: "sinks.ledger",
    line: 10,
  },
  {
    rule: "PAL020",
    fail: { replace: [["timeoutMs: 3000", "timeoutMs: 120000"]] },
    pass: { replace: [["timeoutMs: 3000", "timeoutMs: 60000"]] },
    at: "functions.pay.limits.timeoutMs",
    line: 17,
  },
  {
    rule: "PAL021",
    fail: { replace: [["{ concurrency: 1, dailyInvocations: 1000 }", "{ dailyInvocations: 1000 }"]] },
    at: "functions.record.limits.concurrency",
    line: 22,
  },
  {
    rule: "PAL022",
    // record is reached through pay's emit: budgets matter along the whole chain.
    fail: { replace: [["{ concurrency: 1, dailyInvocations: 1000 }", "{ concurrency: 1 }"]] },
    // Only a schedule (internal) reaches it: no public input, no finding.
    pass: {
      replace: [
        ["{ concurrency: 1, dailyInvocations: 1000 }", "{ concurrency: 1 }"],
        ["    emit: [order.paid]\n", ""],
        [
          "functions:\n",
          'sources:\n  - http: { path: /events }\n  - schedule: { cron: "0 * * * *", emit: order.paid, data: { n: 1 } }\nfunctions:\n',
        ],
      ],
    },
    at: "functions.record.limits.dailyInvocations",
  },
  {
    rule: "PAL023",
    // record emits what pay runs on: pay → order.paid → record → order.created → pay.
    fail: {
      replace: [
        [
          "    on: [order.paid]\n",
          "    on: [order.paid]\n    emit: [order.created]\n    recursion: { maxDepth: 3 }\n",
        ],
      ],
    },
    // Both functions on the cycle state how deep they may run.
    pass: {
      replace: [
        [
          "    on: [order.paid]\n",
          "    on: [order.paid]\n    emit: [order.created]\n    recursion: { maxDepth: 3 }\n",
        ],
        ["    emit: [order.paid]\n", "    emit: [order.paid]\n    recursion: { maxDepth: 3 }\n"],
      ],
    },
    at: "functions.pay",
  },
  {
    rule: "PAL030",
    fail: { files: { "schemas/order.json": { ...ORDER_SCHEMA, properties: { n: { type: "string" } } } } },
    at: "schemas/order.json#/properties/n",
  },
  {
    rule: "PAL031",
    fail: {
      files: {
        "schemas/order.json": {
          ...ORDER_SCHEMA,
          properties: { n: { type: "array", items: { type: "number" } } },
        },
      },
    },
    at: "schemas/order.json#/properties/n",
  },
  {
    rule: "PAL032",
    fail: { files: { "schemas/order.json": { ...ORDER_SCHEMA, additionalProperties: true } } },
    at: "schemas/order.json",
  },
  {
    rule: "PAL033",
    fail: { files: { "schemas/order.json": { ...ORDER_SCHEMA, required: [] } } },
    at: "schemas/order.json",
  },
  {
    rule: "PAL034",
    fail: { files: { "schemas/order.json": { ...ORDER_SCHEMA, properties: { n: {} } } } },
    at: "schemas/order.json#/properties/n",
  },
  {
    rule: "PAL040",
    fail: { replace: [['    filter: { data: { n: [{ numeric: [">", 0] }] } }\n', ""]] },
    at: "functions.pay.filter",
  },
  {
    rule: "PAL050",
    fail: {
      files: {
        "functions/pay.ts":
          'export default async (e, ctx) => {\n  await ctx.secrets.get("PAY_KEY");\n  await ctx.secrets.get("ADMIN_TOKEN");\n};\n',
      },
    },
    at: "functions.pay.secrets",
    line: 3,
  },
  {
    rule: "PAL051",
    fail: { replace: [["secrets: [PAY_KEY]", "secrets: [PAY_KEY, SPARE_KEY]"]] },
    at: "functions.pay.secrets[1]",
    line: 15,
  },
  {
    rule: "PAL052",
    fail: {
      files: {
        "functions/pay.ts":
          'const name = "PAY_KEY";\nexport default async (e, ctx) => ctx.secrets.get(name);\n',
      },
    },
    at: "functions.pay.secrets",
    line: 2,
  },
  {
    rule: "PAL053",
    fail: {
      replace: [["secrets: [PAY_KEY]", "secrets: [PAY_KEY, SHOP_KEY]"]],
      files: {
        "functions/pay.ts":
          'export default async (e, ctx) => {\n  await ctx.secrets.get("PAY_KEY");\n  await ctx.secrets.get("SHOP_KEY");\n};\n',
      },
    },
    at: "functions.pay.secrets[1]",
    line: 15,
  },
  {
    rule: "PAL060",
    fail: { files: { "package-lock.json": LOCK }, options: { audit: auditSays("critical") } },
    pass: { files: { "package-lock.json": LOCK }, options: { audit: noVulnerabilities } },
    at: "package-lock.json#/packages/node_modules~1left-pad",
  },
  {
    rule: "PAL061",
    fail: { files: { "package-lock.json": LOCK }, options: { audit: auditSays("moderate") } },
    pass: { files: { "package-lock.json": LOCK }, options: { audit: auditSays("critical") } },
    at: "package-lock.json#/packages/node_modules~1left-pad",
  },
  {
    rule: "PAL070",
    fail: { options: { host: "0.0.0.0" } },
    pass: { options: { host: "0.0.0.0", tls: true } },
    at: "tls",
  },
  {
    rule: "PAL071",
    fail: { files: { "keys/signing.pub": privateKey() } },
    pass: { files: { "keys/signing.pub": publicKey() } },
    at: "keys/signing.pub",
  },
  {
    rule: "PAL072",
    // The manifest has no audit switch today; the rule reads it should one appear.
    fail: { context: (ctx) => ({ ...ctx, manifest: { ...ctx.manifest, audit: { enabled: false } } }) },
    at: "audit.enabled",
  },
  {
    rule: "PAL090",
    fail: {
      replace: [
        [
          "functions:\n",
          "waivers:\n  - { rule: PAL021, path: functions.record.limits.concurrency, reason: staged rollout, expires: 2026-05-31 }\nfunctions:\n",
        ],
        ["{ concurrency: 1, dailyInvocations: 1000 }", "{ dailyInvocations: 1000 }"],
      ],
    },
    pass: {
      replace: [
        [
          "functions:\n",
          "waivers:\n  - { rule: PAL021, path: functions.record.limits.concurrency, reason: staged rollout, expires: 2026-06-01 }\nfunctions:\n",
        ],
        ["{ concurrency: 1, dailyInvocations: 1000 }", "{ dailyInvocations: 1000 }"],
      ],
    },
    at: "waivers[0].expires",
    line: 10,
  },
  {
    rule: "PAL091",
    fail: {
      replace: [
        [
          "functions:\n",
          "waivers:\n  - { rule: PAL021, path: functions.pay.limits.concurrency, reason: not needed, expires: 2027-01-31 }\nfunctions:\n",
        ],
      ],
    },
    pass: {
      replace: [
        [
          "functions:\n",
          "waivers:\n  - { rule: PAL021, path: functions.record.limits.concurrency, reason: staged rollout, expires: 2027-01-31 }\nfunctions:\n",
        ],
        ["{ concurrency: 1, dailyInvocations: 1000 }", "{ dailyInvocations: 1000 }"],
      ],
    },
    at: "waivers[0]",
    line: 10,
  },
];

test("the base fixture passes every rule with no finding", async (t) => {
  const report = await check(t);
  assert.deepEqual(report.findings, []);
  assert.ok(report.rules.every((r) => r.status === "passed"));
});

test("every rule in the catalogue has a failing and a passing fixture here", () => {
  assert.deepEqual(
    CASES.map((c) => c.rule),
    RULES.map((r) => r.id),
  );
});

for (const c of CASES) {
  const info = RULES.find((r) => r.id === c.rule);
  test(`${c.rule} (${info?.title}): the failing fixture is found where it is, the passing one is not`, async (t) => {
    const failed = await check(t, c.fail);
    const mine = failed.findings.filter((f) => f.rule === c.rule && f.waived === undefined);
    assert.ok(
      mine.length > 0,
      `${c.rule} finds nothing; found: ${failed.findings.map((f) => f.rule).join(", ")}`,
    );
    assert.equal(failed.rules.find((r) => r.id === c.rule)?.status, "failed");
    const first = mine[0];
    assert.ok(first && first.message.length > 0 && first.fix.length > 0);
    assert.equal(first.severity, info?.severity);
    if (c.at !== undefined) assert.equal(first.location.path, c.at);
    if (c.line !== undefined) assert.equal(first.location.line, c.line);
    const passed = await check(t, c.pass);
    assert.deepEqual(
      passed.findings.filter((f) => f.rule === c.rule && f.waived === undefined),
      [],
    );
    assert.notEqual(passed.rules.find((r) => r.id === c.rule)?.status, "failed");
  });
}

test("PAL053 also finds a function granted a webhook's signing secret, and names the webhook", async (t) => {
  const report = await check(t, {
    replace: [
      [
        "functions:\n",
        "sources:\n  - webhook: { path: /hooks/pay, secret: PAY_KEY, emit: order.created }\nfunctions:\n",
      ],
    ],
  });
  const found = report.findings.filter((f) => f.rule === "PAL053");
  assert.deepEqual(
    found.map((f) => f.location.path),
    ["functions.pay.secrets[0]"],
  );
  assert.match(found[0]?.message ?? "", /webhook "\/hooks\/pay"/);
});

test("PAL001 also covers a webhook without a signing secret", async (t) => {
  const report = await check(t, {
    model: (app) => ({
      ...app,
      sources: [
        ...app.sources,
        {
          kind: "webhook",
          path: "/hooks/pay",
          secret: "",
          emit: "order.created",
          toleranceSec: 300,
          maxBodyBytes: 1024,
        },
      ],
    }),
  });
  assert.deepEqual(
    report.findings.filter((f) => f.rule === "PAL001").map((f) => f.location.path),
    ["sources[1].webhook.secret"],
  );
});

test("PAL013 covers internal names and the IPv6 metadata address; PAL012 is not also reported for them", async (t) => {
  const report = await check(t, {
    replace: [
      [
        'egress: ["api.pay.example:443"]',
        'egress: ["localhost:8080", "[fd00:ec2::254]:80", "db.internal:5432"]',
      ],
    ],
  });
  assert.deepEqual(
    report.findings.filter((f) => f.rule === "PAL013").map((f) => f.location.path),
    ["functions.pay.egress[0]", "functions.pay.egress[1]", "functions.pay.egress[2]"],
  );
  assert.equal(report.findings.filter((f) => f.rule === "PAL012").length, 0);
});

test("PAL070 accepts plain HTTP off loopback when --insecure-http says a proxy terminates TLS, and says so", async (t) => {
  const report = await check(t, { options: { host: "10.1.2.3", insecureHttp: true } });
  const rule = report.rules.find((r) => r.id === "PAL070");
  assert.equal(rule?.status, "passed");
  assert.match(rule?.note ?? "", /--insecure-http/);
  const loopback = await check(t, { options: { host: "::1" } });
  assert.equal(loopback.rules.find((r) => r.id === "PAL070")?.status, "passed");
});

test("PAL071 finds a signing key without a trusted public half, and one others can read", async (t) => {
  const lonely = await check(t, { files: { "keys/signing.key": privateKey() } });
  assert.match(lonely.findings.find((f) => f.rule === "PAL071")?.message ?? "", /no keys\/\*\.pub trusts/);
  const readable = await check(t, {
    files: { "keys/signing.key": privateKey(), "keys/signing.pub": publicKey() },
    setup: (dir) => chmodSync(join(dir, "keys/signing.key"), 0o644),
  });
  assert.match(readable.findings.find((f) => f.rule === "PAL071")?.message ?? "", /read by other users/);
  const fresh = await check(t);
  assert.match(fresh.rules.find((r) => r.id === "PAL071")?.note ?? "", /build and dev create/);
});

test("the dependency rules report skipped, never passed, when the registry cannot be reached", async (t) => {
  const unreachable: AuditRunner = async () => ({ error: "npm audit did not finish within 30 s" });
  const report = await check(t, { files: { "package-lock.json": LOCK }, options: { audit: unreachable } });
  for (const id of ["PAL060", "PAL061"]) {
    const rule = report.rules.find((r) => r.id === id);
    assert.equal(rule?.status, "skipped");
    assert.match(rule?.note ?? "", /did not finish/);
  }
  const none = await check(t);
  assert.equal(none.rules.find((r) => r.id === "PAL060")?.note, "no dependencies");
  const offline = await check(t, { files: { "package-lock.json": LOCK }, options: { offline: true } });
  assert.equal(offline.rules.find((r) => r.id === "PAL060")?.status, "skipped");
});

test("PAL016 names the metadata address, and PAL015 tells the bearer token travels in clear", async (t) => {
  const report = await check(t, {
    replace: [
      sink(
        "http://169.254.169.254/in",
        'allowAddresses: ["169.254.169.254"]',
        "auth: { bearer: { secret: LEDGER_TOKEN } }",
      ),
    ],
  });
  assert.match(
    report.findings.find((f) => f.rule === "PAL016")?.message ?? "",
    /169\.254\.169\.254, the cloud metadata address \(instance credentials\).*internal service/,
  );
  assert.match(
    report.findings.find((f) => f.rule === "PAL015")?.message ?? "",
    /bearer token travel unencrypted/,
  );
  assert.match(
    (await check(t, { replace: [sink("https://ledger.example/in")] })).findings.find(
      (f) => f.rule === "PAL017",
    )?.fix ?? "",
    /auth: \{ webhook: .*palisade keys event-key/,
  );
});

/** The parts of a SARIF run the waiver test reads. */
interface SarifRun {
  tool: { driver: { rules: { id: string; defaultConfiguration: { level: string } }[] } };
  results: {
    ruleId: string;
    level: string;
    suppressions?: unknown[];
    locations: { logicalLocations: { fullyQualifiedName: string }[] }[];
  }[];
}

test("the signing and sink rules are waived by rule and path like any other, and SARIF carries them", async (t) => {
  const waivers =
    "waivers:\n" +
    "  - { rule: PAL017, path: sinks.ledger, reason: receiver checks the source address, expires: 2026-12-31 }\n" +
    "  - { rule: PAL005, path: principals.shop.signing.requireSigned, reason: producers migrating, expires: 2026-12-31 }\n";
  const signed = signing(false);
  const report = await check(t, {
    ...signed,
    replace: [
      ...(signed.replace ?? []),
      sink("https://ledger.example/in"),
      ["functions:\n", `${waivers}functions:\n`],
    ],
  });
  for (const rule of ["PAL005", "PAL017"]) {
    assert.equal(report.rules.find((r) => r.id === rule)?.status, "waived", rule);
    assert.ok(report.findings.find((f) => f.rule === rule)?.waived !== undefined, rule);
  }
  assert.deepEqual(
    report.waivers.map((w) => w.status),
    ["active", "active"],
  );
  const run = (formatSarif(report) as { runs: SarifRun[] }).runs[0];
  const levels = Object.fromEntries(
    run?.tool.driver.rules.map((r) => [r.id, r.defaultConfiguration.level]) ?? [],
  );
  assert.deepEqual(
    [levels.PAL005, levels.PAL015, levels.PAL016, levels.PAL017],
    ["warning", "warning", "note", "warning"],
  );
  const sinkResult = run?.results.find((r) => r.ruleId === "PAL017");
  assert.equal(sinkResult?.level, "warning");
  assert.equal(sinkResult?.locations[0]?.logicalLocations[0]?.fullyQualifiedName, "sinks.ledger");
  assert.equal(sinkResult?.suppressions?.length, 1);
  // Without the waivers, the same findings stand unsuppressed.
  const open = await check(t, {
    ...signed,
    replace: [...(signed.replace ?? []), sink("https://ledger.example/in")],
  });
  assert.deepEqual(
    open.findings.filter((f) => f.waived === undefined).map((f) => f.rule),
    ["PAL005", "PAL017"],
  );
});

test("PAL040 and PAL022 follow requireVerified: only a principal with signing keys reaches such a function", async (t) => {
  const exposed = [
    ['    filter: { data: { n: [{ numeric: [">", 0] }] } }\n', "    requireVerified: true\n"],
    ["{ timeoutMs: 3000, concurrency: 2, dailyInvocations: 1000 }", "{ timeoutMs: 3000, concurrency: 2 }"],
  ] as [string, string][];
  const unsigned = await check(t, { replace: exposed });
  assert.deepEqual(
    unsigned.findings.filter((f) => f.rule === "PAL040" || f.rule === "PAL022"),
    [],
  );
  const signed = signing(true);
  const reached = await check(t, { ...signed, replace: [...(signed.replace ?? []), ...exposed] });
  assert.deepEqual(
    reached.findings
      .filter((f) => f.rule === "PAL040" || f.rule === "PAL022")
      .map((f) => [f.rule, f.location.path]),
    [
      ["PAL040", "functions.pay.filter"],
      ["PAL022", "functions.pay.limits.dailyInvocations"],
    ],
  );
  assert.match(
    reached.findings.find((f) => f.rule === "PAL040")?.message ?? "",
    /principal "shop" \(apiKey, signed events, verified\) → order\.created → function "pay"/,
  );
});

test("PAL023 leaves out a cycle through a requireVerified function: what a function emits is never verified", async (t) => {
  const cycle: [string, string] = [
    "    on: [order.paid]\n",
    "    on: [order.paid]\n    emit: [order.created]\n",
  ];
  const open = await check(t, { replace: [cycle] });
  assert.deepEqual(
    open.findings.filter((f) => f.rule === "PAL023").map((f) => f.location.path),
    ["functions.pay", "functions.record"],
  );
  const broken = await check(t, {
    replace: [
      cycle,
      ['    filter: { data: { n: [{ numeric: [">", 0] }] } }\n', "    requireVerified: true\n"],
    ],
  });
  assert.deepEqual(
    broken.findings.filter((f) => f.rule === "PAL023"),
    [],
  );
});
