/**
 * The IPC floor of a warm invoke: a child process that answers each invocation at once, spoken to as
 * Palisade speaks to its sandboxes (frames of a 4-byte length and `v8.serialize(message)` on fd 3, an
 * empty environment, the bench event in an `invoke` message, a `done` back), started three ways: plain
 * `node`, with the sandbox's permission flags (`sandboxFlags`), and under bubblewrap (`bwrapArgs`) as
 * well when it works here. No runner, bundle, budget or message checks: what is left is the OS.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Duplex } from "node:stream";
import { deserialize, serialize } from "node:v8";
import { DEFAULT_LIMITS } from "../src/manifest/index.ts";
import { bwrapArgs, detectOsLayer, INVOKE_BATCH, sandboxFlags } from "../src/runtime/index.ts";
import { benchEvent } from "./invoke.ts";
import { type Summary, summarize } from "./stats.ts";

/** The child: answers every item of every `invoke` frame with a `done` frame. */
const ECHO = `import { Socket } from "node:net";
import v8 from "node:v8";
const channel = new Socket({ fd: 3, readable: true, writable: true });
const send = (msg) => {
  const body = v8.serialize(msg);
  const header = Buffer.alloc(4);
  header.writeUInt32BE(body.length, 0);
  channel.write(Buffer.concat([header, body]));
};
let held = Buffer.alloc(0);
channel.on("data", (chunk) => {
  held = held.length === 0 ? chunk : Buffer.concat([held, chunk]);
  while (held.length >= 4) {
    const size = held.readUInt32BE(0);
    if (held.length < 4 + size) return;
    const msg = v8.deserialize(held.subarray(4, 4 + size));
    held = held.subarray(4 + size);
    for (const item of msg.items) send({ t: "done", id: item.id, ok: true, value: undefined });
  }
});
channel.on("end", () => process.exit(0));
send({ t: "ready" });
`;

/** Writes the echo child's script into `dir` and returns its path. */
export function writeEchoScript(dir: string): string {
  const script = join(dir, "echo.mjs");
  writeFileSync(script, ECHO, { mode: 0o400 });
  return script;
}

export type IpcVariant = "node" | "permission" | "bwrap";

export interface IpcFloor {
  variant: IpcVariant;
  /** One invocation per frame, awaited before the next: host-measured round trip. */
  roundTrip: Summary;
  roundTripsPerSec: number;
  /** INVOKE_BATCH invocations per frame, a `done` frame for each (what a queued pool does). */
  pipelinedPerSec: number;
  /** This process's CPU per pipelined invocation, µs: the IPC share of the host's main thread. */
  pipelinedHostCpuUs: number;
  /** Spawn to the child's `ready` frame, `starts` times: the floor of a sandbox's cold start. */
  start: Summary;
}

export interface IpcConfig {
  roundTrips: number;
  warmup: number;
  /** Frames of INVOKE_BATCH invocations for the pipelined figure. */
  batches: number;
  /** Fresh children started (and stopped) for the start-up figure. */
  starts: number;
  timeoutMs: number;
}

function command(variant: IpcVariant, script: string): [string, string[]] {
  if (variant === "node") return [process.execPath, [script]];
  const node = [...sandboxFlags(script, { memoryMb: DEFAULT_LIMITS.memoryMb }), script];
  if (variant === "permission") return [process.execPath, node];
  return ["bwrap", [...bwrapArgs([script]), process.execPath, ...node]];
}

/** A started echo child: `next()` resolves with the next `done`/`ready` frame's message. */
export interface Echo {
  child: ChildProcess;
  send(msg: object): void;
  next(): Promise<unknown>;
  stop(): Promise<void>;
}

