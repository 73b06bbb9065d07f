/**
 * Real nats-server processes for tests: each on free loopback ports with its own store directory,
 * so tests never share state (nor the machine's server on 4222). `PALISADE_NATS_SERVER` names the
 * binary (CI points it at nats-server >= 2.10 for cluster tests); else `nats-server` on the PATH.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server, connect as tcpConnect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before } from "node:test";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";

/** The nats-server binary tests run: `PALISADE_NATS_SERVER`, else the system one. */
export function natsServerBinary(): string | undefined {
  const fromEnv = process.env.PALISADE_NATS_SERVER;
  if (fromEnv !== undefined && fromEnv !== "") return existsSync(fromEnv) ? fromEnv : undefined;
  for (const dir of (process.env.PATH ?? "").split(":").concat(["/usr/sbin", "/usr/bin"])) {
    const candidate = join(dir, "nats-server");
    if (dir !== "" && existsSync(candidate)) return candidate;
  }
  return undefined;
}

/** The version of `binary` as [major, minor, patch]. */
export function natsServerVersion(binary: string): [number, number, number] {
  const out = execFileSync(binary, ["--version"], { encoding: "utf8" });
  const m = /v?(\d+)\.(\d+)\.(\d+)/.exec(out);
  if (m === null) throw new Error(`cannot read the version of ${binary}: ${out}`);
  return [Number(m[1]), Number(m[2]), Number(m[3])];
}

/**
 * Why NATS tests cannot run here, or undefined when they can: a skip reason, never a silent skip.
 * CI sets PALISADE_REQUIRE_NATS=1 (.ci/run), and then a missing or too old nats-server throws, so the
 * run fails instead of skipping.
 */
export function natsSkip(minimum: [number, number] = [2, 9]): string | undefined {
  const reason = natsMissing(minimum);
  if (reason !== undefined && process.env.PALISADE_REQUIRE_NATS === "1")
    throw new Error(`NATS tests must run here (PALISADE_REQUIRE_NATS=1) but cannot: ${reason}`);
  return reason;
}

/** The same as `natsSkip` (kept for the tests that call it by this name): throws under CI too. */
export function natsUnavailable(minimum: [number, number] = [2, 9]): string | undefined {
  return natsSkip(minimum);
}

function natsMissing(minimum: [number, number]): string | undefined {
  const binary = natsServerBinary();
  if (binary === undefined) {
    const named = process.env.PALISADE_NATS_SERVER;
    return named !== undefined && named !== ""
      ? `PALISADE_NATS_SERVER names ${named}, which does not exist`
      : "nats-server is not installed (set PALISADE_NATS_SERVER or install it)";
  }
  const [major, minor] = natsServerVersion(binary);
  if (major < minimum[0] || (major === minimum[0] && minor < minimum[1]))
    return `${binary} is ${major}.${minor}; this test needs nats-server >= ${minimum.join(".")} (set PALISADE_NATS_SERVER, see .ci/run)`;
  return undefined;
}

/** A free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const address = srv.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export interface NatsServer {
  readonly url: string;
  readonly port: number;
  readonly storeDir: string;
  /** The monitoring endpoint (`http://127.0.0.1:<port>`) when started with `monitor`. */
  readonly monitorUrl: string | undefined;
  readonly process: ChildProcess;
  /**
   * SIGKILL: no goodbye, as a crashed machine. Its ports stay held (a listener that drops every
   * connection) until restart or stop, so a server another test starts meanwhile cannot take them
   * and be reached by this test's clients reconnecting to the dead node's URL.
   */
  kill(): Promise<void>;
  /** Starts the same server again (same ports, same store). */
  restart(): Promise<void>;
  /** Stops it and removes its store. */
  stop(): Promise<void>;
}

export interface NatsServerOptions {
  /** Extra command-line arguments (e.g. `--user`, `--pass`, TLS flags). */
  args?: readonly string[];
  port?: number;
  storeDir?: string;
  /** Server name (clusters need distinct ones). */
  name?: string;
  /** Serve the monitoring endpoint (/varz, /jsz) on a free loopback port. */
  monitor?: boolean;
  /** Run JetStream. @default true */
  jetstream?: boolean;
  /** More ports of this server (a cluster's route port) to hold while it is killed. */
  holdPorts?: readonly number[];
}

