import assert from "node:assert/strict";
import { test } from "node:test";
import { NUMBER_SCHEMA, tempApp } from "../../test/kit/temp-app.ts";
import { DEFAULT_DETECT, DEFAULT_LIMITS, DEFAULT_RETRY, loadApp } from "./index.ts";

const GOOD = `name: shop
events:
  order.created: { schema: schemas/order.json }
  payment.charged: { schema: schemas/order.json }
functions:
  charge:
    handler: functions/charge.ts
    on: [order.created]
    emit: [payment.charged]
`;

const FILES = { "schemas/order.json": NUMBER_SCHEMA, "functions/charge.ts": "export default () => {};\n" };

function problemsOf(
  t: import("node:test").TestContext,
  manifest: string,
  files: Record<string, string | object> = FILES,
) {
  const dir = tempApp(t, { ...files, "palisade.yaml": manifest });
  try {
    loadApp(dir);
  } catch (err) {
    const e = err as { code: string; details: string[]; message: string; stack?: string };
    assert.equal(e.code, "PAL_MANIFEST_INVALID");
    return e.details;
  }
  assert.fail("expected the manifest to be refused");
}

test("a valid manifest resolves to a frozen app model with secure defaults", (t) => {
  const dir = tempApp(t, { ...FILES, "palisade.yaml": GOOD });
  const app = loadApp(dir);
  const charge = app.functions.get("charge");
  assert.ok(charge);
  assert.deepEqual(charge.limits, DEFAULT_LIMITS);
  assert.deepEqual(charge.retry, DEFAULT_RETRY);
  assert.deepEqual(charge.emit, ["payment.charged"]);
  assert.ok(Object.isFrozen(app) && Object.isFrozen(charge.limits));
  assert.deepEqual([...app.events.keys()], ["order.created", "payment.charged"]);
});

test("the sample app loads", () => {
  const app = loadApp(new URL("../../examples/shop", import.meta.url).pathname);
  assert.deepEqual([...app.functions.keys()], ["charge", "notify"]);
});

test("an unknown event type in on: names file, line, path and the declared types", (t) => {
  const details = problemsOf(t, GOOD.replace("on: [order.created]", "on: [order.create]"));
  assert.deepEqual(details, [
    'palisade.yaml:8: functions.charge.on[0]: unknown event type "order.create"; declared types are: order.created, payment.charged',
  ]);
});

test("an emit grant of an undeclared type is refused", (t) => {
  const details = problemsOf(t, GOOD.replace("emit: [payment.charged]", "emit: [payment.refunded]"));
  assert.match(
    details[0] ?? "",
    /^palisade\.yaml:9: functions\.charge\.emit\[0\]: unknown event type "payment\.refunded"/,
  );
});

test("an unknown field is an error listing the allowed fields", (t) => {
  const details = problemsOf(t, GOOD.replace("    emit:", "    secretz: [X]\n    emit:"));
  assert.deepEqual(details, [
    'palisade.yaml:9: functions.charge.secretz: unknown field "secretz"; allowed fields are: handler, on, filter, emit, secrets, egress, kv, tmp, allowCodeGeneration, recursion, limits, retry, requireVerified',
  ]);
});

test("every mistake is reported at once, each with its own line", (t) => {
  const bad = GOOD.replace("name: shop", "name: Shop!").replace(
    "    emit: [payment.charged]",
    "    emit: [payment.charged]\n    limits: { timeoutMs: fast, memoryMb: 1 }",
  );
  const details = problemsOf(t, bad);
  assert.ok(
    details.includes(
      'palisade.yaml:1: name: invalid value "Shop!"; App name: lower-case letters, digits and dashes.',
    ),
    details.join("\n"),
  );
  assert.ok(
    details.includes('palisade.yaml:10: functions.charge.limits.timeoutMs: must be an integer, got "fast"'),
    details.join("\n"),
  );
  assert.ok(
    details.includes("palisade.yaml:10: functions.charge.limits.memoryMb: must be >= 16; got 1"),
    details.join("\n"),
  );
});

test("a missing required field names the field", (t) => {
  const details = problemsOf(t, GOOD.replace("    handler: functions/charge.ts\n", ""));
  assert.deepEqual(details, ['palisade.yaml:6: functions.charge: missing required field "handler"']);
});

