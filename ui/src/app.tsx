/**
 * Logged in or not: at load the page asks `GET /whoami` (the session cookie is sent by itself) when
 * this browser may hold a session (session-hint.ts), else shows the login form at once; a 401 shows
 * it too. Any later 401 (logged out elsewhere, idle, expired) comes back here.
 */
import { useCallback, useEffect, useMemo, useState } from "preact/hooks";
import { ApiError, getJson, sendJson } from "./api.ts";
import { LiveProvider } from "./live.tsx";
import { Login } from "./login.tsx";
import { type Session, SessionContext } from "./session.ts";
import { forgetSession, mayHaveSession, rememberSession } from "./session-hint.ts";
import { Shell } from "./shell.tsx";
import type { Role, Whoami } from "./types.ts";

interface Identity {
  readonly admin: string;
  readonly role: Role;
  readonly csrf: string;
  readonly app: string;
}

type State =
  | { readonly kind: "checking" }
  | { readonly kind: "out"; readonly message?: string }
  | { readonly kind: "in"; readonly identity: Identity }
  | { readonly kind: "broken"; readonly message: string };

export function App() {
  const [state, setState] = useState<State>(() =>
    mayHaveSession() ? { kind: "checking" } : { kind: "out" },
  );
  const logOutLocally = useCallback((message: string | undefined) => {
    forgetSession();
    setState(message === undefined ? { kind: "out" } : { kind: "out", message });
  }, []);

  const check = useCallback(() => {
    getJson<Whoami>("/whoami").then(
      (me) => {
        if (me.csrf === undefined) return logOutLocally(undefined);
        rememberSession();
        setState({ kind: "in", identity: { admin: me.admin, role: me.role, csrf: me.csrf, app: me.app } });
      },
      (err: unknown) => {
        if (err instanceof ApiError && err.status === 401) return logOutLocally(undefined);
        setState({ kind: "broken", message: err instanceof Error ? err.message : String(err) });
      },
    );
  }, [logOutLocally]);
  useEffect(() => {
    if (state.kind === "checking") check();
  }, [state.kind, check]);

  const identity = state.kind === "in" ? state.identity : undefined;
  const session = useMemo<Session | undefined>(
    () => (identity === undefined ? undefined : { ...identity, expire: logOutLocally }),
    [identity, logOutLocally],
  );

  if (state.kind === "checking") return <p class="loading-page">Loading…</p>;
  if (state.kind === "broken")
    return (
      <main class="login">
        <p class="notice notice-bad" role="alert">
          {state.message}
        </p>
        <button type="button" class="button" onClick={() => setState({ kind: "checking" })}>
          Try again
        </button>
      </main>
    );
  if (session === undefined)
    return (
      <Login
        message={state.kind === "out" ? state.message : undefined}
        onIn={() => setState({ kind: "checking" })}
      />
    );

  const logOut = async () => {
    try {
      await sendJson("DELETE", "/session", session.csrf);
      logOutLocally("You are logged out.");
    } catch (err) {
      logOutLocally(err instanceof Error ? err.message : String(err));
    }
  };
  return (
    <SessionContext.Provider value={session}>
      <LiveProvider>
        <Shell onLogOut={logOut} />
      </LiveProvider>
    </SessionContext.Provider>
  );
}
