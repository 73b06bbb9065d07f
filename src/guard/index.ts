/**
 * Guardrails as code (DESIGN §9): `palisade check` runs rules with stable ids (PAL001…, listed in
 * rule-catalogue.ts) over the app model, its schemas, its function sources and its lockfile, applies
 * the manifest's waivers and reports as text, JSON or SARIF; `checkGate` is what `start` and `build`
 * call before they go on. `palisade threats` builds the event-flow graph (sources, event types,
 * functions and sinks) and reports STRIDE-classified threats with their paths, drawn as Mermaid or
 * DOT. Searches of the graph follow events as routing delivers them: only a principal with signing
 * keys reaches a function with requireVerified (graph-search.ts), and threats that only signed
 * events can cause are one severity step lower (threats/signed-input.ts).
 *
 * What it does not do: the secret scan is static (aliases and computed calls are not seen), the
 * dependency audit needs the npm registry (it says skipped otherwise), and the graph reasons about
 * types and grants, not about what a handler does with the data.
 */
export type { WaiverStatus } from "./apply-waivers.ts";
export { type CheckContext, type CheckOptions, createCheckContext } from "./check-context.ts";
export { checkGate } from "./check-gate.ts";
export { GUARD_CHECK_FAILED } from "./errors.ts";
export { findThreats, type ThreatModel } from "./find-threats.ts";
export type { Finding, Hit, Location, Severity } from "./finding.ts";
export { buildFlowGraph, type FlowGraph, type SourceNode, type Trust } from "./flow-graph.ts";
export { formatCheckText, formatLocation } from "./format-check-text.ts";
export { formatSarif, SARIF_SCHEMA } from "./format-sarif.ts";
export { formatThreatsText, threatsJson } from "./format-threats.ts";
export {
  type AuditOutcome,
  type AuditRunner,
  auditDependencies,
  parseAuditReport,
  runNpmAudit,
  type Vulnerability,
} from "./npm-audit.ts";
export { renderDot } from "./render-dot.ts";
export { renderMermaid } from "./render-mermaid.ts";
export { RULES, type RuleInfo, ruleInfo } from "./rule-catalogue.ts";
export {
  type CheckReport,
  evaluateChecks,
  type RuleResult,
  type RuleStatus,
  runChecks,
  unwaivedHigh,
} from "./run-checks.ts";
export { type SinkNode, sinkEndpoint } from "./sink-node.ts";
export { type Stride, THREAT_CLASSES, type Threat, type ThreatClass } from "./threat.ts";
