/**
 * What happens, as one typed stream. The data path, the capability host, the gateway and the
 * dispatcher emit signals; metrics, the audit log, the log, the usage store and the detectors
 * subscribe to the kinds they need. An emitter never knows who listens, and a listener that throws
 * is reported, not allowed to break the emitter or the other listeners.
 */

/** A capability kind as the capability host names it ("unknown" for a name it does not know). */
export type CapabilityKind = "emit" | "secret" | "egress" | "kv-read" | "kv-write" | "unknown";

/** Who a finding is about, and so what a response holds: the narrowest scope that covers it. */
export interface Scope {
  /**
   * A function (by name), a client address (as the gateway saw it), a chain's root
   * (`<principal>/<id>` of the event from outside it descends from), a principal, or one capability
   * target of a function (`<function>/<capability>:<target>`).
   */
  readonly kind: "function" | "address" | "root" | "principal" | "capability";
  readonly name: string;
}

/** What a detector concluded, with what it saw and what was done about it. */
export interface Finding {
  /** The detector's name, e.g. `denied-burst`. */
  readonly detector: string;
  readonly scope: Scope;
  readonly severity: "low" | "medium" | "high";
  /** One sentence a person can act on. */
  readonly summary: string;
  /** What the detector saw (counts, windows, targets, event ids): never secret values. */
  readonly evidence: Readonly<Record<string, unknown>>;
  /**
   * What the platform did: `alert` only; `quarantine` (a function's work is held, never dropped);
   * `block` (a client address is refused with 429 for a while); `hold` (a root's further work is
   * held, never dropped; for a capability scope, the calls to that target and their deliveries);
   * `throttle` (a principal's rate limit, or a function's start rate, is lowered for a while).
   */
  readonly response: "alert" | "quarantine" | "block" | "hold" | "throttle";
  /** When it was found (epoch ms). */
  readonly at: number;
}

/** What an attempt used, by cost item (each in nano-dollars). */
export interface CostParts {
  readonly request: number;
  readonly compute: number;
  readonly egress: number;
  readonly payload: number;
  readonly capabilityCalls: number;
}

/** Where an event is in its chain: its hop and the root it descends from. */
export interface ChainEvent {
  readonly id: string;
  readonly type: string;
  readonly principal: string;
  readonly hop: number;
  readonly rootid?: string;
  readonly rootprincipal?: string;
}

