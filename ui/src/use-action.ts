/**
 * One state-changing action behind a button: its result or its error (the API's message, shown
 * beside the button), and whether it is running (the button is disabled meanwhile, so a double
 * click does not replay twice).
 */
import { useCallback, useState } from "preact/hooks";
import { ApiError, sendJson } from "./api.ts";
import { useSession } from "./session.ts";

export interface Action<T> {
  readonly run: (method: "POST" | "DELETE", path: string, body?: object) => Promise<T | undefined>;
  readonly busy: boolean;
  readonly result: T | undefined;
  readonly error: ApiError | undefined;
  readonly reset: () => void;
}

export function useAction<T>(): Action<T> {
  const { csrf, expire } = useSession();
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<T | undefined>(undefined);
  const [error, setError] = useState<ApiError | undefined>(undefined);

  const run = useCallback(
    async (method: "POST" | "DELETE", path: string, body: object = {}) => {
      setBusy(true);
      setError(undefined);
      setResult(undefined);
      try {
        const answer = await sendJson<T>(method, path, csrf, body);
        setResult(answer);
        return answer;
      } catch (err) {
        const failure = err instanceof ApiError ? err : new ApiError(0, "CLIENT", String(err));
        if (failure.status === 401) expire(failure.message);
        setError(failure);
        return undefined;
      } finally {
        setBusy(false);
      }
    },
    [csrf, expire],
  );
  const reset = useCallback(() => {
    setResult(undefined);
    setError(undefined);
  }, []);
  return { run, busy, result, error, reset };
}
