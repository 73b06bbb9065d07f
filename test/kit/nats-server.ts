/**
 * Real nats-server processes for tests: each on free loopback ports with its own store directory,
 * so tests never share state (nor the machine's server on 4222). `PALISADE_NATS_SERVER` names the
 * binary (CI points it at nats-server >= 2.10 for cluster tests); else `nats-server` on the PATH.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer, connect as tcpConnect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

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

/** Why NATS tests cannot run here, or undefined when they can (a skip reason, never a silent skip). */
export function natsUnavailable(minimum: [number, number] = [2, 9]): string | undefined {
  const binary = natsServerBinary();
  if (binary === undefined) return "nats-server is not installed (set PALISADE_NATS_SERVER or install it)";
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
  readonly process: ChildProcess;
  /** SIGKILL: no goodbye, as a crashed machine. */
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
}

/** Starts one nats-server with JetStream on a free loopback port and waits until it accepts. */
export async function startNatsServer(options: NatsServerOptions = {}): Promise<NatsServer> {
  const binary = natsServerBinary();
  if (binary === undefined) throw new Error("nats-server is not installed");
  const port = options.port ?? (await freePort());
  const storeDir = options.storeDir ?? mkdtempSync(join(tmpdir(), "palisade-nats-"));
  const args = [
    "-a",
    "127.0.0.1",
    "-p",
    String(port),
    "-js",
    "-sd",
    storeDir,
    ...(options.name === undefined ? [] : ["-n", options.name]),
    ...(options.args ?? []),
  ];
  let child = await launch(binary, args, port);
  const server: NatsServer = {
    url: `nats://127.0.0.1:${port}`,
    port,
    storeDir,
    get process() {
      return child;
    },
    async kill() {
      await stopProcess(child, "SIGKILL");
    },
    async restart() {
      await stopProcess(child, "SIGKILL");
      child = await launch(binary, args, port);
    },
    async stop() {
      await stopProcess(child, "SIGTERM");
      if (options.storeDir === undefined) rmSync(storeDir, { recursive: true, force: true });
    },
  };
  return server;
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
