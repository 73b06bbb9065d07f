import { readFileSync } from "node:fs";
import { join } from "node:path";
import { compileFilter, MAX_HOP, matchesTypePattern, PLATFORM_EVENT_TYPES } from "../events/index.ts";
import { compileSchema, createAjv } from "../schema/index.ts";
import { appFile } from "./app-file.ts";
import {
  type AmplificationPolicy,
  type AppModel,
  type CostDriftPolicy,
  type CredentialStuffingPolicy,
  DEFAULT_DEDUPE_WINDOW_SEC,
  DEFAULT_DETECT,
  DEFAULT_LIMITS,
  DEFAULT_PRICES,
  DEFAULT_RETRY,
  type DeniedBurstPolicy,
  type EgressRule,
  type EventTypeSpec,
  type FunctionSpec,
  type IngressFloodPolicy,
  type KvMode,
  type NoveltyPolicy,
  type OutliersPolicy,
  type Prices,
  type TlsSpec,
  type Waiver,
} from "./app-model.ts";
import { parseEgressGrant } from "./egress-grant.ts";
import type { ManifestPath, Problem } from "./problem.ts";
import {
  type RawAdmin,
  type RawPrincipal,
  type RawSource,
  resolveAdmins,
  resolvePrincipals,
  resolveSources,
  resolveTls,
} from "./resolve-ingress.ts";
import { type RawSink, resolveSinks } from "./resolve-sinks.ts";
import { resolveWaivers } from "./resolve-waivers.ts";

/** Event types under this prefix are the platform's; an app may subscribe to them, not declare them. */
const PLATFORM_TYPE_PREFIX = "palisade.";

/** The manifest as validate-shape guarantees it. */
export interface RawManifest {
  name: string;
  events: Record<string, { schema: string }>;
  functions: Record<string, RawFunction>;
  principals?: Record<string, RawPrincipal>;
  sinks?: Record<string, RawSink>;
  admins?: Record<string, RawAdmin>;
  metrics?: { public?: boolean };
  sources?: RawSource[];
  tls?: { cert: string; key: string; clientCa?: string };
  dedupe?: { windowSec: number };
  hopLimit?: number;
  retention?: { days: number };
  waivers?: Waiver[];
  cost?: { prices?: Partial<Prices> };
  detect?: {
    amplification?: Partial<AmplificationPolicy>;
    deniedBurst?: Partial<DeniedBurstPolicy>;
    credentialStuffing?: Partial<CredentialStuffingPolicy>;
    ingressFlood?: Partial<IngressFloodPolicy>;
    novelty?: { learn?: Partial<NoveltyPolicy["learn"]>; response?: NoveltyPolicy["response"] };
    outliers?: Partial<OutliersPolicy>;
    costDrift?: Partial<CostDriftPolicy>;
  };
}

interface RawFunction {
  handler: string;
  on: string[];
  filter?: object;
  emit?: string[];
  secrets?: string[];
  egress?: string[];
  kv?: Record<string, KvMode>;
  tmp?: boolean;
  allowCodeGeneration?: boolean;
  limits?: Partial<FunctionSpec["limits"]>;
  retry?: Partial<FunctionSpec["retry"]>;
  recursion?: { maxDepth: number };
  requireVerified?: boolean;
}

/**
 * Resolves a shape-valid manifest into the app model: reads and compiles every event schema, checks
 * every referenced file stays inside the app directory and every referenced event type is declared.
 */
