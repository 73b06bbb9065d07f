/**
 * `palisade tail` beside a running platform: a real child process reading the gateway's admin stream
 * prints the event, its delivery and the function's log line; `--function` and `--type` keep only
 * theirs; a dropped stream is retried and picked up again when the app is back; SIGTERM and SIGINT
 * end it with exit code 0.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { type TestContext, test } from "node:test";
import { startPlatform } from "../src/main.ts";
import { setAdminKey } from "./kit/admin.ts";
import { BIN } from "./kit/cli-process.ts";
import { palisade } from "./kit/cli-run.ts";
import { post, TEST_KEY } from "./kit/http.ts";
import { captureLogs } from "./kit/log-capture.ts";
import { NUMBER_SCHEMA, setSecret, tempApp, testPrincipal } from "./kit/temp-app.ts";

type Item = Record<string, unknown> & { kind: string };

interface Tail {
  child: ChildProcess;
  items: Item[];
  stderr: () => string;
  /** Resolves with the first item (seen or to come) that `match` accepts. */
  waitFor(what: string, match: (item: Item) => boolean, ms?: number): Promise<Item>;
  /** Resolves once stderr matches `pattern`. */
  waitForStderr(pattern: RegExp, ms?: number): Promise<void>;
  exit: Promise<number | null>;
}

/** Starts `palisade tail --json` with `args` as a child process; it is killed after the test. */
function startTail(t: TestContext, args: string[]): Tail {
  const child = spawn(process.execPath, [BIN, "tail", "--json", ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, PALISADE_ADMIN_KEY: "" },
  });
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  });
  const items: Item[] = [];
  let err = "";
  let out = "";
  const checks: (() => void)[] = [];
  const check = () => {
    for (const c of [...checks]) c();
  };
  child.stdout?.on("data", (d: Buffer) => {
    out += d.toString();
    const lines = out.split("\n");
    out = lines.pop() ?? "";
    for (const line of lines) items.push(JSON.parse(line) as Item); // every line is JSON
    check();
  });
  child.stderr?.on("data", (d: Buffer) => {
    err += d.toString();
    check();
  });
  const exit = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const until = (what: string, ok: () => boolean, ms: number) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`tail: timed out waiting for ${what}; stderr: ${err}`)),
        ms,
      );
      const c = () => {
        if (!ok()) return;
        clearTimeout(timer);
        checks.splice(checks.indexOf(c), 1);
        resolve();
      };
      checks.push(c);
      c();
    });
  return {
    child,
    items,
    stderr: () => err,
    exit,
    async waitFor(what, match, ms = 20_000) {
      await until(what, () => items.some(match), ms);
      return items.find(match) as Item;
    },
    waitForStderr: (pattern, ms = 20_000) => until(String(pattern), () => pattern.test(err), ms),
  };
}

const APP = `name: tailed
events:
  order.created: { schema: schemas/n.json }
  ship.requested: { schema: schemas/n.json }
${testPrincipal(["order.created", "ship.requested"])}functions:
  charge:
    handler: functions/charge.ts
    on: [order.created]
  ship:
    handler: functions/ship.ts
    on: [ship.requested]
`;

async function startApp(t: TestContext, dir: string) {
  const platform = await startPlatform({ appDir: dir, logger: captureLogs().logger, port: 0 });
  t.after(() => platform.close());
  return platform;
}

async function send(url: string, type: string, n: number): Promise<string> {
  const sent = await post(`${url}/events`, { type, data: { n } });
  assert.equal(sent.status, 202, JSON.stringify(sent.body));
  return sent.body.ids[0] as string;
}

