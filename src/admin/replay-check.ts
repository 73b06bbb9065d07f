import { type CloudEvent, compileFilter, matchesTypePattern, PLATFORM_EVENT_TYPES } from "../events/index.ts";
import { type AppModel, deliveryTarget, describeTarget } from "../manifest/index.ts";
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
  const route = deliveryTarget(app, target);
  const who = describeTarget(target);
  if (route === undefined) return `${who} no longer exists`;
  if (!route.on.some((p) => matchesTypePattern(p, event.type)))
    return `${who} no longer subscribes to "${event.type}"`;
  if (route.filter !== undefined) {
    const filter = compileFilter(route.filter);
    if (!Array.isArray(filter) && !filter(event)) return `${who}'s filter no longer matches`;
  }
  if (route.requireVerified && event.verified === undefined)
    return `${who} takes only verified events (requireVerified) and this one is not`;
  if (!registry.has(event.type)) return `event type "${event.type}" is no longer declared`;
  const failures = registry.check(event.type, event.data);
  if (failures.length > 0)
    return `the data no longer matches the schema of "${event.type}": ${failures.map((f) => `/data${f.pointer} ${f.message}`).join("; ")}`;
  if (event.hop > app.hopLimit) return `the event is past the hop limit (${app.hopLimit})`;
  return undefined;
}
