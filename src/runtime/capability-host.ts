/**
 * The host side of every capability a sandbox asks for. Arguments come from untrusted code, so each
 * is checked for shape first; then the request is checked against the function's manifest grants
 * before anything happens. A request that is not granted is refused with a message naming the grant
 * that would allow it, and reported to `observer.denied`; an allowed one to `observer.used`.
 *
 * Granted calls are bounded too, per invocation (`functions.<name>.limits`): at most
 * `capabilityCalls` in flight (CAPABILITY_QUEUE more wait, the rest are refused), `emitsPerInvocation`
 * emits, `fetchBytes` of responses buffered at once, `kvValueBytes` per value and `kvNamespaceBytes`
 * per namespace. What a function stores or passes on (emit data, kv values) passes the ingress guards
 * (check-data.ts). A call over a limit is refused with RUNTIME_LIMIT_EXCEEDED and reported to
 * `observer.limited`.
 *
 * A granted call whose capability target is held (the `gate`'s answer: a detector's or an
 * operator's hold) is not made: it and every later call of the invocation are refused with the
 * gate's error, and the invocation ends not attempted (sandbox-pool.ts), so its delivery waits.
 */
import { egressDestination } from "../egress-destination.ts";
import { PalisadeError } from "../errors.ts";
import type { CloudEvent } from "../events/index.ts";
import type { FunctionSpec } from "../manifest/index.ts";
import { badCall, jsonBytes, kvKey, listOptions, shown } from "./capability-args.ts";
import { checkData } from "./check-data.ts";
import {
  RUNTIME_BAD_CALL,
  RUNTIME_DENIED,
  RUNTIME_HELD,
  RUNTIME_LIMIT_EXCEEDED,
  RUNTIME_OUTPUT_TOO_LARGE,
} from "./errors.ts";
import type { FetchResult } from "./guest/protocol.ts";
import {
  CAPABILITY_QUEUE,
  createInvocationBudget,
  type FetchBuffer,
  type InvocationBudget,
  type LimitName,
} from "./invocation-budget.ts";

/** The invocation a capability call belongs to. */
export interface Invocation {
  readonly fn: FunctionSpec;
  readonly event: CloudEvent;
  /** How many emits this invocation made before this one (gives emitted events stable ids). */
  emits: number;
  /**
   * Set once a call hit a held capability (the gate's answer): every later call is refused with it,
   * and the invocation ends as not attempted whatever the function does (its delivery waits).
   */
  held?: PalisadeError;
}

/**
 * Asked before a granted call is made: an error when the call's capability target is held (the
 * call waits with its delivery, see CapabilityHost), undefined when it may go ahead.
 */
export type CapabilityGateCheck = (
  inv: Invocation,
  kind: CapabilityUse,
  target: string,
) => PalisadeError | undefined;

/** The refusal a call to a held capability target gets: its attempt ends unattempted and waits. */
export function heldCallError(scope: string): PalisadeError {
  return new PalisadeError(
    RUNTIME_HELD,
    `Capability ${scope} is held: the call was not made and this delivery waits, pending, until palisade quarantine release capability:${scope} (or discard)`,
    { retryable: true, notAttempted: true },
  );
}

/** The key-value operations the host needs (kv/ implements them). */
export interface KvBackend {
  get(namespace: string, key: string): Promise<unknown>;
  /** Rejects with RUNTIME_LIMIT_EXCEEDED when the write would take the namespace over `maxNamespaceBytes`. */
  set(namespace: string, key: string, value: unknown, options: { maxNamespaceBytes: number }): Promise<void>;
  delete(namespace: string, key: string): Promise<boolean>;
  list(
    namespace: string,
    options: { prefix?: string; after?: string; limit: number },
  ): Promise<{ keys: string[]; next?: string }>;
}

/** What the platform does once a call is allowed. */
export interface CapabilityBackends {
  /** Validates and durably appends an event emitted by `inv`; resolves to its id. */
  emit(inv: Invocation, type: string, data: unknown): Promise<string>;
  /** The current value of a secret, or undefined when it is not set. */
  secret(name: string): string | undefined;
  kv: KvBackend;
  /**
   * Performs an egress request under the function's grants, reading the response into `buffer`;
   * rejects with RUNTIME_DENIED on policy and RUNTIME_LIMIT_EXCEEDED when the buffer is full.
   * `admit` is asked with each granted hop's destination before it is sent, and may throw.
   */
  fetch(
    fn: FunctionSpec,
    url: string,
    init: unknown,
    buffer: FetchBuffer,
    admit: (destination: string) => void,
  ): Promise<FetchResult>;
}

/** The kinds of capability use that are recorded. */
export type CapabilityUse = "emit" | "secret" | "egress" | "kv-read" | "kv-write";

