/**
 * The read-only inspection commands run as a user runs them: `events list|show` (beside a running
 * app, through its admin API, and on the stopped app), `schemas list|show|diff` over two registered
 * versions, and `kv list|get` reading what a function wrote, decrypted and audited.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { startPlatform } from "../src/main.ts";
import { ADMIN_KEY, setAdminKey } from "./kit/admin.ts";
import { palisade, palisadeJson, waitUntil } from "./kit/cli-run.ts";
import { post, TEST_KEY } from "./kit/http.ts";
import { captureLogs } from "./kit/log-capture.ts";
import { natsSkip, startNatsServer } from "./kit/nats-server.ts";
import { startRole } from "./kit/scale-out.ts";
import { setSecret, tempApp, testPrincipal, writeFiles } from "./kit/temp-app.ts";

const MARKER = "kv-value-marker-7f3a";

const SCHEMA_V1 = {
  type: "object",
  required: ["n"],
  additionalProperties: false,
  properties: { n: { type: "number" } },
};
// v2 adds an optional field: compatible forwards, breaking backwards (v1 refuses `note`).
const SCHEMA_V2 = { ...SCHEMA_V1, properties: { n: { type: "number" }, note: { type: "string" } } };

const CHARGE = `function decline(n: number): never {
  throw new Error(\`card declined for order \${n}\`);
}

export default (event: { data: { n: number } }) => {
  if (event.data.n === 2) decline(event.data.n);
};
`;

function inspectApp(): Record<string, string | object> {
  return {
    "palisade.yaml": `name: inspect
events:
  order.created: { schema: schemas/order.json }
${testPrincipal(["order.created"])}functions:
  store:
    handler: functions/store.ts
    on: [order.created]
    kv: { orders: readwrite }
  charge:
    handler: functions/charge.ts
    on: [order.created]
    retry: { attempts: 1 }
`,
    "schemas/order.json": SCHEMA_V1,
    "functions/store.ts": `export default async (event, ctx) => {
  await ctx.kv.set("orders", "order-" + event.data.n, { n: event.data.n, note: "${MARKER}" });
};
`,
    "functions/charge.ts": CHARGE,
  };
}

type Delivery = { target: string; state: string; attempts: number; lastError: string | null };
type Page = { events: { id: string; type: string; deliveries: Delivery[] }[]; next?: number };

async function runningApp(t: import("node:test").TestContext, dir: string) {
  const logs = captureLogs();
  const platform = await startPlatform({ appDir: dir, logger: logs.logger, port: 0 });
  let closed = false;
  const close = async () => {
    if (!closed) await platform.close();
    closed = true;
  };
  t.after(close);
  return { platform, close };
}

test("events list and show read deliveries, the failure's stack and the trace, locally and through --url", async (t) => {
  const dir = tempApp(t, inspectApp());
  setSecret(dir, "TEST_KEY", TEST_KEY);
  setAdminKey(dir);
  const { platform, close } = await runningApp(t, dir);
  const ids: string[] = [];
  for (const n of [1, 2]) {
    const sent = await post(`${platform.url}/events`, { type: "order.created", data: { n } });
    assert.equal(sent.status, 202, JSON.stringify(sent.body));
    ids.push(sent.body.ids[0]);
  }
  const [first, failing] = ids as [string, string];
  const list = ["events", "list", "--app", dir];
  await waitUntil(
    "every delivery settled",
    async () => {
      const page = (await palisadeJson(list)) as Page;
      const states = page.events.flatMap((e) => e.deliveries.map((d) => d.state));
      return states.length === 4 && !states.includes("pending");
    },
    60_000,
  );

  // Beside the running app, and through its admin API: the same page and the same detail.
  const local = (await palisadeJson(list)) as Page;
  const url = ["--url", platform.url];
  const env = { PALISADE_ADMIN_KEY: ADMIN_KEY };
  assert.deepEqual(await palisadeJson(["events", "list", ...url], env), local);
  assert.deepEqual(
    await palisadeJson(["events", "show", failing, ...url], env),
    await palisadeJson(["events", "show", failing, "--app", dir]),
  );
  const missingRemote = await palisade(["events", "show", "no-such-event", ...url], env);
  assert.equal(missingRemote.status, 1);
  assert.match(missingRemote.stderr, /No event "no-such-event" in the log/);
  await close();

  assert.deepEqual(
    local.events.map((e) => e.id),
    [failing, first],
    "newest first",
  );
  const states = (i: number) =>
    Object.fromEntries((local.events[i]?.deliveries ?? []).map((d) => [d.target, d.state]));
  assert.deepEqual(states(0), { store: "delivered", charge: "failed" });
  assert.deepEqual(states(1), { store: "delivered", charge: "delivered" });

  // On the stopped app: text, filters and paging.
  const text = await palisade(list);
  assert.equal(text.status, 0, text.stderr);
  assert.match(
    text.stdout,
    new RegExp(
      `Z {2}${failing} {2}order\\.created {2}tester\\n(?: {4}.*\\n)*? {4}charge +failed +1 attempt\\(s\\) {2}card declined for order 2\\n`,
    ),
  );
  assert.ok(text.stdout.indexOf(failing) < text.stdout.indexOf(first), "newest first in text too");
  assert.ok(!/ {4}at /.test(text.stdout), "a list shows each failure's message, not its stack");

  const filtered = (await palisadeJson([
    ...list,
    "--type",
    "order.*",
    "--principal",
    "tester",
    "--since",
    "1h",
  ])) as Page;
  assert.equal(filtered.events.length, 2);
  const nobody = await palisade([...list, "--principal", "nobody"]);
  assert.equal(nobody.stdout, "no events match the filters\n");
  const future = (await palisadeJson([
    ...list,
    "--since",
    new Date(Date.now() + 3_600_000).toISOString(),
  ])) as Page;
  assert.deepEqual(future.events, []);
  const badSince = await palisade([...list, "--since", "yesterday"]);
  assert.equal(badSince.status, 2);
  assert.match(badSince.stderr, /--since "yesterday" is neither an ISO 8601 time nor a duration/);

  const one = (await palisadeJson([...list, "--limit", "1"])) as Page;
  assert.deepEqual(
    one.events.map((e) => e.id),
    [failing],
  );
  assert.equal(typeof one.next, "number");
  const older = (await palisadeJson([...list, "--before", String(one.next)])) as Page;
  assert.deepEqual(
    older.events.map((e) => e.id),
    [first],
  );
  assert.equal(older.next, undefined);
  const limitedText = await palisade([...list, "--limit", "1"]);
  assert.match(limitedText.stdout, new RegExp(`older events: --before ${one.next}\\n$`));

  const shown = (await palisadeJson(["events", "show", failing, "--app", dir])) as {
    id: string;
    traceId: string;
    copies: { event: { data: unknown; principal: string } }[];
    deliveries: Delivery[];
  };
  assert.equal(shown.id, failing);
  assert.match(shown.traceId, /^[0-9a-f]{32}$/);
  assert.deepEqual(shown.copies[0]?.event.data, { n: 2 });
  const charge = shown.deliveries.find((d) => d.target === "charge");
  assert.equal(charge?.state, "failed");
  assert.match(
    charge?.lastError ?? "",
    /^card declined for order 2\n {4}at decline \(functions\/charge\.ts:2:\d+\)/,
  );

  const detail = await palisade(["events", "show", failing, "--app", dir]);
  assert.equal(detail.status, 0, detail.stderr);
  assert.match(detail.stdout, new RegExp(`^event ${failing}\\n`));
  assert.match(detail.stdout, /\n {2}type {13}order\.created\n/);
  assert.match(detail.stdout, /\n {2}principal {8}tester\n/);
  assert.match(detail.stdout, /\n {2}data\n {4}\{\n {6}"n": 2\n {4}\}\n/);
  assert.match(
    detail.stdout,
    new RegExp(`\\ntrace: ${shown.traceId} {2}\\(palisade traces --id ${shown.traceId}\\)\\n`),
  );
  assert.match(
    detail.stdout,
    /\n {4}charge +failed +1 attempt\(s\) {2}card declined for order 2\n {6} {4}at decline \(functions\/charge\.ts:2:\d+\)\n/,
  );
  assert.match(detail.stdout, /\n {4}store +delivered +1 attempt\(s\)\n/);

  // A replay starts the failed delivery over: its outcome moves to the history.
  assert.equal((await palisade(["dlq", "replay", failing, "--app", dir])).status, 0);
  const replayed = await palisade(["events", "show", failing, "--app", dir]);
  assert.match(replayed.stdout, /\n {4}charge +pending +0 attempt\(s\)/);
  assert.match(
    replayed.stdout,
    /\nhistory \(outcomes replays started over, oldest first\)\n {4}\S+Z {2}charge {2}failed after 1 attempt\(s\), dead-lettered \(attempts-exhausted\); started over \S+Z\n {6}card declined for order 2\n/,
  );

  const missing = await palisade(["events", "show", "no-such-event", "--app", dir]);
  assert.equal(missing.status, 1);
  assert.match(
    missing.stderr,
    /^palisade: No event "no-such-event" in the log .*palisade events list shows the ids\n$/,
  );
});

test("schemas list, show and diff read the stored versions with the compatibility verdict", async (t) => {
  const dir = tempApp(t, inspectApp());
  setSecret(dir, "TEST_KEY", TEST_KEY);
  const none = await palisade(["schemas", "list", "--app", dir]);
  assert.equal(none.status, 0, none.stderr);
  assert.match(none.stdout, /^no schemas registered yet/);
  assert.ok(!existsSync(join(dir, ".palisade", "schemas.db")), "reading creates no store");

  await (await runningApp(t, dir)).close();
  writeFiles(dir, { "schemas/order.json": SCHEMA_V2 });
  await (await runningApp(t, dir)).close();

  const rows = (await palisadeJson(["schemas", "list", "--app", dir])) as {
    type: string;
    latest: number;
    inManifest: boolean;
    versions: { version: number }[];
  }[];
  assert.deepEqual(
    rows.map((r) => [r.type, r.latest, r.inManifest, r.versions.map((v) => v.version)]),
    [["order.created", 2, true, [1, 2]]],
  );
  const listed = await palisade(["schemas", "list", "--app", dir]);
  assert.match(listed.stdout, /^order\.created {2}v2 {2}2 version\(s\), latest registered \d{4}-/);

  const v1 = (await palisadeJson(["schemas", "show", "order.created", "v1", "--app", dir])) as {
    version: number;
    schema: object;
  };
  assert.deepEqual([v1.version, v1.schema], [1, SCHEMA_V1]);
  const latest = await palisade(["schemas", "show", "order.created", "--app", dir]);
  assert.equal(latest.status, 0, latest.stderr);
  assert.match(latest.stdout, /^order\.created v2 of 2, registered .*, sha256 [0-9a-f]{64}\n/);
  assert.ok(latest.stdout.endsWith(`${JSON.stringify(SCHEMA_V2, null, 2)}\n`));

  const diff = await palisade(["schemas", "diff", "order.created", "--app", dir]);
  assert.equal(diff.status, 0, diff.stderr);
  assert.equal(
    diff.stdout,
    [
      "--- order.created v1",
      "+++ order.created v2",
      "@@ -7,6 +7,9 @@",
      '   "properties": {',
      '     "n": {',
      '       "type": "number"',
      "+    },",
      '+    "note": {',
      '+      "type": "string"',
      "     }",
      "   }",
      " }",
      "compatible: v2 accepts every event v1 accepted",
      "",
    ].join("\n"),
  );
  const backwards = (await palisadeJson(["schemas", "diff", "order.created", "2", "1", "--app", dir])) as {
    from: number;
    to: number;
    compatible: boolean;
    breaking: string[];
  };
  assert.deepEqual([backwards.from, backwards.to, backwards.compatible], [2, 1, false]);
  assert.match(backwards.breaking.join("\n"), /note/);
  const backwardsText = await palisade(["schemas", "diff", "order.created", "v2", "v1", "--app", dir]);
  assert.match(backwardsText.stdout, /\nbreaking: v1 may reject events v2 accepted:\n {2}\S.*note/);

  const unknownType = await palisade(["schemas", "show", "order.shipped", "--app", dir]);
  assert.equal(unknownType.status, 2);
  assert.match(
    unknownType.stderr,
    /No schema of event type "order\.shipped" is stored; stored types: "order\.created"/,
  );
  const unknownVersion = await palisade(["schemas", "diff", "order.created", "1", "9", "--app", dir]);
  assert.equal(unknownVersion.status, 2);
  assert.match(
    unknownVersion.stderr,
    /Event type "order\.created" has no version 9; stored versions: v1, v2/,
  );
  const notVersion = await palisade(["schemas", "show", "order.created", "latest", "--app", dir]);
  assert.match(notVersion.stderr, /"latest" is not a schema version; give a number such as 2 or v2/);
});

test("kv list and get read what a function wrote, decrypted, beside the running app; get is audited", async (t) => {
  const dir = tempApp(t, inspectApp());
  setSecret(dir, "TEST_KEY", TEST_KEY);
  const { platform, close } = await runningApp(t, dir);
  for (const n of [1, 3]) await post(`${platform.url}/events`, { type: "order.created", data: { n } });
  const kvList = ["kv", "list", "--app", dir];
  type Row = { namespace: string; grants: Record<string, string>; keys: string[]; next?: string };
  await waitUntil(
    "both values written",
    async () => ((await palisadeJson(kvList)) as Row[])[0]?.keys.length === 2,
    60_000,
  );
  // Read while the platform runs: its kv store must still open (its rollback check) afterwards.
  assert.deepEqual(await palisadeJson(["kv", "get", "store", "order-1", "--app", dir]), {
    function: "store",
    namespace: "orders",
    key: "order-1",
    value: { n: 1, note: MARKER },
  });
  await close();
  await (await runningApp(t, dir)).close();

  const raw = ["kv.db", "kv.db-wal"]
    .map((f) => join(dir, ".palisade", f))
    .filter((f) => existsSync(f))
    .map((f) => readFileSync(f, "latin1"))
    .join("");
  assert.ok(raw.length > 0 && !raw.includes(MARKER), "values are sealed at rest: kv get decrypted it");

  assert.deepEqual(await palisadeJson(kvList), [
    { namespace: "orders", grants: { store: "readwrite" }, keys: ["order-1", "order-3"] },
  ]);
  const text = await palisade(kvList);
  assert.equal(text.stdout, "orders  (store: readwrite)\n  order-1\n  order-3\n");
  assert.deepEqual(await palisadeJson([...kvList, "--prefix", "order-3"]), [
    { namespace: "orders", grants: { store: "readwrite" }, keys: ["order-3"] },
  ]);
  assert.deepEqual(await palisadeJson([...kvList, "--limit", "1"]), [
    { namespace: "orders", grants: { store: "readwrite" }, keys: ["order-1"], next: "order-1" },
  ]);
  const charge = await palisade([...kvList, "--function", "charge"]);
  assert.equal(charge.stdout, 'function "charge" is granted no kv namespace\n');

  const got = await palisade(["kv", "get", "store", "order-3", "--app", dir]);
  assert.equal(got.status, 0, got.stderr);
  assert.equal(got.stdout, `${JSON.stringify({ n: 3, note: MARKER }, null, 2)}\n`);
  const audit = (await palisade(["audit", "tail", "-n", "100", "--json", "--app", dir])).stdout
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line) as { kind: string; subject?: string; details?: { key?: string } });
  const reads = audit.filter((r) => r.kind === "kv.read");
  assert.deepEqual(
    reads.map((r) => [r.subject, r.details?.key]),
    [
      ["orders", "order-1"],
      ["orders", "order-3"],
    ],
  );
  assert.ok(!JSON.stringify(reads).includes(MARKER), "the audit log names the key, never the value");

  const missing = await palisade(["kv", "get", "store", "order-9", "--app", dir]);
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /No key "order-9" in kv namespace "orders" \(function "store"\)/);
  const unknownFn = await palisade(["kv", "get", "refund", "order-1", "--app", dir]);
  assert.equal(unknownFn.status, 2);
  assert.match(unknownFn.stderr, /No function "refund" in palisade\.yaml; functions: "store", "charge"/);
  const ungranted = await palisade(["kv", "get", "charge", "order-1", "--app", dir]);
  assert.equal(ungranted.status, 2);
  assert.match(ungranted.stderr, /Function "charge" is granted no kv namespace/);
  assert.equal(
    (await palisade(["audit", "tail", "-n", "100", "--json", "--app", dir])).stdout.split('"kv.read"')
      .length - 1,
    2,
    "refused and missing reads print nothing and are not recorded as reads",
  );
});

test("events list and show with --nats read the deployment's store, not the app directory's", {
  skip: natsSkip(),
}, async (t) => {
  const nats = await startNatsServer();
  t.after(() => nats.stop());
  const dir = tempApp(t, inspectApp());
  setSecret(dir, "TEST_KEY", TEST_KEY);
  const built = await palisade(["build", dir]);
  assert.equal(built.status, 0, built.stderr);
  const lazy = ["--accept-lazy-fsync"];
  const gateway = await startRole(t, "gateway", dir, nats.url, lazy);
  await startRole(t, "worker", dir, nats.url, lazy);
  const sent = await post(`${gateway.url}/events`, { type: "order.created", data: { n: 2 } });
  assert.equal(sent.status, 202, JSON.stringify(sent.body));
  const id = sent.body.ids[0] as string;

  const onNats = ["--nats", nats.url, "--app", dir];
  await waitUntil(
    "both deliveries settled",
    async () => {
      const page = (await palisadeJson(["events", "list", ...onNats])) as Page;
      const states = page.events.flatMap((e) => e.deliveries.map((d) => d.state));
      return states.length === 2 && !states.includes("pending");
    },
    60_000,
  );
  const page = (await palisadeJson(["events", "list", ...onNats])) as Page;
  assert.deepEqual(
    page.events.map((e) => e.id),
    [id],
  );
  const shown = await palisade(["events", "show", id, ...onNats]);
  assert.equal(shown.status, 0, shown.stderr);
  assert.match(
    shown.stdout,
    /\n {4}charge +failed +1 attempt\(s\) {2}card declined for order 2\n {10}at decline /,
  );
  assert.deepEqual(
    ((await palisadeJson(["events", "list", "--app", dir])) as Page).events,
    [],
    "the app directory's own store holds none of them",
  );
});