/**
 * One nats-server for the tests of the enclosing `describe`: started before them, stopped (and its
 * store removed) after them. Its `url` is there once the suite's tests run.
 */
export function suiteNatsServer(): { readonly url: string } {
  let server: NatsServer | undefined;
  before(async () => {
    server = await startNatsServer();
  });
  after(() => server?.stop());
  return {
    get url() {
      if (server === undefined)
        throw new Error("the suite's nats-server is not started (use it inside a test)");
      return server.url;
    },
  };
}

/** Starts one nats-server with JetStream on a free loopback port and waits until it accepts. */
export async function startNatsServer(options: NatsServerOptions = {}): Promise<NatsServer> {
  const binary = natsServerBinary();
  if (binary === undefined) throw new Error("nats-server is not installed");
  const port = options.port ?? (await freePort());
  const storeDir = options.storeDir ?? mkdtempSync(join(tmpdir(), "palisade-nats-"));
  const monitorPort = options.monitor === true ? await freePort() : undefined;
  const args = [
    "-a",
    "127.0.0.1",
    "-p",
    String(port),
    ...(options.jetstream === false ? [] : ["-js", "-sd", storeDir]),
    ...(options.name === undefined ? [] : ["-n", options.name]),
    ...(monitorPort === undefined ? [] : ["-m", String(monitorPort)]),
    ...(options.args ?? []),
  ];
  let child = await launch(binary, args, port);
  const held = portHolder([
    port,
    ...(monitorPort === undefined ? [] : [monitorPort]),
    ...(options.holdPorts ?? []),
  ]);
  const server: NatsServer = {
    url: `nats://127.0.0.1:${port}`,
    port,
    storeDir,
    monitorUrl: monitorPort === undefined ? undefined : `http://127.0.0.1:${monitorPort}`,
    get process() {
      return child;
    },
    async kill() {
      await stopProcess(child, "SIGKILL");
      await held.hold();
    },
    async restart() {
      await stopProcess(child, "SIGKILL");
      await held.release();
      child = await launch(binary, args, port);
    },
    async stop() {
      await stopProcess(child, "SIGTERM");
      await held.release();
      if (options.storeDir === undefined) rmSync(storeDir, { recursive: true, force: true });
    },
  };
  return server;
}

/** Holds `ports` on 127.0.0.1 with listeners that drop every connection, while a server is down. */
function portHolder(ports: readonly number[]): { hold(): Promise<void>; release(): Promise<void> } {
  let listeners: Server[] = [];
  return {
    async hold() {
      listeners = await Promise.all(
        ports.map(
          (port) =>
            new Promise<Server>((resolve, reject) => {
              const srv = createServer((socket) => socket.destroy());
              srv.once("error", reject);
              srv.listen(port, "127.0.0.1", () => resolve(srv));
            }),
        ),
      );
    },
    async release() {
      await Promise.all(listeners.map((srv) => new Promise<void>((resolve) => srv.close(() => resolve()))));
      listeners = [];
    },
  };
}