test("event type names must be dotted lower-case names", (t) => {
  const details = problemsOf(
    t,
    `${GOOD}`.replace("payment.charged: {", "Payment: {").replace("emit: [payment.charged]", "emit: []"),
  );
  assert.match(
    details[0] ?? "",
    /^palisade\.yaml:4: events\.Payment: invalid name "Payment"; event type names look like "order\.created"/,
  );
});

test("a handler outside the app directory is refused (it would widen the sandbox's read grant)", (t) => {
  const details = problemsOf(t, GOOD.replace("functions/charge.ts", "../../etc/passwd.ts"));
  assert.match(
    details[0] ?? "",
    /^palisade\.yaml:7: functions\.charge\.handler: "\.\.\/\.\.\/etc\/passwd\.ts" is outside the app directory/,
  );
});

test("a missing handler file says which file", (t) => {
  const details = problemsOf(t, GOOD.replace("functions/charge.ts", "functions/nope.ts"));
  assert.deepEqual(details, [
    'palisade.yaml:7: functions.charge.handler: file "functions/nope.ts" does not exist; create it or fix the path',
  ]);
});

test("a schema file that is not a valid JSON Schema is refused with ajv's reason", (t) => {
  const details = problemsOf(t, GOOD, {
    ...FILES,
    "schemas/order.json": { type: "object", properties: { n: { type: "numbr" } } },
  });
  assert.equal(details.length, 2);
  assert.match(
    details[0] ?? "",
    /^palisade\.yaml:3: events\["order\.created"\]\.schema: "schemas\/order\.json" is not a valid JSON Schema/,
  );
});

test("a schema file with broken JSON is refused", (t) => {
  const details = problemsOf(t, GOOD, { ...FILES, "schemas/order.json": "{ nope" });
  assert.match(
    details[0] ?? "",
    /events\["order\.created"\]\.schema: "schemas\/order\.json" is not valid JSON/,
  );
});

test("broken YAML reports the line", (t) => {
  const details = problemsOf(t, "name: shop\nevents:\n  a.b: { schema: x\nfunctions: {}\n");
  assert.match(details[0] ?? "", /^palisade\.yaml:\d+: invalid YAML: /);
});

test("duplicate keys are refused, not silently merged", (t) => {
  const details = problemsOf(
    t,
    `${GOOD}  charge:\n    handler: functions/charge.ts\n    on: [order.created]\n`,
  );
  assert.match(details[0] ?? "", /invalid YAML: Map keys must be unique/);
});

