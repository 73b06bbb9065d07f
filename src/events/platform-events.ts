/** Event types the platform itself emits; functions may subscribe to them like to any other type. */
export const PLATFORM_EVENT_TYPES: ReadonlyMap<string, object> = new Map([
  [
    "palisade.security.budget-exceeded",
    {
      type: "object",
      required: ["day"],
      additionalProperties: false,
      properties: {
        /** The function whose budget ran out (absent for a principal's). */
        function: { type: "string" },
        /** The principal whose spend budget ran out (for `costPerDay` of a principal). */
        principal: { type: "string" },
        /** Which budget: `dailyInvocations` (absent: the same) or `costPerDay`. */
        budget: { enum: ["dailyInvocations", "costPerDay"] },
        /** The invocation budget (dailyInvocations). */
        limit: { type: "integer" },
        /** The spend budget in US dollars (costPerDay). */
        limitUsd: { type: "number" },
        day: { type: "string", format: "date" },
      },
    },
  ],
  [
    // A detector's finding (src/detect/): what it saw, about whom, and what the platform did.
    "palisade.security.anomaly",
    {
      type: "object",
      required: ["detector", "scope", "severity", "summary", "evidence", "response", "at"],
      additionalProperties: false,
      properties: {
        detector: { type: "string" },
        scope: {
          type: "object",
          required: ["kind", "name"],
          additionalProperties: false,
          properties: {
            kind: { enum: ["function", "address", "root", "principal", "capability"] },
            name: { type: "string" },
          },
        },
        severity: { enum: ["low", "medium", "high"] },
        summary: { type: "string" },
        evidence: { type: "object" },
        response: { enum: ["alert", "quarantine", "block", "hold", "throttle"] },
        at: { type: "string", format: "date-time" },
      },
    },
  ],
]);

/**
 * Principal and source of platform events. No manifest principal may be named `palisade`, so this
 * origin is the platform's alone (its ids, e.g. `budget-exceeded:<fn>:<day>`, are computable but
 * nobody else can write under it).
 */
export const PLATFORM_PRINCIPAL = "palisade";
export const PLATFORM_SOURCE = "palisade://platform";

/**
 * URI schemes of the sources the platform sets (`palisade://gateway/…`, `palisade://webhooks/…`,
 * `palisade://schedules/…`, `palisade://functions/…`, `palisade://platform`). A sender may not
 * use them: a `source` is otherwise sender-chosen, and these must only ever mean the platform.
 */
export const RESERVED_SOURCE_SCHEMES: readonly string[] = ["palisade"];

/** True when `source` starts with a reserved scheme, in any letter case (RFC 3986 §3.1). */
export function isReservedSource(source: string): boolean {
  const scheme = /^\s*([A-Za-z][A-Za-z0-9+.-]*):/.exec(source)?.[1]?.toLowerCase();
  return scheme !== undefined && RESERVED_SOURCE_SCHEMES.includes(scheme);
}
