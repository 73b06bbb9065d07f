/**
 * Functions as an operator sees them: what the manifest grants next to what was used and refused
 * (the capability host's record of use), the bundle that runs and who signed it, the pool and
 * whether it is quarantined.
 */
import type { EgressRule, FunctionSpec } from "../manifest/index.ts";
import type { UsageRow } from "../security/index.ts";

/** One grant of a function and how often it was used. */
export interface GrantUse {
  kind: "emit" | "secret" | "egress" | "kv";
  grant: string;
  uses: number;
}

export interface FunctionPermissions {
  fn: string;
  granted: GrantUse[];
  /** Grants never used (candidates for removal). */
  unused: string[];
  /** Calls that were refused: what was asked, how often, and the last reason. */
  denied: { kind: string; target: string; count: number; reason: string | null }[];
}

/** The bundle a function runs, as verified at start. */
export interface BundleStatus {
  readonly sha256: string | null;
  /** Key ids of the DSSE signatures that verified it. */
  readonly keyids: readonly string[];
  /** Why it was refused (the function does not run). */
  readonly refused: string | null;
}

/** What the running platform knows of a function beyond the manifest. */
export interface FunctionRuntime {
  readonly bundle?: BundleStatus;
  /** Sandbox processes running now. */
  readonly processes?: number;
}

export interface FunctionStatus {
  readonly name: string;
  readonly on: readonly string[];
  readonly filter: unknown;
  readonly grants: {
    readonly emit: readonly string[];
    readonly secrets: readonly string[];
    readonly egress: readonly string[];
    readonly kv: Readonly<Record<string, string>>;
    readonly tmp: boolean;
    readonly allowCodeGeneration: boolean;
  };
  readonly limits: FunctionSpec["limits"];
  readonly retry: FunctionSpec["retry"];
  readonly recursion: FunctionSpec["recursion"] | null;
  readonly permissions: FunctionPermissions;
  readonly bundle: BundleStatus | null;
  readonly processes: number | null;
  /** When its quarantine began (ISO time), or null. */
  readonly quarantinedSince: string | null;
}

/** Every function's status, in manifest order. */
export function functionStatuses(
  functions: Iterable<FunctionSpec>,
  usage: readonly UsageRow[],
  runtime: (fn: string) => FunctionRuntime | undefined,
  quarantinedSince: (fn: string) => number | undefined,
): FunctionStatus[] {
  return [...functions].map((fn) => {
    const rt = runtime(fn.name);
    const since = quarantinedSince(fn.name);
    return {
      name: fn.name,
      on: fn.on,
      filter: fn.filter ?? null,
      grants: {
        emit: fn.emit,
        secrets: fn.secrets,
        egress: fn.egress.map((r) => r.entry),
        kv: fn.kv,
        tmp: fn.tmp,
        allowCodeGeneration: fn.allowCodeGeneration,
      },
      limits: fn.limits,
      retry: fn.retry,
      recursion: fn.recursion ?? null,
      permissions: permissionsOf(fn, usage),
      bundle: rt?.bundle ?? null,
      processes: rt?.processes ?? null,
      quarantinedSince: since === undefined ? null : new Date(since).toISOString(),
    };
  });
}

/** A function's grants next to its recorded use, its unused grants and refused calls. */
export function permissionsOf(fn: FunctionSpec, rows: readonly UsageRow[]): FunctionPermissions {
  const mine = rows.filter((r) => r.fn === fn.name);
  const uses = (kinds: readonly string[], target: string) =>
    mine
      .filter((r) => r.outcome === "used" && kinds.includes(r.kind) && r.target === target)
      .reduce((n, r) => n + r.count, 0);
  const granted: GrantUse[] = [
    ...fn.emit.map((t) => ({ kind: "emit" as const, grant: t, uses: uses(["emit"], t) })),
    ...fn.secrets.map((s) => ({ kind: "secret" as const, grant: s, uses: uses(["secret"], s) })),
    ...fn.egress.map((r) => ({
      kind: "egress" as const,
      grant: r.entry,
      uses: uses(["egress"], egressTarget(r)),
    })),
    ...Object.entries(fn.kv).map(([ns, mode]) => ({
      kind: "kv" as const,
      grant: `${ns} (${mode})`,
      uses: uses(["kv-read", "kv-write"], ns),
    })),
  ];
  return {
    fn: fn.name,
    granted,
    unused: granted.filter((g) => g.uses === 0).map((g) => `${g.kind} ${g.grant}`),
    denied: mine
      .filter((r) => r.outcome === "denied")
      .map((r) => ({ kind: r.kind, target: r.target, count: r.count, reason: r.lastReason })),
  };
}

/** The usage target an egress grant's calls are recorded under: `scheme://host:port`. */
export function egressTarget(rule: EgressRule): string {
  return `${rule.scheme}://${rule.ip && rule.host.includes(":") ? `[${rule.host}]` : rule.host}:${rule.port}`;
}