test("a missing manifest says how to create one", (t) => {
  const dir = tempApp(t, {});
  assert.throws(() => loadApp(dir), { code: "PAL_MANIFEST_NOT_FOUND", message: /run "palisade init/ });
});

test("principals need exactly one authentication method and publish patterns that match declared types", (t) => {
  const details = problemsOf(
    t,
    `${GOOD}principals:\n  both: { apiKey: { secret: A }, jwt: { issuer: i, audience: a, jwks: k.json }, publish: [order.created] }\n  typo: { apiKey: { secret: B }, publish: [order.craeted, pay.*] }\n  remote: { jwt: { issuer: i, audience: a, jwks: "http://keys.example.com/jwks" }, publish: [order.*] }\n`,
  );
  assert.deepEqual(details, [
    "palisade.yaml:11: principals.both: needs exactly one of apiKey, jwt, mtls; give each sender its own principal",
    'palisade.yaml:12: principals.typo.publish[0]: "order.craeted" matches no declared event type; use a type name or "prefix.*" (declared: order.created, payment.charged)',
    'palisade.yaml:12: principals.typo.publish[1]: "pay.*" matches no declared event type; use a type name or "prefix.*" (declared: order.created, payment.charged)',
    'palisade.yaml:13: principals.remote.jwt.jwks: "http://keys.example.com/jwks" must be an https:// URL (plain http only on loopback)',
  ]);
});

test("without admins: the implicit admin local (role admin, key PALISADE_ADMIN_KEY); /metrics is not public", (t) => {
  const app = loadApp(tempApp(t, { ...FILES, "palisade.yaml": GOOD }));
  assert.deepEqual(
    [...app.admins.values()],
    [
      {
        name: "local",
        auth: { kind: "apiKey", secret: "PALISADE_ADMIN_KEY" },
        role: "admin",
        implicit: true,
      },
    ],
  );
  assert.equal(app.metricsPublic, false);
  const open = loadApp(tempApp(t, { ...FILES, "palisade.yaml": `${GOOD}metrics: { public: true }\n` }));
  assert.equal(open.metricsPublic, true);
});

test("admins: one authentication method and a role each, never a producer's key", (t) => {
  const app = loadApp(
    tempApp(t, {
      ...FILES,
      "palisade.yaml": `${GOOD}admins:\n  ops: { apiKey: { secret: OPS_KEY }, role: operator }\n  eve: { apiKey: { secret: EVE_KEY }, role: viewer }\n`,
    }),
  );
  assert.deepEqual(
    [...app.admins.values()].map((a) => [a.name, a.role, a.auth.kind, a.implicit]),
    [
      ["ops", "operator", "apiKey", undefined],
      ["eve", "viewer", "apiKey", undefined],
    ],
  );
  const shape = problemsOf(t, `${GOOD}admins:\n  boss: { apiKey: { secret: B }, role: root }\n`);
  assert.deepEqual(shape, [
    'palisade.yaml:11: admins.boss.role: must be one of: viewer, operator, admin; got "root"',
  ]);
  const details = problemsOf(
    t,
    `${GOOD}principals:\n  shop: { apiKey: { secret: SHOP_KEY }, publish: [order.created] }\nadmins:\n  both: { apiKey: { secret: A }, jwt: { issuer: i, audience: a, jwks: k.json }, role: admin }\n  reuse: { apiKey: { secret: SHOP_KEY }, role: viewer }\n  none: { role: viewer }\n`,
  );
  assert.deepEqual(details, [
    "palisade.yaml:13: admins.both: needs exactly one of apiKey, jwt, mtls; give each operator their own admin",
    'palisade.yaml:14: admins.reuse.apiKey.secret: "SHOP_KEY" is principal "shop"\'s API key; an admin needs a key of its own (a producer\'s key must never open /admin)',
    "palisade.yaml:15: admins.none: needs exactly one of apiKey, jwt, mtls; give each operator their own admin",
  ]);
  const sameIdp = problemsOf(
    t,
    `${GOOD}principals:\n  partner: { jwt: { issuer: i, audience: a, jwks: k.json }, publish: [order.created] }\nadmins:\n  ops: { jwt: { issuer: i, audience: a, jwks: k.json }, role: operator }\n`,
    { ...FILES, "k.json": { keys: [] } },
  );
  assert.deepEqual(sameIdp, [
    'palisade.yaml:13: admins.ops.jwt: principal "partner" accepts tokens of the same issuer and audience; give admins an audience of their own (a producer\'s token must never open /admin)',
  ]);
});

test("HMAC and none are not accepted JWT algorithms", (t) => {
  const details = problemsOf(
    t,
    `${GOOD}principals:\n  p: { jwt: { issuer: i, audience: a, jwks: k.json, algorithms: [HS256] }, publish: [order.created] }\n`,
  );
  assert.match(
    details[0] ?? "",
    /principals\.p\.jwt\.algorithms\[0\]: must be one of: RS256, .*EdDSA; got "HS256"/,
  );
});

test("sources: unique, unreserved paths and declared webhook types; the default is POST /events", (t) => {
  const details = problemsOf(
    t,
    `${GOOD}sources:\n  - http: { path: /events }\n  - webhook: { path: /events, secret: S, emit: order.created }\n  - webhook: { path: /metrics, secret: S, emit: order.created }\n  - webhook: { path: /hooks/x, secret: S, emit: payment.refunded }\n`,
  );
  assert.deepEqual(details, [
    'palisade.yaml:12: sources[1].webhook.path: "/events" is already used; give each source its own path',
    'palisade.yaml:13: sources[2].webhook.path: "/metrics" is already used; give each source its own path',
    'palisade.yaml:14: sources[3].webhook.emit: unknown event type "payment.refunded"; declared types are: order.created, payment.charged',
  ]);
  const dir = tempApp(t, { ...FILES, "palisade.yaml": GOOD });
  assert.deepEqual(loadApp(dir).sources, [{ kind: "http", path: "/events", maxBodyBytes: 262144 }]);
});

test("the dedupe window defaults to 24 h and must cover every webhook's timestamp tolerance", (t) => {
  const dir = tempApp(t, { ...FILES, "palisade.yaml": GOOD });
  assert.equal(loadApp(dir).dedupeWindowSec, 86400);
  const details = problemsOf(
    t,
    `${GOOD}dedupe: { windowSec: 60 }\nsources:\n  - webhook: { path: /h, secret: S, emit: order.created, toleranceSec: 120 }\n`,
  );
  assert.deepEqual(details, [
    "palisade.yaml:10: dedupe.windowSec: 60 s is shorter than sources[0].webhook.toleranceSec; replays could slip through, make it at least 120",
  ]);
});

test("a function may subscribe to prefix.* and filter on content; a bad pattern is an error at its path", (t) => {
  const dir = tempApp(t, {
    ...FILES,
    "palisade.yaml": GOOD.replace(
      "on: [order.created]",
      'on: [order.*]\n    filter: { data: { n: [{ numeric: [">", 0] }] } }',
    ),
  });
  const charge = loadApp(dir).functions.get("charge");
  assert.deepEqual(charge?.on, ["order.*"]);
  assert.deepEqual(charge?.filter, { data: { n: [{ numeric: [">", 0] }] } });
  const details = problemsOf(
    t,
    GOOD.replace(
      "on: [order.created]",
      'on: [refund.*]\n    filter: { data: { n: [{ numeric: [">", "zero"] }] } }',
    ),
  );
  assert.deepEqual(details, [
    'palisade.yaml:8: functions.charge.on[0]: unknown event type "refund.*"; declared types are: order.created, payment.charged',
    'palisade.yaml:9: functions.charge.filter.data.n[0].numeric: must be [op, number] or [op, number, op, number] with op one of =, <, <=, >, >= (e.g. [">", 0, "<=", 5])',
  ]);
});

test("retention defaults to 7 days and must cover the dedupe window", (t) => {
  const dir = tempApp(t, { ...FILES, "palisade.yaml": GOOD });
  assert.equal(loadApp(dir).retentionDays, 7);
  const details = problemsOf(t, `${GOOD}retention: { days: 0.5 }\n`);
  assert.deepEqual(details, [
    "palisade.yaml:10: retention.days: 0.5 days is shorter than dedupe.windowSec (86400 s); keep events at least that long",
  ]);
});

test("egress grants name one host and port each; wildcards, paths and other schemes are refused", (t) => {
  const details = problemsOf(
    t,
    GOOD.replace(
      "    emit:",
      '    egress: ["api.stripe.com:443", "http://10.0.0.5:8080", "[::1]:8443", "*:443", "api.stripe.com", "ftp://x:21", "https://a.example:443/path", "x:99999"]\n    emit:',
    ),
  );
  assert.deepEqual(details, [
    'palisade.yaml:9: functions.charge.egress[3]: wildcards are not allowed in egress; name each host and port (write "host:443" for https or "http://host:80" for plain http)',
    'palisade.yaml:9: functions.charge.egress[4]: "api.stripe.com" has no port; write "host:443" for https or "http://host:80" for plain http',
    'palisade.yaml:9: functions.charge.egress[5]: only "host:port" (https) and "http://host:port" are accepted; write "host:443" for https or "http://host:80" for plain http',
    'palisade.yaml:9: functions.charge.egress[6]: only "host:port" (https) and "http://host:port" are accepted; write "host:443" for https or "http://host:80" for plain http',
    'palisade.yaml:9: functions.charge.egress[7]: "x:99999" is not a host and port; write "host:443" for https or "http://host:80" for plain http',
  ]);
});

test("grants resolve to rules the runtime checks; minInstances may not exceed concurrency", (t) => {
  const dir = tempApp(t, {
    "palisade.yaml": GOOD.replace(
      "    emit:",
      '    egress: ["API.Stripe.com:443", "http://127.0.0.1:8080", "[::1]:8443"]\n    secrets: [STRIPE_KEY]\n    kv: { orders: readwrite, prices: read }\n    tmp: true\n    emit:',
    ),
    ...FILES,
  });
  const fn = loadApp(dir).functions.get("charge");
  assert.deepEqual(
    fn?.egress.map((r) => [r.scheme, r.host, r.port, r.ip]),
    [
      ["https", "api.stripe.com", 443, false],
      ["http", "127.0.0.1", 8080, true],
      ["https", "::1", 8443, true],
    ],
  );
  assert.deepEqual(fn?.secrets, ["STRIPE_KEY"]);
  assert.deepEqual(fn?.kv, { orders: "readwrite", prices: "read" });
  assert.equal(fn?.tmp, true);
  assert.equal(fn?.allowCodeGeneration, false);
  const details = problemsOf(
    t,
    GOOD.replace("    emit:", "    limits: { concurrency: 2, minInstances: 3 }\n    emit:"),
  );
  assert.deepEqual(details, [
    "palisade.yaml:9: functions.charge.limits.minInstances: must not exceed concurrency (2); lower minInstances or raise concurrency",
  ]);
});

test("the platform's namespace is refused: a principal named palisade and declared palisade.* types", (t) => {
  const manifest = GOOD.replace(
    "events:\n",
    "events:\n  palisade.security.budget-exceeded: { schema: schemas/order.json }\n",
  );
  const details = problemsOf(
    t,
    `${manifest}principals:\n  palisade: { apiKey: { secret: A }, publish: [order.created] }\n  shop: { apiKey: { secret: B }, publish: [order.created] }\n`,
  );
  assert.deepEqual(details, [
    `palisade.yaml:3: events["palisade.security.budget-exceeded"]: "palisade.*" types are the platform's own (subscribe to them in functions.<name>.on); rename this type`,
    `palisade.yaml:12: principals.palisade: "palisade" is the platform's own principal; give this sender another name`,
  ]);
});

test("the bounds on what an invocation makes the host do default to named constants and can be set or refused per function", (t) => {
  assert.deepEqual(
    [
      DEFAULT_LIMITS.capabilityCalls,
      DEFAULT_LIMITS.fetchBytes,
      DEFAULT_LIMITS.emitsPerInvocation,
      DEFAULT_LIMITS.kvValueBytes,
      DEFAULT_LIMITS.kvNamespaceBytes,
      DEFAULT_LIMITS.logLineBytes,
      DEFAULT_LIMITS.logsPerSecond,
    ],
    [16, 16 * 1024 * 1024, 100, 256 * 1024, 64 * 1024 * 1024, 16 * 1024, 100],
  );
  const set =
    "    limits: { capabilityCalls: 4, fetchBytes: 65536, emitsPerInvocation: 3, kvValueBytes: 2048, kvNamespaceBytes: 1048576, logLineBytes: 1024, logsPerSecond: 10 }\n";
  const dir = tempApp(t, { ...FILES, "palisade.yaml": GOOD.replace("    emit:", `${set}    emit:`) });
  const limits = loadApp(dir).functions.get("charge")?.limits;
  assert.deepEqual(
    [limits?.capabilityCalls, limits?.emitsPerInvocation, limits?.kvNamespaceBytes, limits?.timeoutMs],
    [4, 3, 1048576, DEFAULT_LIMITS.timeoutMs],
  );
  const details = problemsOf(
    t,
    GOOD.replace(
      "    emit:",
      "    limits: { capabilityCalls: 0, emitsPerInvocation: many, logLineBytes: 10 }\n    emit:",
    ),
  );
  assert.deepEqual(
    details.toSorted(),
    [
      'palisade.yaml:9: functions.charge.limits.emitsPerInvocation: must be an integer, got "many"',
      "palisade.yaml:9: functions.charge.limits.capabilityCalls: must be >= 1; got 0",
      "palisade.yaml:9: functions.charge.limits.logLineBytes: must be >= 256; got 10",
    ].toSorted(),
  );
});

test("detect: defaults to a quarantining denied-burst detector; a policy overrides it, a bad one is named", (t) => {
  const dir = tempApp(t, { ...FILES, "palisade.yaml": GOOD });
  assert.deepEqual(loadApp(dir).detect, DEFAULT_DETECT);
  assert.deepEqual(DEFAULT_DETECT.deniedBurst, { denials: 3, windowSec: 60, response: "quarantine" });
  const tuned = tempApp(t, {
    ...FILES,
    "palisade.yaml": `${GOOD}detect:\n  deniedBurst: { denials: 20, response: alert }\n`,
  });
  assert.deepEqual(loadApp(tuned).detect.deniedBurst, { denials: 20, windowSec: 60, response: "alert" });
  const details = problemsOf(t, `${GOOD}detect:\n  deniedBurst: { denials: 0, response: drop }\n`);
  assert.equal(details.length, 2, details.join("\n"));
  assert.match(details.join("\n"), /detect\.deniedBurst\.denials/);
  assert.match(details.join("\n"), /detect\.deniedBurst\.response.*quarantine, alert, off/);
});

test("detect.novelty: defaults to learning 100 invocations or 24 h and alerting; learn fields merge; bad ones are named", (t) => {
  assert.deepEqual(DEFAULT_DETECT.novelty, { learn: { invocations: 100, hours: 24 }, response: "alert" });
  const tuned = tempApp(t, {
    ...FILES,
    "palisade.yaml": `${GOOD}detect:\n  novelty: { learn: { invocations: 3 }, response: quarantine }\n`,
  });
  assert.deepEqual(loadApp(tuned).detect.novelty, {
    learn: { invocations: 3, hours: 24 },
    response: "quarantine",
  });
  const details = problemsOf(
    t,
    `${GOOD}detect:\n  novelty: { learn: { invocations: 0, hours: 1.5, days: 2 }, response: block }\n`,
  );
  assert.deepEqual(
    details.map((d) => d.replace(/^palisade\.yaml:\d+: /, "")).toSorted(),
    [
      "detect.novelty.learn.invocations: must be >= 1; got 0",
      "detect.novelty.learn.hours: must be an integer, got 1.5",
      'detect.novelty.learn.days: unknown field "days"; allowed fields are: invocations, hours',
      'detect.novelty.response: must be one of: alert, hold, quarantine, off; got "block"',
    ].toSorted(),
  );
});

test("detect.outliers and detect.costDrift: outliers alert, cost drift throttles by default; fields merge; a hold is not a response they take", (t) => {
  assert.deepEqual(DEFAULT_DETECT.outliers, { factor: 5, warmup: 200, windowSec: 600, response: "alert" });
  assert.deepEqual(DEFAULT_DETECT.costDrift, {
    threshold: 10,
    slack: 0.5,
    warmup: 200,
    response: "throttle",
    throttleSec: 600,
  });
  const tuned = tempApp(t, {
    ...FILES,
    "palisade.yaml": `${GOOD}detect:\n  outliers: { factor: 2.5, warmup: 20 }\n  costDrift: { threshold: 6, response: off }\n`,
  });
  const { detect } = loadApp(tuned);
  assert.deepEqual(detect.outliers, { factor: 2.5, warmup: 20, windowSec: 600, response: "alert" });
  assert.deepEqual(detect.costDrift, {
    threshold: 6,
    slack: 0.5,
    warmup: 200,
    response: "off",
    throttleSec: 600,
  });
  const details = problemsOf(
    t,
    `${GOOD}detect:\n  outliers: { factor: 0.5, warmup: 5, response: quarantine }\n  costDrift: { slack: -1, window: 60, response: hold, throttleSec: 5 }\n`,
  );
  assert.deepEqual(
    details.map((d) => d.replace(/^palisade\.yaml:\d+: /, "")).toSorted(),
    [
      "detect.outliers.factor: must be >= 1; got 0.5",
      "detect.outliers.warmup: must be >= 10; got 5",
      'detect.outliers.response: must be one of: alert, off; got "quarantine"',
      "detect.costDrift.slack: must be >= 0; got -1",
      'detect.costDrift.window: unknown field "window"; allowed fields are: threshold, slack, warmup, response, throttleSec',
      'detect.costDrift.response: must be one of: throttle, alert, off; got "hold"',
      "detect.costDrift.throttleSec: must be >= 10; got 5",
    ].toSorted(),
  );
});
