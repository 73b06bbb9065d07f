import type { AppModel } from "./app-model.ts";
import { sinkOfTarget, sinkTarget } from "./app-model.ts";

/**
 * One receiver of deliveries as routing sees it: a function (target = its name) or a sink (target
 * `sink:<name>`), with the types it subscribes to, its content filter, and whether it takes only
 * events whose producer signature verified.
 */
export interface DeliveryTarget {
  readonly kind: "function" | "sink";
  readonly name: string;
  readonly target: string;
  readonly on: readonly string[];
  readonly filter?: object;
  readonly requireVerified: boolean;
}

/** Every delivery target of the app: its functions, then its sinks. */
export function deliveryTargets(app: AppModel): DeliveryTarget[] {
  const functions = [...app.functions.values()].map(
    (fn): DeliveryTarget => ({
      kind: "function",
      name: fn.name,
      target: fn.name,
      on: fn.on,
      ...(fn.filter === undefined ? {} : { filter: fn.filter }),
      requireVerified: fn.requireVerified === true,
    }),
  );
  const sinks = [...app.sinks.values()].map(
    (sink): DeliveryTarget => ({
      kind: "sink",
      name: sink.name,
      target: sinkTarget(sink.name),
      on: sink.on,
      ...(sink.filter === undefined ? {} : { filter: sink.filter }),
      requireVerified: false,
    }),
  );
  return [...functions, ...sinks];
}

/** The delivery target named `target` (a function's name or `sink:<name>`), if the app has it. */
export function deliveryTarget(app: AppModel, target: string): DeliveryTarget | undefined {
  const sink = sinkOfTarget(target);
  const found = sink === undefined ? app.functions.has(target) : app.sinks.has(sink);
  return found ? deliveryTargets(app).find((t) => t.target === target) : undefined;
}

/** How a target is named in messages: `function "charge"` or `sink "ledger"`. */
export function describeTarget(target: string): string {
  const sink = sinkOfTarget(target);
  return sink === undefined ? `function "${target}"` : `sink "${sink}"`;
}
