/**
 * The login form: an admin API key (from `admins:` in palisade.yaml, or PALISADE_ADMIN_KEY) is sent
 * once to `POST /admin/v1/session`; the browser then holds only an HttpOnly session cookie. The form
 * never submits itself (the CSP's `form-action 'none'` would refuse it anyway): the key never lands in
 * a URL or the history.
 */
import { useState } from "preact/hooks";
import { logIn } from "./api.ts";
import { Mark } from "./components/mark.tsx";

interface LoginProps {
  /** Why the form is shown (logged out, session ended). */
  readonly message: string | undefined;
  /** Called once the session cookie is set. */
  readonly onIn: () => void;
}

export function Login({ message, onIn }: LoginProps) {
  const [key, setKey] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | undefined>(undefined);

  const submit = async () => {
    setBusy(true);
    setError(undefined);
    try {
      await logIn(key.trim());
      onIn();
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
      setBusy(false);
    }
  };

  return (
    <main class="login">
      <form
        class="card login-card"
        onSubmit={(e) => {
          e.preventDefault();
          void submit();
        }}
      >
        <div class="brand brand-dark">
          <Mark />
          <span>Palisade</span>
        </div>
        <h1>Admin login</h1>
        {message === undefined ? null : (
          <p class="notice notice-info" role="status">
            {message}
          </p>
        )}
        <label for="api-key">Admin API key</label>
        <input
          id="api-key"
          name="api-key"
          type="password"
          autocomplete="current-password"
          required
          value={key}
          onInput={(e) => setKey(e.currentTarget.value)}
        />
        <button type="submit" class="button button-primary" disabled={busy || key.trim() === ""}>
          {busy ? "Logging in…" : "Log in"}
        </button>
        {error === undefined ? null : (
          <p class="notice notice-bad" role="alert">
            {error}
          </p>
        )}
        <p class="hint">The key is sent once; the browser keeps only a session cookie it cannot read.</p>
      </form>
    </main>
  );
}
