/**
 * The host side of every capability a sandbox asks for. Each request is checked against the
 * function's manifest grants before anything happens; a request that is not granted is refused
 * with a message naming the grant that would allow it, and reported to `onDenied`.
 */
import { PalisadeError } from "../errors.ts";
import type { CloudEvent } from "../events/index.ts";
import type { FunctionSpec } from "../manifest/index.ts";
import { RUNTIME_DENIED } from "./errors.ts";

/** The invocation a capability call belongs to. */
export interface Invocation {
  readonly fn: FunctionSpec;
  readonly event: CloudEvent;
  /** How many emits this invocation made before this one (gives emitted events stable ids). */
  emits: number;
}

/** What the platform does once a call is allowed. */
export interface CapabilityBackends {
  /** Validates and durably appends an event emitted by `inv`; resolves to its id. */
  emit(inv: Invocation, type: string, data: unknown): Promise<string>;
}

export type CapabilityHost = (inv: Invocation, cap: string, args: readonly unknown[]) => Promise<unknown>;

/** Creates the capability host; `onDenied` observes every refusal (logs now, audit trail later). */
export function createCapabilityHost(
  backends: CapabilityBackends,
  onDenied: (inv: Invocation, cap: string, reason: string) => void,
): CapabilityHost {
  function deny(inv: Invocation, cap: string, message: string): never {
    onDenied(inv, cap, message);
    throw new PalisadeError(RUNTIME_DENIED, message, { status: 403 });
  }

  return async (inv, cap, args) => {
    switch (cap) {
      case "emit": {
        const [type, data] = args;
        if (typeof type !== "string") return deny(inv, cap, "ctx.emit(type, data): type must be a string");
        if (!inv.fn.emit.includes(type)) {
          return deny(
            inv,
            cap,
            `Function "${inv.fn.name}" may not emit "${type}"; add it to functions.${inv.fn.name}.emit in palisade.yaml`,
          );
        }
        return backends.emit(inv, type, data);
      }
      default:
        return deny(inv, cap, `Function "${inv.fn.name}" asked for unknown capability "${cap}"`);
    }
  };
}