export function startEcho(variant: IpcVariant, script: string): Echo {
  const [cmd, args] = command(variant, script);
  const child = spawn(cmd, args, {
    env: {},
    stdio: ["ignore", "pipe", "pipe", "pipe"],
    detached: variant === "bwrap",
  });
  child.stdout?.resume();
  let stderr = "";
  child.stderr?.on("data", (c: Buffer) => {
    stderr = `${stderr}${c.toString()}`.slice(-2000);
  });
  const fd3 = child.stdio[3] as Duplex;
  const inbox: unknown[] = [];
  let waiter: { resolve: (m: unknown) => void; reject: (e: Error) => void } | undefined;
  let held: Buffer = Buffer.alloc(0);
  fd3.on("data", (chunk: Buffer) => {
    held = held.length === 0 ? chunk : Buffer.concat([held, chunk]);
    while (held.length >= 4) {
      const size = held.readUInt32BE(0);
      if (held.length < 4 + size) return;
      const msg = deserialize(held.subarray(4, 4 + size));
      held = held.subarray(4 + size);
      if (waiter === undefined) inbox.push(msg);
      else {
        const w = waiter;
        waiter = undefined;
        w.resolve(msg);
      }
    }
  });
  fd3.on("error", () => undefined);
  let gone: Error | undefined;
  const exited = new Promise<void>((resolve) => {
    const end = (why: string): void => {
      gone = new Error(`echo child (${variant}) ${why}: ${stderr.trim()}`);
      waiter?.reject(gone);
      resolve();
    };
    child.once("exit", (code, signal) => end(`exited (${code ?? signal})`));
    child.once("error", (err) => end(`could not start (${err.message})`));
  });
  const kill = (): void => {
    try {
      if (variant === "bwrap" && child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
      else child.kill("SIGKILL");
    } catch {
      // already gone
    }
  };
  return {
    child,
    send(msg) {
      const body = serialize(msg);
      const header = Buffer.alloc(4);
      header.writeUInt32BE(body.length, 0);
      fd3.write(Buffer.concat([header, body]));
    },
    next() {
      const queued = inbox.shift();
      if (queued !== undefined) return Promise.resolve(queued);
      if (gone !== undefined) return Promise.reject(gone);
      return new Promise((resolve, reject) => {
        waiter = { resolve, reject };
      });
    },
    async stop() {
      fd3.end();
      const timer = setTimeout(kill, 2000);
      await exited;
      clearTimeout(timer);
    },
  };
}

async function withDeadline<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Spawn → `ready` of `n` fresh children, one after another (ns samples). */
async function measureStarts(
  variant: IpcVariant,
  script: string,
  n: number,
  timeoutMs: number,
): Promise<Summary> {
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    const echo = startEcho(variant, script);
    try {
      await withDeadline(echo.next(), timeoutMs, `IPC floor (${variant}) start`);
      samples.push(Number(process.hrtime.bigint() - t0));
    } finally {
      await echo.stop();
    }
  }
  return summarize(samples);
}

async function measureVariant(variant: IpcVariant, script: string, cfg: IpcConfig): Promise<IpcFloor> {
  const start = await measureStarts(variant, script, cfg.starts, cfg.timeoutMs);
  const echo = startEcho(variant, script);
  try {
    return await withDeadline(
      (async () => {
        await echo.next(); // ready
        const events = Array.from({ length: INVOKE_BATCH }, (_, i) => benchEvent(i));
        const invoke = async (i: number): Promise<void> => {
          echo.send({ t: "invoke", items: [{ id: i, event: events[i % events.length], attempt: 1 }] });
          await echo.next();
        };
        for (let i = 0; i < cfg.warmup; i++) await invoke(i);
        const samples: number[] = [];
        const t0 = performance.now();
        for (let i = 0; i < cfg.roundTrips; i++) {
          const s = process.hrtime.bigint();
          await invoke(i);
          samples.push(Number(process.hrtime.bigint() - s));
        }
        const roundTripsPerSec = (cfg.roundTrips * 1000) / (performance.now() - t0);
        const items = events.map((event, id) => ({ id, event, attempt: 1 }));
        const t1 = performance.now();
        const cpu0 = process.cpuUsage();
        for (let b = 0; b < cfg.batches; b++) {
          echo.send({ t: "invoke", items });
          for (let i = 0; i < INVOKE_BATCH; i++) await echo.next();
        }
        const cpu = process.cpuUsage(cpu0);
        const count = cfg.batches * INVOKE_BATCH;
        return {
          variant,
          roundTrip: summarize(samples),
          roundTripsPerSec,
          pipelinedPerSec: (count * 1000) / (performance.now() - t1),
          pipelinedHostCpuUs: (cpu.user + cpu.system) / count,
          start,
        };
      })(),
      cfg.timeoutMs,
      `IPC floor (${variant})`,
    );
  } finally {
    await echo.stop();
  }
}

export interface IpcFloors {
  results: IpcFloor[];
  /** Variants that could not be measured, and why (the rest of the bench goes on). */
  failed: string[];
  /** Why the bubblewrap variant was not measured, when it was not. */
  bwrapSkipped?: string;
}

/** The echo round trip started each way this machine supports; `dir` holds the child's script. */
export async function measureIpc(dir: string, cfg: IpcConfig): Promise<IpcFloors> {
  const script = writeEchoScript(dir);
  const os = detectOsLayer();
  const variants: IpcVariant[] = os.active ? ["node", "permission", "bwrap"] : ["node", "permission"];
  const results: IpcFloor[] = [];
  const failed: string[] = [];
  for (const v of variants) {
    try {
      results.push(await measureVariant(v, script, cfg));
    } catch (err) {
      failed.push(err instanceof Error ? err.message : String(err));
    }
  }
  return { results, failed, ...(os.active ? {} : { bwrapSkipped: os.description }) };
}
