/** Whether `type` matches a filter: the exact type, or `prefix.*` for a family (as the API reads it). */
export function matchesType(pattern: string, type: string): boolean {
  return pattern.endsWith(".*") ? type.startsWith(pattern.slice(0, -1)) : pattern === type;
}
