/**
 * The host side of every capability a sandbox asks for. Arguments come from untrusted code, so each
 * is checked for shape first; then the request is checked against the function's manifest grants
 * before anything happens. A request that is not granted is refused with a message naming the grant
 * that would allow it, and reported to `observer.denied`; an allowed one to `observer.used`.
 */
import { PalisadeError } from "../errors.ts";
import type { CloudEvent } from "../events/index.ts";
import type { FunctionSpec } from "../manifest/index.ts";
import type { FetchResult } from "./egress.ts";
import { RUNTIME_BAD_CALL, RUNTIME_DENIED, RUNTIME_OUTPUT_TOO_LARGE } from "./errors.ts";

/** The invocation a capability call belongs to. */
export interface Invocation {
  readonly fn: FunctionSpec;
  readonly event: CloudEvent;
  /** How many emits this invocation made before this one (gives emitted events stable ids). */
  emits: number;
}

/** The key-value operations the host needs (kv/ implements them). */
export interface KvBackend {
  get(namespace: string, key: string): Promise<unknown>;
  set(namespace: string, key: string, value: unknown): Promise<void>;
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
  /** Performs an egress request under the function's grants; rejects with RUNTIME_DENIED on policy. */
  fetch(fn: FunctionSpec, url: string, init: unknown): Promise<FetchResult>;
}

/** The kinds of capability use that are recorded. */
export type CapabilityUse = "emit" | "secret" | "egress" | "kv-read" | "kv-write";

export interface CapabilityObserver {
  used(inv: Invocation, kind: CapabilityUse, target: string): void;
  denied(inv: Invocation, kind: CapabilityUse | "unknown", target: string, reason: string): void;
}

export type CapabilityHost = (inv: Invocation, cap: string, args: readonly unknown[]) => Promise<unknown>;

const MAX_KEY_BYTES = 512;
const MAX_VALUE_BYTES = 256 * 1024;
const MAX_LIST = 1000;

