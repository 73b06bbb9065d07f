import type { Severity } from "./finding.ts";

/** A rule as documentation: stable id, severity, title and what it checks (SARIF `help`). */
export interface RuleInfo {
  readonly id: string;
  readonly severity: Severity;
  readonly title: string;
  readonly help: string;
}

/**
 * Every `palisade check` rule. Ids are stable: a rule is never renumbered, and a retired id is not
 * reused. PAL00x ingress, PAL01x grants (functions' and sinks' egress), PAL02x limits, PAL03x schemas, PAL04x data flow, PAL05x
 * secrets in code, PAL06x dependencies, PAL07x platform, PAL09x waivers.
 */
export const RULES: readonly RuleInfo[] = [
  {
    id: "PAL001",
    severity: "high",
    title: "Ingress without authentication",
    help: "Every principal must authenticate (an API key secret, a JWT issuer, audience and key set, or a client certificate subject) and every webhook must have a signing secret. The manifest refuses these today; the rule also guards app models built elsewhere.",
  },
  {
    id: "PAL002",
    severity: "high",
    title: "Principal may publish every event type",
    help: 'A principal with publish: ["*"] can inject any event, including the ones functions emit to each other. Name the types, or "prefix.*" for a family of types it owns.',
  },
  {
    id: "PAL003",
    severity: "medium",
    title: "Principal may publish an event type the app produces itself",
    help: "A type that a function emits, or a webhook or schedule produces, is trusted by its consumers as coming from there. A principal allowed to publish it can forge it (spoofing); its `source` is the sender's choice. Give the outside sender its own type, or filter the consumers on `principal` (the authenticated origin, e.g. `webhook:/hooks/pay`).",
  },
  {
    id: "PAL004",
    severity: "low",
    title: "Ingress route no principal can use",
    help: "An http source when the app declares no principal: the route refuses every request, but it is still attack surface. Declare the sources the app uses (sources: without http) or add a principal.",
  },
  {
    id: "PAL005",
    severity: "medium",
    title: "Principal with signing keys accepts unsigned events",
    help: "A principal with signing: keys has the events that carry a dssematerial (CloudEvents verifiability extension) verified, but with requireSigned: false it also accepts unsigned ones, marked unverified. Whoever sits between the producer and Palisade (a proxy, a queue) or holds its credential can strip the signature and send unsigned events as the principal (a downgrade); functions without requireVerified cannot tell. Set requireSigned: true (the default) once every producer signs.",
  },
  {
    id: "PAL010",
    severity: "high",
    title: "Wildcard grant",
    help: 'A grant with "*" (emit: ["*"], egress: ["*"], kv: { "*": … }) gives a function everything of that kind. Name each type, host:port and namespace. The manifest refuses these today; the rule also guards app models built elsewhere.',
  },
  {
    id: "PAL011",
    severity: "medium",
    title: "Egress over plain HTTP",
    help: 'An egress grant "http://host:port" sends requests, and any secret in them, unencrypted. Use the https form "host:443".',
  },
  {
    id: "PAL012",
    severity: "medium",
    title: "Egress to a raw IP address",
    help: "An egress grant to an IP literal bypasses DNS names and their TLS certificates, and its owner can change without notice. Grant the service's DNS name.",
  },
  {
    id: "PAL013",
    severity: "high",
    title: "Egress to a private, loopback or metadata address",
    help: "An egress grant to a private, loopback, link-local, CGNAT or cloud metadata address (169.254.169.254, fd00:ec2::254) or name (localhost, metadata.google.internal) lets a function reach internal services and instance credentials (SSRF).",
  },
  {
    id: "PAL014",
    severity: "medium",
    title: "Code generation allowed",
    help: "allowCodeGeneration: true lets the function run strings as code (eval, new Function), which turns injected data into injected code. Remove it.",
  },
  {
    id: "PAL015",
    severity: "medium",
    title: "Sink over plain HTTP",
    help: "A sink whose url is http:// (allowed only to an address listed in allowAddresses) sends events, their data and its credential unencrypted. Use an https:// url.",
  },
  {
    id: "PAL016",
    severity: "low",
    title: "Sink allowed to a non-public address",
    help: "A sink's allowAddresses lets its deliveries reach a private, loopback, link-local or metadata address that the egress policy otherwise refuses (SSRF protection, the same as for ctx.fetch). It is meant for internal receivers you run; whoever can point the url's host at another internal service (its DNS, or the manifest) can make Palisade post events there. Keep only exact addresses of your own receivers.",
  },
  {
    id: "PAL017",
    severity: "medium",
    title: "Sink without authentication",
    help: "A sink without auth: its receiver cannot tell Palisade's deliveries from anyone's posts. Add auth: { webhook: { secret } } (a Standard Webhooks signature, which the standardwebhooks libraries verify) or auth: { bearer: { secret } }. Receivers can also verify each delivery's dssematerial with the platform's event keys (palisade keys event-key).",
  },
  {
    id: "PAL020",
    severity: "medium",
    title: "Timeout over 60 seconds",
    help: "limits.timeoutMs above 60000 lets one invocation hold a sandbox, and the bill, for minutes. Split long work into emitted steps.",
  },
  {
    id: "PAL021",
    severity: "low",
    title: "No explicit concurrency limit",
    help: "A function without limits.concurrency runs with the default (2). State the bound so a reviewer sees how many invocations can run at once.",
  },
  {
    id: "PAL022",
    severity: "medium",
    title: "No daily invocation budget on a publicly reachable function",
    help: "A function that events from an http or webhook source can reach (directly or through emits) has no limits.dailyInvocations, so a flood of accepted events is billed without bound (Denial of Wallet).",
  },
  {
    id: "PAL023",
    severity: "high",
    title: "Emit cycle without a recursion depth",
    help: "A function on a cycle of the emit graph (it can cause its own trigger, directly or through other functions) must declare recursion: { maxDepth: N }. Without it one event entering the cycle runs until the hop limit, multiplied by every emit on the way; with it, deeper work of that chain is held with a finding.",
  },
  {
    id: "PAL030",
    severity: "medium",
    title: "Schema string without maxLength",
    help: "A string field without maxLength (and without enum, const or an anchored pattern of bounded length such as ^[A-Z]{3}$) accepts up to the whole body. Bound it.",
  },
  {
    id: "PAL031",
    severity: "medium",
    title: "Schema array without maxItems",
    help: "An array without maxItems accepts any number of items. Bound it.",
  },
  {
    id: "PAL032",
    severity: "medium",
    title: "Schema object open to extra properties",
    help: "An object without additionalProperties: false (or unevaluatedProperties: false) accepts fields nobody validated.",
  },
  {
    id: "PAL033",
    severity: "low",
    title: "Schema object without required properties",
    help: "An object with properties but no required list accepts {}; list the fields a handler relies on.",
  },
  {
    id: "PAL034",
    severity: "medium",
    title: "Schema accepts any value",
    help: "A schema or subschema with no type, enum, const or $ref (or an array without items) accepts any JSON value. Give it a type.",
  },
  {
    id: "PAL040",
    severity: "high",
    title: "Exfiltration risk: external input reaches a function holding secrets and egress",
    help: "A function that consumes an event type reachable from an http or webhook source, holds secrets and may send requests out can be steered to leak them. Add a filter: so only the events it is meant for reach it, or split the privileges.",
  },
  {
    id: "PAL050",
    severity: "medium",
    title: "Secret read in code but not granted",
    help: 'The handler (or a module it imports) calls ctx.secrets.get("X") for a secret its secrets: grant does not list; the call is refused at run time. Found by a static scan of string-literal calls.',
  },
  {
    id: "PAL051",
    severity: "medium",
    title: "Secret granted but never read",
    help: "A secret in secrets: that no ctx.secrets.get call in the handler or the modules it imports reads (over-privilege). Remove the grant. Not reported for functions with calls whose name cannot be verified.",
  },
  {
    id: "PAL052",
    severity: "low",
    title: "Secret read with a name that cannot be verified",
    help: "ctx.secrets.get called with something other than a string literal: the scan cannot tell which secret it reads. Use a literal name.",
  },
  {
    id: "PAL053",
    severity: "high",
    title: "Function granted an ingress credential",
    help: "A function whose secrets: grant names the secret of a principal's API key or of a webhook's signing secret can post events as that sender (or sign webhooks as the provider), bypassing what the principal may publish and laundering its own output as trusted input. Give the function a credential of its own, or have it emit events.",
  },
  {
    id: "PAL060",
    severity: "high",
    title: "Dependency with a high or critical known vulnerability",
    help: "npm audit --package-lock-only on the app's package-lock.json reports a high or critical advisory. Reported as skipped (never passed) when the registry cannot be reached.",
  },
  {
    id: "PAL061",
    severity: "medium",
    title: "Dependency with a moderate or low known vulnerability",
    help: "npm audit --package-lock-only on the app's package-lock.json reports a moderate or low advisory. Reported as skipped (never passed) when the registry cannot be reached.",
  },
  {
    id: "PAL070",
    severity: "high",
    title: "Plain HTTP on a non-loopback address",
    help: "The gateway would listen on a non-loopback address (--host) without TLS: API keys, tokens and events cross the network in clear. Set tls: in palisade.yaml (or pass --tls-cert/--tls-key).",
  },
  {
    id: "PAL071",
    severity: "high",
    title: "Function bundles cannot be verified",
    help: "The runtime runs only bundles signed by a key in keys/*.pub, and has no switch to run unsigned ones. The rule checks that this verification can work: every keys/*.pub is an Ed25519 public key (not a private key), a signing key has a trusted public half, and keys/signing.key is readable by its owner only. An app without keys passes: build and dev create the pair.",
  },
  {
    id: "PAL072",
    severity: "high",
    title: "Audit log disabled",
    help: "Security decisions go to the tamper-evident audit log, which cannot be switched off today. The rule fails if a manifest sets audit: { enabled: false }.",
  },
  {
    id: "PAL090",
    severity: "medium",
    title: "Expired waiver",
    help: "A waiver past its expires date no longer waives anything. Fix the finding, or renew the waiver with a new reason and date.",
  },
  {
    id: "PAL091",
    severity: "low",
    title: "Waiver matches no finding",
    help: "A waiver whose rule and path match no finding (fixed, moved, or mistyped). Remove it, or correct its path to the one check prints.",
  },
];

/** The catalogue entry of `id`. */
export function ruleInfo(id: string): RuleInfo {
  const info = RULES.find((r) => r.id === id);
  if (info === undefined) throw new Error(`No rule "${id}" in the catalogue`);
  return info;
}
