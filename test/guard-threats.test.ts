import assert from "node:assert/strict";
import { type TestContext, test } from "node:test";
import {
  findThreats,
  renderDot,
  renderMermaid,
  THREAT_CLASSES,
  type ThreatClass,
  type ThreatModel,
} from "../src/guard/index.ts";
import { loadApp } from "../src/manifest/index.ts";
import { tempApp } from "./kit/temp-app.ts";

/**
 * shop (API key) → order.created → pay (filtered; secret + egress) → order.paid → record (kv write).
 * Threats in it: pay and record are privileged and reached from outside (low: every hop strict),
 * pay can exfiltrate (medium: filtered), pay escalates to record's kv write (medium).
 */
const MANIFEST = `name: flows
events:
  order.created: { schema: schemas/strict.json }
  order.paid: { schema: schemas/strict.json }
principals:
  shop: { apiKey: { secret: SHOP_KEY }, publish: [order.created] }
functions:
  pay:
    handler: functions/f.ts
    on: [order.created]
    filter: { data: { n: [{ numeric: [">", 0] }] } }
    emit: [order.paid]
    secrets: [PAY_KEY]
    egress: ["api.pay.example:443"]
    limits: { concurrency: 2, dailyInvocations: 1000 }
  record:
    handler: functions/f.ts
    on: [order.paid]
    kv: { orders: readwrite }
    limits: { concurrency: 1, dailyInvocations: 1000 }
`;

const FILES = {
  "schemas/strict.json": {
    type: "object",
    required: ["n"],
    additionalProperties: false,
    properties: { n: { type: "number" } },
  },
  "schemas/loose.json": { type: "object", properties: { note: { type: "string" } } },
  "functions/f.ts": "export default () => {};\n",
};

function model(t: TestContext, replace: [string, string][] = []): ThreatModel {
  let manifest = MANIFEST;
  for (const [from, to] of replace) {
    assert.ok(manifest.includes(from), `the base manifest has "${from}"`);
    manifest = manifest.replace(from, to);
  }
  return findThreats(loadApp(tempApp(t, { ...FILES, "palisade.yaml": manifest })));
}

const of = (m: ThreatModel, cls: ThreatClass) => m.threats.filter((x) => x.class === cls);
const evidence = (m: ThreatModel, cls: ThreatClass) => of(m, cls).map((x) => `${x.severity}: ${x.evidence}`);

const NO_FILTER: [string, string] = ['    filter: { data: { n: [{ numeric: [">", 0] }] } }\n', ""];
const SCHEDULE_ONLY: [string, string][] = [
  [
    "principals:\n  shop: { apiKey: { secret: SHOP_KEY }, publish: [order.created] }\n",
    'sources:\n  - schedule: { cron: "0 * * * *", emit: order.created, data: { n: 1 } }\n',
  ],
];

test("untrusted input reaching a privileged function is reported with its path; high when a hop's schema is loose", (t) => {
  const strict = model(t);
  assert.deepEqual(evidence(strict, "untrusted-to-privileged"), [
    'low: principal "shop" (apiKey, authenticated) → order.created → function "pay"',
    'low: principal "shop" (apiKey, authenticated) → order.created → function "pay" → order.paid → function "record"',
  ]);
  assert.match(
    of(strict, "untrusted-to-privileged")[0]?.message ?? "",
    /every hop on the way has a strict schema/,
  );
  const loose = model(t, [
    ["order.paid: { schema: schemas/strict.json }", "order.paid: { schema: schemas/loose.json }"],
  ]);
  const pay = of(loose, "untrusted-to-privileged").find((x) => x.path.at(-1) === "f:pay");
  const record = of(loose, "untrusted-to-privileged").find((x) => x.path.at(-1) === "f:record");
  assert.equal(pay?.severity, "low");
  assert.equal(record?.severity, "high");
  assert.match(record?.message ?? "", /the schema of "order\.paid" accepts unbounded input/);
  assert.deepEqual(of(model(t, SCHEDULE_ONLY), "untrusted-to-privileged"), []);
});

test("an exfiltration path (public input → secret + egress) is high without a filter, medium with one", (t) => {
  assert.deepEqual(evidence(model(t, [NO_FILTER]), "exfiltration"), [
    'high: principal "shop" (apiKey, authenticated) → order.created → function "pay"',
  ]);
  assert.equal(of(model(t), "exfiltration")[0]?.severity, "medium");
  assert.deepEqual(of(model(t, [['    egress: ["api.pay.example:443"]\n', ""]]), "exfiltration"), []);
  assert.deepEqual(of(model(t, SCHEDULE_ONLY), "exfiltration"), []);
});

test("privilege escalation: a function can emit a type consumed by one holding privileges it lacks", (t) => {
  const found = of(model(t), "privilege-escalation");
  assert.deepEqual(
    found.map((x) => [x.severity, x.evidence]),
    [["medium", 'function "pay" → order.paid → function "record"']],
  );
  assert.match(found[0]?.message ?? "", /kv write orders that "pay" does not hold/);
  const same = model(t, [
    [
      '    egress: ["api.pay.example:443"]\n',
      '    egress: ["api.pay.example:443"]\n    kv: { orders: readwrite }\n',
    ],
  ]);
  assert.deepEqual(of(same, "privilege-escalation"), []);
});