test("tail streams events, deliveries and function logs; --function and --type keep only theirs", async (t) => {
  const dir = tempApp(t, {
    "palisade.yaml": APP,
    "schemas/n.json": NUMBER_SCHEMA,
    "functions/charge.ts": `export default (e, ctx) => { ctx.log.info("charging", { n: e.data.n }); };`,
    "functions/ship.ts": `export default (e, ctx) => { ctx.log.warn("shipping " + e.data.n); };`,
  });
  setSecret(dir, "TEST_KEY", TEST_KEY);
  setAdminKey(dir); // the implicit admin's key, in the app's secret store: tail finds it there
  const platform = await startApp(t, dir);

  const all = startTail(t, ["--app", dir]);
  const ship = startTail(t, ["--app", dir, "--function", "ship"]);
  const orders = startTail(t, ["--app", dir, "--type", "order.*"]);
  for (const tail of [all, ship, orders]) await tail.waitForStderr(/tailing http:\/\/127\.0\.0\.1:\d+/);

  const order = await send(platform.url, "order.created", 1);
  const accepted = await all.waitFor(
    "the event",
    (i) => i.kind === "accepted" && (i.ids as string[])[0] === order,
  );
  assert.deepEqual(accepted.types, ["order.created"]);
  const log = await all.waitFor("charge's log line", (i) => i.kind === "log" && i.eventId === order);
  assert.deepEqual(
    [log.fn, log.level, log.message, log.type],
    ["charge", "info", "charging", "order.created"],
  );
  const settled = await all.waitFor("the delivery", (i) => i.kind === "settled" && i.eventId === order);
  assert.deepEqual([settled.fn, settled.type, settled.outcome], ["charge", "order.created", "delivered"]);
  await orders.waitFor("the delivery, filtered by type", (i) => i.kind === "settled" && i.eventId === order);

  // Sent after charge's items were flushed: a filter that let them through would have shown them first.
  const shipment = await send(platform.url, "ship.requested", 2);
  await ship.waitFor("ship's delivery", (i) => i.kind === "settled" && i.eventId === shipment);
  await all.waitFor("ship's delivery", (i) => i.kind === "settled" && i.eventId === shipment);
  assert.ok(
    ship.items.every((i) => i.fn === "ship"),
    `--function ship shows only ship: ${JSON.stringify(ship.items)}`,
  );
  assert.ok(ship.items.some((i) => i.kind === "log" && i.message === "shipping 2"));
  assert.ok(!ship.items.some((i) => i.kind === "accepted"), "an accepted request is about no function");
  assert.ok(
    orders.items.every(
      (i) => i.type === "order.created" || (i.types as string[] | undefined)?.[0] === "order.created",
    ),
    `--type order.* shows only order.created: ${JSON.stringify(orders.items)}`,
  );
  assert.ok(
    all.items.some((i) => i.kind === "log" && i.message === "shipping 2"),
    "no filter: both",
  );

  all.child.kill("SIGTERM");
  ship.child.kill("SIGINT");
  assert.equal(await all.exit, 0, all.stderr());
  assert.equal(await ship.exit, 0, ship.stderr());
});

test("tail says when the stream drops and picks it up again when the app is back", async (t) => {
  const dir = tempApp(t, {
    "palisade.yaml": APP,
    "schemas/n.json": NUMBER_SCHEMA,
    "functions/charge.ts": `export default (e, ctx) => { ctx.log.info("charging " + e.data.n); };`,
    "functions/ship.ts": "export default () => {};",
  });
  setSecret(dir, "TEST_KEY", TEST_KEY);
  setAdminKey(dir);
  const first = await startApp(t, dir);
  const tail = startTail(t, ["--app", dir]);
  await tail.waitForStderr(/tailing /);
  await first.close();
  await tail.waitForStderr(/the stream dropped \(.+\); reconnecting every 2 s/);

  const second = await startApp(t, dir); // a new port: tail reads it from .palisade/gateway.json
  await tail.waitForStderr(/reconnected to http:\/\/127\.0\.0\.1:\d+/);
  const id = await send(second.url, "order.created", 7);
  await tail.waitFor(
    "the log line after reconnecting",
    (i) => i.kind === "log" && i.message === "charging 7",
  );
  assert.ok(tail.items.some((i) => i.kind === "accepted" && (i.ids as string[])[0] === id));
  tail.child.kill("SIGTERM");
  assert.equal(await tail.exit, 0, tail.stderr());
});

test("tail outside a running app, or with a bad filter, says what is wrong", async (t) => {
  const dir = tempApp(t, {
    "palisade.yaml": APP,
    "schemas/n.json": NUMBER_SCHEMA,
    "functions/charge.ts": "export default () => {};",
    "functions/ship.ts": "export default () => {};",
  });
  setAdminKey(dir);
  const stopped = await palisade(["tail", "--app", dir], { PALISADE_ADMIN_KEY: "" });
  assert.equal(stopped.status, 1);
  assert.match(stopped.stderr, /is not running \(no \.palisade\/gateway\.json\); start it with palisade dev/);
  const none = await palisade(["tail", "--app", `${dir}/nowhere`], { PALISADE_ADMIN_KEY: "" });
  assert.equal(none.status, 2);
  assert.match(none.stderr, /there is no palisade\.yaml in .*pass --app <dir> or --url/);

  setSecret(dir, "TEST_KEY", TEST_KEY);
  await startApp(t, dir);
  const bad = await palisade(["tail", "--app", dir, "--type", "x".repeat(300)], { PALISADE_ADMIN_KEY: "" });
  assert.equal(bad.status, 2, bad.stderr);
  assert.match(bad.stderr, /type must be 1 to 256 characters/);
});
