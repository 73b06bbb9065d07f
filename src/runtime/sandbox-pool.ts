import { PalisadeError, toPalisadeError } from "../errors.ts";
import type { CloudEvent } from "../events/index.ts";
import type { FunctionSpec } from "../manifest/index.ts";
import type { CapabilityHost, Invocation } from "./capability-host.ts";
import { RUNTIME_CLOSED, RUNTIME_TIMEOUT } from "./errors.ts";
import type { LogLevel, SandboxMessage } from "./protocol.ts";
import { type SandboxProcess, startSandboxProcess } from "./sandbox-process.ts";

/** Where a function's log lines and raw output go, labelled by the host (never by the sandbox). */
export type FunctionLog = (
  fn: string,
  eventId: string | undefined,
  level: LogLevel,
  message: string,
  fields: Record<string, unknown>,
) => void;

export interface SandboxPoolOptions {
  fn: FunctionSpec;
  bundlePath: string;
  capabilities: CapabilityHost;
  log: FunctionLog;
}

export interface SandboxPool {
  /** Starts every process and waits until each has loaded the bundle. */
  start(): Promise<void>;
  /** Runs one invocation; rejects on a thrown error, a timeout or a crash. */
  invoke(event: CloudEvent, attempt: number): Promise<void>;
  close(): Promise<void>;
}

interface Slot {
  proc: SandboxProcess;
  loaded: boolean;
  current?: Running | undefined;
}

interface Running {
  id: number;
  inv: Invocation;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * A pool of warm sandbox processes for one function, `limits.concurrency` of them, each serving one
 * invocation at a time. A process that times out is killed and replaced; one that dies is replaced.
 */
export function createSandboxPool(options: SandboxPoolOptions): SandboxPool {
  const { fn } = options;
  const slots: Slot[] = [];
  const idle: Slot[] = [];
  /** Invocations waiting for a slot; woken to look again when a slot frees up or goes away. */
  const waiters: (() => void)[] = [];
  let nextId = 1;
  let closed = false;

  function spawnSlot(): Slot {
    const slot = { loaded: false } as Slot;
    slots.push(slot);
    slot.proc = startSandboxProcess({
      functionName: fn.name,
      bundlePath: options.bundlePath,
      memoryMb: fn.limits.memoryMb,
      onMessage: (msg) => onMessage(slot, msg),
      onOutput: (stream, line) =>
        options.log(fn.name, slot.current?.inv.event.id, stream === "stderr" ? "warn" : "info", line, {
          stream,
        }),
      onExit: (reason) => replace(slot, reason),
    });
    slot.proc.ready.then(
      () => {
        slot.loaded = true;
      },
      () => undefined, // reported to whoever awaits `ready`; the exit handler removes the slot
    );
    return slot;
  }

  function onMessage(slot: Slot, msg: SandboxMessage): void {
    const run = slot.current;
    // A message for an invocation that is not the current one is stale or forged: ignore it.
    if (run === undefined || !("id" in msg) || msg.id !== run.id) return;
    if (msg.t === "log") {
      options.log(fn.name, run.inv.event.id, msg.level, msg.message, msg.fields);
    } else if (msg.t === "call") {
      options.capabilities(run.inv, msg.cap, msg.args).then(
        (value) => slot.proc.send({ t: "reply", call: msg.call, ok: true, value }),
        (err: unknown) =>
          slot.proc.send({ t: "reply", call: msg.call, ok: false, error: toPalisadeError(err).toJSON() }),
      );
    } else if (msg.t === "done") {
      slot.current = undefined;
      if (msg.ok) run.resolve();
      else run.reject(new PalisadeError(msg.error.code, msg.error.message, { retryable: true }));
      release(slot);
    }
  }

  function replace(slot: Slot, reason: PalisadeError): void {
    const run = slot.current;
    slot.current = undefined;
    run?.reject(reason);
    const i = slots.indexOf(slot);
    if (i >= 0) slots.splice(i, 1);
    const j = idle.indexOf(slot);
    if (j >= 0) idle.splice(j, 1);
    // Keep the pool warm after a crash or timeout, but never respawn in a loop a bundle that
    // cannot load: such a slot is only started again on demand, by the next invocation.
    if (closed || !slot.loaded) {
      waiters.shift()?.(); // a waiter may now start a slot of its own (and see the load error)
      return;
    }
    const fresh = spawnSlot();
    fresh.proc.ready.then(
      () => release(fresh),
      () => undefined,
    );
  }

  function release(slot: Slot): void {
    if (closed || !slots.includes(slot)) return;
    idle.push(slot);
    waiters.shift()?.();
  }

  async function acquire(): Promise<Slot> {
    for (;;) {
      if (closed)
        throw new PalisadeError(RUNTIME_CLOSED, `Cannot invoke "${fn.name}": the runtime is closing`);
      const slot = idle.pop();
      if (slot) return slot;
      if (slots.length < fn.limits.concurrency) {
        const fresh = spawnSlot();
        await fresh.proc.ready;
        return fresh;
      }
      await new Promise<void>((wake) => waiters.push(wake));
    }
  }

  return {
    async start() {
      for (let i = 0; i < fn.limits.concurrency; i++) spawnSlot();
      await Promise.all(slots.map((s) => s.proc.ready));
      for (const s of slots) release(s);
    },
    async invoke(event, attempt) {
      const slot = await acquire();
      const id = nextId++;
      const done = new Promise<void>((resolve, reject) => {
        slot.current = { id, inv: { fn, event, emits: 0 }, resolve, reject };
      });
      const timer = setTimeout(() => {
        const timeout = new PalisadeError(
          RUNTIME_TIMEOUT,
          `Function "${fn.name}" timed out after ${fn.limits.timeoutMs} ms on event "${event.id}"`,
          { retryable: true },
        );
        slot.current?.reject(timeout);
        slot.current = undefined;
        slot.proc.kill(); // exit handler replaces the process
      }, fn.limits.timeoutMs);
      slot.proc.send({ t: "invoke", id, event, attempt });
      try {
        await done;
      } finally {
        clearTimeout(timer);
      }
    },
    async close() {
      closed = true;
      for (const wake of waiters.splice(0)) wake();
      for (const s of slots) {
        s.current?.reject(
          new PalisadeError(RUNTIME_CLOSED, `Function "${fn.name}" was stopped`, { retryable: true }),
        );
        s.proc.kill();
      }
    },
  };
}