test("a cycle is reported with the hop limit that bounds it; high when outside input enters it unbudgeted", (t) => {
  const loop = [
    ["    kv: { orders: readwrite }\n", "    kv: { orders: readwrite }\n    emit: [order.created]\n"],
  ] as [string, string][];
  const found = of(model(t, loop), "loop");
  assert.deepEqual(
    found.map((x) => [x.severity, x.evidence]),
    [["medium", 'order.created → function "pay" → order.paid → function "record" → order.created']],
  );
  assert.match(found[0]?.message ?? "", /only the hop limit \(16\) ends the chain/);
  const unbudgeted = model(t, [
    ...loop,
    ["{ concurrency: 1, dailyInvocations: 1000 }", "{ concurrency: 1 }"],
    ["name: flows\n", "name: flows\nhopLimit: 4\n"],
  ]);
  assert.equal(of(unbudgeted, "loop")[0]?.severity, "high");
  assert.match(of(unbudgeted, "loop")[0]?.message ?? "", /hop limit \(4\).*no daily budget on record/);
  assert.deepEqual(of(model(t), "loop"), []);
  // Amplification through the undeclared cycle is unbounded; once every function on it declares
  // recursion.maxDepth it is a number, and the loop is low.
  assert.equal(model(t, loop).amplification.get("order.created"), Number.POSITIVE_INFINITY);
  const declared = model(t, [
    ...loop,
    ["    emit: [order.created]\n", "    emit: [order.created]\n    recursion: { maxDepth: 2 }\n"],
    ["    emit: [order.paid]\n", "    emit: [order.paid]\n    recursion: { maxDepth: 2 }\n"],
  ]);
  assert.equal(of(declared, "loop")[0]?.severity, "low");
  assert.match(of(declared, "loop")[0]?.message ?? "", /each declares recursion\.maxDepth/);
  const bound = declared.amplification.get("order.created") ?? 0;
  assert.ok(Number.isFinite(bound) && bound > 0, `a finite worst case, got ${bound}`);
});

test("a principal that may publish a type the app produces itself can spoof it", (t) => {
  const found = of(model(t, [["publish: [order.created]", "publish: [order.*]"]]), "spoofable-type");
  assert.deepEqual(
    found.map((x) => [x.severity, x.evidence]),
    [["medium", 'principal "shop" (apiKey, authenticated) → order.paid → function "record"']],
  );
  assert.deepEqual(of(model(t), "spoofable-type"), []);
});

test("event types nobody consumes, functions nothing triggers and grants no path can use are reported", (t) => {
  const orphaned = model(t, [
    [
      "  order.paid:",
      "  order.refunded: { schema: schemas/strict.json }\n  audit.note: { schema: schemas/strict.json }\n  order.paid:",
    ],
    [
      "functions:\n",
      "functions:\n  auditor:\n    handler: functions/f.ts\n    on: [audit.note]\n    secrets: [AUDIT_KEY]\n",
    ],
  ]);
  assert.deepEqual(
    of(orphaned, "unconsumed-type").map((x) => x.evidence),
    ["order.refunded"],
  );
  assert.deepEqual(
    of(orphaned, "untriggered-function").map((x) => x.evidence),
    ['function "auditor"'],
  );
  assert.deepEqual(
    of(orphaned, "unusable-grant").map((x) => x.message),
    ['Function "auditor" holds secrets AUDIT_KEY, which no path can use'],
  );
  const routeless = model(t, [
    [
      "principals:",
      'sources:\n  - schedule: { cron: "0 * * * *", emit: order.created, data: { n: 1 } }\nprincipals:',
    ],
  ]);
  assert.deepEqual(
    of(routeless, "unusable-grant").map((x) => x.message),
    ['Principal "shop" may publish, but the app has no http source to publish through'],
  );
  const clean = model(t);
  for (const cls of ["unconsumed-type", "untriggered-function", "unusable-grant"] as const)
    assert.deepEqual(of(clean, cls), []);
});

test("every threat carries its STRIDE classes", (t) => {
  const m = model(t, [NO_FILTER, ["publish: [order.created]", "publish: [order.*]"]]);
  assert.ok(m.threats.length >= 4);
  for (const threat of m.threats) assert.deepEqual(threat.stride, THREAT_CLASSES[threat.class].stride);
  assert.deepEqual(THREAT_CLASSES.exfiltration.stride, ["Information disclosure"]);
  assert.deepEqual(THREAT_CLASSES["spoofable-type"].stride, ["Spoofing"]);
});

test("mermaid and dot draw the graph with the threats' nodes and edges highlighted by severity", (t) => {
  const m = model(t, [NO_FILTER]);
  const mermaid = renderMermaid(m);
  assert.match(mermaid, /^flowchart LR\n/);
  assert.match(mermaid, /src0\(\["shop<br\/>apiKey · authenticated"\]\)/);
  assert.match(
    mermaid,
    /fn3\["pay<br\/>secrets: PAY_KEY<br\/>egress: api\.pay\.example:443<br\/>≤2 at once · 1000\/day"\]/,
  );
  assert.match(mermaid, /classDef threat_high stroke:#d92d20/);
  assert.match(mermaid, /class src0,type1,fn3 threat_high/);
  assert.match(mermaid, /linkStyle 0,1 stroke:#d92d20/);
  assert.match(mermaid, /%% high exfiltration: principal "shop"/);
  const dot = renderDot(m);
  assert.match(dot, /^digraph "palisade threats: flows" \{/);
  assert.match(dot, /"s:principal:shop" -> "t:order\.created" \[color="#d92d20", penwidth=2\.5\];/);
  assert.match(
    dot,
    /"f:pay" \[label="pay\\nsecrets: PAY_KEY\\negress: api\.pay\.example:443\\n≤2 at once · 1000\/day", shape="box", color="#d92d20"/,
  );
});
