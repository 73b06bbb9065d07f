/** Whether a principal may publish an event type. Compiled once; a check is two set lookups. */
export type Authorizer = (principal: string, type: string) => boolean;

/** Compiles every principal's `publish:` list into exact names and `prefix.*` prefixes. */
export function createAuthorizer(
  principals: Iterable<{ name: string; publish: readonly string[] }>,
): Authorizer {
  const grants = new Map<string, { exact: Set<string>; prefixes: string[] }>();
  for (const p of principals) {
    const exact = new Set(p.publish.filter((x) => !x.endsWith(".*")));
    const prefixes = p.publish.filter((x) => x.endsWith(".*")).map((x) => x.slice(0, -1));
    grants.set(p.name, { exact, prefixes });
  }
  return (principal, type) => {
    const g = grants.get(principal);
    if (g === undefined) return false;
    if (g.exact.has(type)) return true;
    for (const prefix of g.prefixes) if (type.startsWith(prefix)) return true;
    return false;
  };
}