/** Creates the capability host. */
export function createCapabilityHost(
  backends: CapabilityBackends,
  observer: CapabilityObserver,
): CapabilityHost {
  // What a refused call asked for goes to logs, usage.db and the audit log; the sandbox chose it, so
  // only something shaped like a name is repeated there (never a smuggled value or a secret).
  function deny(inv: Invocation, kind: CapabilityUse | "unknown", target: string, message: string): never {
    observer.denied(inv, kind, shown(target), message);
    throw new PalisadeError(RUNTIME_DENIED, message, { status: 403 });
  }
  const grant = (inv: Invocation, field: string) => `functions.${inv.fn.name}.${field} in palisade.yaml`;

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
    observer.used(inv, kind, ns);
    return ns;
  }

  return async (inv, cap, args) => {
    switch (cap) {
      case "emit": {
        const [type, data] = args;
        if (typeof type !== "string") throw badCall("ctx.emit(type, data): type must be a string");
        if (!inv.fn.emit.includes(type))
          return deny(
            inv,
            "emit",
            type,
            `Function "${inv.fn.name}" may not emit "${shown(type)}"; add it to ${grant(inv, "emit")}`,
          );
        const size = jsonBytes(data, "ctx.emit data");
        if (size > inv.fn.limits.outputBytes) throw tooLarge(inv, `ctx.emit("${type}") data`, size);
        observer.used(inv, "emit", type);
        return backends.emit(inv, type, data);
      }
      case "secrets.get": {
        const [name] = args;
        if (typeof name !== "string") throw badCall("ctx.secrets.get(name): name must be a string");
        if (!inv.fn.secrets.includes(name))
          return deny(
            inv,
            "secret",
            name,
            `Function "${inv.fn.name}" may not read secret "${shown(name)}"; add it to ${grant(inv, "secrets")}`,
          );
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
        return value;
      }
      case "fetch": {
        const [url, init] = args;
        if (typeof url !== "string") throw badCall("ctx.fetch(url, init): url must be a string or URL");
        const target = destination(url);
        try {
          const result = await backends.fetch(inv.fn, url, init);
          observer.used(inv, "egress", target);
          return result;
        } catch (err) {
          if (err instanceof PalisadeError && err.code === RUNTIME_DENIED)
            observer.denied(inv, "egress", target, err.message);
          throw err;
        }
      }
      case "kv.get": {
        const ns = kvNamespace(inv, args[0], false, "ctx.kv.get(namespace, key)");
        return backends.kv.get(ns, key(args[1], "ctx.kv.get"));
      }
      case "kv.set": {
        const ns = kvNamespace(inv, args[0], true, "ctx.kv.set(namespace, key, value)");
        const k = key(args[1], "ctx.kv.set");
        const size = jsonBytes(args[2], "ctx.kv.set value");
        if (size > MAX_VALUE_BYTES) throw tooLarge(inv, "ctx.kv.set value", size, MAX_VALUE_BYTES);
        await backends.kv.set(ns, k, args[2]);
        return undefined;
      }
      case "kv.delete": {
        const ns = kvNamespace(inv, args[0], true, "ctx.kv.delete(namespace, key)");
        return backends.kv.delete(ns, key(args[1], "ctx.kv.delete"));
      }
      case "kv.list": {
        const ns = kvNamespace(inv, args[0], false, "ctx.kv.list(namespace, options)");
        return backends.kv.list(ns, listOptions(args[1]));
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

const NAME_SHAPE = /^[A-Za-z0-9._:/[\]@-]{1,128}$/;

/** A name the sandbox sent, as logged: itself if it looks like a name, else a placeholder. */
function shown(name: unknown): string {
  return typeof name === "string" && NAME_SHAPE.test(name) ? name : "(not a valid name)";
}

function badCall(message: string): PalisadeError {
  return new PalisadeError(RUNTIME_BAD_CALL, message, { status: 400 });
}

function tooLarge(
  inv: Invocation,
  what: string,
  size: number,
  limit = inv.fn.limits.outputBytes,
): PalisadeError {
  return new PalisadeError(
    RUNTIME_OUTPUT_TOO_LARGE,
    `${what} is ${size} bytes, over the limit of ${limit}` +
      (limit === inv.fn.limits.outputBytes ? ` (functions.${inv.fn.name}.limits.outputBytes)` : ""),
    { status: 413 },
  );
}

/** Size of `value` as JSON in UTF-8 bytes; values JSON cannot carry are a bad call. */
export function jsonBytes(value: unknown, what: string): number {
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch (err) {
    throw badCall(`${what} must be JSON-serializable: ${err instanceof Error ? err.message : String(err)}`);
  }
  return json === undefined ? 0 : Buffer.byteLength(json);
}

function key(k: unknown, call: string): string {
  if (typeof k !== "string" || k.length === 0) throw badCall(`${call}: key must be a non-empty string`);
  if (Buffer.byteLength(k) > MAX_KEY_BYTES)
    throw badCall(`${call}: key is longer than ${MAX_KEY_BYTES} bytes`);
  return k;
}

function listOptions(raw: unknown): { prefix?: string; after?: string; limit: number } {
  const o = (raw ?? {}) as Record<string, unknown>;
  if (typeof o !== "object") throw badCall("ctx.kv.list(namespace, options): options must be an object");
  const limit = o.limit === undefined ? 100 : o.limit;
  if (typeof limit !== "number" || !Number.isInteger(limit) || limit < 1 || limit > MAX_LIST)
    throw badCall(`ctx.kv.list: limit must be an integer from 1 to ${MAX_LIST}`);
  for (const field of ["prefix", "after"] as const) {
    if (o[field] !== undefined && typeof o[field] !== "string")
      throw badCall(`ctx.kv.list: ${field} must be a string`);
  }
  return {
    limit,
    ...(typeof o.prefix === "string" ? { prefix: o.prefix } : {}),
    ...(typeof o.after === "string" ? { after: o.after } : {}),
  };
}

/** `scheme://host:port` of a URL as recorded in usage; the raw text (cut short) if it does not parse. */
function destination(url: string): string {
  try {
    const u = new URL(url);
    const port = u.port || (u.protocol === "http:" ? "80" : u.protocol === "https:" ? "443" : "");
    return `${u.protocol}//${u.hostname}:${port}`;
  } catch {
    return url.slice(0, 200);
  }
}
