import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { type TestContext, test } from "node:test";
import {
  findThreats,
  formatThreatsText,
  renderDot,
  renderMermaid,
  THREAT_CLASSES,
  type ThreatClass,
  type ThreatModel,
  threatsJson,
} from "../src/guard/index.ts";
import { type AppModel, loadApp, type PrincipalSpec } from "../src/manifest/index.ts";
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

function model(
  t: TestContext,
  replace: [string, string][] = [],
  change: (app: AppModel) => AppModel = (app) => app,
): ThreatModel {
  let manifest = MANIFEST;
  for (const [from, to] of replace) {
    assert.ok(manifest.includes(from), `the base manifest has "${from}"`);
    manifest = manifest.replace(from, to);
  }
  return findThreats(change(loadApp(tempApp(t, { ...FILES, "palisade.yaml": manifest }))));
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

/** Sink "ledger" taking `on`, with a query the reports must never print; `extra` manifest lines. */
const SINK = (on: string, ...extra: string[]): [string, string] => [
  "functions:\n",
  `sinks:\n  ledger:\n    url: "https://ledger.example/in?token=t0ps3cret"\n    on: [${on}]\n    auth: { webhook: { secret: LEDGER_SECRET } }\n${extra.map((l) => `    ${l}\n`).join("")}functions:\n`,
];
const LEDGER = 'sink "ledger" (https://ledger.example/...)';
const SHIPPED: [string, string][] = [
  ["  order.paid: {", "  order.shipped: { schema: schemas/strict.json }\n  order.paid: {"],
  ["    kv: { orders: readwrite }\n", "    kv: { orders: readwrite }\n    emit: [order.shipped]\n"],
];
const LOOSE_PAID: [string, string] = [
  "order.paid: { schema: schemas/strict.json }",
  "order.paid: { schema: schemas/loose.json }",
];
const LOOSE_CREATED: [string, string] = [
  "order.created: { schema: schemas/strict.json }",
  "order.created: { schema: schemas/loose.json }",
];
const REQUIRE_VERIFIED: [string, string] = [
  '    filter: { data: { n: [{ numeric: [">", 0] }] } }\n',
  "    requireVerified: true\n",
];

/**
 * The principal "shop" with event-signing key "shop-1". Set on the model: the manifest resolver
 * does not read `signing:` yet.
 */
const signedBy =
  (requireSigned: boolean) =>
  (app: AppModel): AppModel => {
    const principals = new Map(app.principals);
    const shop = app.principals.get("shop") as PrincipalSpec;
    const keys = new Map([["shop-1", generateKeyPairSync("ed25519").publicKey]]);
    principals.set("shop", { ...shop, signing: { keys, requireSigned } });
    return { ...app, principals };
  };

const toSink = (m: ThreatModel) =>
  of(m, "exfiltration")
    .filter((x) => x.path.at(-1) === "k:ledger")
    .map((x) => `${x.severity}: ${x.evidence}`);
const ends = (m: ThreatModel, cls: ThreatClass) => of(m, cls).map((x) => `${x.severity} ${x.path.at(-1)}`);

test("sinks are nodes with an edge from each type they take, described by name and endpoint, never by the url's query", (t) => {
  const m = model(t, [SINK("order.*")]);
  assert.deepEqual(
    m.graph.sinks.map((k) => [k.id, k.on]),
    [["k:ledger", ["order.created", "order.paid"]]],
  );
  assert.deepEqual(
    m.graph.edges.filter(([, to]) => to === "k:ledger"),
    [
      ["t:order.created", "k:ledger"],
      ["t:order.paid", "k:ledger"],
    ],
  );
  const json = threatsJson(m) as { nodes: { kind: string }[] };
  assert.deepEqual(
    json.nodes.filter((n) => n.kind === "sink"),
    [
      {
        id: "k:ledger",
        kind: "sink",
        name: "ledger",
        endpoint: "https://ledger.example/...",
        mode: "structured",
        auth: "webhook",
        filter: false,
        allowAddresses: [],
        on: ["order.created", "order.paid"],
      },
    ],
  );
  const text = formatThreatsText(m);
  assert.match(text, /1 sink\(s\)/);
  assert.match(text, new RegExp(`order\\.paid → ${LEDGER.replace(/[.()]/g, "\\$&")}`));
  assert.match(text, /Sinks:\n {2}ledger: https:\/\/ledger\.example\/\.\.\.; auth webhook\n/);
  const mermaid = renderMermaid(m);
  assert.match(mermaid, /sink\d+>"ledger<br\/>https:\/\/ledger\.example\/\.\.\.<br\/>auth: webhook"\]/);
  assert.match(mermaid, /classDef sink fill:#f4f3ff/);
  const dot = renderDot(m);
  assert.match(
    dot,
    /"k:ledger" \[label="ledger\\nhttps:\/\/ledger\.example\/\.\.\.\\nauth: webhook", shape="cds"/,
  );
  assert.match(dot, /"t:order\.paid" -> "k:ledger"/);
  for (const out of [text, JSON.stringify(json), mermaid, dot]) assert.doesNotMatch(out, /t0ps3cret/);
  // A platform type a sink takes is a node; a type only a sink takes is consumed.
  const platform = model(t, [SINK("palisade.security.anomaly")]);
  assert.ok(platform.graph.edges.some(([f, to]) => f === "t:palisade.security.anomaly" && to === "k:ledger"));
  const shipped: [string, string][] = [
    ["  order.paid: {", "  order.shipped: { schema: schemas/strict.json }\n  order.paid: {"],
    ["publish: [order.created]", "publish: [order.created, order.shipped]"],
  ];
  assert.deepEqual(
    of(model(t, shipped), "unconsumed-type").map((x) => x.message),
    [
      'No function or sink consumes "order.shipped"; what principal "shop" (apiKey, authenticated) sends is stored and never processed',
    ],
  );
  assert.deepEqual(of(model(t, [...shipped, SINK("order.shipped")]), "unconsumed-type"), []);
});

test("a secret holder whose emits reach a sink is an exfiltration path: high when outside input reaches it unfiltered", (t) => {
  const path = `principal "shop" (apiKey, authenticated) → order.created → function "pay" → order.paid → ${LEDGER}`;
  const filtered = model(t, [SINK("order.paid")]);
  assert.deepEqual(toSink(filtered), [`medium: ${path}`]);
  assert.match(
    of(filtered, "exfiltration").find((x) => x.path.at(-1) === "k:ledger")?.message ?? "",
    /can read PAY_KEY, and what it emits reaches sink "ledger".*a secret put in event data leaves the platform.*a filter narrows/,
  );
  assert.deepEqual(toSink(model(t, [SINK("order.paid"), NO_FILTER])), [`high: ${path}`]);
  // Through another function: pay → order.paid → record → order.shipped → the sink.
  assert.deepEqual(toSink(model(t, [...SHIPPED, SINK("order.shipped"), NO_FILTER])), [
    `high: principal "shop" (apiKey, authenticated) → order.created → function "pay" → order.paid → function "record" → order.shipped → ${LEDGER}`,
  ]);
  // No outside input reaches pay: its own code could still leak the secret.
  const internal = model(t, [...SCHEDULE_ONLY, SINK("order.paid"), NO_FILTER]);
  assert.deepEqual(toSink(internal), [`medium: function "pay" → order.paid → ${LEDGER}`]);
  assert.match(of(internal, "exfiltration")[0]?.message ?? "", /no outside input reaches "pay"/);
  // The sink takes what no secret holder emits.
  assert.deepEqual(toSink(model(t, [SINK("order.created"), NO_FILTER])), []);
});

test("outside input reaching a sink is reported: medium when a hop's schema is loose and the sink has no filter, low otherwise", (t) => {
  const direct = model(t, [SINK("order.created")]);
  assert.deepEqual(evidence(direct, "untrusted-to-sink"), [
    `low: principal "shop" (apiKey, authenticated) → order.created → ${LEDGER}`,
  ]);
  assert.match(
    of(direct, "untrusted-to-sink")[0]?.message ?? "",
    /unchanged: what it sends leaves the platform as sent, with Palisade's credential and signature on the delivery; every hop on the way has a strict schema/,
  );
  assert.deepEqual(of(direct, "untrusted-to-sink")[0]?.stride, ["Tampering", "Spoofing"]);
  const loose = model(t, [SINK("order.created"), LOOSE_CREATED]);
  assert.deepEqual(ends(loose, "untrusted-to-sink"), ["medium k:ledger"]);
  assert.match(of(loose, "untrusted-to-sink")[0]?.fix ?? "", /give sinks\.ledger a filter:/);
  const narrowed = model(t, [
    SINK("order.created", 'filter: { data: { note: [{ prefix: "ok" }] } }'),
    LOOSE_CREATED,
  ]);
  assert.deepEqual(ends(narrowed, "untrusted-to-sink"), ["low k:ledger"]);
  const through = model(t, [SINK("order.paid")]);
  assert.match(
    of(through, "untrusted-to-sink")[0]?.message ?? "",
    /reaches sink "ledger".* through function "pay"/,
  );
  assert.deepEqual(of(model(t, [...SCHEDULE_ONLY, SINK("order.created")]), "untrusted-to-sink"), []);
});

test("a principal that requires signed events is verified: threats from it are one step lower and say its events are signed", (t) => {
  const risky: [string, string][] = [NO_FILTER, LOOSE_PAID, SINK("order.paid")];
  const plain = model(t, risky);
  const signed = model(t, risky, signedBy(true));
  const shop = signed.graph.sources.find((s) => s.id === "s:principal:shop");
  assert.equal(shop?.trust, "verified");
  assert.deepEqual(shop?.signing, { keys: ["shop-1"], requireSigned: true });
  assert.deepEqual(ends(plain, "untrusted-to-privileged"), ["high f:record", "low f:pay"]);
  assert.deepEqual(ends(signed, "untrusted-to-privileged"), ["medium f:record", "low f:pay"]);
  assert.deepEqual(ends(plain, "exfiltration"), ["high f:pay", "high k:ledger"]);
  assert.deepEqual(ends(signed, "exfiltration"), ["medium f:pay", "medium k:ledger"]);
  assert.deepEqual(ends(plain, "untrusted-to-sink"), ["medium k:ledger"]);
  assert.deepEqual(ends(signed, "untrusted-to-sink"), ["low k:ledger"]);
  for (const cls of ["untrusted-to-privileged", "exfiltration", "untrusted-to-sink"] as const)
    for (const x of of(signed, cls)) {
      assert.match(x.message, /its events are signed/, x.message);
      assert.match(x.evidence, /^principal "shop" \(apiKey, signed events, verified\) → /);
    }
  for (const x of plain.threats) assert.doesNotMatch(x.message, /signed/);
  const json = threatsJson(signed) as { nodes: { id: string }[] };
  assert.deepEqual(
    json.nodes.find((n) => n.id === "s:principal:shop"),
    {
      id: "s:principal:shop",
      kind: "source",
      source: "principal",
      name: "shop",
      detail: "apiKey, signed events",
      trust: "verified",
      signing: { keys: ["shop-1"], requireSigned: true },
    },
  );
  const mermaid = renderMermaid(signed);
  assert.match(mermaid, /src0\(\["shop<br\/>apiKey, signed events · verified"\]\)/);
  assert.match(mermaid, /classDef verified fill:#dcfae6/);
  assert.match(mermaid, /class src0 verified/);
  assert.doesNotMatch(renderMermaid(plain), /verified/);
  // Keys without requireSigned: unsigned events still get in, so nothing is lowered.
  const optional = model(t, risky, signedBy(false));
  const optionalShop = optional.graph.sources.find((s) => s.id === "s:principal:shop");
  assert.deepEqual(
    [optionalShop?.trust, optionalShop?.detail],
    ["authenticated", "apiKey, signing optional"],
  );
  const shape = (m: ThreatModel) => m.threats.map((x) => [x.class, x.severity, x.path.join(" ")]);
  assert.deepEqual(shape(optional), shape(plain));
});

test("a requireVerified function is reached only through principals with signing keys, and graph searches follow that", (t) => {
  const unsigned = model(t, [REQUIRE_VERIFIED]);
  for (const cls of ["untrusted-to-privileged", "exfiltration"] as const)
    assert.deepEqual(of(unsigned, cls), []);
  assert.deepEqual(
    of(unsigned, "untriggered-function").map((x) => x.message),
    [
      'Nothing can trigger function "pay": it takes only verified events (requireVerified), and no principal with signing keys publishes order.created',
    ],
  );
  // Keys without requireSigned: only its signed events get to pay (and on to record): one step lower.
  const optional = model(t, [REQUIRE_VERIFIED], signedBy(false));
  assert.deepEqual(evidence(optional, "exfiltration"), [
    'medium: principal "shop" (apiKey, signing optional, authenticated) → order.created → function "pay"',
  ]);
  assert.match(
    of(optional, "exfiltration")[0]?.message ?? "",
    /only its signed events get there \(requireVerified/,
  );
  assert.deepEqual(of(optional, "untriggered-function"), []);
  // A second principal without keys publishing the same type reaches neither.
  const kiosk = model(
    t,
    [
      REQUIRE_VERIFIED,
      [
        "principals:\n",
        "principals:\n  kiosk: { apiKey: { secret: KIOSK_KEY }, publish: [order.created] }\n",
      ],
    ],
    signedBy(true),
  );
  assert.deepEqual(
    of(kiosk, "untrusted-to-privileged").map((x) => `${x.path[0]} ${x.path.at(-1)}`),
    ["s:principal:shop f:pay", "s:principal:shop f:record"],
  );
  // What a function emits is never verified: no escalation into, and no loop through, such a function.
  assert.deepEqual(
    of(
      model(t, [["    on: [order.paid]\n", "    on: [order.paid]\n    requireVerified: true\n"]]),
      "privilege-escalation",
    ),
    [],
  );
  const loop: [string, string] = [
    "    kv: { orders: readwrite }\n",
    "    kv: { orders: readwrite }\n    emit: [order.created]\n",
  ];
  assert.equal(of(model(t, [loop]), "loop").length, 1);
  assert.deepEqual(of(model(t, [loop, REQUIRE_VERIFIED], signedBy(true)), "loop"), []);
  // A loose type only a signed event could use on its way does not make an unsigned path high.
  const both: [string, string][] = [
    REQUIRE_VERIFIED,
    LOOSE_CREATED,
    ["publish: [order.created]", "publish: [order.created, order.paid]"],
  ];
  assert.deepEqual(evidence(model(t, both), "untrusted-to-privileged"), [
    'low: principal "shop" (apiKey, authenticated) → order.paid → function "record"',
  ]);
  assert.deepEqual(ends(model(t, both, signedBy(true)), "untrusted-to-privileged"), [
    "medium f:pay",
    "medium f:record",
  ]);
  // Diagrams and JSON say which edges only verified events take.
  assert.match(
    renderDot(optional),
    /"t:order\.created" -> "f:pay" \[color="#f79009", penwidth=2\.5, label="verified only", style="dashed"\];/,
  );
  assert.match(renderMermaid(optional), /type\d+ -->\|verified only\| fn\d+/);
  assert.match(
    renderMermaid(optional),
    /pay<br\/>secrets: PAY_KEY<br\/>egress: api\.pay\.example:443<br\/>verified events only/,
  );
  const json = threatsJson(optional) as { nodes: { id: string; requireVerified?: boolean }[] };
  assert.equal(json.nodes.find((n) => n.id === "f:pay")?.requireVerified, true);
  assert.match(
    formatThreatsText(optional),
    /pay: secrets PAY_KEY; egress api\.pay\.example:443; verified events only/,
  );
});
