import ipaddr from "ipaddr.js";
import type { EgressRule, FunctionSpec } from "../../manifest/index.ts";
import type { CheckContext } from "../check-context.ts";
import type { Hit } from "../finding.ts";

/** PAL010–PAL014: what each function is granted. */
export const GRANT_RULES = {
  PAL010: (ctx: CheckContext): Hit[] =>
    fns(ctx).flatMap((fn) => [
      ...fn.emit.flatMap((type, i) =>
        type.includes("*")
          ? [wildcard(ctx, fn, ["emit", i], `may emit "${type}"`, "name each event type it emits")]
          : [],
      ),
      ...fn.egress.flatMap((rule, i) =>
        rule.entry.includes("*")
          ? [wildcard(ctx, fn, ["egress", i], `may reach "${rule.entry}"`, 'name each "host:port" it calls')]
          : [],
      ),
      ...Object.keys(fn.kv).flatMap((ns) =>
        ns.includes("*")
          ? [wildcard(ctx, fn, ["kv", ns], `may use kv namespace "${ns}"`, "name each namespace it uses")]
          : [],
      ),
    ]),

  PAL011: (ctx: CheckContext): Hit[] =>
    egressHits(
      ctx,
      (rule) => rule.scheme === "http",
      (fn, rule) => ({
        message: `Function "${fn.name}" may send plain HTTP to ${rule.host}:${rule.port}: requests and answers travel unencrypted`,
        fix: `grant "${rule.ip && rule.host.includes(":") ? `[${rule.host}]` : rule.host}:443" (https) instead of "${rule.entry}"`,
      }),
    ),

  PAL012: (ctx: CheckContext): Hit[] =>
    egressHits(
      ctx,
      (rule) => rule.ip && internalReason(rule.host) === undefined,
      (fn, rule) => ({
        message: `Function "${fn.name}" may call the raw IP address ${rule.host}`,
        fix: `grant the DNS name of the service at ${rule.host} instead of "${rule.entry}"`,
      }),
    ),

  PAL013: (ctx: CheckContext): Hit[] =>
    egressHits(
      ctx,
      (rule) => internalReason(rule.host) !== undefined,
      (fn, rule) => ({
        message: `Function "${fn.name}" may call ${rule.host}, ${internalReason(rule.host)}`,
        fix: `remove "${rule.entry}" from functions.${fn.name}.egress; reach internal services through an event or a public, authenticated endpoint`,
      }),
    ),

  PAL014: (ctx: CheckContext): Hit[] =>
    fns(ctx)
      .filter((fn) => fn.allowCodeGeneration)
      .map((fn) => ({
        message: `Function "${fn.name}" may run strings as code (eval, new Function)`,
        fix: `remove allowCodeGeneration from functions.${fn.name} and replace the eval with code`,
        location: ctx.at(["functions", fn.name, "allowCodeGeneration"]),
      })),
};

const INTERNAL_NAMES = /^(localhost|instance-data)$|\.(localhost|internal|local|localdomain|home\.arpa)$/i;
const METADATA = ["169.254.169.254", "fd00:ec2::254", "100.100.100.200"];

/** Why `host` is internal (private, loopback, metadata …), or undefined for a public address or name. */
export function internalReason(host: string): string | undefined {
  if (!ipaddr.isValid(host))
    return INTERNAL_NAMES.test(host) ? "a name for the local host or an internal network" : undefined;
  const address = ipaddr.process(host);
  if (METADATA.includes(address.toString())) return "the cloud metadata address (instance credentials)";
  const range = address.range();
  return range === "unicast" ? undefined : `a ${range} address, not a public one`;
}

function fns(ctx: CheckContext): FunctionSpec[] {
  return [...ctx.app.functions.values()];
}

function wildcard(
  ctx: CheckContext,
  fn: FunctionSpec,
  at: (string | number)[],
  what: string,
  fix: string,
): Hit {
  return {
    message: `Function "${fn.name}" ${what}: a wildcard grants everything of that kind`,
    fix: `in functions.${fn.name}.${at[0]}, ${fix}`,
    location: ctx.at(["functions", fn.name, ...at]),
  };
}

function egressHits(
  ctx: CheckContext,
  when: (rule: EgressRule) => boolean,
  say: (fn: FunctionSpec, rule: EgressRule) => { message: string; fix: string },
): Hit[] {
  return fns(ctx).flatMap((fn) =>
    fn.egress.flatMap((rule, i) =>
      when(rule) ? [{ ...say(fn, rule), location: ctx.at(["functions", fn.name, "egress", i]) }] : [],
    ),
  );
}
