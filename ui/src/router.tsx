/**
 * Client-side navigation under `/ui/`: links push history entries and the page re-renders from
 * `location.pathname`; back and forward work through `popstate`. Links only ever point at the
 * dashboard's own paths (built by paths.ts, data percent-encoded), never at anything from data.
 */
import type { ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";

const NAVIGATED = "popstate";

/** Goes to `path` (a `/ui/...` path) without reloading the page. */
export function navigate(path: string): void {
  if (path === location.pathname + location.search) return;
  history.pushState(null, "", path);
  window.dispatchEvent(new PopStateEvent(NAVIGATED));
  window.scrollTo(0, 0);
}

/** The current path, re-rendering the caller on every navigation. */
export function usePath(): string {
  const [path, setPath] = useState(location.pathname);
  useEffect(() => {
    const update = () => setPath(location.pathname);
    window.addEventListener(NAVIGATED, update);
    return () => window.removeEventListener(NAVIGATED, update);
  }, []);
  return path;
}

interface LinkProps {
  /** A `/ui/...` path from paths.ts. */
  readonly to: string;
  readonly class?: string;
  readonly title?: string;
  readonly children: ComponentChildren;
}

/** An in-app link: a real `<a href>` (so it can open in a new tab), navigated in place on a plain click. */
export function Link({ to, children, ...rest }: LinkProps) {
  return (
    <a
      href={to}
      {...rest}
      onClick={(e) => {
        if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
        e.preventDefault();
        navigate(to);
      }}
    >
      {children}
    </a>
  );
}
