/**
 * EventBridge's wildcard, cidr and $or patterns and JSON Schema draft-07 with `x-*` annotations and
 * the internationalized formats, through the real platform: the manifest loads them, the gateway
 * validates against the draft-07 schema, and each function gets exactly the events its filter
 * matches.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { startPlatform } from "../src/main.ts";
import { sleep } from "./kit/cli-run.ts";
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
    user: { type: "string" },
    email: { type: "string", format: "idn-email" },
    ip: { $ref: "#/definitions/ip" },
    host: { type: "string", format: "idn-hostname" },
    country: { type: "string" },
  },
};

test("wildcard, cidr and $or filters route events by content; a draft-07 schema with annotations validates them", async (t) => {
  const dir = tempApp(t, {
    "palisade.yaml": `name: patterns
events:
  user.login: { schema: schemas/login.json }
${testPrincipal(["user.login"])}functions:
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
`,
    "schemas/login.json": LOGIN_SCHEMA,
    "functions/log.ts": "export default (e, ctx) => { ctx.log.info('got', { user: e.data.user }); };",
  });
  setSecret(dir, "TEST_KEY", TEST_KEY);
  const logs = captureLogs();
  const platform = await startPlatform({ appDir: dir, logger: logs.logger, port: 0 });
  t.after(() => platform.close());

  const login = (data: object) => post(`${platform.url}/events`, { type: "user.login", data });
  const sent = [
    { user: "ann", email: "ann@eu.example.com", ip: "10.20.3.4", host: "büro.example", country: "DE" },
    { user: "bob", email: "bob@gmail.test", ip: "fd12::1", host: "exit.tor.example", country: "DE" },
    { user: "cem", email: "cem@example.com", ip: "192.0.2.1", host: "cafe.example", country: "TR" },
    { user: "dan", email: "dän@例子.广告", ip: "10.21.0.1", host: "home.example", country: "FR" },
  ];
  for (const data of sent) assert.equal((await login(data)).status, 202);
  const invalid = await login({ user: "eve", email: "not-an-email", ip: "1.2.3.4", host: "x.example" });
  assert.equal(invalid.status, 400, "the draft-07 schema's idn-email format is enforced");
  assert.match(JSON.stringify(invalid.body), /idn-email/);

  const expected: Record<string, string[]> = {
    office: ["ann", "bob"], // 10.20/16 and fd00::/8; not 10.21.0.1
    staff: ["ann"], // *@*.example.com: not cem@example.com (no subdomain)
    review: ["bob", "cem"], // outside DE/FR, or a host with .tor.
  };
  const got = (fn: string) =>
    logs.lines
      .filter((l) => l.msg === "got" && l.fn === fn)
      .map((l) => String(l.user))
      .sort();
  await logs.waitFor(() => Object.entries(expected).every(([fn, users]) => got(fn).length >= users.length));
  await sleep(300); // let any (wrong) extra delivery show up
  for (const [fn, users] of Object.entries(expected)) assert.deepEqual(got(fn), users, fn);
});

test("a bad wildcard, cidr or $or in a manifest is refused at load, naming the field", async (t) => {
  const dir = tempApp(t, {
    "palisade.yaml": `name: bad-patterns
events:
  user.login: { schema: schemas/login.json }
functions:
  f:
    handler: functions/log.ts
    on: [user.login]
    filter: { data: { email: [{ wildcard: "**@x" }], ip: [{ cidr: "10.0.0.0/40" }], $or: [{ a: [1] }] } }
`,
    "schemas/login.json": LOGIN_SCHEMA,
    "functions/log.ts": "export default () => {};",
  });
  await assert.rejects(
    startPlatform({ appDir: dir, logger: captureLogs().logger, port: 0 }),
    (err: Error) => {
      assert.match(
        err.message,
        /functions\.f\.filter\.data\.email\[0\]\.wildcard: must not hold consecutive wildcards/,
      );
      assert.match(err.message, /functions\.f\.filter\.data\.ip\[0\]\.cidr: must be an IPv4 or IPv6 range/);
      assert.match(err.message, /functions\.f\.filter\.data\.\$or: must list at least two patterns/);
      return true;
    },
  );
});
