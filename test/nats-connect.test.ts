/**
 * Connecting to NATS against real nats-server processes: unreachable seeds, user/password, nkey and
 * TLS, a seed list whose first server is down, servers without JetStream, what the server says of
 * itself, and the durability a role is started with (sync policy read from /varz).
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { nkeys } from "@nats-io/transport-node";
import {
  connectNats,
  NATS_AUTH,
  NATS_CREDS_INVALID,
  NATS_MONITOR,
  NATS_NO_JETSTREAM,
  NATS_NOT_DURABLE,
  NATS_REPLICAS_INVALID,
  NATS_TLS,
  NATS_UNREACHABLE,
  NATS_URL_INVALID,
  type NatsFlags,
  natsOptionsFrom,
  openNatsDeployment,
} from "../src/bus/index.ts";
import { exitCodeFor } from "../src/cli/exit-code.ts";
import { makeCertificates } from "./kit/certs.ts";
import { captureLogs } from "./kit/log-capture.ts";
import { makeOperator } from "./kit/nats-creds.ts";
import {
  freePort,
  type NatsServer,
  type NatsServerOptions,
  natsServerBinary,
  natsServerVersion,
  natsSkip,
  startNatsServer,
} from "./kit/nats-server.ts";

const skip = natsSkip();
const dir = mkdtempSync(join(tmpdir(), "palisade-nats-connect-"));
const servers: NatsServer[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  rmSync(dir, { recursive: true, force: true });
});

async function server(options: NatsServerOptions = {}): Promise<NatsServer> {
  const s = await startNatsServer(options);
  servers.push(s);
  return s;
}

function options(flags: NatsFlags) {
  const o = natsOptionsFrom(flags, {});
  assert.ok(o !== undefined);
  return o;
}

function config(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

/** The PalisadeError `promise` rejects with, checked for its code. */
async function rejection(promise: Promise<unknown>, code: string): Promise<Error> {
  const err = await promise.then(
    () => assert.fail(`expected ${code}`),
    (e: unknown) => e as Error & { code?: string },
  );
  assert.equal((err as { code?: string }).code, code, err.message);
  return err;
}