async function launch(binary: string, args: string[], port: number): Promise<ChildProcess> {
  const child = spawn(binary, args, { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`nats-server exited (${child.exitCode}): ${stderr}`);
    if (await accepts(port)) return child;
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill("SIGKILL");
  throw new Error(`nats-server did not listen on ${port} within 15 s: ${stderr}`);
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tcpConnect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

async function stopProcess(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill(signal);
  await exited;
}

/** A JetStream cluster of nats-server processes on loopback, each with its own store. */
export interface NatsCluster {
  /** The cluster's name (`cluster_name`), as clients see it in INFO. */
  readonly name: string;
  readonly servers: readonly NatsServer[];
  /** Server names, by index (`n0`, `n1`, …). */
  readonly serverNames: readonly string[];
  /** Every node's client URL, comma-separated: a seed list for `--nats`. */
  readonly urls: string;
  /** SIGKILL one node (as a crashed machine); its store stays. */
  kill(index: number): Promise<void>;
  /** Starts a killed node again on the same ports and store; it rejoins through its routes. */
  restart(index: number): Promise<void>;
  /** Stops every node and removes the stores. */
  stop(): Promise<void>;
}

/**
 * Starts `size` nats-server processes with JetStream on free loopback client and cluster ports, each
 * with its own store directory and server name, routed to each other under one cluster name, and
 * waits until JetStream has a meta leader (an R`size` stream can be created). Needs nats-server
 * >= 2.10 (`natsSkip([2, 10])` gives the skip reason).
 */
export async function startNatsCluster(size = 3, options: { monitor?: boolean } = {}): Promise<NatsCluster> {
  // nats-server 2.10.27 sometimes bootstraps its JetStream meta group without one of the servers
  // (seen here in about 1 start in 10: /jsz meta_cluster.cluster_size 2, the third server routed but
  // never added, so no R3 stream can be placed: "no suitable peers for placement"). Such a cluster
  // does not heal; a fresh one (new ports, new stores) is started instead, at most 3 times.
  let last: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await startClusterOnce(size, options);
    } catch (err) {
      last = err;
    }
  }
  throw last;
}

async function startClusterOnce(size: number, options: { monitor?: boolean }): Promise<NatsCluster> {
  const name = `palisade-test-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const clientPorts: number[] = [];
  const routePorts: number[] = [];
  for (let i = 0; i < size; i++) {
    clientPorts.push(await freePort());
    routePorts.push(await freePort());
  }
  const serverNames = clientPorts.map((_, i) => `n${i}`);
  const routes = (i: number) =>
    routePorts
      .filter((_, j) => j !== i)
      .map((p) => `nats-route://127.0.0.1:${p}`)
      .join(",");
  const started = await Promise.allSettled(
    clientPorts.map((port, i) =>
      startNatsServer({
        port,
        name: serverNames[i] as string,
        ...(options.monitor === true ? { monitor: true } : {}),
        holdPorts: [routePorts[i] as number],
        args: [
          "--cluster_name",
          name,
          "--cluster",
          `nats://127.0.0.1:${routePorts[i]}`,
          "--routes",
          routes(i),
        ],
      }),
    ),
  );
  const servers = started.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
  const failed = started.find((r) => r.status === "rejected");
  const stop = async () => {
    await Promise.all(servers.map((s) => s.stop()));
  };
  if (failed !== undefined) {
    await stop();
    throw (failed as PromiseRejectedResult).reason;
  }
  const at = (index: number): NatsServer => {
    const server = servers[index];
    if (server === undefined) throw new Error(`the cluster has no node ${index} (size ${size})`);
    return server;
  };
  const cluster: NatsCluster = {
    name,
    servers,
    serverNames,
    urls: servers.map((s) => s.url).join(","),
    kill: (index) => at(index).kill(),
    restart: (index) => at(index).restart(),
    stop,
  };
  try {
    await waitForJetStream(cluster.urls, size);
  } catch (err) {
    await stop();
    throw err;
  }
  return cluster;
}

/** Waits until the cluster can place a stream on `replicas` peers: it has a meta leader and every peer. */
async function waitForJetStream(urls: string, replicas: number): Promise<void> {
  const nc = await connect({ servers: urls.split(","), maxReconnectAttempts: -1, reconnectTimeWait: 250 });
  const probe = `KIT_READY_${process.pid}_${Date.now()}`;
  let last: unknown;
  try {
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      try {
        const jsm = await jetstreamManager(nc, { timeout: 2_000 });
        await jsm.streams.add({ name: probe, subjects: [`kit.ready.${probe}`], num_replicas: replicas });
        await jsm.streams.delete(probe);
        return;
      } catch (err) {
        last = err;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
    throw new Error(
      `the NATS cluster at ${urls} cannot place an R${replicas} stream after 15 s: ${String(last)}`,
    );
  } finally {
    await nc.close();
  }
}
