import type { CheckContext } from "../check-context.ts";
import type { Hit } from "../finding.ts";

/** PAL050–PAL052: secrets the code reads against secrets the manifest grants. */
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
};

function reads(ctx: CheckContext, fn: string) {
  return ctx.secretReads.get(fn) ?? [];
}