export function resolveApp(
  raw: RawManifest,
  dir: string,
  manifestPath: string,
  problems: Problem[],
): AppModel {
  const events = new Map<string, EventTypeSpec>();
  const ajv = createAjv();
  for (const [type, spec] of Object.entries(raw.events)) {
    checkNotPlatformType(type, problems);
    const at = ["events", type, "schema"];
    const schemaPath = appFile(dir, spec.schema, at, problems);
    if (schemaPath === undefined) continue;
    const schema = readSchema(schemaPath, spec.schema, at, problems);
    if (schema === undefined) continue;
    try {
      compileSchema(ajv, schema);
      events.set(type, { type, schemaPath, schema });
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      problems.push({
        path: at,
        message: `"${spec.schema}" is not a valid JSON Schema (draft 2020-12, or draft-07 by its $schema): ${reason}`,
      });
    }
  }

  const declared = Object.keys(raw.events);
  const functions = new Map<string, FunctionSpec>();
  for (const [name, fn] of Object.entries(raw.functions)) {
    const handlerPath = appFile(dir, fn.handler, ["functions", name, "handler"], problems);
    // Functions may also subscribe to the platform's own events (palisade.security.*).
    checkTypes(fn.on, ["functions", name, "on"], declared, problems, [...PLATFORM_EVENT_TYPES.keys()]);
    checkFilter(fn.filter, ["functions", name, "filter"], problems);
    checkTypes(fn.emit ?? [], ["functions", name, "emit"], declared, problems);
    checkEgress(fn.egress ?? [], ["functions", name, "egress"], problems);
    checkLimits(fn.limits, ["functions", name, "limits"], problems);
    if (handlerPath === undefined) continue;
    functions.set(name, {
      name,
      handlerPath,
      on: Object.freeze([...fn.on]),
      emit: Object.freeze([...(fn.emit ?? [])]),
      secrets: Object.freeze([...(fn.secrets ?? [])]),
      egress: Object.freeze(egressRules(fn.egress ?? [])),
      kv: Object.freeze({ ...fn.kv }),
      tmp: fn.tmp ?? false,
      allowCodeGeneration: fn.allowCodeGeneration ?? false,
      ...(fn.filter === undefined ? {} : { filter: Object.freeze(structuredClone(fn.filter)) }),
      limits: Object.freeze({ ...DEFAULT_LIMITS, ...fn.limits }),
      retry: Object.freeze({ ...DEFAULT_RETRY, ...fn.retry }),
      ...(fn.recursion === undefined
        ? {}
        : { recursion: Object.freeze({ maxDepth: fn.recursion.maxDepth }) }),
      ...(fn.requireVerified === true ? { requireVerified: true as const } : {}),
    });
  }

  const principals = resolvePrincipals(
    raw.principals ?? {},
    dir,
    declared,
    raw.tls?.clientCa !== undefined,
    problems,
  );
  return Object.freeze({
    name: raw.name,
    dir,
    manifestPath,
    dataDir: join(dir, ".palisade"),
    events,
    functions,
    principals,
    sinks: resolveSinks(raw.sinks, [...declared, ...PLATFORM_EVENT_TYPES.keys()], problems),
    admins: resolveAdmins(raw.admins, principals, dir, raw.tls?.clientCa !== undefined, problems),
    metricsPublic: raw.metrics?.public ?? false,
    sources: resolveSources(raw.sources, declared, problems),
    dedupeWindowSec: dedupeWindow(raw, problems),
    hopLimit: raw.hopLimit ?? MAX_HOP,
    retentionDays: retention(raw, problems),
    waivers: resolveWaivers(raw.waivers ?? [], problems),
    detect: {
      amplification: { ...DEFAULT_DETECT.amplification, ...raw.detect?.amplification },
      deniedBurst: { ...DEFAULT_DETECT.deniedBurst, ...raw.detect?.deniedBurst },
      credentialStuffing: { ...DEFAULT_DETECT.credentialStuffing, ...raw.detect?.credentialStuffing },
      ingressFlood: { ...DEFAULT_DETECT.ingressFlood, ...raw.detect?.ingressFlood },
      novelty: {
        ...DEFAULT_DETECT.novelty,
        ...raw.detect?.novelty,
        learn: { ...DEFAULT_DETECT.novelty.learn, ...raw.detect?.novelty?.learn },
      },
      outliers: { ...DEFAULT_DETECT.outliers, ...raw.detect?.outliers },
      costDrift: { ...DEFAULT_DETECT.costDrift, ...raw.detect?.costDrift },
    },
    prices: Object.freeze({ ...DEFAULT_PRICES, ...raw.cost?.prices }),
    ...tlsOf(raw, dir, problems),
  });
}

function egressRules(entries: readonly string[]): EgressRule[] {
  return entries.flatMap((e) => {
    const rule = parseEgressGrant(e);
    return typeof rule === "string" ? [] : [rule];
  });
}

