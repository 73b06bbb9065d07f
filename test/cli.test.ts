import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { openAppSecrets } from "../src/main.ts";
import { loadApp } from "../src/manifest/index.ts";
import { BIN, startDev, stop } from "./kit/cli-process.ts";
import { TEST_KEY } from "./kit/http.ts";
import { copyShop, ORDER } from "./kit/shop.ts";
import { tempApp } from "./kit/temp-app.ts";

function palisade(args: string[], node = process.execPath) {
  const r = spawnSync(node, [BIN, ...args], { encoding: "utf8", timeout: 30000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const NO_STACK = /\n\s+at .+\(?.+:\d+:\d+\)?/;

test("unknown commands and bad flags are usage errors (exit 2)", () => {
  const unknown = palisade(["deploy"]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown command 'deploy'/);
  const badFlag = palisade(["dev", "--turbo"]);
  assert.equal(badFlag.code, 2);
  assert.match(badFlag.stderr, /unknown option '--turbo'/);
  const badPort = palisade(["dev", "--port", "http"]);
  assert.equal(badPort.code, 2);
  assert.match(badPort.stderr, /"http" is not a port/);
  assert.equal(palisade(["send"]).code, 2);
});

test("every command has --help", () => {
  for (const cmd of [[], ["init"], ["dev"], ["send"]]) {
    const r = palisade([...cmd, "--help"]);
    assert.equal(r.code, 0, cmd.join(" "));
    assert.match(r.stdout, /Usage: palisade/);
  }
});

test("a manifest with mistakes prints each precise message, exits 2, and shows no stack trace", (t) => {
  const dir = copyShop(t);
  const manifest = join(dir, "palisade.yaml");
  writeFileSync(
    manifest,
    readFileSync(manifest, "utf8").replace("on: [order.created]", "on: [order.create]"),
  );
  const r = palisade(["dev", dir, "--port", "0"]);
  assert.equal(r.code, 2);
  assert.match(
    r.stderr,
    /palisade\.yaml:16: functions\.charge\.on\[0\]: unknown event type "order\.create"; declared types are: order\.created, payment\.charged/,
  );
  assert.doesNotMatch(r.stderr, NO_STACK);
});

test("init scaffolds an app that loads, with a private signing key and a .gitignore for .palisade/", (t) => {
  const dir = join(tempApp(t, {}), "my-app");
  const r = palisade(["init", dir]);
  assert.equal(r.code, 0, r.stderr);
  const app = loadApp(dir);
  assert.equal(app.name, "my-app");
  assert.deepEqual([...app.functions.keys()], ["greet"]);
  assert.equal(statSync(join(dir, "keys/signing.key")).mode & 0o777, 0o600);
  assert.match(readFileSync(join(dir, "keys/signing.key"), "utf8"), /BEGIN PRIVATE KEY/);
  assert.match(readFileSync(join(dir, ".gitignore"), "utf8"), /^\.palisade\/$/m);
  assert.deepEqual([...app.principals.keys()], ["local"]);
  assert.equal(statSync(join(dir, "keys/master.key")).mode & 0o777, 0o600);
  assert.equal(statSync(join(dir, "keys/audit.key")).mode & 0o777, 0o600, "a separate audit key");
  const [auditPub, ...others] = readdirSync(join(dir, "keys/audit"));
  assert.match(auditPub ?? "", /^audit-[0-9a-f]{16}\.pub$/, "named after its key id");
  assert.deepEqual(others, []);
  assert.match(readFileSync(join(dir, "keys/audit", auditPub ?? ""), "utf8"), /BEGIN PUBLIC KEY/);
  assert.ok((openAppSecrets(dir).get("LOCAL_KEY") ?? "").length >= 40);
  assert.match(
    JSON.parse(readFileSync(join(dir, ".palisade", "secrets.json"), "utf8")).secrets.LOCAL_KEY.value,
    /^pal1\./,
  );
  const again = palisade(["init", dir]);
  assert.equal(again.code, 2);
  assert.match(again.stderr, /already exists/);
});

test("dev runs the app; send prints the answer, and a rejected event exits 1 with the failing pointers", async (t) => {
  const dir = copyShop(t);
  const dev = await startDev(dir);
  t.after(() => stop(dev.child));
  assert.ok(existsSync(join(dir, ".palisade", "gateway.json")));
  // At start, dev says which isolation layers each function runs under.
  for (const fn of ["charge", "notify"]) {
    const layers = await dev.waitFor((l) => l.fn === fn && String(l.msg).startsWith("sandbox:"));
    assert.ok((layers.layers as string[]).includes("node permission model"));
    if (!(layers.layers as string[]).includes("bubblewrap namespaces"))
      assert.match(String(layers.os), /OS layer/);
  }

  const ok = palisade(["send", "order.created", JSON.stringify(ORDER), "--app", dir]);
  assert.equal(ok.code, 0, ok.stderr);
  const id = (JSON.parse(ok.stdout.replace(/^202 accepted: /, "")) as { ids: string[] }).ids[0];
  const charged = await dev.waitFor((l) => l.fn === "charge" && l.msg === "charging order");
  assert.equal(charged.eventId, id);
  await dev.waitFor((l) => l.fn === "notify" && l.msg === "payment confirmed");

  const bad = palisade(["send", "order.created", JSON.stringify({ ...ORDER, amount: "lots" }), "--app", dir]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /400 PAL_SCHEMA_INVALID_DATA/);
  assert.match(bad.stderr, /\/data\/amount: must be number/);

  const file = join(tempApp(t, {}), "order.json"); // outside the app: a change inside it reloads dev
  writeFileSync(file, JSON.stringify(ORDER));
  assert.equal(palisade(["send", "order.created", `@${file}`, "--app", dir, "--json"]).code, 0);
  const notJson = palisade(["send", "order.created", "{nope", "--app", dir]);
  assert.equal(notJson.code, 2);
  assert.match(notJson.stderr, /not valid JSON/);
});

test("send to an app that is not running says so (exit 1)", (t) => {
  const r = palisade(["send", "order.created", "{}", "--url", "http://127.0.0.1:9"]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /Cannot reach the gateway at http:\/\/127\.0\.0\.1:9/);
  void t;
});

test("an older Node hands over to Palisade's Node 26, or says in one line how to get it", (t) => {
  const old = ["/usr/bin/node", "/usr/local/bin/node"].find((p) => {
    if (!existsSync(p)) return false;
    const v = spawnSync(p, ["-p", "process.versions.node"], { encoding: "utf8" }).stdout.trim();
    return Number(v.split(".")[0]) < 26;
  });
  if (old === undefined) return t.skip("no Node older than 26 on this machine");
  const handedOver = palisade(["--version"], old);
  assert.equal(handedOver.code, 0, handedOver.stderr);
  assert.match(handedOver.stdout, /^\d+\.\d+\.\d+\n$/);
  const failing = palisade(["send", "order.created", "{nope"], old);
  assert.equal(failing.code, 2, "the exit code of Node 26's run is passed on");

  // A copy of the bin with no Node 26 beside it (no node package to resolve) cannot hand over.
  const lone = join(tempApp(t, {}), "bin", "palisade.js");
  mkdirSync(dirname(lone), { recursive: true });
  copyFileSync(BIN, lone);
  const r = spawnSync(old, [lone, "--help"], { encoding: "utf8" });
  assert.equal(r.status, 1);
  assert.match(
    r.stderr,
    /^palisade: needs Node\.js 26 or newer, this is \d+\.\d+\.\d+; install Palisade's dependencies/,
  );
  assert.equal(r.stderr.trim().split("\n").length, 1);
});

test("dev reloads on a change to a function, keeping its address; a broken manifest keeps the last good version", async (t) => {
  const dir = copyShop(t);
  const dev = await startDev(dir);
  t.after(() => stop(dev.child));
  const notify = join(dir, "functions/notify.ts");
  writeFileSync(
    notify,
    readFileSync(notify, "utf8").replace('"payment confirmed"', '"payment confirmed v2"'),
  );
  const running = () => dev.lines.filter((l) => l.msg === "palisade is running").length;
  await dev.waitFor(() => running() === 2);
  assert.equal(dev.lines.filter((l) => l.msg === "palisade is running").at(-1)?.url, dev.url);

  const manifest = join(dir, "palisade.yaml");
  writeFileSync(
    manifest,
    readFileSync(manifest, "utf8").replace("on: [payment.charged]", "on: [payment.charge]"),
  );
  await dev.waitFor((l) => String(l.msg).startsWith("reload failed"));
  const failed = dev.lines.find((l) => String(l.msg).startsWith("reload failed"));
  assert.match(String(failed?.msg), /functions\.notify\.on\[0\]: unknown event type "payment\.charge"/);
  // The previous good version still serves (the key is given: the manifest on disk is broken).
  const url = `http://127.0.0.1:${new URL(dev.url).port}`;
  assert.equal(
    palisade(["send", "order.created", JSON.stringify(ORDER), "--url", url, "--key", TEST_KEY]).code,
    0,
  );
  await dev.waitFor((l) => l.fn === "notify" && l.msg === "payment confirmed v2");
  writeFileSync(
    manifest,
    readFileSync(manifest, "utf8").replace("on: [payment.charge]", "on: [payment.charged]"),
  );
  await dev.waitFor(() => running() === 3);

  assert.equal(
    palisade(["send", "order.created", JSON.stringify({ ...ORDER, orderId: "o-2" }), "--app", dir]).code,
    0,
  );
  await dev.waitFor((l) => l.fn === "notify" && l.msg === "payment confirmed v2" && l.orderId === "o-2");
});

test("secrets set (from --value or stdin), list shows names only, rm removes; bad names are usage errors", (t) => {
  const dir = tempApp(t, {});
  assert.equal(palisade(["secrets", "set", "API_TOKEN", "--value", "s3cr3t-value", "--app", dir]).code, 0);
  const fromStdin = spawnSync(process.execPath, [BIN, "secrets", "set", "OTHER", "--app", dir], {
    input: "piped-value\n",
    encoding: "utf8",
  });
  assert.equal(fromStdin.status, 0, fromStdin.stderr);
  const list = palisade(["secrets", "list", "--app", dir, "--json"]);
  assert.deepEqual(JSON.parse(list.stdout), ["API_TOKEN", "OTHER"]);
  assert.doesNotMatch(list.stdout, /s3cr3t|piped/);
  const file = join(dir, ".palisade", "secrets.json");
  assert.equal(statSync(file).mode & 0o777, 0o600);
  assert.doesNotMatch(readFileSync(file, "utf8"), /piped-value|s3cr3t/, "values are sealed at rest");
  assert.equal(openAppSecrets(dir).get("OTHER"), "piped-value");
  assert.equal(palisade(["secrets", "rm", "OTHER", "--app", dir]).code, 0);
  assert.equal(palisade(["secrets", "rm", "OTHER", "--app", dir]).code, 1);
  const bad = palisade(["secrets", "set", "lower-case", "--value", "x", "--app", dir]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /Invalid secret name "lower-case"/);
});

test("send authenticates with --key, --principal, or the first principal allowed to publish the type", async (t) => {
  const dir = copyShop(t);
  const manifest = join(dir, "palisade.yaml");
  writeFileSync(
    manifest,
    readFileSync(manifest, "utf8").replace(
      "principals:\n",
      "principals:\n  auditor:\n    apiKey: { secret: AUDITOR_KEY }\n    publish: [payment.charged]\n",
    ),
  );
  assert.equal(
    palisade(["secrets", "set", "AUDITOR_KEY", "--value", "auditor-key-123456789", "--app", dir]).code,
    0,
  );
  const dev = await startDev(dir);
  t.after(() => stop(dev.child));
  const orderJson = JSON.stringify(ORDER);
  assert.equal(
    palisade(["send", "order.created", orderJson, "--app", dir]).code,
    0,
    "found storefront's key",
  );
  const asAuditor = palisade(["send", "order.created", orderJson, "--app", dir, "--principal", "auditor"]);
  assert.equal(asAuditor.code, 1);
  assert.match(asAuditor.stderr, /403 PAL_SECURITY_FORBIDDEN/);
  const wrongKey = palisade(["send", "order.created", orderJson, "--app", dir, "--key", "nope"]);
  assert.equal(wrongKey.code, 1);
  assert.match(wrongKey.stderr, /401 PAL_GATEWAY_UNAUTHENTICATED: Unknown API key/);
  const noSuch = palisade(["send", "order.created", orderJson, "--app", dir, "--principal", "ghost"]);
  assert.equal(noSuch.code, 2);
  assert.match(noSuch.stderr, /no principal "ghost"/);
});

test("dev generates a missing API key into the secret store without printing it", async (t) => {
  const dir = copyShop(t);
  assert.equal(palisade(["secrets", "rm", "STOREFRONT_KEY", "--app", dir]).code, 0);
  const dev = await startDev(dir);
  t.after(() => stop(dev.child));
  const generated = await dev.waitFor((l) => String(l.msg).startsWith("generated an API key"));
  assert.equal(generated.principal, "storefront");
  const key = openAppSecrets(dir).get("STOREFRONT_KEY") ?? "";
  assert.ok(key.length >= 40);
  assert.ok(!JSON.stringify(dev.lines).includes(key));
  assert.equal(palisade(["send", "order.created", JSON.stringify(ORDER), "--app", dir]).code, 0);

  // The dashboard's local admin too: named in the log with how to read it, never printed there.
  const admin = await dev.waitFor((l) => l.admin === "local");
  assert.match(String(admin.msg), /PALISADE_ADMIN_KEY.*palisade secrets get PALISADE_ADMIN_KEY/);
  const running = await dev.waitFor((l) => l.msg === "palisade is running");
  assert.equal(running.dashboard, `${dev.url}/ui/`);
  const adminKey = palisade([
    "secrets",
    "get",
    "PALISADE_ADMIN_KEY",
    "--reveal",
    "--to-pipe", // spawnSync reads stdout through a pipe: without it, --reveal refuses
    "--app",
    dir,
  ]).stdout.trim();
  assert.ok(adminKey.length >= 40);
  assert.ok(!JSON.stringify(dev.lines).includes(adminKey));
  const me = await fetch(`${dev.url}/admin/v1/whoami`, { headers: { authorization: `Bearer ${adminKey}` } });
  assert.deepEqual(await me.json(), { admin: "local", role: "admin", via: "credential", app: "shop" });
  assert.equal(palisade(["secrets", "get", "NOPE", "--app", dir]).code, 1);
});
