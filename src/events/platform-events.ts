/** Event types the platform itself emits; functions may subscribe to them like to any other type. */
export const PLATFORM_EVENT_TYPES: ReadonlyMap<string, object> = new Map([
  [
    "palisade.security.budget-exceeded",
    {
      type: "object",
      required: ["function", "limit", "day"],
      additionalProperties: false,
      properties: {
        function: { type: "string" },
        limit: { type: "integer" },
        day: { type: "string", format: "date" },
      },
    },
  ],
]);

/** Principal and source of platform events. */
export const PLATFORM_PRINCIPAL = "palisade";
export const PLATFORM_SOURCE = "palisade://platform";