function checkEgress(entries: readonly string[], at: ManifestPath, problems: Problem[]): void {
  entries.forEach((entry, i) => {
    const rule = parseEgressGrant(entry);
    if (typeof rule === "string") problems.push({ path: [...at, i], message: rule });
  });
}

function checkLimits(
  limits: Partial<FunctionSpec["limits"]> | undefined,
  at: ManifestPath,
  problems: Problem[],
): void {
  const concurrency = limits?.concurrency ?? DEFAULT_LIMITS.concurrency;
  const min = limits?.minInstances ?? Math.min(DEFAULT_LIMITS.minInstances, concurrency);
  if (min > concurrency)
    problems.push({
      path: [...at, "minInstances"],
      message: `must not exceed concurrency (${concurrency}); lower minInstances or raise concurrency`,
    });
}

function checkTypes(
  types: string[],
  at: ManifestPath,
  declared: string[],
  problems: Problem[],
  /** Subscriptions (`on`): `prefix.*` patterns and these platform types are allowed too. */
  subscribable?: readonly string[],
): void {
  types.forEach((type, i) => {
    if (
      subscribable
        ? [...declared, ...subscribable].some((d) => matchesTypePattern(type, d))
        : declared.includes(type)
    ) {
      return;
    }
    problems.push({
      path: [...at, i],
      message: `unknown event type "${type}"; declared types are: ${declared.join(", ")}`,
    });
  });
}

function checkNotPlatformType(type: string, problems: Problem[]): void {
  if (!type.startsWith(PLATFORM_TYPE_PREFIX)) return;
  problems.push({
    path: ["events", type],
    message: `"${PLATFORM_TYPE_PREFIX}*" types are the platform's own (subscribe to them in functions.<name>.on); rename this type`,
  });
}

function checkFilter(filter: object | undefined, at: ManifestPath, problems: Problem[]): void {
  if (filter === undefined) return;
  const compiled = compileFilter(filter);
  if (!Array.isArray(compiled)) return;
  for (const p of compiled) problems.push({ path: [...at, ...p.path], message: p.message });
}

function readSchema(file: string, shown: string, at: ManifestPath, problems: Problem[]): object | undefined {
  try {
    const schema: unknown = JSON.parse(readFileSync(file, "utf8"));
    if (typeof schema === "object" && schema !== null && !Array.isArray(schema)) return schema;
    problems.push({ path: at, message: `"${shown}" must contain a JSON object (a JSON Schema)` });
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    problems.push({ path: at, message: `"${shown}" is not valid JSON: ${reason}` });
  }
  return undefined;
}

// Replays of a webhook are caught by its id while its timestamp is still accepted, so the duplicate
// window must be at least as long as every webhook's tolerance.
function dedupeWindow(raw: RawManifest, problems: Problem[]): number {
  const windowSec = raw.dedupe?.windowSec ?? DEFAULT_DEDUPE_WINDOW_SEC;
  for (const [i, source] of (raw.sources ?? []).entries()) {
    if (!("webhook" in source) || (source.webhook.toleranceSec ?? 300) <= windowSec) continue;
    problems.push({
      path: ["dedupe", "windowSec"],
      message: `${windowSec} s is shorter than sources[${i}].webhook.toleranceSec; replays could slip through, make it at least ${source.webhook.toleranceSec ?? 300}`,
    });
  }
  return windowSec;
}

// Duplicates are recognised by looking up earlier events, so they must still be in the log.
function retention(raw: RawManifest, problems: Problem[]): number {
  const days = raw.retention?.days ?? 7;
  const windowSec = raw.dedupe?.windowSec ?? DEFAULT_DEDUPE_WINDOW_SEC;
  if (days * 86400 < windowSec) {
    problems.push({
      path: ["retention", "days"],
      message: `${days} days is shorter than dedupe.windowSec (${windowSec} s); keep events at least that long`,
    });
  }
  return days;
}

function tlsOf(raw: RawManifest, dir: string, problems: Problem[]): { tls?: TlsSpec } {
  const tls = resolveTls(raw.tls, dir, problems);
  return tls === undefined ? {} : { tls };
}
