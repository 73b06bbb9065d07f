/**
 * EventBridge's wildcard, cidr and $or patterns and JSON Schema draft-07 with `x-*` annotations and
 * the internationalized formats, through the real platform: the manifest loads them, the gateway
 * validates against the draft-07 schema, and each function gets exactly the events its filter
 * matches (routing is stored with the event, so the delivery records are the whole answer).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { startPlatform } from "../src/main.ts";
import { post, TEST_KEY } from "./kit/http.ts";
import { captureLogs } from "./kit/log-capture.ts";
import { setSecret, tempApp, testPrincipal } from "./kit/temp-app.ts";

const LOGIN_SCHEMA = {
  $schema: "http://json-schema.org/draft-07/schema#",
  "x-owner": "identity-team",
  definitions: { ip: { type: "string", "x-pii": true } },
  type: "object",
  required: ["user", "email", "ip", "host"],
  properties: {
    user: { type: "string", "x-examples": ["ann"] },
    email: { type: "string", format: "idn-email" },
    ip: { $ref: "#/definitions/ip" },
    host: { type: "string", format: "idn-hostname" },
    country: { type: "string" },
    home: { type: "string", format: "iri" },
  },
};

const FUNCTIONS = `functions:
  office:
    handler: functions/log.ts
    on: [user.login]
    filter: { data: { ip: [{ cidr: "10.20.0.0/16" }, { cidr: "fd00::/8" }] } }
  staff:
    handler: functions/log.ts
    on: [user.login]
    filter: { data: { email: [{ wildcard: "*@*.example.com" }] } }
  review:
    handler: functions/log.ts
    on: [user.login]
    filter: { data: { $or: [{ country: [{ "anything-but": ["DE", "FR"] }] }, { host: [{ wildcard: "*.tor.*" }] }] } }
`;

test("wildcard, cidr and $or filters route events by content; a draft-07 schema with annotations validates them", async (t) => {
  const dir = tempApp(t, {
    "palisade.yaml": `name: patterns\nevents:\n  user.login: { schema: schemas/login.json }\n${testPrincipal(["user.login"])}${FUNCTIONS}`,
    "schemas/login.json": LOGIN_SCHEMA,
    "functions/log.ts": "export default (e, ctx) => { ctx.log.info('got', { user: e.data.user }); };",
  });
  setSecret(dir, "TEST_KEY", TEST_KEY);
  const logs = captureLogs();
  const platform = await startPlatform({ appDir: dir, logger: logs.logger, port: 0 });
  t.after(() => platform.close());

  const login = (data: object) => post(`${platform.url}/events`, { type: "user.login", data });
  // Each login and the functions whose filter it passes.
  const sent: [object, string[]][] = [
    [
      { user: "ann", email: "ann@eu.example.com", ip: "10.20.3.4", host: "büro.example", country: "DE" },
      ["office", "staff"],
    ],
    [
      { user: "bob", email: "bob@gmail.test", ip: "fd12::1", host: "exit.tor.example", country: "DE" },
      ["office", "review"],
    ],
    [
      { user: "cem", email: "cem@example.com", ip: "192.0.2.1", host: "cafe.example", country: "TR" },
      ["review"],
    ],
    [
      {
        user: "dan",
        email: "dän@例子.广告",
        ip: "10.21.0.1",
        host: "home.example",
        country: "FR",
        home: "https://例子.广告/dän",
      },
      [],
    ],
    // An octal spelling of 10.20.0.1 is no address: it must not slip into 10.20.0.0/16.
    [{ user: "eve", email: "eve@x.test", ip: "012.20.0.1", host: "x.example", country: "FR" }, []],
  ];
  const routed = new Map<string, { user: string; targets: string[] }>();
  for (const [data, targets] of sent) {
    const res = await login(data);
    assert.equal(res.status, 202, JSON.stringify(res.body));
    routed.set(res.body.ids[0], { user: (data as { user: string }).user, targets });
  }
  const invalid = await login({
    user: "fay",
    email: "not-an-email",
    ip: "1.2.3.4",
    host: "x.example",
    home: "/relative",
  });
  assert.equal(invalid.status, 400, "the draft-07 schema's formats are enforced");
  assert.deepEqual(invalid.body.error.details.map((d: { pointer: string }) => d.pointer).sort(), [
    "/data/email",
    "/data/home",
  ]);

  const owed = [...routed.values()].flatMap((r) => r.targets).length;
  const delivered = () => logs.lines.filter((l) => l.msg === "delivered" && routed.has(String(l.eventId)));
  await logs.waitFor(() => delivered().length >= owed);
  for (const [id, { user, targets }] of routed) {
    const states = await platform.store.queue.deliveries(id);
    assert.deepEqual(
      states.map((d) => `${d.target}:${d.state}`).sort(),
      targets.map((fn) => `${fn}:delivered`),
      `${user}'s login (${id})`,
    );
  }
  const got = (fn: string) =>
    logs.lines
      .filter((l) => l.msg === "got" && l.fn === fn)
      .map((l) => String(l.user))
      .sort();
  assert.deepEqual(
    { office: got("office"), staff: got("staff"), review: got("review") },
    { office: ["ann", "bob"], staff: ["ann"], review: ["bob", "cem"] },
  );
});

test("a bad wildcard, cidr or $or, or an unknown schema dialect, is refused at load, naming where and the fix", async (t) => {
  const dir = tempApp(t, {
    "palisade.yaml": `name: bad-patterns
events:
  user.login: { schema: schemas/login.json }
  user.logout: { schema: schemas/logout.json }
functions:
  f:
    handler: functions/log.ts
    on: [user.login]
    filter:
      data:
        email: [{ wildcard: "**@x" }]
        ip: [{ cidr: "10.0.0.5/24" }]
        $or: [{ a: [1] }]
        detail: { $or: [{ prefix: ["a"] }, { b: [2] }] }
`,
    "schemas/login.json": LOGIN_SCHEMA,
    "schemas/logout.json": { $schema: "http://json-schema.org/draft-04/schema#", type: "object" },
    "functions/log.ts": "export default () => {};",
  });
  await assert.rejects(
    startPlatform({ appDir: dir, logger: captureLogs().logger, port: 0 }),
    (err: Error) => {
      const expected = [
        /functions\.f\.filter\.data\.email\[0\]\.wildcard: must not hold consecutive wildcards \("\*\*"\); one \* matches any run/,
        /functions\.f\.filter\.data\.ip\[0\]\.cidr: "10\.0\.0\.5\/24" sets bits past its \/24 prefix; write "10\.0\.0\.0\/24"/,
        /functions\.f\.filter\.data\.\$or: must list at least two patterns/,
        /functions\.f\.filter\.data\.detail\.\$or\[0\]\.prefix: "prefix" is a matcher name and cannot be a field inside \$or/,
        /events\["user\.logout"\]\.schema: "schemas\/logout\.json" is not a valid JSON Schema.*"\$schema" "http:\/\/json-schema\.org\/draft-04\/schema#" is not a dialect Palisade validates; use "https:\/\/json-schema\.org\/draft\/2020-12\/schema" or "http:\/\/json-schema\.org\/draft-07\/schema#"/,
      ];
      for (const re of expected) assert.match(err.message, re);
      return true;
    },
  );
});
