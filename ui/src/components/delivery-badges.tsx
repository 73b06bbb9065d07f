import type { DeliveryState } from "../types.ts";
import { Badge, toneOf } from "./badge.tsx";

/** Each function's delivery of one event as `function: state` labels. */
export function DeliveryBadges({ deliveries }: { readonly deliveries: readonly DeliveryState[] }) {
  if (deliveries.length === 0) return <span class="muted small">no subscribers</span>;
  return (
    <span class="badges">
      {deliveries.map((d) => (
        <Badge key={d.target} tone={toneOf(d.state)}>
          {d.target}: {d.state}
        </Badge>
      ))}
    </span>
  );
}
