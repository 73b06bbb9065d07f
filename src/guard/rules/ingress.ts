import { matchesTypePattern } from "../../events/index.ts";
import type { PrincipalSpec } from "../../manifest/index.ts";
import type { CheckContext } from "../check-context.ts";
import type { Hit } from "../finding.ts";

/** PAL001–PAL005: who may send what, and whether their events must be signed. */
export const INGRESS_RULES = {
  PAL001: (ctx: CheckContext): Hit[] => [
    ...[...ctx.app.principals.values()]
      .filter((p) => !authenticates(p))
      .map((p) => ({
        message: `Principal "${p.name}" has no credential: anyone could send as it`,
        fix: `give principals.${p.name} exactly one of apiKey: { secret: NAME }, jwt: { issuer, audience, jwks } or mtls: { subject }`,
        location: ctx.at(["principals", p.name]),
      })),
    ...ctx.app.sources.flatMap((s, i) =>
      s.kind === "webhook" && s.secret.trim() === ""
        ? [
            {
              message: `Webhook ${s.path} has no signing secret: anyone could post to it`,
              fix: `set sources[${i}].webhook.secret to the name of the sender's signing secret (palisade secrets set NAME)`,
              location: ctx.at(["sources", i, "webhook", "secret"]),
            },
          ]
        : [],
    ),
  ],

  PAL002: (ctx: CheckContext): Hit[] =>
    [...ctx.app.principals.values()].flatMap((p) =>
      p.publish.flatMap((pattern, i) =>
        pattern === "*"
          ? [
              {
                message: `Principal "${p.name}" may publish every event type, including those functions emit to each other`,
                fix: `replace "*" in principals.${p.name}.publish with the types it sends (or "prefix.*" for a family it owns)`,
                location: ctx.at(["principals", p.name, "publish", i]),
              },
            ]
          : [],
      ),
    ),

  PAL003: (ctx: CheckContext): Hit[] =>
    [...ctx.app.principals.values()].flatMap((p) =>
      p.publish.flatMap((pattern, i) => {
        const inside = producedInside(ctx);
        const forged = [...new Set(inside.map(([type]) => type))].filter(
          (type) => pattern === "*" || matchesTypePattern(pattern, type),
        );
        return forged.map((type) => ({
          message: `Principal "${p.name}" may publish "${type}", which ${inside
            .filter(([t]) => t === type)
            .map(([, producer]) => producer)
            .join(" and ")} also produce(s); its consumers cannot tell a forged one apart`,
          fix: `remove "${type}" from principals.${p.name}.publish (narrow "${pattern}"), and give what the principal sends a type of its own`,
          location: ctx.at(["principals", p.name, "publish", i]),
        }));
      }),
    ),

  PAL004: (ctx: CheckContext): Hit[] => {
    if (ctx.app.principals.size > 0) return [];
    const explicit = Array.isArray(ctx.manifest.sources);
    return ctx.app.sources.flatMap((s, i) =>
      s.kind === "http"
        ? [
            {
              message: `The http source ${s.path} accepts no one (the app declares no principal) but is still served${explicit ? "" : " (it is the default when sources: is absent)"}`,
              fix: explicit
                ? `remove sources[${i}], or declare a principal that may publish through it`
                : "declare sources: with only the sources the app uses (schedules, webhooks), or declare a principal",
              location: ctx.at(explicit ? ["sources", i, "http"] : ["sources"]),
            },
          ]
        : [],
    );
  },

  PAL005: (ctx: CheckContext): Hit[] =>
    [...ctx.app.principals.values()].flatMap((p) => {
      const keys = [...(p.signing?.keys.keys() ?? [])];
      if (keys.length === 0 || p.signing?.requireSigned !== false) return [];
      return [
        {
          message: `Principal "${p.name}" declares signing keys (${keys.join(", ")}) but accepts unsigned events (requireSigned: false): whoever sits between it and Palisade, or holds its credential, can strip the signature and send unsigned events as it (a downgrade)`,
          fix: `set principals.${p.name}.signing.requireSigned to true (the default) once every producer sending as "${p.name}" signs its events; until then, give the functions that rely on its events requireVerified: true`,
          location: ctx.at(["principals", p.name, "signing", "requireSigned"]),
        },
      ];
    }),
};

function authenticates(p: PrincipalSpec): boolean {
  const auth = p.auth as PrincipalSpec["auth"] | undefined;
  if (auth?.kind === "apiKey") return auth.secret.trim() !== "";
  if (auth?.kind === "jwt") return auth.issuer !== "" && auth.audience !== "" && auth.algorithms.length > 0;
  if (auth?.kind === "mtls") return Object.keys(auth.subject).length > 0;
  return false;
}

/** [type, "function \"x\"" | "webhook /p" | "a schedule"] for every type produced inside the app. */
function producedInside(ctx: CheckContext): [string, string][] {
  const out: [string, string][] = [];
  for (const fn of ctx.app.functions.values())
    for (const t of fn.emit) out.push([t, `function "${fn.name}"`]);
  for (const s of ctx.app.sources) {
    if (s.kind === "webhook") out.push([s.emit, `webhook ${s.path}`]);
    if (s.kind === "schedule") out.push([s.emit, `the schedule "${s.cron}"`]);
  }
  return out;
}
