import { type CloudEvent, compileFilter, matchesTypePattern, PLATFORM_EVENT_TYPES } from "../events/index.ts";
import type { AppModel } from "../manifest/index.ts";
import { createSchemaRegistry, type SchemaRegistry } from "../schema/index.ts";

/** The schemas as the app declares them now (replays are checked against these, not the old ones). */
export function currentRegistry(app: AppModel): SchemaRegistry {
  const schemas = [...app.events].map(([type, spec]) => [type, spec.schema] as const);
  return createSchemaRegistry(new Map([...schemas, ...PLATFORM_EVENT_TYPES]));
}

/**
 * Why `event` may not be replayed to `target` under the app as it is now, or undefined when it may:
 * replay is not a back door around subscriptions, filters, schemas or the hop limit.
 */
export function whyNot(
  app: AppModel,
  registry: SchemaRegistry,
  target: string,
  event: CloudEvent,
): string | undefined {
  const fn = app.functions.get(target);
  if (fn === undefined) return `function "${target}" no longer exists`;
  if (!fn.on.some((p) => matchesTypePattern(p, event.type)))
    return `function "${target}" no longer subscribes to "${event.type}"`;
  if (fn.filter !== undefined) {
    const filter = compileFilter(fn.filter);
    if (!Array.isArray(filter) && !filter(event)) return `function "${target}"'s filter no longer matches`;
  }
  if (!registry.has(event.type)) return `event type "${event.type}" is no longer declared`;
  const failures = registry.check(event.type, event.data);
  if (failures.length > 0)
    return `the data no longer matches the schema of "${event.type}": ${failures.map((f) => `/data${f.pointer} ${f.message}`).join("; ")}`;
  if (event.hop > app.hopLimit) return `the event is past the hop limit (${app.hopLimit})`;
  return undefined;
}
