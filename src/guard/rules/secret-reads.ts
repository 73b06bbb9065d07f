import type { AppModel } from "../../manifest/index.ts";
import type { CheckContext } from "../check-context.ts";
import type { Hit } from "../finding.ts";

/**
 * PAL050–PAL052: secrets the code reads against secrets the manifest grants. PAL053: secrets granted
 * to functions against the credentials of the app's own ingress.
 */
export const SECRET_RULES = {
  PAL050: (ctx: CheckContext): Hit[] =>
    [...ctx.app.functions.values()].flatMap((fn) =>
      reads(ctx, fn.name)
        .filter((r) => r.name !== undefined && !fn.secrets.includes(r.name))
        .map((r) => ({
          message: `Function "${fn.name}" reads secret "${r.name}", which it is not granted (the call is refused at run time)`,
          fix: `add "${r.name}" to functions.${fn.name}.secrets, or remove the call`,
          location: ctx.inSource(r.file, r.line, ["functions", fn.name, "secrets"]),
        })),
    ),

  PAL051: (ctx: CheckContext): Hit[] =>
    [...ctx.app.functions.values()].flatMap((fn) => {
      const found = reads(ctx, fn.name);
      if (found.some((r) => r.name === undefined)) return [];
      return fn.secrets.flatMap((secret, i) =>
        found.some((r) => r.name === secret)
          ? []
          : [
              {
                message: `Function "${fn.name}" is granted secret "${secret}" but its code never reads it`,
                fix: `remove "${secret}" from functions.${fn.name}.secrets`,
                location: ctx.at(["functions", fn.name, "secrets", i]),
              },
            ],
      );
    }),

  PAL052: (ctx: CheckContext): Hit[] =>
    [...ctx.app.functions.values()].flatMap((fn) =>
      reads(ctx, fn.name)
        .filter((r) => r.name === undefined)
        .map((r) => ({
          message: `Function "${fn.name}" reads a secret whose name is not a string literal; which one cannot be verified`,
          fix: 'call ctx.secrets.get with the literal name, e.g. ctx.secrets.get("STRIPE_KEY")',
          location: ctx.inSource(r.file, r.line, ["functions", fn.name, "secrets"]),
        })),
    ),

  PAL053: (ctx: CheckContext): Hit[] => {
    const credentials = ingressCredentials(ctx.app);
    return [...ctx.app.functions.values()].flatMap((fn) =>
      fn.secrets.flatMap((secret, i) => {
        const owner = credentials.get(secret);
        if (owner === undefined) return [];
        return [
          {
            message: `Function "${fn.name}" is granted secret "${secret}", the credential of ${owner}: its code (or anyone who steers it) can impersonate that sender`,
            fix: `remove "${secret}" from functions.${fn.name}.secrets; give the function a credential of its own if it must call out, and have it emit events instead of posting them back in`,
            location: ctx.at(["functions", fn.name, "secrets", i]),
          },
        ];
      }),
    );
  },
};

/** Secret name → who authenticates with it: principals' API keys and webhooks' signing secrets. */
function ingressCredentials(app: AppModel): Map<string, string> {
  const owners = new Map<string, string>();
  for (const p of app.principals.values())
    if (p.auth.kind === "apiKey") owners.set(p.auth.secret, `principal "${p.name}" (its API key)`);
  for (const s of app.sources)
    if (s.kind === "webhook") owners.set(s.secret, `webhook "${s.path}" (its signing secret)`);
  return owners;
}

function reads(ctx: CheckContext, fn: string) {
  return ctx.secretReads.get(fn) ?? [];
}