export type Signal =
  | {
      /** A request whose events were stored. */
      readonly kind: "ingress.accepted";
      readonly principal: string;
      readonly ip: string;
      readonly route: string;
      readonly events: number;
      /** The events' ids and types, in request order (the admin stream shows them live). */
      readonly ids?: readonly string[];
      readonly types?: readonly string[];
    }
  | {
      readonly kind: "ingress.rejected";
      readonly principal?: string;
      readonly ip: string;
      /** The route's pattern; absent for a request that matched none. */
      readonly route?: string;
      readonly reason: string;
      readonly code: string;
      readonly status: number;
    }
  | {
      /** A granted capability call that was allowed. */
      readonly kind: "capability.used";
      readonly fn: string;
      readonly capability: Exclude<CapabilityKind, "unknown">;
      readonly target: string;
      readonly eventId: string;
      /** For egress: the response bytes received. */
      readonly bytes?: number;
    }
  | {
      /** A capability call its grants do not allow (or a capability that does not exist). */
      readonly kind: "capability.denied";
      readonly fn: string;
      readonly capability: CapabilityKind;
      readonly target: string;
      readonly reason: string;
      readonly eventId: string;
      /** Who sent the event the invocation runs for. */
      readonly principal: string;
      /**
       * True when the call asked beyond the function's grants; false when it was refused for what
       * it carried (data too deep, a header the platform controls), which an event's data can cause.
       */
      readonly grant: boolean;
    }
  | {
      /** A granted call refused for going over one of the function's limits. */
      readonly kind: "capability.limited";
      readonly fn: string;
      readonly capability: Exclude<CapabilityKind, "unknown">;
      readonly limit: string;
      readonly reason: string;
      readonly eventId: string;
      /** The first refusal of this limit in this invocation (the one worth a record). */
      readonly first: boolean;
    }
  | {
      /** An attempt starts (1 for the first; retries are not new work of its chain). */
      readonly kind: "invocation.started";
      readonly fn: string;
      readonly event: ChainEvent;
      readonly attempt: number;
      /** The serialized size of the event's data it is given. */
      readonly payloadBytes: number;
    }
  | {
      /** An attempt that started was given back unattempted (its function was held meanwhile). */
      readonly kind: "invocation.returned";
      readonly fn: string;
      readonly eventId: string;
    }
  | {
      /** A function's emit was stored. */
      readonly kind: "event.emitted";
      readonly fn: string;
      readonly event: ChainEvent;
    }
  | {
      /** An attempt (or a refusal without one) recorded in the log. */
      readonly kind: "invocation.settled";
      readonly fn: string;
      readonly eventId: string;
      readonly type: string;
      /** 1 for the first attempt. */
      readonly attempt: number;
      readonly outcome: "delivered" | "retry" | "failed";
      /** Dead-letter reason, for `failed`. */
      readonly reason?: string;
      readonly error?: string;
      /** When a retry is due (epoch ms), for `retry`. */
      readonly retryAt?: number;
      /** For an attempt that ran: the principal whose event started its chain (who pays for it). */
      readonly principal?: string;
      /** For an attempt that ran: its wall time in the sandbox, ms. */
      readonly durationMs?: number;
      /** For an attempt that ran: the serialized size of the event's data it was given. */
      readonly payloadBytes?: number;
    }
  | {
      /**
       * What one attempt cost by the app's cost model (`cost.prices`), in nano-dollars (1e-9 US$),
       * with its parts; emitted once the attempt settled.
       */
      readonly kind: "invocation.cost";
      readonly fn: string;
      readonly eventId: string;
      /** The principal whose event from outside started the chain (who pays for it). */
      readonly principal: string;
      readonly nanoUsd: number;
      readonly parts: CostParts;
    }
  | {
      /** A function's due deliveries started waiting: rate limit, daily budget or quarantine. */
      readonly kind: "delivery.held";
      readonly fn: string;
      readonly hold: "budget" | "rate_limit" | "throttle" | "quarantine";
    }
  | { readonly kind: "finding"; readonly finding: Finding }
  | {
      /** A line a function logged (ctx.log, stdout, stderr), as the runtime bounded and redacted it. */
      readonly kind: "function.log";
      readonly fn: string;
      readonly level: "debug" | "info" | "warn" | "error";
      readonly message: string;
      /** The event its invocation ran for, and that event's type; absent for a line between invocations. */
      readonly eventId?: string;
      readonly type?: string;
    };

export type SignalKind = Signal["kind"];
export type SignalOf<K extends SignalKind> = Extract<Signal, { kind: K }>;

export interface Signals {
  emit(signal: Signal): void;
  /** Calls `listener` with every signal of `kind`, in emit order; returns how to stop. */
  on<K extends SignalKind>(kind: K, listener: (signal: SignalOf<K>) => void): () => void;
}

/** Creates a stream; `onListenerError` hears about a listener that threw (it stays subscribed). */
export function createSignals(onListenerError: (err: unknown, kind: SignalKind) => void): Signals {
  const listeners = new Map<SignalKind, Set<(signal: Signal) => void>>();
  return {
    emit(signal) {
      const set = listeners.get(signal.kind);
      if (set === undefined) return;
      for (const listener of set) {
        try {
          listener(signal);
        } catch (err) {
          onListenerError(err, signal.kind);
        }
      }
    },
    on(kind, listener) {
      const set = listeners.get(kind) ?? new Set();
      listeners.set(kind, set);
      const l = listener as (signal: Signal) => void;
      set.add(l);
      return () => set.delete(l);
    },
  };
}