describe("connecting to NATS", { skip }, () => {
  test("an unreachable server fails at start naming the URL without its password, and the fix; exit 1", async () => {
    const port = await freePort();
    const err = await rejection(
      connectNats(options({ nats: `nats://alice:s3cret@127.0.0.1:${port}` })),
      NATS_UNREACHABLE,
    );
    assert.equal(
      err.message,
      `Cannot reach NATS at nats://alice:***@127.0.0.1:${port} (connection refused): start nats-server with JetStream (nats-server -js) or pass --nats <url>`,
    );
    assert.ok(!JSON.stringify(err).includes("s3cret"));
    assert.equal(exitCodeFor(NATS_UNREACHABLE), 1);
    assert.equal(exitCodeFor(NATS_URL_INVALID), 2);
    assert.equal(exitCodeFor(NATS_CREDS_INVALID), 2);
  });

  test("a seed list whose first servers are down still connects", async () => {
    const live = await server();
    const [dead1, dead2] = [await freePort(), await freePort()];
    // The client shuffles its seeds; three rounds make trying a dead one first all but certain.
    for (let i = 0; i < 3; i++) {
      const link = await connectNats(
        options({ nats: `nats://127.0.0.1:${dead1},127.0.0.1:${dead2},${live.url}` }),
      );
      assert.equal(link.nc.getServer(), `127.0.0.1:${live.port}`);
      await link.close();
    }
  });

  test("user and password from the URL; a wrong password is refused; logs never hold the password", async () => {
    const s = await server({ args: ["--user", "alice", "--pass", "s3cret"] });
    const good = `nats://alice:s3cret@127.0.0.1:${s.port}`;
    const { logger, lines, waitFor } = captureLogs();
    const link = await connectNats(options({ nats: good }), { logger });
    await link.nc.flush();
    // Lost and back: the connection logs both, and reconnects with the same credentials.
    await s.restart();
    await waitFor((l) => l.msg === "NATS connection restored", 20_000);
    assert.ok(lines.some((l) => l.msg === "NATS connection lost; reconnecting"));
    await link.nc.flush();
    await link.close();
    assert.ok(!JSON.stringify(lines).includes("s3cret"));
    const err = await rejection(
      connectNats(options({ nats: `nats://alice:wrong@127.0.0.1:${s.port}` })),
      NATS_AUTH,
    );
    assert.match(err.message, /refused the credentials/);
    assert.ok(!err.message.includes("wrong"));
    await rejection(connectNats(options({ nats: s.url })), NATS_AUTH);
  });

  test("an nkey seed file authenticates against a server that trusts its public key", async () => {
    const user = nkeys.createUser();
    const other = nkeys.createUser();
    const conf = config("nkey.conf", `authorization { users = [ { nkey: "${user.getPublicKey()}" } ] }\n`);
    const s = await server({ args: ["-c", conf] });
    const seedFile = config("user.nk", `${new TextDecoder().decode(user.getSeed())}\n`);
    const link = await connectNats(options({ nats: s.url, natsCreds: seedFile }));
    assert.equal(link.version, natsServerVersion(natsServerBinary() as string).join("."));
    await link.close();
    const otherFile = config("other.nk", `${new TextDecoder().decode(other.getSeed())}\n`);
    await rejection(connectNats(options({ nats: s.url, natsCreds: otherFile })), NATS_AUTH);
  });

  test("a .creds file (user JWT + nkey) authenticates against an operator-mode server", async () => {
    const trusted = makeOperator(mkdtempSync(join(dir, "op-")));
    const stranger = makeOperator(mkdtempSync(join(dir, "op-")));
    const s = await server({ args: ["-c", trusted.config] });
    const link = await connectNats(
      options({ nats: s.url, natsCreds: trusted.writeCreds(join(dir, "u.creds")) }),
    );
    await link.nc.flush();
    await link.close();
    // A user of an account this operator never signed is refused.
    const other = stranger.writeCreds(join(dir, "stranger.creds"));
    await rejection(connectNats(options({ nats: s.url, natsCreds: other })), NATS_AUTH);
  });

  test("TLS with --nats-ca connects; without the CA the certificate is refused with the fix", async () => {
    const certs = join(dir, "certs");
    mkdirSync(certs);
    makeCertificates(certs);
    const s = await server({
      args: ["--tls", "--tlscert", join(certs, "server.crt"), "--tlskey", join(certs, "server.key")],
    });
    const tlsUrl = `tls://127.0.0.1:${s.port}`;
    const link = await connectNats(options({ nats: tlsUrl, natsCa: join(certs, "ca.crt") }));
    assert.ok(link.nc.info?.tls_required);
    await link.close();
    const err = await rejection(connectNats(options({ nats: tlsUrl })), NATS_TLS);
    assert.match(err.message, /--nats-ca/);
    // A nats:// URL to a server that requires TLS upgrades, and still needs the CA.
    await rejection(connectNats(options({ nats: s.url })), NATS_TLS);
  });

  test("closing while the server is away returns (a shutdown never waits for NATS)", async () => {
    const s = await server();
    const link = await connectNats(options({ nats: s.url }));
    await s.kill();
    await link.close();
    assert.ok(link.nc.isClosed());
  });

  test("a server without JetStream is refused with the fix", async () => {
    const s = await server({ jetstream: false });
    const err = await rejection(connectNats(options({ nats: s.url })), NATS_NO_JETSTREAM);
    assert.match(err.message, /-js/);
  });

  test("a lone server: its version, no cluster, 1 replica by default, more refused", async () => {
    const s = await server();
    const link = await connectNats(options({ nats: s.url }));
    assert.equal(link.version, natsServerVersion(natsServerBinary() as string).join("."));
    assert.equal(link.cluster, undefined);
    assert.equal(link.clusterSize, 1);
    await link.close();
    const dev = await openNatsDeployment(options({ nats: s.url }), { mode: "dev" });
    assert.equal(dev.replicas, 1);
    assert.equal(dev.durability.safe, false);
    assert.match(dev.statement, new RegExp(`NATS JetStream at ${s.url}: R1`));
    assert.equal(dev.warnings.length, 1);
    await dev.link.close();
    await rejection(
      openNatsDeployment(options({ nats: s.url, replicas: 3 }), { mode: "dev" }),
      NATS_REPLICAS_INVALID,
    );
  });

  test("start and worker refuse a lone lazily synced server unless --accept-lazy-fsync", async () => {
    const s = await server();
    for (const mode of ["start", "worker"] as const) {
      const err = await rejection(openNatsDeployment(options({ nats: s.url }), { mode }), NATS_NOT_DURABLE);
      assert.match(err.message, /--accept-lazy-fsync/);
    }
    const accepted = await openNatsDeployment(options({ nats: s.url, acceptLazyFsync: true }), {
      mode: "start",
    });
    assert.match(accepted.warnings[0] ?? "", /Accepted with --accept-lazy-fsync/);
    await accepted.link.close();
  });

  test("--nats-monitor reads the sync policy from /varz, and refuses another server's endpoint", async () => {
    const s = await server({ monitor: true });
    const other = await server({ monitor: true });
    const dep = await openNatsDeployment(options({ nats: s.url, natsMonitor: s.monitorUrl as string }), {
      mode: "dev",
    });
    const [major, minor] = natsServerVersion(natsServerBinary() as string);
    // 2.10 reports its timer (2 minutes by default); 2.9 cannot sync every write and reports nothing.
    assert.match(dep.durability.summary, major === 2 && minor < 10 ? /on a timer/ : /every 2m0s/);
    await dep.link.close();
    const err = await rejection(
      openNatsDeployment(options({ nats: s.url, natsMonitor: other.monitorUrl as string }), { mode: "dev" }),
      NATS_MONITOR,
    );
    assert.match(err.message, /belongs to server/);
    const down = `http://u:s3cret@127.0.0.1:${await freePort()}`;
    const unreachable = await rejection(
      openNatsDeployment(options({ nats: s.url, natsMonitor: down }), { mode: "dev" }),
      NATS_MONITOR,
    );
    assert.ok(!unreachable.message.includes("s3cret"));
  });

  test("a server that syncs every write is safe at R1: start runs without --accept-lazy-fsync", {
    skip: natsSkip([2, 10]),
  }, async () => {
    const conf = config("sync.conf", "jetstream { sync_interval: always }\n");
    const s = await server({ monitor: true, args: ["-c", conf] });
    const dep = await openNatsDeployment(options({ nats: s.url, natsMonitor: s.monitorUrl as string }), {
      mode: "start",
    });
    assert.equal(dep.durability.safe, true);
    assert.match(dep.durability.summary, /syncs every write/);
    assert.deepEqual(dep.warnings, []);
    await dep.link.close();
  });
});
