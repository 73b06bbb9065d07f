/**
 * The key ring and secret store a NATS deployment shares, end to end with real processes: a secret
 * set with `palisade secrets set --nats` is what a gateway started with --nats authenticates with (the
 * app's own secrets.json holds another value), an event a gateway sealed opens on a worker (they
 * share data keys), and after `palisade keys rotate --nats` events still flow, sealed with the new key.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import { BIN, startDev, stop } from "./kit/cli-process.ts";
import { post, TEST_KEY } from "./kit/http.ts";
import { natsSkip, startNatsServer } from "./kit/nats-server.ts";
import { logged, scaleOutApp, setNatsSecret, startRole, until } from "./kit/scale-out.ts";

const LAZY = ["--accept-lazy-fsync"];

/** Runs `palisade <args>` to the end; its exit code and output. */
function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8" });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

interface KeyStatus {
  active: number;
  versions: { version: number; records: Record<string, number> }[];
}

test("secrets and data keys come from NATS: the gateway takes the key set with --nats, a worker opens what it sealed, rotation moves every node", {
  skip: natsSkip(),
}, async (t) => {
  const nats = await startNatsServer();
  t.after(() => nats.stop());
  const dir = scaleOutApp(t, 0); // its secrets.json holds TEST_KEY: not what the deployment uses
  const natsKey = "deployment-key-from-nats-0123456789";
  setNatsSecret(dir, nats.url, "TEST_KEY", natsKey);
  const listed = cli(["secrets", "list", "--app", dir, "--nats", nats.url]);
  assert.equal(listed.status, 0, listed.stderr);
  assert.equal(listed.stdout, "TEST_KEY\n");

  const gateway = await startRole(t, "gateway", dir, nats.url, LAZY, { seedSecret: false });
  const worker = await startRole(t, "worker", dir, nats.url, LAZY, { seedSecret: false });
  const send = (n: number, key: string) =>
    post(`${gateway.url}/events`, { type: "job.queued", data: { n } }, undefined, key);

  assert.equal((await send(0, TEST_KEY)).status, 401, "the app dir's key is not the deployment's");
  const accepted = await send(1, natsKey);
  assert.equal(accepted.status, 202, JSON.stringify(accepted.body));
  await until(
    () => logged([worker], "handled").includes(1),
    "the worker handled the event the gateway sealed",
  );

  const status = (): KeyStatus => {
    const r = cli(["keys", "status", "--json", "--app", dir, "--nats", nats.url]);
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout) as KeyStatus;
  };
  const before = status();
  assert.equal(before.active, 1);
  assert.ok((before.versions[0]?.records["events (NATS)"] ?? 0) > 0, JSON.stringify(before));

  const rotated = cli(["keys", "rotate", "--app", dir, "--nats", nats.url]);
  assert.equal(rotated.status, 0, rotated.stderr);
  assert.match(rotated.stdout, /data key version 2 is active for new writes/);
  // Every node moves to version 2 within moments: events sent now are sealed with it, and open.
  for (let n = 2; n < 6; n++) assert.equal((await send(n, natsKey)).status, 202);
  await until(
    () => [2, 3, 4, 5].every((n) => logged([worker], "handled").includes(n)),
    "events after the rotation handled",
  );
  const after = status();
  assert.equal(after.active, 2);
  const v2 = after.versions.find((v) => v.version === 2)?.records ?? {};
  assert.ok((v2["events (NATS)"] ?? 0) > 0, `new events are sealed with version 2: ${JSON.stringify(after)}`);
  assert.equal(v2["secrets (NATS)"], 1, "the secret store was re-sealed with version 2");

  // Version 1 still seals the events sent before the rotation (a stream is never rewritten).
  const retire = cli(["keys", "retire", "1", "--app", dir, "--nats", nats.url]);
  assert.equal(retire.status, 1, retire.stdout);
  assert.match(retire.stderr, /data key 1 still seals \d+ records in events \(NATS\)/);
});

test("dev --nats copies the app's API key to an empty deployment store, and leaves one already set alone", {
  skip: natsSkip(),
}, async (t) => {
  const nats = await startNatsServer();
  t.after(() => nats.stop());
  const dir = scaleOutApp(t, 0);
  const dev = await startDev(dir, "dev", ["--nats", nats.url, "--accept-lazy-fsync"]);
  t.after(() => stop(dev.child, "SIGKILL"));
  assert.equal((await post(`${dev.url}/events`, { type: "job.queued", data: { n: 1 } })).status, 202);
  await stop(dev.child, "SIGTERM");

  setNatsSecret(dir, nats.url, "TEST_KEY", "set-on-the-deployment-0123456789");
  const again = await startDev(dir, "dev", ["--nats", nats.url, "--accept-lazy-fsync"]);
  t.after(() => stop(again.child, "SIGKILL"));
  assert.equal((await post(`${again.url}/events`, { type: "job.queued", data: { n: 2 } })).status, 401);
  const ok = await post(
    `${again.url}/events`,
    { type: "job.queued", data: { n: 3 } },
    undefined,
    "set-on-the-deployment-0123456789",
  );
  assert.equal(ok.status, 202);
});

test("a worker starts without the ingress keys in the shared store; a gateway is refused, naming the key and the fix", {
  skip: natsSkip(),
}, async (t) => {
  const nats = await startNatsServer();
  t.after(() => nats.stop());
  const dir = scaleOutApp(t, 0);
  const worker = await startRole(t, "worker", dir, nats.url, LAZY, { seedSecret: false });
  assert.equal((await fetch(`${worker.url}/readyz`)).status, 200);
  const gateway = spawnSync(
    process.execPath,
    [BIN, "gateway", dir, "--port", "0", "--nats", nats.url, ...LAZY],
    { encoding: "utf8", timeout: 60_000 },
  );
  assert.equal(gateway.status, 2, gateway.stderr); // a missing secret is a configuration error
  assert.match(gateway.stderr, /Secret "TEST_KEY" is not set; run: palisade secrets set TEST_KEY .*--nats/);
});
