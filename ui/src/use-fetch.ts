/**
 * Reading one admin API path into a component: loads on mount and whenever the path changes, again
 * on `reload()` and, with `pollMs`, on a timer. A 401 means the session is over, so it returns the
 * page to the login form instead of showing an error on every card.
 */
import { useCallback, useEffect, useState } from "preact/hooks";
import { ApiError, getJson } from "./api.ts";
import { useSession } from "./session.ts";

export interface Fetched<T> {
  /** The last answer (kept while a reload runs or after a reload failed). */
  readonly data: T | undefined;
  readonly error: ApiError | undefined;
  readonly loading: boolean;
  readonly reload: () => void;
}

/** GETs `path` (relative to `/admin/v1`); `null` fetches nothing. */
export function useFetch<T>(path: string | null, pollMs?: number): Fetched<T> {
  const { expire } = useSession();
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<ApiError | undefined>(undefined);
  const [loading, setLoading] = useState(path !== null);
  const [tick, setTick] = useState(0);
  const reload = useCallback(() => setTick((n) => n + 1), []);

  // A new path shows nothing of the old one.
  useEffect(() => {
    setData(undefined);
    setError(undefined);
  }, [path]);

  // `tick` changes on reload(): the same path read again.
  useEffect(() => {
    if (path === null) return;
    const abort = new AbortController();
    setLoading(true);
    getJson<T>(path, abort.signal).then(
      (answer) => {
        setData(answer);
        setError(undefined);
        setLoading(false);
      },
      (err: unknown) => {
        if (abort.signal.aborted) return;
        const failure = err instanceof ApiError ? err : new ApiError(0, "CLIENT", String(err));
        if (failure.status === 401) expire(failure.message);
        setError(failure);
        setLoading(false);
      },
    );
    return () => abort.abort();
  }, [path, tick, expire]);

  useEffect(() => {
    if (pollMs === undefined || path === null) return;
    const timer = setInterval(reload, pollMs);
    return () => clearInterval(timer);
  }, [pollMs, path, reload]);

  return { data, error, loading, reload };
}