export interface CapabilityObserver {
  /** A granted call; `bytes` is what an egress call received (its response body). */
  used(inv: Invocation, kind: CapabilityUse, target: string, bytes?: number): void;
  /**
   * A refused call. `grant` is false when it was refused for what it carried (data too deep or with
   * prototype keys, a header or method the platform controls), not for asking beyond its grants.
   */
  denied(
    inv: Invocation,
    kind: CapabilityUse | "unknown",
    target: string,
    reason: string,
    grant: boolean,
  ): void;
  /**
   * A granted call refused for going over one of the function's limits. `first` is true for the
   * first refusal of this limit in this invocation (audit and log that one; count them all).
   */
  limited(inv: Invocation, kind: CapabilityUse, limit: LimitName, reason: string, first: boolean): void;
}

export type CapabilityHost = (inv: Invocation, cap: string, args: readonly unknown[]) => Promise<unknown>;

/** Creates the capability host. */
export function createCapabilityHost(
  backends: CapabilityBackends,
  observer: CapabilityObserver,
  gate?: CapabilityGateCheck,
): CapabilityHost {
  const budgets = new WeakMap<Invocation, InvocationBudget>();
  const budgetOf = (inv: Invocation): InvocationBudget => {
    let budget = budgets.get(inv);
    if (budget === undefined) {
      budget = createInvocationBudget(inv.fn.limits);
      budgets.set(inv, budget);
    }
    return budget;
  };

  // What a refused call asked for goes to logs, usage.db and the audit log; the sandbox chose it, so
  // only something shaped like a name is repeated there (never a smuggled value or a secret).
  function deny(inv: Invocation, kind: CapabilityUse | "unknown", target: string, message: string): never {
    observer.denied(inv, kind, shown(target), message, true);
    throw new PalisadeError(RUNTIME_DENIED, message, { status: 403 });
  }
  function limit(inv: Invocation, kind: CapabilityUse, name: LimitName, message: string): never {
    observer.limited(inv, kind, name, message, budgetOf(inv).firstReport(name));
    throw new PalisadeError(RUNTIME_LIMIT_EXCEEDED, message, { status: 429 });
  }
  // Runs a granted call within the invocation's concurrency; a limit the backend hits is reported.
  async function perform<T>(inv: Invocation, kind: CapabilityUse, op: () => Promise<T>): Promise<T> {
    const scheduled = budgetOf(inv).schedule(op);
    if (scheduled === undefined)
      return limit(
        inv,
        kind,
        "capabilityCalls",
        `Function "${inv.fn.name}" has ${inv.fn.limits.capabilityCalls} capability calls in flight and ${CAPABILITY_QUEUE} waiting; await some first or raise ${limitField(inv, "capabilityCalls")}`,
      );
    try {
      return await scheduled;
    } catch (err) {
      const name = backendLimit(kind);
      if ((err as { code?: unknown }).code === RUNTIME_LIMIT_EXCEEDED && name !== undefined)
        observer.limited(inv, kind, name, (err as Error).message, budgetOf(inv).firstReport(name));
      throw err;
    }
  }
  const grant = (inv: Invocation, field: string) => `functions.${inv.fn.name}.${field} in palisade.yaml`;
  // A granted call to a held target is not made; neither is anything else this invocation asks.
  function admit(inv: Invocation, kind: CapabilityUse, target: string): void {
    const held = inv.held ?? gate?.(inv, kind, target);
    if (held === undefined) return;
    inv.held = held;
    throw held;
  }

  function kvNamespace(inv: Invocation, ns: unknown, write: boolean, call: string): string {
    const kind = write ? "kv-write" : "kv-read";
    if (typeof ns !== "string") throw badCall(`${call}: namespace must be a string`);
    const mode = Object.hasOwn(inv.fn.kv, ns) ? inv.fn.kv[ns] : undefined;
    if (mode === undefined)
      return deny(
        inv,
        kind,
        ns,
        `Function "${inv.fn.name}" may not use kv namespace "${shown(ns)}"; add it to ${grant(inv, "kv")}`,
      );
    if (write && mode !== "readwrite")
      return deny(
        inv,
        kind,
        ns,
        `Function "${inv.fn.name}" may only read kv namespace "${ns}"; set it to readwrite in ${grant(inv, "kv")}`,
      );
    admit(inv, kind, ns);
    observer.used(inv, kind, ns);
    return ns;
  }

  function emit(inv: Invocation, args: readonly unknown[]): Promise<unknown> {
    const [type, data] = args;
    if (typeof type !== "string") throw badCall("ctx.emit(type, data): type must be a string");
    if (!inv.fn.emit.includes(type))
      return deny(
        inv,
        "emit",
        type,
        `Function "${inv.fn.name}" may not emit "${shown(type)}"; add it to ${grant(inv, "emit")}`,
      );
    guardData(inv, "emit", type, data, `ctx.emit("${type}") data`);
    const size = jsonBytes(data, "ctx.emit data");
    if (size > inv.fn.limits.outputBytes)
      throw tooLarge(inv, `ctx.emit("${type}") data`, size, "outputBytes");
    if (!budgetOf(inv).takeEmit())
      return limit(
        inv,
        "emit",
        "emitsPerInvocation",
        `Function "${inv.fn.name}" made its ${inv.fn.limits.emitsPerInvocation} emits for this event; emit fewer or raise ${limitField(inv, "emitsPerInvocation")}`,
      );
    admit(inv, "emit", type);
    observer.used(inv, "emit", type);
    return perform(inv, "emit", () => backends.emit(inv, type, data));
  }

  // A prototype key or a too-deep value is refused like an ungranted call: it is an attack or a bug.
  function guardData(
    inv: Invocation,
    kind: CapabilityUse,
    target: string,
    data: unknown,
    what: string,
  ): void {
    try {
      checkData(data, what);
    } catch (err) {
      observer.denied(inv, kind, shown(target), (err as Error).message, false);
      throw err;
    }
  }

  function secret(inv: Invocation, args: readonly unknown[]): Promise<unknown> {
    const [name] = args;
    if (typeof name !== "string") throw badCall("ctx.secrets.get(name): name must be a string");
    if (!inv.fn.secrets.includes(name))
      return deny(
        inv,
        "secret",
        name,
        `Function "${inv.fn.name}" may not read secret "${shown(name)}"; add it to ${grant(inv, "secrets")}`,
      );
    admit(inv, "secret", name);
    const value = backends.secret(name);
    if (value === undefined)
      throw new PalisadeError(
        RUNTIME_BAD_CALL,
        `Secret "${name}" is not set; run: palisade secrets set ${name}`,
        {
          retryable: true,
        },
      );
    observer.used(inv, "secret", name);
    return Promise.resolve(value);
  }

  function fetch(inv: Invocation, args: readonly unknown[]): Promise<unknown> {
    const [url, init] = args;
    if (typeof url !== "string") throw badCall("ctx.fetch(url, init): url must be a string or URL");
    const target = egressDestination(url);
    return perform(inv, "egress", async () => {
      const buffer = budgetOf(inv).fetchBuffer();
      try {
        // Held targets are asked about once the grants allow a hop, before anything is sent.
        const held = (hop: string) => admit(inv, "egress", hop);
        const result = await backends.fetch(inv.fn, url, init, buffer, held);
        observer.used(inv, "egress", target, buffer.received());
        return result;
      } catch (err) {
        if ((err as { code?: unknown }).code === RUNTIME_DENIED) {
          const grant = (err as { details?: { grant?: unknown } }).details?.grant !== false;
          observer.denied(inv, "egress", target, (err as Error).message, grant);
        }
        throw err;
      } finally {
        buffer.release();
      }
    });
  }

  function kvSet(inv: Invocation, args: readonly unknown[]): Promise<unknown> {
    const ns = kvNamespace(inv, args[0], true, "ctx.kv.set(namespace, key, value)");
    const k = kvKey(args[1], "ctx.kv.set");
    guardData(inv, "kv-write", ns, args[2], "ctx.kv.set value");
    const size = jsonBytes(args[2], "ctx.kv.set value");
    if (size > inv.fn.limits.kvValueBytes) throw tooLarge(inv, "ctx.kv.set value", size, "kvValueBytes");
    const maxNamespaceBytes = inv.fn.limits.kvNamespaceBytes;
    return perform(inv, "kv-write", () => backends.kv.set(ns, k, args[2], { maxNamespaceBytes })).then(
      () => undefined,
    );
  }

  return async (inv, cap, args) => {
    if (inv.held !== undefined) throw inv.held;
    switch (cap) {
      case "emit":
        return emit(inv, args);
      case "secrets.get":
        return secret(inv, args);
      case "fetch":
        return fetch(inv, args);
      case "kv.get": {
        const ns = kvNamespace(inv, args[0], false, "ctx.kv.get(namespace, key)");
        const k = kvKey(args[1], "ctx.kv.get");
        return perform(inv, "kv-read", () => backends.kv.get(ns, k));
      }
      case "kv.set":
        return kvSet(inv, args);
      case "kv.delete": {
        const ns = kvNamespace(inv, args[0], true, "ctx.kv.delete(namespace, key)");
        const k = kvKey(args[1], "ctx.kv.delete");
        return perform(inv, "kv-write", () => backends.kv.delete(ns, k));
      }
      case "kv.list": {
        const ns = kvNamespace(inv, args[0], false, "ctx.kv.list(namespace, options)");
        const options = listOptions(args[1]);
        return perform(inv, "kv-read", () => backends.kv.list(ns, options));
      }
      default:
        return deny(
          inv,
          "unknown",
          cap,
          `Function "${inv.fn.name}" asked for unknown capability "${shown(cap)}"`,
        );
    }
  };
}

const limitField = (inv: Invocation, name: string) =>
  `functions.${inv.fn.name}.limits.${name} in palisade.yaml`;

/** The limit a backend enforces for a kind of call (the fetch buffer, the kv namespace quota). */
const backendLimit = (kind: CapabilityUse): LimitName | undefined =>
  kind === "egress" ? "fetchBytes" : kind === "kv-write" ? "kvNamespaceBytes" : undefined;

function tooLarge(
  inv: Invocation,
  what: string,
  size: number,
  name: "outputBytes" | "kvValueBytes",
): PalisadeError {
  return new PalisadeError(
    RUNTIME_OUTPUT_TOO_LARGE,
    `${what} is ${size} bytes, over the limit of ${inv.fn.limits[name]} (functions.${inv.fn.name}.limits.${name})`,
    { status: 413 },
  );
}
