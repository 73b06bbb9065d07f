/**
 * The dashboard's pages and their paths. An event id is whatever its sender chose (slashes, `<`,
 * quotes…): it is percent-encoded into one path segment here and decoded back when the path is read,
 * so a link built from data always stays a `/ui/` path.
 */

export const PAGES = {
  overview: "/ui/",
  events: "/ui/events",
  functions: "/ui/functions",
  graph: "/ui/graph",
  dlq: "/ui/dlq",
  quarantine: "/ui/quarantine",
  audit: "/ui/audit",
  traces: "/ui/traces",
  keys: "/ui/keys",
} as const;

export type PageName = keyof typeof PAGES;

export const eventPath = (id: string): string => `${PAGES.events}/${encodeURIComponent(id)}`;
export const tracePath = (traceId: string): string => `${PAGES.traces}/${encodeURIComponent(traceId)}`;

/** What a path shows: a page, one event, one trace, or nothing known. */
export type Route =
  | { readonly page: PageName }
  | { readonly page: "event"; readonly id: string }
  | { readonly page: "trace"; readonly traceId: string }
  | { readonly page: "unknown"; readonly path: string };

/** The route of `pathname` (as `location.pathname` gives it: still percent-encoded). */
export function routeOf(pathname: string): Route {
  const segments = pathname
    .replace(/^\/ui\/?/, "")
    .replace(/\/$/, "")
    .split("/");
  const [first = "", second, ...rest] = segments;
  if (rest.length > 0) return { page: "unknown", path: pathname };
  if (second === undefined) {
    const page = (Object.keys(PAGES) as PageName[]).find((name) => PAGES[name] === `/ui/${first}`);
    return page === undefined ? { page: "unknown", path: pathname } : { page };
  }
  const param = decode(second);
  if (param !== undefined && param !== "" && first === "events") return { page: "event", id: param };
  if (param !== undefined && param !== "" && first === "traces") return { page: "trace", traceId: param };
  return { page: "unknown", path: pathname };
}

function decode(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}
